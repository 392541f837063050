"""Maintenance jobs run outside requests (``photoshare purge``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from photoshare import compliance
from photoshare.db import utcnow
from photoshare.media import discard_file
from photoshare.models import ComplianceEvent, ComplianceEventType, Media, Story, User


def purge_expired_stories(db: Session, media_dir: Path, now: datetime | None = None) -> int:
    """Deletes the stories that have expired, with their photos; returns how many.

    A story is promised to disappear, so its row, its media row and its file all go, and each
    gets a ``story.expired`` tombstone in the same commit. Files are removed only after the
    commit, so that a failed commit leaves every story whole; a file whose row is gone can no
    longer be served (``/media`` looks the row up first).
    """
    now = now or utcnow()
    expired = db.execute(
        select(Story.id, Story.owner_id, Media.id, Media.key)
        .join(Media, Media.id == Story.media_id)
        .where(Story.expires_at <= now)
        .order_by(Story.id)
    ).all()
    if not expired:
        return 0
    owners = db.scalars(select(User).where(User.id.in_({row[1] for row in expired})))
    audience = compliance.audiences(db, owners)
    for story_id, owner_id, _, _ in expired:
        compliance.record(
            db,
            ComplianceEventType.STORY_EXPIRED,
            object_id=story_id,
            user_id=owner_id,
            audience=audience[owner_id],
        )
    db.execute(delete(Story).where(Story.id.in_([row[0] for row in expired])))
    db.execute(delete(Media).where(Media.id.in_([row[2] for row in expired])))
    db.commit()
    for *_, key in expired:
        discard_file(media_dir, key)
    return len(expired)


def purge_compliance_events(db: Session, now: datetime | None = None) -> int:
    """Deletes the compliance tombstones older than ``compliance.RETENTION``; returns how many."""
    cutoff = (now or utcnow()) - compliance.RETENTION
    purged = db.scalars(
        delete(ComplianceEvent)
        .where(ComplianceEvent.occurred_at < cutoff)
        .returning(ComplianceEvent.id)
    ).all()
    db.commit()
    return len(purged)
