"""A plausible world of accounts, follows, venues, posts, stories and partner apps, from one seed.

The same seed gives the same world (row for row, image for image; only the random media keys and
partner credentials differ), so demos and tests can rely on it. The social graph grows by
preferential attachment: each new account follows accounts with a probability proportional to
the followers they already have, which gives the heavy-tailed follower counts of a real network.
"""

from __future__ import annotations

import math
import random
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from photoshare import seed_vocabulary as words
from photoshare.canaries import CanaryPlanting
from photoshare.db import utcnow
from photoshare.media import discard_file, write_image
from photoshare.models import (
    Comment,
    Follow,
    FollowStatus,
    Like,
    Media,
    PartnerAuthorisation,
    Post,
    Story,
    User,
    Venue,
)
from photoshare.partners import register_partner
from photoshare.security import hash_password

SEED_PASSWORD = "photoshare-demo"
STORY_TTL = timedelta(hours=24)
POST_WINDOW = timedelta(weeks=6)
PRIVATE_SHARE = 0.10
BUSINESS_SHARE = 0.05
VENUE_SHARE = 0.40
POST_SIZE = (256, 256)  # the size of Pillow's ready-made gradient: no resizing
AVATAR_SIZE = (96, 96)

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class SeededPartner:
    name: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    authorised_by: tuple[str, ...]  # usernames


@dataclass(frozen=True, slots=True)
class SeedReport:
    users: int
    private_users: int
    business_users: int
    follows: int
    pending_follows: int
    venues: int
    posts: int
    posts_with_venue: int
    live_stories: int
    expired_stories: int
    likes: int
    comments: int
    media: int
    password: str
    partners: tuple[SeededPartner, ...]
    # canary objects planted besides the world above (``photoshare.canaries``); the counts
    # above are of the world of people only
    canaries: int = 0


class SeedError(Exception):
    """The world cannot be seeded here (the database already has accounts)."""


@dataclass(slots=True)
class _Account:
    user: User
    city: str
    interests: tuple[str, str]
    venue: Venue | None = None  # a business account's own place


def seed_world(
    db: Session,
    media_dir: Path,
    *,
    users: int = 200,
    seed: int = 1,
    now: datetime | None = None,
    progress: Progress | None = None,
    canaries: bool = True,
    canary_key: bytes | None = None,
) -> SeedReport:
    """Fills an empty database (and media directory) with a world of ``users`` accounts.

    With ``canaries``, plants the canaries too, their markers keyed by ``canary_key``; without
    a key they are derived from the seed, which keeps a demo world reproducible but lets anyone
    who knows the seed recompute them: a real deployment passes a secret key.
    """
    if users < 1:
        raise SeedError("a world needs at least one account")
    if db.scalar(select(func.count(User.id))):
        raise SeedError("the database already has accounts; seed an empty one")
    builder = _WorldBuilder(db, media_dir, random.Random(seed), now or utcnow())
    if canaries:
        builder.canary_key = canary_key or f"photoshare seed {seed}".encode()
        builder.seed = seed
    try:
        return builder.build(users, progress)
    except BaseException:
        db.rollback()
        for key in builder.written:
            discard_file(media_dir, key)
        raise


