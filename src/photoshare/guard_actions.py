"""photoshare's side of a harvestguard ban: disable accounts, revoke partner apps, and undo both.

harvestguard keys accounts by the user id as a string and partner apps by their client id, as
they appear in access events.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from photoshare.models import PartnerApp, PartnerToken, User, WebSession

logger = logging.getLogger(__name__)


class PhotoshareActions:
    """Implements ``harvestguard.enforce.platform.PlatformActions`` on photoshare's database."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def disable_account(self, account_id: str, reason: str) -> bool:
        """Disables the account and ends its sessions: it is gone from the site until restored."""
        with self._sessions.begin() as db:
            user = _user(db, account_id)
            if user is None or user.disabled:
                return False
            user.disabled = True
            db.execute(delete(WebSession).where(WebSession.user_id == user.id))
        logger.warning("account %s disabled by harvestguard: %s", account_id, reason)
        return True

    def restore_account(self, account_id: str, reason: str) -> bool:
        with self._sessions.begin() as db:
            user = _user(db, account_id)
            if user is None or not user.disabled:
                return False
            user.disabled = False
        logger.warning("account %s restored: %s", account_id, reason)
        return True

    def revoke_client(self, client_id: str, reason: str) -> bool:
        """Revokes the partner app and deletes all its tokens, so none can be used again."""
        with self._sessions.begin() as db:
            app = db.scalar(select(PartnerApp).where(PartnerApp.client_id == client_id))
            if app is None:
                return False
            deleted = db.execute(delete(PartnerToken).where(PartnerToken.app_id == app.id))
            changed = not app.revoked or bool(getattr(deleted, "rowcount", 0))
            app.revoked = True
        if changed:
            logger.warning("partner app %s revoked by harvestguard: %s", client_id, reason)
        return changed

    def restore_client(self, client_id: str, reason: str) -> bool:
        with self._sessions.begin() as db:
            app = db.scalar(select(PartnerApp).where(PartnerApp.client_id == client_id))
            if app is None or not app.revoked:
                return False
            app.revoked = False
        logger.warning("partner app %s restored: %s", client_id, reason)
        return True


def _user(db: Session, account_id: str) -> User | None:
    if not account_id.isdigit():
        return None
    return db.get(User, int(account_id))
