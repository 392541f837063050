"""What every server-rendered page shares: the layout's context, error pages, log-in redirects.

Routes that render a template extending ``base.html`` do it through ``render`` (and depend on
``photoshare.deps.CurrentViewer``), so that the navigation knows who is logged in and the log-out
form carries the session's CSRF token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from photoshare.db import utcnow
from photoshare.deps import CurrentViewer
from photoshare.models import User, WebSession


def ago(moment: datetime | None) -> str:
    """A short age for the layout ("5m", "3h", "2d"), or "" when unknown."""
    if moment is None:
        return ""
    seconds = max(0, int((utcnow() - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "now"


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> Response:
    session: WebSession | None = getattr(request.state, "web_session", None)
    layout: dict[str, Any] = {
        "nav_username": session.user.username if session else None,
        "csrf_token": session.csrf_token if session else "",
        "ago": ago,
    }
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, name, {**layout, **(context or {})}, status_code=status_code
    )


def error_page(request: Request, status_code: int, title: str, message: str) -> Response:
    return render(
        request, "error.html", {"title": title, "message": message}, status_code=status_code
    )


def not_found(request: Request) -> Response:
    return error_page(request, 404, "Page not found", "There is nothing here.")


def login_page(request: Request, message: str) -> Response:
    """401: the page exists for logged-in accounts only; says so and links to the log-in form."""
    next_url = safe_next(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return render(
        request,
        "login_required.html",
        {"message": message, "login_url": login_url(next_url)},
        status_code=401,
    )


def safe_next(target: str | None) -> str:
    """A local path to return to after logging in, never another site."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(char) < 0x20 for char in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def login_url(next_url: str) -> str:
    return "/login?" + urlencode({"next": safe_next(next_url)})


def _return_path(request: Request) -> str:
    """Where to come back after logging in: this page, or for a form post the page it came from."""
    if request.method == "GET":
        query = f"?{request.url.query}" if request.url.query else ""
        return request.url.path + query
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc:
        return "/"
    return referer.path + (f"?{referer.query}" if referer.query else "")


def browser_session(request: Request, viewer: CurrentViewer) -> WebSession:
    """The caller's live session; a browser without one is sent to the log-in form."""
    session: WebSession | None = getattr(request.state, "web_session", None)
    if viewer.user is None or session is None:
        location = login_url(_return_path(request))
        raise HTTPException(303, "log in first", headers={"Location": location})
    return session


BrowserSession = Annotated[WebSession, Depends(browser_session)]


def browser_user(session: BrowserSession) -> User:
    return session.user


BrowserUser = Annotated[User, Depends(browser_user)]