class _WorldBuilder:
    def __init__(self, db: Session, media_dir: Path, rng: random.Random, now: datetime) -> None:
        self.db = db
        self.media_dir = media_dir
        self.rng = rng
        self.now = now
        self.written: list[str] = []
        self.counts = {"posts": 0, "with_venue": 0, "live": 0, "expired": 0, "likes": 0}
        self.counts |= {"comments": 0, "media": 0}
        self.canary_key: bytes | None = None
        self.seed = 0

    def build(self, n: int, progress: Progress | None) -> SeedReport:
        venues = self._venues()
        accounts = self._accounts(n, venues)
        edges = self._graph(n)
        followers = self._follows(accounts, edges)
        everyone = [account.user for account in accounts]
        canaries = self._canaries()
        wanted = 0 if canaries is None else canaries.posts_wanted
        # the canary posts are made among everyone's, at evenly spread turns of the loop
        turns = Counter((k * n) // wanted for k in range(wanted))
        for index, account in enumerate(accounts):
            self._content(account, everyone, accounts, followers[index], venues[account.city])
            if canaries is not None:
                for _ in range(turns[index]):
                    canaries.post()
            if progress is not None:
                progress(index + 1, n)
        planted = 0 if canaries is None else canaries.finish()
        self.db.commit()
        # From here on the files belong to committed rows: a failure must not remove them.
        self.written.clear()
        partners = self._partners(accounts)
        self.db.commit()
        return SeedReport(
            users=n,
            private_users=sum(a.user.is_private for a in accounts),
            business_users=sum(a.user.is_business for a in accounts),
            follows=len(edges),
            pending_follows=sum(
                1 for fs in followers for _, status in fs if status is FollowStatus.PENDING
            ),
            venues=sum(len(v) for v in venues.values()),
            posts=self.counts["posts"],
            posts_with_venue=self.counts["with_venue"],
            live_stories=self.counts["live"],
            expired_stories=self.counts["expired"],
            likes=self.counts["likes"],
            comments=self.counts["comments"],
            media=self.counts["media"],
            password=SEED_PASSWORD,
            partners=partners,
            canaries=planted,
        )

    def _canaries(self) -> CanaryPlanting | None:
        if self.canary_key is None:
            return None
        planting = CanaryPlanting(
            self.db,
            self.media_dir,
            key=self.canary_key,
            seed=self.seed,
            now=self.now,
            story_ttl=STORY_TTL,
            make_image=_generated_image,
            written=self.written,
        )
        planting.begin()
        return planting

    def _venues(self) -> dict[str, list[Venue]]:
        venues: dict[str, list[Venue]] = {}
        for city, places in words.CITIES.items():
            venues[city] = [
                Venue(name=p.name, category=p.category, city=city, lat=p.lat, lon=p.lon)
                for p in places
            ]
            self.db.add_all(venues[city])
        self.db.flush()
        return venues

    def _accounts(self, n: int, venues: dict[str, list[Venue]]) -> list[_Account]:
        rng = self.rng
        private = set(rng.sample(range(n), round(n * PRIVATE_SHARE)))
        public = [i for i in range(n) if i not in private]
        business = set(rng.sample(public, min(len(public), round(n * BUSINESS_SHARE))))
        places = [venue for city_venues in venues.values() for venue in city_venues]
        rng.shuffle(places)
        # Businesses are the seeded places' own accounts, as long as there are places left.
        own_place = dict(zip(sorted(business), places, strict=False))
        # One hash for every account: they share the demo password, and argon2 is slow on purpose.
        password_hash = hash_password(SEED_PASSWORD)
        taken: set[str] = set()
        accounts: list[_Account] = []
        for i in range(n):
            interests = (rng.choice(words.INTERESTS), rng.choice(words.INTERESTS))
            if i in business:
                account = self._business(own_place.get(i), rng.choice(list(words.CITIES)), taken)
            else:
                account = self._person(interests, taken)
            account.user.password_hash = password_hash
            account.user.is_private = i in private
            account.user.created_at = self.now - timedelta(days=rng.uniform(60, 1000))
            accounts.append(account)
        self.db.add_all(a.user for a in accounts)
        self.db.flush()
        return accounts

    def _person(self, interests: tuple[str, str], taken: set[str]) -> _Account:
        rng = self.rng
        first, last = rng.choice(words.FIRST_NAMES), rng.choice(words.LAST_NAMES)
        city = rng.choice(list(words.CITIES))
        pattern = rng.choice(("{f}{l}", "{f}.{l}", "{f}_{i}", "{i}.{f}", "{f}{l}{n}"))
        base = pattern.format(f=first.lower(), l=last.lower(), i=interests[0], n=rng.randint(1, 99))
        username = _unique(base, taken)
        a, b = interests
        bio = rng.choice(words.BIOS).format(a=a, b=b, A=a.title(), B=b.title(), city=city)
        user = User(
            username=username,
            display_name=f"{first} {last}",
            bio=bio,
            email=f"{username}@example.org",
        )
        return _Account(user=user, city=city, interests=interests)

    def _business(self, venue: Venue | None, fallback_city: str, taken: set[str]) -> _Account:
        city = venue.city if venue else fallback_city
        name = venue.name if venue else f"{self.rng.choice(words.LAST_NAMES)} & Co."
        category = venue.category if venue else "restaurant"
        username = _unique(_slug(name), taken)
        user = User(
            username=username,
            display_name=name,
            bio=words.BUSINESS_BIOS[category].format(city=city),
            email=f"hello@{username}.example",
            is_business=True,
        )
        return _Account(user=user, city=city, interests=("food", "travel"), venue=venue)

    def _graph(self, n: int) -> list[tuple[int, int]]:
        """Directed (follower, followee) edges grown by preferential attachment."""
        rng = self.rng
        # Each account is in the pool once, plus once per follower: choosing uniformly from it
        # picks an account with probability proportional to (followers + 1).
        pool: list[int] = []
        edges: set[tuple[int, int]] = set()
        for newcomer in range(n):
            wanted = min(newcomer, 1 + int(rng.expovariate(1 / 4)))
            chosen: set[int] = set()
            while len(chosen) < wanted:
                chosen.add(rng.choice(pool))
            for followee in sorted(chosen):
                edges.add((newcomer, followee))
                pool.append(followee)
            pool.append(newcomer)
        follow_backs = {(b, a) for a, b in sorted(edges) if rng.random() < 0.2}
        return sorted(edges | follow_backs)

    def _follows(
        self, accounts: list[_Account], edges: list[tuple[int, int]]
    ) -> list[list[tuple[int, FollowStatus]]]:
        """Stores the follows; returns, per account, its followers and their follow's status."""
        rng = self.rng
        followers: list[list[tuple[int, FollowStatus]]] = [[] for _ in accounts]
        rows: list[Follow] = []
        for follower, followee in edges:
            target = accounts[followee].user
            pending = target.is_private and rng.random() < 0.2
            status = FollowStatus.PENDING if pending else FollowStatus.APPROVED
            since = max(target.created_at, accounts[follower].user.created_at)
            rows.append(
                Follow(
                    follower_id=accounts[follower].user.id,
                    followee_id=target.id,
                    status=status,
                    created_at=self._between(since, self.now),
                )
            )
            followers[followee].append((follower, status))
        self.db.add_all(rows)
        return followers

    def _content(
        self,
        account: _Account,
        everyone: list[User],
        accounts: list[_Account],
        followers: list[tuple[int, FollowStatus]],
        city_venues: list[Venue],
    ) -> None:
        rng = self.rng
        user = account.user
        avatar = self._picture(user, AVATAR_SIZE, user.created_at) if rng.random() < 0.7 else None
        approved = [accounts[i].user for i, status in followers if status is FollowStatus.APPROVED]
        # Private accounts are seen by approved followers only; public ones also by passers-by.
        audience = (
            approved if user.is_private else approved + rng.sample(everyone, min(len(everyone), 3))
        )
        posts = [
            self._post(account, city_venues) for _ in range(min(25, int(rng.paretovariate(1.3))))
        ]
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
            self._story(account, city_venues, live=True)
        for _ in range(rng.choice((0, 0, 0, 0, 1, 2))):
            self._story(account, city_venues, live=False)
        # One flush per account gives the ids that the avatar, likes and comments refer to.
        self.db.flush()
        if avatar is not None:
            user.avatar_id = avatar.id
        for post in posts:
            self._reactions(post, user, audience)

    def _venue_for(self, account: _Account, city_venues: list[Venue], share: float) -> Venue | None:
        if account.venue is not None and self.rng.random() < 0.8:
            return account.venue
        return self.rng.choice(city_venues) if self.rng.random() < share else None

    def _post(self, account: _Account, city_venues: list[Venue]) -> Post:
        user = account.user
        created = self._between(max(user.created_at, self.now - POST_WINDOW), self.now)
        venue = self._venue_for(account, city_venues, VENUE_SHARE)
        post = Post(
            owner_id=user.id,
            media=self._picture(user, POST_SIZE, created),
            caption=self._caption(account, venue),
            venue_id=venue.id if venue else None,
            created_at=created,
        )
        self.db.add(post)
        self.counts["posts"] += 1
        self.counts["with_venue"] += venue is not None
        return post

    def _reactions(self, post: Post, user: User, audience: list[User]) -> None:
        rng = self.rng
        created = post.created_at
        likers = {u.id: u for u in audience if u.id != user.id and rng.random() < 0.35}
        for liker_id in sorted(likers):
            self.db.add(
                Like(user_id=liker_id, post_id=post.id, created_at=self._between(created, self.now))
            )
        self.counts["likes"] += len(likers)
        commenters = [u for u in audience if u.id != user.id]
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3)) if commenters else 0):
            author = rng.choice(commenters)
            self.db.add(
                Comment(
                    post_id=post.id,
                    author_id=author.id,
                    text=rng.choice(words.COMMENTS),
                    created_at=self._between(created, self.now),
                )
            )
            self.counts["comments"] += 1

    def _story(self, account: _Account, city_venues: list[Venue], *, live: bool) -> None:
        rng = self.rng
        age = timedelta(hours=rng.uniform(0.2, 23.5) if live else rng.uniform(25, 24 * 7))
        created = self.now - age
        venue = self._venue_for(account, city_venues, 0.5)
        self.db.add(
            Story(
                owner_id=account.user.id,
                media=self._picture(account.user, POST_SIZE, created),
                venue_id=venue.id if venue else None,
                created_at=created,
                expires_at=created + STORY_TTL,
            )
        )
        self.counts["live" if live else "expired"] += 1

    def _caption(self, account: _Account, venue: Venue | None) -> str:
        rng = self.rng
        if venue is not None:
            text = rng.choice(words.VENUE_CAPTIONS[venue.category])
        else:
            text = rng.choice(words.CAPTIONS)
        caption = text.format(venue=venue.name if venue else "", city=account.city)
        if rng.random() < 0.4:
            tag = rng.choice(words.HASHTAGS)
            tag = tag.format(city=account.city.replace(" ", "").lower(), a=account.interests[0])
            caption = f"{caption} {tag}".strip()
        return caption

    def _picture(self, owner: User, size: tuple[int, int], created: datetime) -> Media:
        # Not synced one by one: a seed that crashes is run again on an empty database.
        media = write_image(
            _generated_image(self.rng, size),
            owner_id=owner.id,
            media_dir=self.media_dir,
            created_at=created,
            durable=False,
        )
        self.db.add(media)
        self.written.append(media.key)
        self.counts["media"] += 1
        return media

    def _partners(self, accounts: list[_Account]) -> tuple[SeededPartner, ...]:
        rng = self.rng
        businesses = [a.user for a in accounts if a.user.is_business]
        hotels = [a.user for a in accounts if a.venue is not None and a.venue.category == "hotel"]
        specs = (
            (
                "Lumen Analytics",
                "Engagement reports for the business accounts that sign up.",
                "privacy@lumen-analytics.example",
                ("profile:basic", "profile:insights", "media:read"),
                [u for u in businesses if rng.random() < 0.6],
            ),
            (
                "Brightwave Audiences",
                "Location-based audience segments for hospitality brands.",
                "partners@brightwave.example",
                ("profile:basic", "profile:bio", "media:read", "location:read"),
                (hotels or businesses)[:2],
            ),
        )
        seeded: list[SeededPartner] = []
        for name, purpose, contact, scopes, authorising in specs:
            app, secret = register_partner(
                self.db, name=name, purpose=purpose, contact_email=contact, scopes=set(scopes)
            )
            self.db.add_all(
                PartnerAuthorisation(app_id=app.id, user_id=user.id, created_at=self.now)
                for user in authorising
            )
            seeded.append(
                SeededPartner(
                    name=name,
                    client_id=app.client_id,
                    client_secret=secret,
                    scopes=scopes,
                    authorised_by=tuple(u.username for u in authorising),
                )
            )
        return tuple(seeded)

    def _between(self, start: datetime, end: datetime) -> datetime:
        span = max(0.0, (end - start).total_seconds())
        return start + timedelta(seconds=self.rng.uniform(0, span))


