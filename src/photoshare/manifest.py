"""photoshare's database as a simulator world manifest (``harvestguard.simulate.manifest``).

The live simulator reads this to know which accounts, posts, stories and venues really exist on
the server it drives, so event mode and live mode share one world. Secrets stay out: partner apps
are listed by client id only, and the seeded password is not written.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from harvestguard.simulate.manifest import FORMAT, VERSION
from photoshare.db import utcnow
from photoshare.models import (
    CanaryObject,
    Follow,
    FollowStatus,
    Media,
    PartnerApp,
    PartnerAuthorisation,
    Post,
    Story,
    User,
    Venue,
)

UNKNOWN_CITY = "unknown"


def export_manifest(
    db: Session, *, now: datetime | None = None, include_disabled: bool = False
) -> dict[str, Any]:
    """The world as a manifest; stories are those still live at ``now`` (default: now).
    Disabled accounts and revoked partner apps are left out unless ``include_disabled``: a
    simulator cannot drive them, but a detector still needs to know when a banned account was
    created, whom it followed and which apps it authorised (a sock puppet banned first must
    still be linked with its cohort flagged later, an app's accounts with the app)."""
    moment = now or utcnow()
    venues = list(db.scalars(select(Venue).order_by(Venue.id)))
    city_of_venue = {venue.id: venue.city for venue in venues}
    # each with its media key in one statement: people post while the guard exports (a story
    # read after a separate read of the media had no key, and failed the detection step)
    posts = db.execute(
        select(Post, Media.key).join(Media, Media.id == Post.media_id).order_by(Post.id)
    ).all()
    stories = db.execute(
        select(Story, Media.key)
        .join(Media, Media.id == Story.media_id)
        .where(Story.expires_at > moment)
        .order_by(Story.id)
    ).all()
    homes = _home_cities([p for p, _ in posts], [s for s, _ in stories], city_of_venue)
    users = [
        {
            "id": user.id,
            "username": user.username,
            "display_name": user.display_name or user.username,
            "city": homes.get(user.id, UNKNOWN_CITY),
            "is_private": user.is_private,
            "is_business": user.is_business,
            "created_at": _iso(user.created_at),
        }
        for user in db.scalars(
            select(User).where(true() if include_disabled else ~User.disabled).order_by(User.id)
        )
    ]
    active = {entry["id"] for entry in users}
    follows = [
        [follower, followee]
        for follower, followee in db.execute(
            select(Follow.follower_id, Follow.followee_id)
            .where(Follow.status == FollowStatus.APPROVED)
            .order_by(Follow.follower_id, Follow.followee_id)
        )
        if follower in active and followee in active
    ]
    return {
        "format": FORMAT,
        "version": VERSION,
        "generated_at": _iso(moment),
        "cities": _cities(venues),
        "users": users,
        "follows": follows,
        "venues": [
            {
                "id": venue.id,
                "name": venue.name,
                "category": venue.category,
                "city": venue.city,
                "lat": venue.lat,
                "lon": venue.lon,
            }
            for venue in venues
        ],
        "posts": [
            {
                "id": post.id,
                "owner_id": post.owner_id,
                "created_at": _iso(post.created_at),
                "venue_id": post.venue_id,
                "media_key": media_key,
            }
            for post, media_key in posts
            if post.owner_id in active
        ],
        "stories": [
            {
                "id": story.id,
                "owner_id": story.owner_id,
                "created_at": _iso(story.created_at),
                "expires_at": _iso(story.expires_at),
                "venue_id": story.venue_id,
                "media_key": media_key,
            }
            for story, media_key in stories
            if story.owner_id in active
        ],
        "partner_apps": _partner_apps(db, include_revoked=include_disabled),
        # what no link leads to: the simulator's benign people must not visit them either
        "canaries": [
            {"kind": row.kind, "id": row.object_id, "label": row.label}
            for row in db.scalars(select(CanaryObject).order_by(CanaryObject.id))
        ],
    }


def write_manifest(db: Session, path: Path, *, now: datetime | None = None) -> None:
    """Writes the manifest atomically: a simulator reading it never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(export_manifest(db, now=now)))
    os.replace(temp, path)


def _home_cities(
    posts: list[Post], stories: list[Story], city_of_venue: dict[int, str]
) -> dict[int, str]:
    """A person's home city is where most of their posts and stories were placed; photoshare
    does not store one, so accounts that never named a place have none."""
    places: dict[int, Counter[str]] = {}
    placed = [(post.owner_id, post.venue_id) for post in posts]
    placed += [(story.owner_id, story.venue_id) for story in stories]
    for owner, venue in placed:
        if venue is not None:
            places.setdefault(owner, Counter())[city_of_venue[venue]] += 1
    return {owner: counts.most_common(1)[0][0] for owner, counts in places.items()}


def _cities(venues: list[Venue]) -> list[dict[str, Any]]:
    by_city: dict[str, list[Venue]] = {}
    for venue in venues:
        by_city.setdefault(venue.city, []).append(venue)
    cities = []
    for name, places in sorted(by_city.items()):
        lat = sum(v.lat for v in places) / len(places)
        lon = sum(v.lon for v in places) / len(places)
        # photoshare keeps no time zones; the solar offset is close enough for a diurnal curve
        cities.append({"name": name, "utc_offset_hours": round(lon / 15), "lat": lat, "lon": lon})
    return cities


def _partner_apps(db: Session, *, include_revoked: bool = False) -> list[dict[str, Any]]:
    granted: dict[int, list[int]] = {}
    for app_id, user_id in db.execute(
        select(PartnerAuthorisation.app_id, PartnerAuthorisation.user_id).order_by(
            PartnerAuthorisation.user_id
        )
    ):
        granted.setdefault(app_id, []).append(user_id)
    return [
        {
            "client_id": app.client_id,
            "name": app.name,
            "purpose": app.purpose,
            "scopes": sorted(app.scope_set),
            "authorised_by": granted.get(app.id, []),
        }
        for app in db.scalars(
            select(PartnerApp)
            .where(true() if include_revoked else PartnerApp.revoked.is_(False))
            .order_by(PartnerApp.id)
        )
    ]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
