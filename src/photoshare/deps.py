"""FastAPI dependencies shared by every route module: the database session, the caller, redaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from harvestguard import context
from harvestguard.policy import Policy, redact
from photoshare.db import utcnow
from photoshare.models import PartnerToken, User, WebSession
from photoshare.security import token_hash
from photoshare.serialize import served
from photoshare.settings import Settings
from photoshare.viewer import Viewer

SESSION_COOKIE = "ps_session"


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


DB = Annotated[Session, Depends(get_db)]


def web_session(request: Request, db: Session) -> WebSession | None:
    """The live session named by the cookie, if any; expired sessions and disabled users count as none."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    row = db.scalar(select(WebSession).where(WebSession.token_hash == token_hash(token)))
    if row is None or row.expires_at <= utcnow() or row.user.disabled:
        return None
    return row


def get_viewer(request: Request, db: DB) -> Viewer:
    """The caller of a web page: an account with a live session, or nobody."""
    row = web_session(request, db)
    viewer = Viewer(user=row.user if row else None)
    request.state.web_session = row
    if row is not None:
        context.annotate(actor_account=str(row.user_id), session=row.token_hash[:16])
    return viewer


def get_partner(request: Request, db: DB) -> Viewer:
    """The caller of the partner API: an app with a live bearer token, else 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    row = db.scalar(select(PartnerToken).where(PartnerToken.token_hash == token_hash(token)))
    if row is None or row.expires_at <= utcnow() or row.app.revoked:
        raise HTTPException(
            401,
            "invalid or expired token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    context.annotate(actor_client=row.app.client_id, session=row.token_hash[:16])
    return Viewer(app=row.app, token_scopes=frozenset(row.scopes.split()))


CurrentViewer = Annotated[Viewer, Depends(get_viewer)]
CurrentPartner = Annotated[Viewer, Depends(get_partner)]


def require_user(viewer: CurrentViewer) -> User:
    if viewer.user is None:
        raise HTTPException(401, "log in first")
    return viewer.user


def show(
    request: Request, db: Session, viewer: Viewer, resource: str, obj: dict[str, Any]
) -> dict[str, Any] | None:
    """The one way a route hands personal data out: through the policy, for this viewer."""
    policy: Policy = request.app.state.policy
    audience = viewer.audience_for(db, policy.owner_of(resource, obj))
    disclosure = redact(resource, obj, audience, policy=policy)
    ctx = context.current()
    if ctx is not None:
        object_id = obj.get("id")
        ctx.claim(resource, None if object_id is None else str(object_id), audience.kind.value)
    return served(request, resource, obj, disclosure.data)