def _generated_image(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A gradient with a few shapes: cheap, a few KB as JPEG, and different every time."""

    def colour() -> tuple[int, int, int]:
        return (rng.randrange(256), rng.randrange(256), rng.randrange(256))

    mask = Image.linear_gradient("L").rotate(rng.uniform(0, 360))
    if mask.size != size:
        mask = mask.resize(size, Image.Resampling.BILINEAR)
    image = Image.composite(
        Image.new("RGB", size, colour()), Image.new("RGB", size, colour()), mask
    )
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(rng.randint(2, 5)):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        radius = rng.uniform(width / 12, width / 3)
        shape = rng.choice(("ellipse", "rectangle", "triangle"))
        if shape == "ellipse":
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour())
        elif shape == "rectangle":
            draw.rectangle((x - radius, y - radius / 2, x + radius, y + radius / 2), fill=colour())
        else:
            turn = rng.uniform(0, 2 * math.pi)
            corners = [
                (x + radius * math.cos(turn + k * 2 * math.pi / 3),
                 y + radius * math.sin(turn + k * 2 * math.pi / 3))
                for k in range(3)
            ]  # fmt: skip
            draw.polygon(corners, fill=colour())
    return image


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in ascii_name if ch.isalnum())[:24] or "business"


def _unique(base: str, taken: set[str]) -> str:
    base = base[:26]
    candidate, suffix = base, 1
    while candidate in taken:
        suffix += 1
        candidate = f"{base}{suffix}"
    taken.add(candidate)
    return candidate
