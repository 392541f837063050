"""Who is asking, and what audience they are for each owner whose data a response may carry."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from harvestguard.events import AudienceKind
from harvestguard.policy.model import Audience
from photoshare.models import Follow, FollowStatus, PartnerApp, PartnerAuthorisation, User


@dataclass(slots=True)
class Viewer:
    """The caller of one request: nobody, a logged-in account, or a partner app."""

    user: User | None = None
    app: PartnerApp | None = None
    token_scopes: frozenset[str] = frozenset()
    _following: set[int] | None = field(default=None, repr=False)
    _authorised_by: set[int] | None = field(default=None, repr=False)

    @property
    def is_partner(self) -> bool:
        return self.app is not None

    def following(self, db: Session) -> set[int]:
        """Ids of the accounts this viewer follows with an approved follow, loaded once."""
        if self._following is None:
            if self.user is None:
                self._following = set()
            else:
                rows = db.scalars(
                    select(Follow.followee_id).where(
                        Follow.follower_id == self.user.id, Follow.status == FollowStatus.APPROVED
                    )
                )
                self._following = set(rows)
        return self._following

    def authorised_by(self, db: Session) -> set[int]:
        """Ids of the accounts that authorised this viewer's partner app."""
        if self._authorised_by is None:
            if self.app is None:
                self._authorised_by = set()
            else:
                rows = db.scalars(
                    select(PartnerAuthorisation.user_id).where(
                        PartnerAuthorisation.app_id == self.app.id
                    )
                )
                self._authorised_by = set(rows)
        return self._authorised_by

    def audience_for(self, db: Session, owner_id: int | None) -> Audience:
        if self.app is not None:
            authorised = owner_id is not None and owner_id in self.authorised_by(db)
            return Audience.partner(self.token_scopes, authorised=authorised)
        if self.user is None:
            return Audience.anonymous()
        if owner_id is not None and owner_id == self.user.id:
            return Audience(AudienceKind.OWNER)
        if owner_id is not None and owner_id in self.following(db):
            return Audience(AudienceKind.FOLLOWER)
        return Audience(AudienceKind.AUTHENTICATED)
