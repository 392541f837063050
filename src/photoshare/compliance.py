"""The deletion-compliance feed: tombstones of what partner apps must delete, and reading them.

Whatever deletes a post, a story, an authorisation or an account records its tombstone here in
the same transaction (``photoshare.deletions``, ``photoshare.jobs``), so that a deletion and its
event commit or fail together. A tombstone holds ids and a time, never the deleted data.

Who receives an event: every partner app when the object belonged to a public account (anyone
could have read it); the apps the account authorised when it is private (only they could have
held its data, from while they were authorised). An authorisation's revocation goes to its app
only. The platform keeps no history of an account's privacy: an account that turned private is
treated as private.

The feed is read by keyset on the event id, and a keyset cursor only works if no event can later
appear behind it: ids must grow in commit order. SQLite has one writer at a time, and an id is
taken inside the writing transaction, so they do. PostgreSQL hands out sequence values at insert
time, not at commit: two deletions could commit in the other order, and a reader between the two
commits would step over the first for ever. ``record`` therefore takes a transaction-scoped
advisory lock there, so that the writers of tombstones take their ids and commit one at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from photoshare.db import utcnow
from photoshare.models import ComplianceEvent, ComplianceEventType, PartnerAuthorisation, User

# How long tombstones are kept; ``photoshare purge`` deletes older ones. A partner that reads the
# feed less often than this can miss events.
RETENTION = timedelta(days=30)

# The key of the PostgreSQL advisory lock that serialises the writers of tombstones.
_WRITERS_LOCK = 0x636F6D706C79  # "comply"

# An audience entry: None is every partner app, an int one app's id.
Audience = Sequence[int | None]


@dataclass(frozen=True, slots=True)
class FeedPage:
    events: list[ComplianceEvent]
    position: int  # the id to continue after: the last event read, or the end of the feed
    has_more: bool


def audiences(db: Session, owners: Iterable[User]) -> dict[int, list[int | None]]:
    """For each owner's id, who receives the events of its objects (see the module docstring)."""
    result: dict[int, list[int | None]] = {}
    private: list[int] = []
    for owner in owners:
        if owner.is_private:
            private.append(owner.id)
            result[owner.id] = []
        else:
            result[owner.id] = [None]
    if private:
        rows = db.execute(
            select(PartnerAuthorisation.user_id, PartnerAuthorisation.app_id)
            .where(PartnerAuthorisation.user_id.in_(private))
            .order_by(PartnerAuthorisation.app_id)
        )
        for user_id, app_id in rows:
            result[user_id].append(app_id)
    return result


def _serialise_writers(db: Session) -> None:
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(func.pg_advisory_xact_lock(_WRITERS_LOCK)))


def record(
    db: Session,
    kind: ComplianceEventType,
    *,
    object_id: int,
    user_id: int,
    audience: Audience,
    now: datetime | None = None,
) -> None:
    """Adds the tombstones of one deletion to the caller's transaction; the caller commits."""
    if not audience:
        return
    _serialise_writers(db)
    occurred_at = now or utcnow()
    db.add_all(
        ComplianceEvent(
            type=kind,
            object_id=object_id,
            user_id=user_id,
            app_id=app_id,
            occurred_at=occurred_at,
        )
        for app_id in audience
    )
    db.flush()


def read_feed(
    db: Session, app_id: int, *, after: int | None, since: datetime | None, limit: int
) -> FeedPage:
    """The app's events after the id ``after`` (and at or after ``since``), oldest first.

    The horizon, the newest id when the read starts, is the end of the feed: every event up to
    it has committed (ids grow in commit order), so a short page moves the position there, past
    the other apps' events, and the next read starts after it without a gap.
    """
    start = after or 0
    horizon = db.scalar(select(func.max(ComplianceEvent.id))) or 0
    query = select(ComplianceEvent).where(
        ComplianceEvent.id > start,
        ComplianceEvent.id <= horizon,
        or_(ComplianceEvent.app_id.is_(None), ComplianceEvent.app_id == app_id),
    )
    if since is not None:
        query = query.where(ComplianceEvent.occurred_at >= since)
    rows = list(db.scalars(query.order_by(ComplianceEvent.id).limit(limit + 1)))
    if len(rows) > limit:
        return FeedPage(rows[:limit], rows[limit - 1].id, has_more=True)
    return FeedPage(rows, max(start, horizon), has_more=False)
