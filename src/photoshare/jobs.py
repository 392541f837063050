"""Maintenance jobs run outside requests (``photoshare purge``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from photoshare.db import utcnow
from photoshare.media import discard_file
from photoshare.models import Media, Story


def purge_expired_stories(db: Session, media_dir: Path, now: datetime | None = None) -> int:
    """Deletes the stories that have expired, with their photos; returns how many.

    A story is promised to disappear, so its row, its media row and its file all go. Files are
    removed only after the commit, so that a failed commit leaves every story whole; a file whose
    row is gone can no longer be served (``/media`` looks the row up first).
    """
    now = now or utcnow()
    expired = db.execute(
        select(Story.id, Media.id, Media.key)
        .join(Media, Media.id == Story.media_id)
        .where(Story.expires_at <= now)
    ).all()
    if not expired:
        return 0
    story_ids = [story_id for story_id, _, _ in expired]
    media_ids = [media_id for _, media_id, _ in expired]
    db.execute(delete(Story).where(Story.id.in_(story_ids)))
    db.execute(delete(Media).where(Media.id.in_(media_ids)))
    db.commit()
    for _, _, key in expired:
        discard_file(media_dir, key)
    return len(expired)
