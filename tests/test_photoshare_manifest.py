"""photoshare's database exported as a simulator world manifest, and read back by the simulator."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from harvestguard.simulate.manifest import load_manifest, world_from_manifest
from photoshare.cli import app as photoshare_cli
from photoshare.db import utcnow
from photoshare.guard_context import platform_context
from photoshare.manifest import export_manifest
from photoshare.models import Follow, FollowStatus, Media, PartnerApp, Post, Story, User, Venue
from photoshare.seed import seed_world
from photoshare.settings import Settings


def test_the_manifest_round_trips_with_the_database_ids(db: Session, settings: Settings) -> None:
    seeded = seed_world(db, settings.media_dir, users=30, seed=5)
    now = utcnow()
    data = export_manifest(db, now=now)
    world = world_from_manifest(data)

    assert set(world.users) == set(db.scalars(select(User.id)))
    for user in db.scalars(select(User)):
        assert world.users[user.id].username == user.username
        assert world.users[user.id].is_private == user.is_private
    assert set(world.venues) == set(db.scalars(select(Venue.id)))
    keys = dict(db.execute(select(Media.id, Media.key)).all())
    for post in db.scalars(select(Post)):
        assert world.posts[post.id].owner_id == post.owner_id
        assert world.posts[post.id].venue_id == post.venue_id
        assert world.posts[post.id].media_key == keys[post.media_id]
    live = set(db.scalars(select(Story.id).where(Story.expires_at > now)))
    assert live and seeded.expired_stories
    assert set(world.stories) == live  # expired stories are not in it
    approved = set(
        db.execute(
            select(Follow.follower_id, Follow.followee_id).where(
                Follow.status == FollowStatus.APPROVED
            )
        ).all()
    )
    exported = {(a, b) for a, followees in world.following.items() for b in followees}
    assert exported == approved
    assert set(world.apps) == set(db.scalars(select(PartnerApp.client_id)))
    brightwave = next(a for a in world.apps.values() if a.name == "Brightwave Audiences")
    assert "location:read" in brightwave.scopes and brightwave.authorised_by
    text = json.dumps(data)
    for partner in seeded.partners:
        assert partner.client_secret not in text
    assert seeded.password not in text


def test_stories_carry_their_expiry_and_homes_come_from_places(
    db: Session, settings: Settings
) -> None:
    seed_world(db, settings.media_dir, users=20, seed=2)
    data = export_manifest(db)
    for story in data["stories"]:
        assert story["expires_at"] > story["created_at"]
    cities = {venue.city for venue in db.scalars(select(Venue))}
    assert {user["city"] for user in data["users"]} <= cities | {"unknown"}
    assert any(user["city"] in cities for user in data["users"])
    later = export_manifest(db, now=utcnow() + timedelta(days=2))
    assert later["stories"] == []


def test_seed_writes_the_manifest_where_asked(tmp_path: Path) -> None:
    runner = CliRunner()
    data_dir = tmp_path / "world"
    result = runner.invoke(photoshare_cli, ["seed", "--users", "8", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    default = load_manifest(data_dir / "manifest.json")
    assert len(default.people()) == 8  # and the canaries beside them

    other = tmp_path / "elsewhere" / "world.json"
    result = runner.invoke(
        photoshare_cli,
        ["demo", "--no-serve", "--data-dir", str(data_dir), "--manifest", str(other)],
    )
    assert result.exit_code == 0, result.output
    assert set(load_manifest(other).users) == set(default.users)


def test_banned_accounts_stay_in_the_detectors_context_but_not_the_simulators_world(
    db: Session, settings: Settings
) -> None:
    """A sock puppet banned first must still be linked with the cohort it was created with when
    the others are flagged later: the detectors' accounts table keeps disabled accounts."""
    seed_world(db, settings.media_dir, users=20, seed=3)
    banned = db.scalars(select(User).order_by(User.id)).first()
    assert banned is not None
    banned.disabled = True
    db.commit()
    assert banned.id not in world_from_manifest(export_manifest(db)).users
    accounts = platform_context(db)["accounts"].to_pylist()
    created = {row["account"]: row["created_at"] for row in accounts}
    assert created[str(banned.id)] == banned.created_at.timestamp()
    assert len(created) == len(db.scalars(select(User.id)).all())
