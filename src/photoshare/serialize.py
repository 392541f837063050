"""Platform objects as the plain dicts that ``harvestguard.policy.redact`` judges field by field.

The field names here are the ones the policy names (harvestguard's ``default.yaml``); a field the
policy does not know is never shown.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from harvestguard.attribute import Watermarker, mark_identity
from photoshare.models import Comment, Media, Post, Story, User, Venue


def media_url(media: Media | None) -> str | None:
    return None if media is None else f"/media/{media.key}"


def _venue_fields(venue: Venue | None) -> dict[str, Any]:
    if venue is None:
        return {"venue_id": None, "venue_name": None, "venue_city": None, "lat": None, "lon": None}
    return {
        "venue_id": venue.id,
        "venue_name": venue.name,
        "venue_city": venue.city,
        "lat": venue.lat,
        "lon": venue.lon,
    }


def profile_dict(
    user: User,
    *,
    avatar: Media | None = None,
    follower_count: int = 0,
    following_count: int = 0,
    post_count: int = 0,
) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "bio": user.bio,
        "email": user.email,
        "avatar_url": media_url(avatar),
        "is_private": user.is_private,
        "is_business": user.is_business,
        "follower_count": follower_count,
        "following_count": following_count,
        "post_count": post_count,
        "created_at": user.created_at,
    }


def post_dict(post: Post, *, like_count: int = 0, comment_count: int = 0) -> dict[str, Any]:
    return {
        "id": post.id,
        "owner_id": post.owner_id,
        "owner_username": post.owner.username,
        "owner_private": post.owner.is_private,
        "image_url": media_url(post.media),
        "caption": post.caption,
        "created_at": post.created_at,
        "like_count": like_count,
        "comment_count": comment_count,
        **_venue_fields(post.venue),
    }


def story_dict(story: Story) -> dict[str, Any]:
    return {
        "id": story.id,
        "owner_id": story.owner_id,
        "owner_username": story.owner.username,
        "owner_private": story.owner.is_private,
        "image_url": media_url(story.media),
        "created_at": story.created_at,
        "expires_at": story.expires_at,
        **_venue_fields(story.venue),
    }


def comment_dict(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "post_id": comment.post_id,
        "owner_id": comment.author_id,
        "owner_username": comment.author.username,
        "owner_private": comment.author.is_private,
        "text": comment.text,
        "created_at": comment.created_at,
    }


def connection_dict(list_owner: User, other: User, direction: str) -> dict[str, Any]:
    """One entry of a follower/following list: social-graph data of the list's owner."""
    return {
        "owner_id": list_owner.id,
        "owner_private": list_owner.is_private,
        "direction": direction,
        "user_id": other.id,
        "username": other.username,
        "display_name": other.display_name,
    }


def venue_dict(venue: Venue) -> dict[str, Any]:
    return {
        "id": venue.id,
        "owner_id": None,
        "name": venue.name,
        "category": venue.category,
        "city": venue.city,
        "lat": venue.lat,
        "lon": venue.lon,
    }


# What a viewer is served carries its watermarks (harvestguard.attribute, docs/attribution.md):
# keyed marks of the viewer's identity, invisible and harmless, that attribute a leaked dataset.


def _marking(request: Request) -> tuple[Watermarker, str] | None:
    watermarker: Watermarker | None = getattr(request.app.state, "watermarker", None)
    identity = None if watermarker is None else mark_identity(request.scope)
    return None if watermarker is None or identity is None else (watermarker, identity)


def served(
    request: Request, resource: str, obj: dict[str, Any], data: dict[str, Any] | None
) -> dict[str, Any] | None:
    """``data``, what the policy let out of ``obj``, with the viewer's marks in its coordinates."""
    marking = _marking(request)
    if data is None or marking is None:
        return data
    watermarker, identity = marking
    return watermarker.mark_disclosure(identity, request.app.state.policy, resource, obj, data)


def served_list(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``items`` with those created at the same time in the viewer's order."""
    marking = _marking(request)
    if marking is None:
        return items
    watermarker, identity = marking
    return watermarker.mark_listing(
        identity,
        items,
        rank=lambda item: item.get("created_at") or id(item),
        object_id=lambda item: str(item.get("id")),
    )


def served_photo(request: Request, key: str, data: bytes) -> bytes:
    """The photo's bytes as served to the viewer: with the viewer's image watermark."""
    marking = _marking(request)
    if marking is None:
        return data
    watermarker, identity = marking
    return watermarker.mark_photo(identity, key, data)
