"""Cross-site request forgery protection for every state-changing form.

Forms of a logged-in account carry the session's own random token (``WebSession.csrf_token``).
The log-in and sign-up forms have no session yet, so they use a signed double-submit token: a
random nonce in a cookie, and the same nonce signed with the secret key in the form. A forged
cross-site form can neither read the cookie nor sign a nonce of its own.
"""

from __future__ import annotations

import hmac
from typing import Annotated, NamedTuple

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import Response
from itsdangerous import BadData, URLSafeTimedSerializer

from photoshare.deps import get_settings
from photoshare.models import WebSession
from photoshare.security import new_token
from photoshare.settings import Settings
from photoshare.web import BrowserSession

COOKIE = "ps_csrf"
_SALT = "photoshare.csrf"
_MAX_AGE_SECONDS = 12 * 3600  # a log-in form left open longer than this must be reloaded

FormToken = Annotated[str, Form()]


class SignedToken(NamedTuple):
    nonce: str  # goes into the cookie
    token: str  # goes into the form


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=_SALT)


def _forbidden() -> HTTPException:
    return HTTPException(403, "missing or wrong CSRF token")


def _same(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def signed_token(request: Request, settings: Settings) -> SignedToken:
    """The token of a logged-out form; keeps the browser's nonce so that open tabs stay valid."""
    nonce = request.cookies.get(COOKIE) or new_token()
    return SignedToken(nonce, _serializer(settings).dumps(nonce))


def set_nonce_cookie(response: Response, signed: SignedToken, settings: Settings) -> Response:
    response.set_cookie(
        COOKIE,
        signed.nonce,
        max_age=_MAX_AGE_SECONDS,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )
    return response


def require_signed_token(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    csrf_token: FormToken = "",
) -> None:
    """Dependency of the logged-out forms: the form's signed nonce matches the cookie."""
    try:
        signed = _serializer(settings).loads(csrf_token, max_age=_MAX_AGE_SECONDS)
    except BadData as error:
        raise _forbidden() from error
    if not isinstance(signed, str) or not _same(request.cookies.get(COOKIE, ""), signed):
        raise _forbidden()


def check_session_token(session: WebSession, csrf_token: str) -> None:
    if not _same(csrf_token, session.csrf_token):
        raise _forbidden()


def require_session_token(session: BrowserSession, csrf_token: FormToken = "") -> None:
    """Dependency of the logged-in forms; a browser without a session is sent to log in first."""
    check_session_token(session, csrf_token)


SessionCsrf = Depends(require_session_token)
SignedCsrf = Depends(require_signed_token)
