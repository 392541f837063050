"""seed_world: a deterministic, plausible world with the shape of a real social network."""

from __future__ import annotations

import hashlib
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from photoshare import migrate
from photoshare.db import Base, make_engine, make_sessionmaker
from photoshare.media import media_path
from photoshare.models import (
    Comment,
    Follow,
    FollowStatus,
    Like,
    Media,
    PartnerApp,
    PartnerAuthorisation,
    Post,
    Story,
    User,
    Venue,
)
from photoshare.security import verify_password
from photoshare.seed import SEED_PASSWORD, SeedError, SeedReport, seed_world

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
# Random by design (unguessable keys, secrets, argon2 salts), so left out of the comparison.
RANDOM_COLUMNS = {
    "media": {"key"},
    "users": {"password_hash"},
    "partner_apps": {"client_id", "client_secret_hash", "created_at"},
}


@dataclass
class SeededWorld:
    engine: Engine
    sessions: sessionmaker[Session]
    media_dir: Path
    report: SeedReport


def _seeded(directory: Path, *, users: int, seed: int, canaries: bool = True) -> SeededWorld:
    directory.mkdir(parents=True)
    engine = make_engine(f"sqlite:///{directory / 'world.db'}")
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    media_dir = directory / "media"
    media_dir.mkdir()
    with sessions() as db:
        report = seed_world(db, media_dir, users=users, seed=seed, now=NOW, canaries=canaries)
    return SeededWorld(engine, sessions, media_dir, report)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededWorld]:
    # the world of people only: the canaries planted beside it are tested in test_canaries.py
    world = _seeded(tmp_path_factory.mktemp("seed") / "big", users=200, seed=1, canaries=False)
    yield world
    world.engine.dispose()


@pytest.fixture
def db(big: SeededWorld) -> Iterator[Session]:
    with big.sessions() as session:
        yield session


def _digest(world: SeededWorld) -> str:
    """Every row of every table (less the random columns), and every photo's bytes."""
    digest = hashlib.sha256()
    with world.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            skip = RANDOM_COLUMNS.get(table.name, set())
            columns = [column for column in table.columns if column.name not in skip]
            for row in connection.execute(select(*columns).order_by(*table.primary_key)):
                digest.update(repr((table.name, tuple(row))).encode())
        for key in connection.execute(select(Media.key).order_by(Media.id)).scalars():
            digest.update(media_path(world.media_dir, key).read_bytes())
    return digest.hexdigest()


def test_the_same_seed_gives_the_same_world(tmp_path: Path) -> None:
    first = _seeded(tmp_path / "a", users=40, seed=7)
    second = _seeded(tmp_path / "b", users=40, seed=7)
    other = _seeded(tmp_path / "c", users=40, seed=8)
    try:
        assert _digest(first) == _digest(second)
        assert _digest(first) != _digest(other)
        assert first.report.partners[0].client_secret != second.report.partners[0].client_secret
    finally:
        for world in (first, second, other):
            world.engine.dispose()


def test_the_report_counts_what_is_in_the_database(big: SeededWorld, db: Session) -> None:
    report = big.report

    def count(column: Any) -> int:
        return db.scalar(select(func.count(column))) or 0

    assert count(User.id) == report.users == 200
    assert count(Follow.id) == report.follows
    assert count(Post.id) == report.posts
    assert count(Story.id) == report.live_stories + report.expired_stories
    assert count(Like.id) == report.likes
    assert count(Comment.id) == report.comments
    assert count(Venue.id) == report.venues
    assert count(Media.id) == report.media == len(list(big.media_dir.iterdir()))
    assert report.password == SEED_PASSWORD


def test_about_ten_percent_private_and_five_percent_business(db: Session) -> None:
    users = db.scalars(select(User)).all()
    private = sum(user.is_private for user in users) / len(users)
    business = sum(user.is_business for user in users) / len(users)
    assert 0.08 <= private <= 0.12
    assert 0.03 <= business <= 0.07
    assert not any(user.is_private and user.is_business for user in users)
    assert len({user.username for user in users}) == len(users)
    assert all(len(user.username) <= 30 and user.username.isascii() for user in users)
    assert all(user.email and user.display_name for user in users)
    assert verify_password(users[0].password_hash, SEED_PASSWORD)


