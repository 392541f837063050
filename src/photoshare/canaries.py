"""Canaries: honeytoken accounts, posts, stories and venues that only harvesters reach.

Planted by the seed (``CanaryPlanting``), listed in the ``canaries`` table, exported to
``<data dir>/canaries.json`` (``harvestguard.canaries``) and given to the guard's detectors as
the ``canaries`` context table (``photoshare.guard_context``). Where they sit:

- a canary hotel in every city, near the city's other venues: a geo-fence sweep of the city
  reaches it; the place search never lists it, and no real post or story is placed there;
- its own business account and a person's account posting from it, with live stories there:
  whoever collects the people who post at a swept venue collects them;
- dormant canary accounts following those two, so that they look as popular as the top tenth of
  real accounts: a harvester following popular accounts to save their stories follows them;
- usernames like everyone's, so that an alphabetical or id-order walk meets them, and posts made
  while the people's are, so that their ids fall among everyone's.

No real account follows a canary or is followed by one, no search lists one, and no feed, place
page or list of a real account shows one. Every canary's text carries its keyed marker
(``harvestguard.canaries.canary_marker``): a hashtag in bios and captions, drawn on story photos
as a sticker, and the name of a canary venue.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from harvestguard.canaries import (
    FILE_NAME,
    Canary,
    CanaryKind,
    Marker,
    canary_marker,
    dormant_count,
    save_canaries,
)
from photoshare import seed_vocabulary as words
from photoshare.media import discard_file, write_image
from photoshare.models import CanaryObject, Follow, FollowStatus, Media, Post, Story, User, Venue
from photoshare.security import hash_password

POSTS_PER_ACCOUNT = 3
IMAGE_SIZE = (256, 256)
AVATAR_SIZE = (96, 96)
AVATAR_SHARE = 0.7  # as among real accounts

ImageMaker = Callable[[random.Random, tuple[int, int]], Image.Image]


def canary_ids(kind: CanaryKind) -> Select[int]:
    """The ids of the canaries of one kind: for the ``not_in`` of every benign listing."""
    return select(CanaryObject.object_id).where(CanaryObject.kind == kind.value)


@dataclass(slots=True)
class _Planter:
    db: Session
    media_dir: Path
    key: bytes
    rng: random.Random
    now: datetime
    make_image: ImageMaker
    written: list[str]
    password_hash: str = ""
    taken: set[str] = field(default_factory=set)

    def marker(self, kind: CanaryKind, object_id: int) -> Marker:
        return canary_marker(self.key, kind, str(object_id))

    def record(self, kind: CanaryKind, object_id: int, marker: str, label: str) -> None:
        self.db.add(
            CanaryObject(
                kind=kind.value,
                object_id=object_id,
                marker=marker,
                label=label,
                created_at=self.now,
            )
        )

    def venue(self, city: str, places: list[Venue]) -> Venue:
        lat = sum(v.lat for v in places) / len(places) + self.rng.uniform(-0.01, 0.01)
        lon = sum(v.lon for v in places) / len(places) + self.rng.uniform(-0.01, 0.01)
        venue = Venue(name="", category="hotel", city=city, lat=lat, lon=lon)
        self.db.add(venue)
        self.db.flush()
        venue.name = f"{self.marker(CanaryKind.VENUE, venue.id).title} Hotel"
        self.record(CanaryKind.VENUE, venue.id, venue.name, f"canary venue {venue.name}, {city}")
        return venue

    def account(self, city: str, *, venue: Venue | None = None) -> User:
        if venue is not None:
            username = _unique("".join(ch for ch in venue.name.lower() if ch.isalnum()), self.taken)
            display, email = venue.name, f"hello@{username}.example"
        else:
            first, last = self.rng.choice(words.FIRST_NAMES), self.rng.choice(words.LAST_NAMES)
            pattern = self.rng.choice(("{f}{l}", "{f}.{l}", "{f}_{l}{n}", "{f}{l}{n}"))
            base = pattern.format(f=first.lower(), l=last.lower(), n=self.rng.randint(1, 99))
            username = _unique(base, self.taken)
            display, email = f"{first} {last}", f"{username}@example.org"
        user = User(
            username=username,
            display_name=display,
            email=email,
            password_hash=self.password_hash,
            is_business=venue is not None,
            created_at=self.now - timedelta(days=self.rng.uniform(60, 900)),
        )
        self.db.add(user)
        self.db.flush()
        if self.rng.random() < AVATAR_SHARE:
            user.avatar_id = self.picture(user, user.created_at, size=AVATAR_SIZE).id
        tag = self.marker(CanaryKind.ACCOUNT, user.id).tag
        a, b = self.rng.sample(words.INTERESTS, 2)
        if venue is not None:
            bio = words.BUSINESS_BIOS["hotel"].format(city=city)
        else:
            bio = self.rng.choice(words.BIOS).format(a=a, b=b, A=a.title(), B=b.title(), city=city)
        user.bio = f"{bio} #{tag}".strip()
        self.record(CanaryKind.ACCOUNT, user.id, tag, f"canary account @{username}")
        return user

    def post(self, owner: User, venue: Venue) -> None:
        created = self.now - timedelta(days=self.rng.uniform(0.5, 40))
        post = Post(
            owner_id=owner.id,
            media=self.picture(owner, created),
            caption="",
            venue_id=venue.id,
            created_at=created,
        )
        self.db.add(post)
        self.db.flush()
        tag = self.marker(CanaryKind.POST, post.id).tag
        text = self.rng.choice(words.VENUE_CAPTIONS["hotel"])
        post.caption = f"{text.format(venue=venue.name, city=venue.city)} #{tag}"
        self.record(CanaryKind.POST, post.id, tag, f"canary post by @{owner.username}")

    def story(self, owner: User, venue: Venue, ttl: timedelta) -> None:
        created = self.now - timedelta(hours=self.rng.uniform(0.2, 3))
        story = Story(
            owner_id=owner.id,
            media=self.picture(owner, created),
            venue_id=venue.id,
            created_at=created,
            expires_at=created + ttl,
        )
        self.db.add(story)
        self.db.flush()
        # the marker needs the story's id, the photo carries the marker: swap in a second photo
        tag = self.marker(CanaryKind.STORY, story.id).tag
        plain = story.media
        story.media = self.picture(owner, created, sticker=f"#{tag}")
        self.db.flush()
        self.db.delete(plain)
        discard_file(self.media_dir, plain.key)
        self.written.remove(plain.key)
        self.record(CanaryKind.STORY, story.id, tag, f"canary story by @{owner.username}")

    def follow(self, follower: User, followee: User) -> Follow:
        since = max(follower.created_at, followee.created_at)
        created = since + (self.now - since) * self.rng.random()
        return Follow(
            follower_id=follower.id,
            followee_id=followee.id,
            status=FollowStatus.APPROVED,
            created_at=created,
        )

    def picture(
        self,
        owner: User,
        created: datetime,
        *,
        sticker: str = "",
        size: tuple[int, int] = IMAGE_SIZE,
    ) -> Media:
        image = self.make_image(self.rng, size)
        if sticker:
            draw = ImageDraw.Draw(image)
            box = draw.textbbox((0, 0), sticker)
            x, y = 12, IMAGE_SIZE[1] - 12 - (box[3] - box[1])
            draw.rectangle((x - 4, y - 4, x + box[2] + 4, y + box[3] + 4), fill=(255, 255, 255))
            draw.text((x, y), sticker, fill=(20, 20, 20))
        media = write_image(
            image, owner_id=owner.id, media_dir=self.media_dir, created_at=created, durable=False
        )
        self.db.add(media)
        self.db.flush()
        self.written.append(media.key)
        return media


class CanaryPlanting:
    """Plants the canaries into a world being seeded, in three steps, so that their posts get
    ids among everyone's (a walk of post ids meets them wherever it stops):

    ``begin()`` once the accounts and follows exist (venues, accounts, dormant followers);
    ``post()`` now and then while the people's posts are made, ``posts_wanted`` times in all;
    ``finish()`` at the end (any posts left, stories, follows), which returns how many canaries.

    ``written`` collects the media keys of the files written, for the seed to remove on failure.
    """

    def __init__(
        self,
        db: Session,
        media_dir: Path,
        *,
        key: bytes,
        seed: int,
        now: datetime,
        story_ttl: timedelta,
        make_image: ImageMaker,
        written: list[str],
    ) -> None:
        self.db = db
        self.story_ttl = story_ttl
        self.planter = _Planter(
            db=db,
            media_dir=media_dir,
            key=key,
            rng=random.Random(f"canaries:{seed}"),
            now=now,
            make_image=make_image,
            written=written,
            # nobody logs in as a canary: a hash of a password nobody holds
            password_hash=hash_password(secrets.token_urlsafe(32)),
        )
        self.active: list[tuple[User, Venue]] = []
        self.pending: list[tuple[User, Venue]] = []

    @property
    def posts_wanted(self) -> int:
        return len(self.pending)

    def begin(self) -> None:
        planter, db = self.planter, self.db
        planter.taken = set(db.scalars(select(User.username)))
        by_city: dict[str, list[Venue]] = {}
        for venue in db.scalars(select(Venue).order_by(Venue.id)):
            by_city.setdefault(venue.city, []).append(venue)
        followers = _follower_counts(db)
        for city, places in sorted(by_city.items()):
            venue = planter.venue(city, places)
            for account in (planter.account(city, venue=venue), planter.account(city)):
                self.active.append((account, venue))
        self.pending = [entry for entry in self.active for _ in range(POSTS_PER_ACCOUNT)]
        planter.rng.shuffle(self.pending)
        cities = sorted(by_city) or ["Berlin"]
        for number in range(dormant_count(followers)):
            follower = planter.account(cities[number % len(cities)])
            db.add_all(planter.follow(follower, account) for account, _ in self.active)

    def post(self) -> None:
        if self.pending:
            account, venue = self.pending.pop()
            self.planter.post(account, venue)

    def finish(self) -> int:
        while self.pending:
            self.post()
        for account, venue in self.active:
            self.planter.story(account, venue, self.story_ttl)
        accounts = [account for account, _ in self.active]
        self.db.add_all(
            self.planter.follow(first, second)
            for first in accounts
            for second in accounts
            if first is not second
        )
        self.db.flush()
        return self.db.scalar(select(func.count(CanaryObject.id))) or 0


def _follower_counts(db: Session) -> list[int]:
    """The approved-follower counts of the public accounts, largest first."""
    counted = dict(
        db.execute(
            select(Follow.followee_id, func.count())
            .where(Follow.status == FollowStatus.APPROVED)
            .group_by(Follow.followee_id)
        ).all()
    )
    public = db.scalars(select(User.id).where(User.is_private.is_(False)))
    return sorted((counted.get(user_id, 0) for user_id in public), reverse=True)


def canary_records(db: Session) -> list[Canary]:
    """The planted canaries whose objects still exist, as ``harvestguard.canaries`` records."""
    records: list[Canary] = []
    for row in db.scalars(select(CanaryObject).order_by(CanaryObject.id)):
        kind = CanaryKind(row.kind)
        username: str | None = None
        media_id: int | None = None
        if kind is CanaryKind.ACCOUNT:
            user = db.get(User, row.object_id)
            if user is None:
                continue
            username, media_id = user.username, user.avatar_id
        elif kind is CanaryKind.VENUE:
            if db.get(Venue, row.object_id) is None:
                continue
        else:
            item: Post | Story | None = (
                db.get(Post, row.object_id)
                if kind is CanaryKind.POST
                else db.get(Story, row.object_id)
            )
            if item is None:
                continue
            username, media_id = item.owner.username, item.media_id
        records.append(
            Canary(
                kind=kind,
                object_id=str(row.object_id),
                label=row.label,
                marker=row.marker,
                username=username,
                media_id=None if media_id is None else str(media_id),
            )
        )
    return records


def export_canaries(db: Session, data_dir: Path) -> Path:
    """Writes ``<data_dir>/canaries.json``; returns its path."""
    return save_canaries(canary_records(db), data_dir / FILE_NAME)


def _unique(base: str, taken: set[str]) -> str:
    base = base[:26]
    candidate, suffix = base, 1
    while candidate in taken:
        suffix += 1
        candidate = f"{base}{suffix}"
    taken.add(candidate)
    return candidate
