"""The world manifest: a world as JSON, so a platform's seed data can drive the simulator.

The format is documented in docs/simulator.md ("World manifest"). Times are ISO 8601 with a
time zone (naive times are UTC); follows are approved follows only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harvestguard.simulate.world import City, PartnerApp, Post, Story, User, Venue, World

FORMAT = "harvestguard-world"
CANARY_KINDS = ("account", "post", "story", "venue")
VERSION = 1


class ManifestError(ValueError):
    pass


def world_to_manifest(world: World) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "cities": [
            {"name": c.name, "utc_offset_hours": c.utc_offset_hours, "lat": c.lat, "lon": c.lon}
            for c in world.cities.values()
        ],
        "users": [
            {
                "id": u.id,
                "username": u.username,
                "display_name": u.display_name,
                "city": u.city,
                "is_private": u.is_private,
                "is_business": u.is_business,
                "created_at": _iso(u.created_at),
            }
            for u in world.users.values()
        ],
        "follows": [
            [follower, followee]
            for follower, followees in world.following.items()
            for followee in sorted(followees)
        ],
        "venues": [
            {
                "id": v.id,
                "name": v.name,
                "category": v.category,
                "city": v.city,
                "lat": v.lat,
                "lon": v.lon,
            }
            for v in world.venues.values()
        ],
        "posts": [_item(p) for p in world.posts.values()],
        "stories": [_item(s) for s in world.stories.values()],
        "partner_apps": [
            {
                "client_id": a.client_id,
                "name": a.name,
                "purpose": a.purpose,
                "scopes": sorted(a.scopes),
                "authorised_by": sorted(a.authorised_by),
            }
            for a in world.apps.values()
        ],
        "canaries": [
            {"kind": kind, "id": object_id, "label": label}
            for (kind, object_id), label in world.canaries.items()
        ],
    }


def world_from_manifest(data: Mapping[str, Any]) -> World:
    if data.get("format") != FORMAT or data.get("version") != VERSION:
        raise ManifestError(f"not a {FORMAT} manifest of version {VERSION}")
    try:
        world = World(
            [
                City(
                    str(c["name"]),
                    float(c.get("utc_offset_hours", 0)),
                    float(c["lat"]),
                    float(c["lon"]),
                )
                for c in data.get("cities", [])
            ]
        )
        for u in data["users"]:
            world.add_user(
                User(
                    id=int(u["id"]),
                    username=str(u["username"]),
                    display_name=str(u.get("display_name") or u["username"]),
                    city=str(u.get("city") or "unknown"),
                    is_private=bool(u.get("is_private", False)),
                    is_business=bool(u.get("is_business", False)),
                    created_at=_time(u["created_at"]),
                )
            )
        for follower, followee in data.get("follows", []):
            if int(follower) not in world.users or int(followee) not in world.users:
                raise ManifestError(f"a follow names an unknown user: {follower} -> {followee}")
            world.follow(int(follower), int(followee))
        for v in data.get("venues", []):
            world.add_venue(
                Venue(
                    int(v["id"]),
                    str(v["name"]),
                    str(v.get("category", "")),
                    str(v["city"]),
                    float(v["lat"]),
                    float(v["lon"]),
                )
            )
        for p in sorted(data.get("posts", []), key=lambda item: _time(item["created_at"])):
            world.add_post(Post(*_item_fields(p)))
        for s in sorted(data.get("stories", []), key=lambda item: _time(item["created_at"])):
            world.add_story(Story(*_item_fields(s)))
        for a in data.get("partner_apps", []):
            world.add_app(
                PartnerApp(
                    client_id=str(a["client_id"]),
                    name=str(a.get("name", a["client_id"])),
                    purpose=str(a.get("purpose", "")),
                    scopes=frozenset(str(s) for s in a.get("scopes", [])),
                    authorised_by={int(user) for user in a.get("authorised_by", [])},
                )
            )
        for c in data.get("canaries", []):
            world.canaries[(_canary_kind(c["kind"]), int(c["id"]))] = str(c.get("label", ""))
    except ManifestError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise ManifestError(f"bad manifest entry: {error!r}") from error
    return world


def save_manifest(world: World, path: str | Path) -> None:
    Path(path).write_text(json.dumps(world_to_manifest(world)))


def load_manifest(path: str | Path) -> World:
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ManifestError(f"{path}: {error}") from error
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: a manifest is a JSON object")
    return world_from_manifest(data)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _time(value: Any) -> float:
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _canary_kind(value: Any) -> str:
    kind = str(value)
    if kind not in CANARY_KINDS:
        raise ManifestError(f"unknown canary kind {kind!r}; expected one of {CANARY_KINDS}")
    return kind


def _item(item: Post | Story) -> dict[str, Any]:
    return {
        "id": item.id,
        "owner_id": item.owner_id,
        "created_at": _iso(item.created_at),
        "venue_id": item.venue_id,
        "media_key": item.media_key,
    }


def _item_fields(entry: Mapping[str, Any]) -> tuple[int, int, float, int | None, str]:
    venue = entry.get("venue_id")
    return (
        int(entry["id"]),
        int(entry["owner_id"]),
        _time(entry["created_at"]),
        None if venue is None else int(venue),
        str(entry.get("media_key") or f"{entry['id']}.jpg"),
    )
