"""The simulated platform's content: accounts, who follows whom, venues, posts, stories, partner apps.

The simulator never talks to photoshare in event mode; it keeps this model of what the platform
holds, so that actors can choose what to request and the response model (``platform.py``) can say
what the real platform would have disclosed. A world is built by ``generate.generate_world`` from a
seed, or loaded from a JSON manifest (``manifest.py``) such as photoshare's seed exports.

Times are POSIX seconds (UTC) throughout: the hot path compares floats, not datetimes.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

STORY_TTL_SECONDS = 24 * 3600.0

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class City:
    name: str
    utc_offset_hours: float
    lat: float
    lon: float


@dataclass(slots=True)
class User:
    id: int
    username: str
    display_name: str
    city: str
    is_private: bool
    is_business: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class Venue:
    id: int
    name: str
    category: str
    city: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Post:
    id: int
    owner_id: int
    created_at: float
    venue_id: int | None
    media_key: str


@dataclass(frozen=True, slots=True)
class Story:
    id: int
    owner_id: int
    created_at: float
    venue_id: int | None
    media_key: str


@dataclass(slots=True)
class PartnerApp:
    client_id: str
    name: str
    purpose: str
    scopes: frozenset[str]
    authorised_by: set[int] = field(default_factory=set)


class Timeline(Generic[T]):
    """Items in order of creation, for "what exists now" and "what is live now" by bisection."""

    __slots__ = ("items", "times")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.items: list[T] = []

    def add(self, at: float, item: T) -> None:
        index = bisect.bisect_right(self.times, at)
        self.times.insert(index, at)
        self.items.insert(index, item)

    def created_by(self, now: float) -> int:
        """How many items exist at ``now``: they are ``items[:n]``."""
        return bisect.bisect_right(self.times, now)

    def between(self, after: float, until: float) -> Sequence[T]:
        """Items created in ``(after, until]``."""
        low = bisect.bisect_right(self.times, after)
        return self.items[low : bisect.bisect_right(self.times, until)]

    def live(self, now: float, ttl: float = STORY_TTL_SECONDS) -> Sequence[T]:
        return self.between(now - ttl, now)

    def __len__(self) -> int:
        return len(self.items)


class World:
    """Everything actors can ask for, indexed the ways they ask."""

    def __init__(self, cities: Sequence[City]) -> None:
        self.cities = {city.name: city for city in cities}
        self.users: dict[int, User] = {}
        self.by_username: dict[str, int] = {}
        self.following: dict[int, set[int]] = {}
        self.followers: dict[int, set[int]] = {}
        self.venues: dict[int, Venue] = {}
        self.venues_by_city: dict[str, list[int]] = {}
        self.posts: dict[int, Post] = {}
        self.stories: dict[int, Story] = {}
        self.posts_of: dict[int, Timeline[Post]] = {}
        self.stories_of: dict[int, Timeline[Story]] = {}
        self.posts_at: dict[int, Timeline[Post]] = {}
        self.stories_at: dict[int, Timeline[Story]] = {}
        self.all_stories: Timeline[Story] = Timeline()
        self.media: dict[str, Post | Story] = {}
        self.apps: dict[str, PartnerApp] = {}
        # (kind, id) -> label of the canaries (``harvestguard.canaries``): kinds account, post,
        # story, venue. No link leads to them: the browsing helpers below leave them out.
        self.canaries: dict[tuple[str, int], str] = {}
        self._sorted_usernames: list[str] | None = None

    def add_user(self, user: User) -> None:
        if user.id in self.users or user.username in self.by_username:
            raise ValueError(f"user {user.id} ({user.username}) is already in the world")
        if user.city not in self.cities:
            self.cities[user.city] = City(user.city, 0.0, 0.0, 0.0)
        self.users[user.id] = user
        self.by_username[user.username] = user.id
        self.following[user.id] = set()
        self.followers[user.id] = set()
        self._sorted_usernames = None

    def next_user_id(self) -> int:
        return max(self.users, default=0) + 1

    def follow(self, follower: int, followee: int) -> None:
        if follower == followee:
            return
        self.following[follower].add(followee)
        self.followers[followee].add(follower)

    def add_venue(self, venue: Venue) -> None:
        if venue.city not in self.cities:
            self.cities[venue.city] = City(venue.city, 0.0, venue.lat, venue.lon)
        self.venues[venue.id] = venue
        self.venues_by_city.setdefault(venue.city, []).append(venue.id)

    def add_post(self, post: Post) -> None:
        self._check_owner(post.owner_id, post.venue_id)
        self.posts[post.id] = post
        self.media[post.media_key] = post
        self.posts_of.setdefault(post.owner_id, Timeline()).add(post.created_at, post)
        if post.venue_id is not None:
            self.posts_at.setdefault(post.venue_id, Timeline()).add(post.created_at, post)

    def add_story(self, story: Story) -> None:
        self._check_owner(story.owner_id, story.venue_id)
        self.stories[story.id] = story
        self.media[story.media_key] = story
        self.stories_of.setdefault(story.owner_id, Timeline()).add(story.created_at, story)
        self.all_stories.add(story.created_at, story)
        if story.venue_id is not None:
            self.stories_at.setdefault(story.venue_id, Timeline()).add(story.created_at, story)

    def add_app(self, app: PartnerApp) -> None:
        self.apps[app.client_id] = app

    def sorted_usernames(self) -> list[str]:
        if self._sorted_usernames is None:
            self._sorted_usernames = sorted(self.by_username)
        return self._sorted_usernames

    def usernames_starting(self, prefix: str, limit: int) -> list[str]:
        """What a search for ``prefix`` lists: never a canary account."""
        names = self.sorted_usernames()
        found: list[str] = []
        for name in names[bisect.bisect_left(names, prefix) :]:
            if len(found) == limit or not name.startswith(prefix):
                break
            if not self.is_canary("account", self.by_username[name]):
                found.append(name)
        return found

    def is_canary(self, kind: str, object_id: int) -> bool:
        return (kind, object_id) in self.canaries

    def people(self) -> list[int]:
        """The ids of the accounts of people, in order: every account but the canaries."""
        return [
            user_id for user_id in sorted(self.users) if ("account", user_id) not in self.canaries
        ]

    def listed_venues(self, city: str) -> list[int]:
        """The venues of a city a person finds by searching or browsing: no canary venue."""
        return [v for v in self.venues_by_city.get(city, ()) if ("venue", v) not in self.canaries]

    def is_live(self, story: Story, now: float) -> bool:
        return story.created_at <= now < story.created_at + STORY_TTL_SECONDS

    def _check_owner(self, owner: int, venue: int | None) -> None:
        if owner not in self.users:
            raise ValueError(f"unknown owner {owner}")
        if venue is not None and venue not in self.venues:
            raise ValueError(f"unknown venue {venue}")
