"""Reads the pages share: platform rows loaded with their counts, as the dicts of ``serialize``.

Everything returned here is still raw personal data; it reaches a response only through
``photoshare.deps.show``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from photoshare.db import utcnow
from photoshare.models import Comment, Follow, FollowStatus, Like, Media, Post, Story, User
from photoshare.serialize import post_dict, profile_dict

# Posts and stories are always shown with their owner, image and venue: load them in one go.
_POST_PARTS = (selectinload(Post.owner), selectinload(Post.media), selectinload(Post.venue))
_STORY_PARTS = (selectinload(Story.owner), selectinload(Story.media), selectinload(Story.venue))


def active_user(db: Session, username: str) -> User | None:
    """The account behind a username; disabled accounts are gone from the site."""
    return db.scalar(select(User).where(User.username == username, User.disabled.is_(False)))


def _counts(db: Session, key: Any, ids: Sequence[int], *conditions: Any) -> dict[int, int]:
    rows = db.execute(select(key, func.count()).where(key.in_(ids), *conditions).group_by(key))
    return {row[0]: row[1] for row in rows}


def profile_objects(db: Session, users: Sequence[User]) -> list[dict[str, Any]]:
    """Profiles with their avatar and counts, in three queries whatever the number of users."""
    ids = [user.id for user in users]
    approved = Follow.status == FollowStatus.APPROVED
    followers = _counts(db, Follow.followee_id, ids, approved)
    following = _counts(db, Follow.follower_id, ids, approved)
    posts = _counts(db, Post.owner_id, ids)
    avatar_ids = [user.avatar_id for user in users if user.avatar_id is not None]
    avatars = {m.id: m for m in db.scalars(select(Media).where(Media.id.in_(avatar_ids)))}
    return [
        profile_dict(
            user,
            avatar=avatars.get(user.avatar_id) if user.avatar_id is not None else None,
            follower_count=followers.get(user.id, 0),
            following_count=following.get(user.id, 0),
            post_count=posts.get(user.id, 0),
        )
        for user in users
    ]


def profile_object(db: Session, user: User) -> dict[str, Any]:
    return profile_objects(db, [user])[0]


def posts_query() -> Select[Post]:
    return select(Post).options(*_POST_PARTS).order_by(Post.created_at.desc(), Post.id.desc())


def post_objects(db: Session, posts: Sequence[Post]) -> list[dict[str, Any]]:
    ids = [post.id for post in posts]
    likes = _counts(db, Like.post_id, ids)
    comments = _counts(db, Comment.post_id, ids)
    return [
        post_dict(post, like_count=likes.get(post.id, 0), comment_count=comments.get(post.id, 0))
        for post in posts
    ]


def post_with_parts(db: Session, post_id: int) -> Post | None:
    return db.scalar(select(Post).options(*_POST_PARTS).where(Post.id == post_id))


def live_stories_query(ttl: timedelta) -> Select[Story]:
    """Stories still within their lifetime, newest first."""
    now = utcnow()
    return (
        select(Story)
        .options(*_STORY_PARTS)
        .where(Story.expires_at > now, Story.created_at > now - ttl)
        .order_by(Story.created_at.desc(), Story.id.desc())
    )
