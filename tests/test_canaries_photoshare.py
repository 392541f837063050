"""photoshare's canaries: planted by the seed, kept off every page a person browses, exported for
attribution, and every read of one a canary_access finding through the guard's own events."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from harvestguard.canaries import Canary, CanaryKind, canary_marker, load_canaries
from harvestguard.detect import DetectionEngine, load_detectors
from harvestguard.sinks.parquet import read_events
from photoshare.app import create_app
from photoshare.canaries import canary_records, export_canaries
from photoshare.cli import app as photoshare_cli
from photoshare.guard_context import platform_context
from photoshare.models import Follow, PartnerAuthorisation, Post, Story, User, Venue
from photoshare.security import verify_password
from photoshare.seed import SEED_PASSWORD, seed_world
from photoshare.settings import Settings
from tests.web_helpers import act_as

KEY = b"canary test key"


@dataclass
class Seeded:
    app: FastAPI
    canaries: list[Canary]

    def of(self, kind: CanaryKind) -> list[Canary]:
        return [canary for canary in self.canaries if canary.kind is kind]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("canaries"), secret_key="test-secret")
    app = create_app(settings)
    with app.state.sessionmaker() as db:
        report = seed_world(db, settings.media_dir, users=40, seed=3, canary_key=KEY)
        canaries = canary_records(db)
    assert report.canaries == len(canaries)
    yield Seeded(app, canaries)


@pytest.fixture
def db(seeded: Seeded) -> Iterator[Session]:
    with seeded.app.state.sessionmaker() as session:
        yield session


@pytest.fixture
def client(seeded: Seeded) -> Iterator[TestClient]:
    """The only test that browses: its lifespan's end closes the app's guard."""
    with TestClient(seeded.app, base_url="https://testserver") as test_client:
        yield test_client


def _ids(seeded: Seeded, kind: CanaryKind) -> set[int]:
    return {int(canary.object_id) for canary in seeded.of(kind)}


def test_the_seed_plants_every_kind_with_its_keyed_marker_in_its_text(
    seeded: Seeded, db: Session
) -> None:
    assert {canary.kind for canary in seeded.canaries} == set(CanaryKind)
    markers = [canary.marker for canary in seeded.canaries]
    assert len(set(markers)) == len(markers)
    for canary in seeded.canaries:
        tag = canary_marker(KEY, canary.kind, canary.object_id)
        if canary.kind is CanaryKind.ACCOUNT:
            user = db.get(User, int(canary.object_id))
            assert user is not None and canary.marker == tag.tag
            assert user.bio.endswith(f"#{tag.tag}") and canary.username == user.username
            assert not verify_password(user.password_hash, SEED_PASSWORD)
        elif canary.kind is CanaryKind.POST:
            post = db.get(Post, int(canary.object_id))
            assert post is not None and post.caption.endswith(f"#{tag.tag}")
            assert canary.media_id == str(post.media_id)
        elif canary.kind is CanaryKind.STORY:
            story = db.get(Story, int(canary.object_id))
            assert story is not None and canary.marker == tag.tag
            assert canary.media_id == str(story.media_id)
        else:
            venue = db.get(Venue, int(canary.object_id))
            assert venue is not None and venue.name == canary.marker == f"{tag.title} Hotel"
    # canary posts have ids among everyone's: a walk of post ids meets one wherever it stops
    posts = _ids(seeded, CanaryKind.POST)
    real = sorted(db.scalars(select(Post.id).where(Post.id.not_in(posts))))
    middle = real[len(real) // 2]
    assert min(posts) < middle < max(posts) and min(posts) < real[len(real) // 4]
    # a canary story is live, so that a story harvester has something to take
    stories = [db.get(Story, int(c.object_id)) for c in seeded.of(CanaryKind.STORY)]
    assert stories and all(s is not None and s.expires_at > s.created_at for s in stories)


def test_no_real_account_is_linked_to_a_canary(seeded: Seeded, db: Session) -> None:
    accounts = _ids(seeded, CanaryKind.ACCOUNT)
    venues = _ids(seeded, CanaryKind.VENUE)
    canary_items = _ids(seeded, CanaryKind.POST)
    crossing = db.scalars(
        select(Follow).where(
            or_(
                Follow.follower_id.in_(accounts) & Follow.followee_id.not_in(accounts),
                Follow.followee_id.in_(accounts) & Follow.follower_id.not_in(accounts),
            )
        )
    ).all()
    assert crossing == []
    assert db.scalars(select(Follow).where(Follow.followee_id.in_(accounts))).first()
    real_at_canary_venue = db.scalars(
        select(Post).where(Post.venue_id.in_(venues), Post.id.not_in(canary_items))
    ).all()
    assert real_at_canary_venue == []
    assert not db.scalars(
        select(PartnerAuthorisation).where(PartnerAuthorisation.user_id.in_(accounts))
    ).all()


def _detect(app: FastAPI, db: Session) -> list[tuple[tuple[str, str], dict[str, object]]]:
    assert app.state.guard_sink.flush(timeout=10)
    events = read_events(app.state.settings.data_dir / "guard" / "events")
    engine = DetectionEngine(
        [spec for spec in load_detectors() if spec.id == "canary_access"],
        parameters={"canary_access": {"window_minutes": 1440}},  # one window for the whole test
    )
    report = engine.run(events, platform_context(db))
    return [(f.key, f.evidence) for f in report.findings if f.detector == "canary_access"]


def test_browsing_never_meets_a_canary_and_harvesting_is_a_finding(
    seeded: Seeded, client: TestClient, db: Session
) -> None:
    accounts = _ids(seeded, CanaryKind.ACCOUNT)
    canary_texts = [c.marker for c in seeded.canaries] + [
        c.username for c in seeded.of(CanaryKind.ACCOUNT) if c.username
    ]
    # a person: the feed, the people they follow and their lists, searches, places
    person = db.scalars(
        select(User)
        .join(Follow, Follow.follower_id == User.id)
        .where(User.id.not_in(accounts), User.is_private.is_(False))
        .order_by(User.id)
    ).first()
    assert person is not None
    act_as(client, db, person)
    followed = db.scalars(
        select(User)
        .join(Follow, Follow.followee_id == User.id)
        .where(Follow.follower_id == person.id)
    ).all()
    pages = ["/", f"/u/{person.username}", f"/u/{person.username}/following"]
    for other in followed:
        pages += [f"/u/{other.username}", f"/u/{other.username}/followers"]
    for canary in seeded.of(CanaryKind.ACCOUNT):
        assert canary.username is not None
        pages.append(f"/search?q={canary.username[:3]}")
    cities = db.scalars(select(Venue.city).distinct()).all()
    pages += [f"/search/locations?q={city}" for city in cities]
    pages += ["/search/locations?q=hotel"]
    real_venue = db.scalars(select(Venue).where(Venue.id.not_in(_ids(seeded, CanaryKind.VENUE))))
    pages += [f"/explore/locations/{venue.id}" for venue in real_venue]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        text = response.text.lower()
        for canary_text in canary_texts:
            assert not re.search(rf"\b{re.escape(canary_text.lower())}\b", text), (
                page,
                canary_text,
            )
    assert _detect(seeded.app, db) == []

    # a harvester, logged in: a sweep of a city's venues, then who posts there, then their posts
    harvester = db.scalars(
        select(User).where(User.id.not_in(accounts)).order_by(User.id.desc())
    ).first()
    assert harvester is not None
    act_as(client, db, harvester)
    venue = seeded.of(CanaryKind.VENUE)[0]
    swept = client.get(f"/explore/locations/{venue.object_id}")
    assert swept.status_code == 200 and venue.marker in swept.text
    owner = next(
        c for c in seeded.of(CanaryKind.ACCOUNT) if c.username and c.username in swept.text
    )
    assert client.get(f"/u/{owner.username}").status_code == 200
    post = next(c for c in seeded.of(CanaryKind.POST) if c.username == owner.username)
    assert f"#{post.marker}" in client.get(f"/p/{post.object_id}").text
    story = next(c for c in seeded.of(CanaryKind.STORY) if c.username == owner.username)
    assert client.get(f"/stories/{story.object_id}").status_code == 200

    findings = _detect(seeded.app, db)
    assert [key for key, _ in findings] == [("account", str(harvester.id))]
    evidence = findings[0][1]
    assert evidence["canaries"] == 4  # the venue, the account, the post, the story
    assert str(evidence["first_label"]).startswith("canary ")


def test_photoshare_seed_exports_the_canaries_file(
    tmp_path: Path, seeded: Seeded, db: Session
) -> None:
    path = export_canaries(db, tmp_path)
    assert path == tmp_path / "canaries.json"
    assert list(load_canaries(path)) == seeded.canaries

    data_dir = tmp_path / "seeded"
    result = CliRunner().invoke(
        photoshare_cli, ["seed", "--users", "6", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    exported = load_canaries(data_dir / "canaries.json")
    assert {canary.kind for canary in exported} == set(CanaryKind)
    # the command keys the markers with the platform's secret, not the seed: unguessable
    assert all(
        c.marker != canary_marker(b"photoshare seed 1", c.kind, c.object_id).tag
        for c in exported
        if c.kind is not CanaryKind.VENUE
    )
