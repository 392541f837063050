"""What people delete: a post, a story, a partner app's authorisation, their whole account.

Each deletion commits its rows together with the tombstones partner apps must honour
(``photoshare.compliance``). Photo files are removed only after the commit, as the story purge
does: a failed commit leaves everything whole, and a file whose row is gone can no longer be
served (``/media`` looks the row up first).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from photoshare import compliance
from photoshare.db import utcnow
from photoshare.media import discard_file
from photoshare.models import (
    ComplianceEventType,
    Media,
    PartnerAuthorisation,
    Post,
    Story,
    User,
)


def _commit_then_discard(db: Session, media_dir: Path, keys: Iterable[str]) -> None:
    try:
        db.commit()
    except BaseException:
        db.rollback()
        raise
    for key in keys:
        discard_file(media_dir, key)


def delete_post(db: Session, post: Post, media_dir: Path) -> None:
    """Deletes a post with its photo, likes and comments, and records ``post.deleted``."""
    audience = compliance.audiences(db, [post.owner])[post.owner_id]
    compliance.record(
        db,
        ComplianceEventType.POST_DELETED,
        object_id=post.id,
        user_id=post.owner_id,
        audience=audience,
    )
    key, media_id = post.media.key, post.media_id
    db.execute(delete(Post).where(Post.id == post.id))  # likes and comments cascade
    db.execute(delete(Media).where(Media.id == media_id))
    _commit_then_discard(db, media_dir, [key])


def delete_story(db: Session, story: Story, media_dir: Path) -> None:
    """Deletes a story before it expires, with its photo, and records ``story.deleted``."""
    audience = compliance.audiences(db, [story.owner])[story.owner_id]
    compliance.record(
        db,
        ComplianceEventType.STORY_DELETED,
        object_id=story.id,
        user_id=story.owner_id,
        audience=audience,
    )
    key, media_id = story.media.key, story.media_id
    db.execute(delete(Story).where(Story.id == story.id))
    db.execute(delete(Media).where(Media.id == media_id))
    _commit_then_discard(db, media_dir, [key])


def revoke_authorisation(db: Session, user_id: int, app_id: int) -> bool:
    """Withdraws an account's authorisation of an app, recording ``authorisation.revoked`` for
    that app alone; False if there was none."""
    row = db.scalar(
        select(PartnerAuthorisation).where(
            PartnerAuthorisation.app_id == app_id, PartnerAuthorisation.user_id == user_id
        )
    )
    if row is None:
        return False
    compliance.record(
        db,
        ComplianceEventType.AUTHORISATION_REVOKED,
        object_id=row.id,
        user_id=user_id,
        audience=[app_id],
    )
    db.execute(delete(PartnerAuthorisation).where(PartnerAuthorisation.id == row.id))
    db.commit()
    return True


def delete_account(db: Session, user: User, media_dir: Path) -> int:
    """Deletes an account and everything it made: posts, stories, photos (the files too),
    comments, likes, follows, sessions, authorisations. Records ``account.deleted`` and an event
    for each post and story; returns how many photo files were removed.

    The audience is taken before the authorisations go, so that the apps a private account had
    authorised still learn of its deletion.
    """
    now = utcnow()
    audience = compliance.audiences(db, [user])[user.id]
    post_ids = db.scalars(select(Post.id).where(Post.owner_id == user.id).order_by(Post.id))
    for post_id in post_ids.all():
        compliance.record(
            db,
            ComplianceEventType.POST_DELETED,
            object_id=post_id,
            user_id=user.id,
            audience=audience,
            now=now,
        )
    stories = db.execute(
        select(Story.id, Story.expires_at).where(Story.owner_id == user.id).order_by(Story.id)
    ).all()
    for story_id, expires_at in stories:
        # a story past its time that the purge has not reached yet is reported as expired
        kind = (
            ComplianceEventType.STORY_EXPIRED
            if expires_at <= now
            else ComplianceEventType.STORY_DELETED
        )
        compliance.record(db, kind, object_id=story_id, user_id=user.id, audience=audience, now=now)
    compliance.record(
        db,
        ComplianceEventType.ACCOUNT_DELETED,
        object_id=user.id,
        user_id=user.id,
        audience=audience,
        now=now,
    )
    keys = list(db.scalars(select(Media.key).where(Media.owner_id == user.id)))
    db.execute(delete(Story).where(Story.owner_id == user.id))
    db.execute(delete(Post).where(Post.owner_id == user.id))
    db.execute(update(User).where(User.id == user.id).values(avatar_id=None))
    db.execute(delete(Media).where(Media.owner_id == user.id))
    # follows, likes, comments, sessions and authorisations go by ON DELETE CASCADE
    db.execute(delete(User).where(User.id == user.id))
    _commit_then_discard(db, media_dir, keys)
    return len(keys)
