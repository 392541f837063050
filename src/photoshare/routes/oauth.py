"""OAuth2 token endpoint for partner apps: the client credentials grant (RFC 6749 section 4.4).

The access token is random and stored only as its hash; it carries the scopes asked for, which
must be among those the app was granted at registration.
"""

from __future__ import annotations

import base64
import binascii
import functools
from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from harvestguard import context
from photoshare.api_models import OAuthError, TokenResponse
from photoshare.db import utcnow
from photoshare.deps import DB, get_settings
from photoshare.models import PartnerApp, PartnerToken
from photoshare.partners import SCOPES, granted_scopes
from photoshare.security import hash_password, new_token, token_hash, verify_password
from photoshare.settings import Settings

GRANT_TYPE = "client_credentials"

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FIELDS = ("grant_type", "scope", "client_id", "client_secret")

ErrorCode = Literal["invalid_request", "invalid_client", "invalid_scope", "unsupported_grant_type"]


class _TokenError(Exception):
    def __init__(self, error: ErrorCode, description: str) -> None:
        super().__init__(description)
        self.body = OAuthError(error=error, error_description=description)

    def response(self) -> JSONResponse:
        if self.body.error == "invalid_client":
            headers = {**_NO_STORE, "WWW-Authenticate": 'Basic realm="photoshare"'}
            return JSONResponse(self.body.model_dump(), status_code=401, headers=headers)
        return JSONResponse(self.body.model_dump(), status_code=400, headers=_NO_STORE)


_AUTH_FAILED = "client authentication failed"


@functools.cache
def _decoy_hash() -> str:
    """Verified against when the client is unknown, so that timing does not reveal client ids."""
    return hash_password("decoy secret that no client has")


async def _form(request: Request) -> FormData:
    # FastAPI has parsed the form for the Form() parameters already; this is the same object.
    return await request.form()


def _credentials(request: Request, form_id: str | None, form_secret: str | None) -> tuple[str, str]:
    """The client id and secret, from HTTP Basic or from the form, never both (section 2.3.1)."""
    header = request.headers.get("authorization")
    if header is None:
        if form_id and form_secret is not None:
            return form_id, form_secret
        raise _TokenError("invalid_client", "client authentication required")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise _TokenError("invalid_client", "use HTTP Basic or client_id and client_secret")
    if form_secret is not None:
        raise _TokenError("invalid_request", "use one client authentication method, not two")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _TokenError("invalid_client", "malformed Basic credentials") from None
    raw_id, colon, raw_secret = decoded.partition(":")
    client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
    if not colon or not client_id:
        raise _TokenError("invalid_client", "malformed Basic credentials")
    if form_id is not None and form_id != client_id:
        raise _TokenError("invalid_request", "client_id differs from the Basic credentials")
    return client_id, secret


def _authenticate(db: Session, client_id: str, secret: str) -> PartnerApp:
    app = db.scalar(select(PartnerApp).where(PartnerApp.client_id == client_id))
    if app is None:
        verify_password(_decoy_hash(), secret)
        raise _TokenError("invalid_client", _AUTH_FAILED)
    if not verify_password(app.client_secret_hash, secret) or app.revoked:
        raise _TokenError("invalid_client", _AUTH_FAILED)
    # Only an authenticated client is named: evidence against an app must not be forgeable.
    context.annotate(actor_client=app.client_id)
    return app


def _granted(app: PartnerApp, scope: str | None) -> frozenset[str]:
    """The scopes asked for, or all the app's when none are; asking beyond them is refused."""
    requested = frozenset(scope.split(" ")) - {""} if scope else frozenset()
    if not requested:
        return granted_scopes(app)
    unknown = requested - SCOPES
    if unknown:
        raise _TokenError("invalid_scope", f"unknown scopes: {' '.join(sorted(unknown))}")
    beyond = requested - granted_scopes(app)
    if beyond:
        raise _TokenError("invalid_scope", f"scopes not granted: {' '.join(sorted(beyond))}")
    return requested


router = APIRouter(prefix="/oauth", tags=["oauth"])


@router.post(
    "/token",
    summary="Get an access token",
    description="OAuth2 client credentials grant (RFC 6749 section 4.4). Authenticate with HTTP "
    "Basic (client_id:client_secret) or with client_id and client_secret form fields. `scope` "
    "defaults to every scope the app was granted.",
    response_model=TokenResponse,
    responses={
        400: {
            "model": OAuthError,
            "description": "invalid_request, unsupported_grant_type or invalid_scope.",
        },
        401: {"model": OAuthError, "description": "invalid_client."},
    },
)
def token(
    request: Request,
    db: DB,
    settings: Annotated[Settings, Depends(get_settings)],
    form: Annotated[FormData, Depends(_form)],
    grant_type: Annotated[str | None, Form(description="Must be client_credentials.")] = None,
    scope: Annotated[str | None, Form(description="Space-separated scopes.")] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    try:
        repeated = [name for name in _FIELDS if len(form.getlist(name)) > 1]
        if repeated:
            raise _TokenError("invalid_request", f"repeated parameters: {', '.join(repeated)}")
        app = _authenticate(db, *_credentials(request, client_id, client_secret))
        if not grant_type:
            raise _TokenError("invalid_request", "grant_type is required")
        if grant_type != GRANT_TYPE:
            raise _TokenError("unsupported_grant_type", f"only {GRANT_TYPE} is supported")
        scopes = _granted(app, scope)
    except _TokenError as error:
        return error.response()
    access_token = new_token()
    db.add(
        PartnerToken(
            app_id=app.id,
            token_hash=token_hash(access_token),
            scopes=" ".join(sorted(scopes)),
            expires_at=utcnow() + timedelta(seconds=settings.token_ttl_seconds),
        )
    )
    db.commit()
    body = TokenResponse(
        access_token=access_token,
        expires_in=settings.token_ttl_seconds,
        scope=" ".join(sorted(scopes)),
    )
    return JSONResponse(body.model_dump(), headers=_NO_STORE)
