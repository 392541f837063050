"""Browser-like helpers for the web tests: log in, read a form's CSRF token."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from photoshare import accounts
from photoshare.deps import SESSION_COOKIE
from photoshare.models import User
from tests.factories import PASSWORD

_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def form_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def login_form(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """The log-in form as a browser fills it: fetched first, for its token and cookie."""
    token = form_token(client.get("/login").text)
    return {"username": username, "password": password, "csrf_token": token}


def act_as(client: TestClient, db: Session, user: User | None) -> str:
    """Makes the client browse as ``user`` (None: logged out); returns the session's CSRF token."""
    client.cookies.clear()
    if user is None:
        return ""
    client.cookies.set(SESSION_COOKIE, accounts.start_session(db, user, timedelta(hours=1)))
    return form_token(client.get("/").text)
