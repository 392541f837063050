"""Who is asking: the session cookie, the role a route needs, and the CSRF token of every form.

The session cookie is ``Secure; HttpOnly; SameSite=Strict`` (browsers keep Secure cookies on
loopback over plain HTTP, so a local run works; anywhere else serve over HTTPS). Every
state-changing request carries the session's CSRF token in a form field, compared in constant
time; the log-in form, before there is a session, carries a token it also set in a cookie
(double submit). A visitor without a session is sent to the log-in page for pages and refused
(401) for data; a user whose role is too low is refused (403) and the refusal is logged.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from harvestguard.dashboard.accounts import AccountStore, Role, Session

SESSION_COOKIE = "hg_dashboard"
LOGIN_CSRF_COOKIE = "hg_dashboard_login"
CSRF_FIELD = "csrf_token"

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Session], Awaitable[Response]]


class Refused(Exception):
    """A request the dashboard refuses: its status and the reason shown."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def client_of(request: Request) -> str:
    return request.client.host if request.client else "-"


def current_session(request: Request) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    accounts: AccountStore = request.app.state.accounts
    return accounts.session(token)


def requires(role: Role, *, data: bool = False) -> Callable[[Handler], Endpoint]:
    """A route for users of ``role`` or above; POSTs also need the session's CSRF token.
    ``data``: a JSON or file route, refused with 401 rather than redirected to the log-in page."""

    def wrap(handler: Handler) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            session = current_session(request)
            if session is None:
                if request.method == "GET" and not data:
                    target = quote(request.url.path + _query(request), safe="/?=&")
                    root = str(request.scope.get("root_path", "")).rstrip("/")
                    return RedirectResponse(f"{root}/login?next={target}", status_code=303)
                raise Refused(401, "log in first")
            if session.user.role < role:
                request.app.state.accounts.record(
                    session.user.username,
                    "refused",
                    {"path": request.url.path, "needs": role.label},
                )
                raise Refused(403, f"this needs the {role.label} role")
            if request.method == "POST":
                form = await request.form()
                check_csrf(str(form.get(CSRF_FIELD, "")), session.csrf_token)
            return await handler(request, session)

        return endpoint

    return wrap


def check_csrf(sent: str, expected: str) -> None:
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Refused(403, "the form has expired or did not come from this dashboard; reload it")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def set_cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )


def safe_next(target: Any, base: str = "") -> str:
    """Where to go after logging in: a path of this site only (no open redirect)."""
    text = str(target or "")
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return f"{base}/"
    return text


def _query(request: Request) -> str:
    return f"?{request.url.query}" if request.url.query else ""
