"""Registering partner apps of the API."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from photoshare.models import PartnerApp
from photoshare.security import hash_password

# Every scope the partner API knows; harvestguard's policy says which fields each one grants.
SCOPES = frozenset(
    {
        "profile:basic",
        "profile:bio",
        "profile:insights",
        "contact:read",
        "media:read",
        "location:read",
        "compliance:read",
    }
)

# Scopes every registered app holds whatever its registration lists: reading the deletion-
# compliance feed is an obligation of every partner, not a privilege granted to some.
OBLIGATORY_SCOPES = frozenset({"compliance:read"})


def granted_scopes(app: PartnerApp) -> frozenset[str]:
    """What the app may ask a token for: its registration's scopes and the obligatory ones."""
    return app.scope_set | OBLIGATORY_SCOPES


def register_partner(
    db: Session, *, name: str, purpose: str, contact_email: str, scopes: set[str] | frozenset[str]
) -> tuple[PartnerApp, str]:
    """Registers an app and returns it with its client secret, shown this once and stored hashed."""
    unknown = set(scopes) - SCOPES
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    secret = secrets.token_urlsafe(32)
    app = PartnerApp(
        client_id=secrets.token_hex(12),
        client_secret_hash=hash_password(secret),
        name=name,
        purpose=purpose,
        contact_email=contact_email,
        scopes=" ".join(sorted(scopes)),
    )
    db.add(app)
    db.commit()
    return app, secret