def test_follower_counts_are_heavy_tailed(db: Session) -> None:
    """Preferential attachment: a few accounts hold most followers, most have a handful."""
    per_account = Counter(db.scalars(select(Follow.followee_id)))
    degrees = sorted(
        (per_account[user_id] for user_id in db.scalars(select(User.id))), reverse=True
    )
    mean = statistics.mean(degrees)
    top_tenth = sum(degrees[: len(degrees) // 10]) / sum(degrees)
    # A random graph of the same density would have its maximum near 2x the mean and its top
    # tenth holding about a fifth of the follows.
    assert degrees[0] >= 6 * mean
    assert degrees[0] >= 10 * statistics.median(degrees)
    assert top_tenth >= 0.4


def test_pending_follows_wait_on_private_accounts(db: Session) -> None:
    rows = db.execute(
        select(Follow.status, User.is_private).join(User, User.id == Follow.followee_id)
    ).all()
    pending = [private for status, private in rows if status is FollowStatus.PENDING]
    assert pending and all(pending)
    assert any(status is FollowStatus.APPROVED and private for status, private in rows)
    assert all(follow.follower_id != follow.followee_id for follow in db.scalars(select(Follow)))


def test_venues_are_real_places_clustered_in_cities(db: Session) -> None:
    by_city: dict[str, list[Venue]] = defaultdict(list)
    for venue in db.scalars(select(Venue)):
        by_city[venue.city].append(venue)
    assert {"Berlin", "Paris", "Lisbon", "New York"} <= set(by_city)
    for venues in by_city.values():
        lat = statistics.mean(v.lat for v in venues)
        lon = statistics.mean(v.lon for v in venues)
        assert all(abs(v.lat - lat) < 0.2 and abs(v.lon - lon) < 0.2 for v in venues)
        assert {v.category for v in venues} >= {"hotel", "cafe", "museum"}
    berlin = {v.name: v for v in by_city["Berlin"]}["Hotel Adlon Kempinski"]
    assert (round(berlin.lat, 2), round(berlin.lon, 2)) == (52.52, 13.38)


def test_posts_are_recent_and_about_forty_percent_at_a_venue_of_the_home_city(
    db: Session,
) -> None:
    posts = db.scalars(select(Post)).all()
    assert all(NOW - timedelta(weeks=6) <= post.created_at <= NOW for post in posts)
    share = sum(post.venue_id is not None for post in posts) / len(posts)
    assert 0.3 <= share <= 0.55
    cities: dict[int, set[str]] = defaultdict(set)
    for post in posts:
        if post.venue is not None and not post.owner.is_business:
            cities[post.owner_id].add(post.venue.city)
    assert cities and all(len(owned) == 1 for owned in cities.values())
    assert len({post.caption for post in posts}) > 30


def test_stories_are_live_or_expired_with_a_day_to_live(big: SeededWorld, db: Session) -> None:
    stories = db.scalars(select(Story)).all()
    live = [story for story in stories if story.expires_at > NOW]
    expired = [story for story in stories if story.expires_at <= NOW]
    assert len(live) == big.report.live_stories > 0
    assert len(expired) == big.report.expired_stories > 0
    assert all(story.expires_at - story.created_at == timedelta(hours=24) for story in stories)
    assert all(story.created_at <= NOW for story in stories)


def test_likes_and_comments_respect_private_accounts(db: Session) -> None:
    approved = {
        (follower, followee)
        for follower, followee in db.execute(
            select(Follow.follower_id, Follow.followee_id).where(
                Follow.status == FollowStatus.APPROVED
            )
        )
    }
    reactions = [
        *db.execute(select(Like.user_id, Post.owner_id, User.is_private, Like.created_at, Post.created_at).join(Post, Post.id == Like.post_id).join(User, User.id == Post.owner_id)),
        *db.execute(select(Comment.author_id, Post.owner_id, User.is_private, Comment.created_at, Post.created_at).join(Post, Post.id == Comment.post_id).join(User, User.id == Post.owner_id)),
    ]  # fmt: skip
    assert reactions
    for actor, owner, private, reacted, posted in reactions:
        assert actor != owner
        assert reacted >= posted
        if private:
            assert (actor, owner) in approved


def test_photos_are_small_clean_jpegs_that_differ(big: SeededWorld, db: Session) -> None:
    media = db.scalars(select(Media).order_by(Media.id).limit(25)).all()
    contents = [media_path(big.media_dir, m.key).read_bytes() for m in media]
    assert len(set(contents)) == len(contents)
    for row, data in zip(media, contents, strict=True):
        assert 1000 < len(data) < 20_000 and row.size == len(data)
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG" and image.size == (row.width, row.height)
            assert len(image.getexif()) == 0
    avatars = db.scalars(select(User).where(User.avatar_id.is_not(None))).all()
    assert 0.5 < len(avatars) / big.report.users < 0.9


def test_partner_apps_are_registered_and_authorised_by_businesses(
    big: SeededWorld, db: Session
) -> None:
    seeded = {partner.name: partner for partner in big.report.partners}
    assert set(seeded) == {"Lumen Analytics", "Brightwave Audiences"}
    assert "location:read" in seeded["Brightwave Audiences"].scopes
    assert "location:read" not in seeded["Lumen Analytics"].scopes
    for partner in seeded.values():
        app = db.scalars(select(PartnerApp).where(PartnerApp.client_id == partner.client_id)).one()
        assert verify_password(app.client_secret_hash, partner.client_secret)
        assert app.scope_set == frozenset(partner.scopes)
        authorising = db.scalars(
            select(User)
            .join(PartnerAuthorisation, PartnerAuthorisation.user_id == User.id)
            .where(PartnerAuthorisation.app_id == app.id)
        ).all()
        assert sorted(u.username for u in authorising) == sorted(partner.authorised_by)
        assert authorising and all(user.is_business for user in authorising)


def test_a_world_is_seeded_only_into_an_empty_database(big: SeededWorld, db: Session) -> None:
    files = len(list(big.media_dir.iterdir()))
    with pytest.raises(SeedError, match="already has accounts"):
        seed_world(db, big.media_dir, users=5)
    assert len(list(big.media_dir.iterdir())) == files
    with pytest.raises(SeedError):
        seed_world(db, big.media_dir, users=0)
