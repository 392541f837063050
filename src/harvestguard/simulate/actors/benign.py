"""Benign actors: people in their social neighbourhood, power users, honest partners, a crawler."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator

from harvestguard.simulate import intents as p
from harvestguard.simulate.actors.base import Actor, SimContext, next_session, think_time
from harvestguard.simulate.intents import Identity, Intent
from harvestguard.simulate.network import CRAWLER_RANGE, CRAWLER_UA, DESKTOP_UAS, MOBILE_UAS
from harvestguard.simulate.world import PartnerApp, Story, User

# what a person does next in a session, and how often
_PERSON_MIX: tuple[tuple[str, float], ...] = (
    ("feed", 0.22),
    ("followed_profile", 0.20),
    ("friend_story", 0.15),
    ("followed_post", 0.18),
    ("two_hop_profile", 0.10),
    ("search", 0.05),
    ("venue", 0.03),
    ("connections", 0.04),
    ("own_profile", 0.03),
)
_POWER_MIX: tuple[tuple[str, float], ...] = (
    ("feed", 0.15),
    ("followed_profile", 0.18),
    ("friend_story", 0.17),
    ("followed_post", 0.18),
    ("two_hop_profile", 0.14),
    ("search", 0.07),
    ("venue", 0.06),
    ("connections", 0.05),
)


class Network:
    """Where one person connects from: a fixed home address, or a shared NAT pool."""

    def __init__(self, home: str | None = None, pool: list[str] | None = None) -> None:
        self.home = home
        self.pool = pool

    def address(self, rng: random.Random) -> str:
        if self.pool is not None:
            return rng.choice(self.pool)
        assert self.home is not None
        return self.home


class Person(Actor):
    actor_class = "person"
    sessions_per_day = (2.0, 8.0)
    requests_per_session = 14.0
    think_seconds = 9.0
    mix = _PERSON_MIX

    def __init__(self, actor_id: str, ctx: SimContext, user: User | None, network: Network) -> None:
        super().__init__(actor_id, ctx)
        self.user = user
        self.network = network
        self.mobile = self.rng.random() < 0.65
        self.ua = self.rng.choice(MOBILE_UAS if self.mobile else DESKTOP_UAS)
        self.device = ctx.keys.device_id() if self.ua.startswith("PhotoshareApp") else None
        self.language = ctx.keys.language()
        self.per_day = self.rng.uniform(*self.sessions_per_day)
        self.city = user.city if user else self.rng.choice(list(ctx.world.cities))
        world = ctx.world
        self.followed = sorted(world.following[user.id]) if user else []
        self.two_hop = self._two_hop()
        self.session: str | None = None
        self._choices = [name for name, _ in self.mix]
        self._cumulative = list(itertools.accumulate(weight for _, weight in self.mix))

    def _two_hop(self) -> list[int]:
        """Some accounts the people this person follows follow: their second circle."""
        world, rng = self.ctx.world, self.rng
        seen: set[int] = set()
        for _ in range(min(20, len(self.followed))):
            # sets of ints iterate in a fixed order, so this stays deterministic for a seed
            theirs = list(world.following[self.followed[int(rng.random() * len(self.followed))]])
            if theirs:
                seen.update(theirs[int(rng.random() * len(theirs))] for _ in range(10))
        seen.discard(self.user.id if self.user else -1)
        return sorted(seen)

    def intents(self) -> Iterator[Intent]:
        offset = self.ctx.world.cities[self.city].utc_offset_hours
        now = next_session(self.rng, self.ctx.start, self.per_day, offset)
        while now < self.ctx.end:
            for intent in self._session(now):
                yield intent
                now = intent.ts
            now = next_session(self.rng, now, self.per_day, offset)

    def _identity(self) -> Identity:
        address = self.network.address(self.rng)
        if self.user is not None and (self.session is None or self.rng.random() < 0.1):
            self.session = self.ctx.keys.session_id()
        return self.ctx.keys.identity(
            address,
            self.ua,
            device=self.device,
            language=self.language,
            session=self.session if self.user else None,
            user_id=self.user.id if self.user else None,
        )

    def _session(self, now: float) -> Iterator[Intent]:
        fresh_login = self.user is not None and self.session is None
        ident = self._identity()
        if fresh_login:
            yield self.request(ident, p.LOGIN_FORM, now)
            now += think_time(self.rng, 6)
            yield self.request(ident, p.LOGIN, now)
            now += 1.0
        count = 1 + int(self.rng.expovariate(1.0 / self.requests_per_session))
        steps = self._anonymous_steps if self.user is None else self._steps
        for _ in range(count):
            for intent in steps(ident, now):
                yield intent
                now = intent.ts
            now += think_time(self.rng, self.think_seconds)

    def _steps(self, ident: Identity, now: float) -> list[Intent]:
        world = self.ctx.world
        rng = self.rng
        action = self._choices[bisect.bisect(self._cumulative, rng.random() * self._cumulative[-1])]
        if action == "feed" or not self.followed:
            return [self.request(ident, p.FEED, now)]
        if action == "followed_profile" or (action == "two_hop_profile" and not self.two_hop):
            return [self._profile(ident, now, rng.choice(self.followed))]
        if action == "two_hop_profile":
            return [self._profile(ident, now, rng.choice(self.two_hop))]
        if action == "friend_story":
            return self._friend_story(ident, now)
        if action == "followed_post":
            return self._post_of(ident, now, rng.choice(self.followed))
        if action == "search":
            friend = world.users[rng.choice(self.followed + self.two_hop)]
            query = friend.username[: rng.randint(2, 5)]
            steps = [self.request(ident, p.SEARCH, now, query)]
            found = world.usernames_starting(query, 5)
            if found:
                target = world.by_username[rng.choice(found)]
                steps.append(self._profile(ident, now + think_time(rng, 5), target))
            return steps
        if action == "venue":
            venues = world.listed_venues(self.city) or [
                v for v in world.venues if not world.is_canary("venue", v)
            ]
            return [self.request(ident, p.LOCATION, now, rng.choice(venues))]
        if action == "connections":
            page = p.FOLLOWERS if rng.random() < 0.5 else p.FOLLOWING
            return [self.request(ident, page, now, world.users[rng.choice(self.followed)].username)]
        assert self.user is not None
        return [self._profile(ident, now, self.user.id)]

    def _profile(self, ident: Identity, now: float, user_id: int) -> Intent:
        return self.request(ident, p.PROFILE, now, self.ctx.world.users[user_id].username)

    def _post_of(self, ident: Identity, now: float, user_id: int) -> list[Intent]:
        timeline = self.ctx.world.posts_of.get(user_id)
        existing = 0 if timeline is None else timeline.created_by(now)
        if timeline is None or not existing:
            return [self._profile(ident, now, user_id)]
        post = timeline.items[existing - 1 - min(existing - 1, int(self.rng.expovariate(0.3)))]
        steps = [self.request(ident, p.POST, now, post.id)]
        if self.rng.random() < 0.6:
            steps.append(self.request(ident, p.MEDIA, now + 0.3, post.media_key))
        return steps

    def _friend_story(self, ident: Identity, now: float) -> list[Intent]:
        world = self.ctx.world
        friend = self.rng.choice(self.followed)
        timeline = world.stories_of.get(friend)
        live = () if timeline is None else timeline.live(now)
        if not live:
            return [self.request(ident, p.USER_STORIES, now, world.users[friend].username)]
        story = self.rng.choice(live)
        return [
            self.request(ident, p.STORY, now, story.id),
            self.request(ident, p.MEDIA, now + 0.3, story.media_key),
        ]

    def _anonymous_steps(self, ident: Identity, now: float) -> list[Intent]:
        """A logged-out visitor: arrives from a search engine at a public profile or post."""
        world = self.ctx.world
        if not self.followed:
            # a visitor has no follows: they come back to a few accounts they know of
            people = world.people()
            self.followed = self.rng.sample(people, min(8, len(people)))
        target = self.rng.choice(self.followed)
        if self.rng.random() < 0.5:
            return [self._profile(ident, now, target)]
        if self.rng.random() < 0.1:
            return [self.request(ident, p.SEARCH, now, world.users[target].username[:3])]
        return self._post_of(ident, now, target)


class PowerUser(Person):
    actor_class = "power_user"
    sessions_per_day = (8.0, 20.0)
    requests_per_session = 25.0
    think_seconds = 6.0
    mix = _POWER_MIX


class HonestPartner(Actor):
    """A partner app syncing the accounts that authorised it, within its scopes."""

    actor_class = "partner_app"

    def __init__(self, actor_id: str, ctx: SimContext, app: PartnerApp) -> None:
        super().__init__(actor_id, ctx)
        self.app = app
        network = ctx.space.network("datacenter")
        self.addresses = [f"{network}.{host}" for host in self.rng.sample(range(2, 254), 2)]
        self.ua = f"{app.name.replace(' ', '')}/1.{self.rng.randint(0, 9)} python-httpx/0.28.1"
        self.interval = self.rng.uniform(10, 40) * 60
        self.batch = self.rng.randint(5, 25)

    def intents(self) -> Iterator[Intent]:
        users = sorted(self.app.authorised_by)
        if not users:
            return
        now = self.ctx.start + self.rng.uniform(0, self.interval)
        token_until = now - 1
        ident = self._token_identity()
        position = 0
        while now < self.ctx.end:
            if now >= token_until:
                ident = self._token_identity()
                yield Intent(now, ident, p.OAUTH_TOKEN)
                token_until = now + 3600
                now += 0.5
            for _ in range(self.batch):
                user_id = users[position % len(users)]
                position += 1
                page = p.API_USER_MEDIA if "media:read" in self.app.scopes else p.API_USER
                yield Intent(now, ident, page, user_id)
                now += self.rng.uniform(0.3, 2.0)
            now += self.interval * self.rng.uniform(0.8, 1.2)

    def _token_identity(self) -> Identity:
        return self.ctx.keys.identity(
            self.rng.choice(self.addresses),
            self.ua,
            session=self.ctx.keys.session_id(),
            app=self.app.client_id,
            token_scopes=self.app.scopes,
        )


class SearchCrawler(Actor):
    """A verified search crawler: robots.txt first, logged out, public profiles and posts only."""

    actor_class = "search_crawler"

    def __init__(self, actor_id: str, ctx: SimContext) -> None:
        super().__init__(actor_id, ctx)
        base = CRAWLER_RANGE.split(".")
        self.addresses = [
            f"{base[0]}.{base[1]}.{64 + self.rng.randrange(16)}.{self.rng.randrange(2, 254)}"
            for _ in range(12)
        ]
        self.rate = self.rng.uniform(0.02, 0.1)  # requests per second

    def intents(self) -> Iterator[Intent]:
        world = self.ctx.world
        # it finds pages by following links: none leads to a canary
        usernames = [n for n, i in world.by_username.items() if not world.is_canary("account", i)]
        self.rng.shuffle(usernames)
        now = self.ctx.start + self.rng.uniform(0, 600)
        robots_due = now
        position = 0
        while now < self.ctx.end and usernames:
            ident = self.ctx.keys.identity(self.rng.choice(self.addresses), CRAWLER_UA)
            if now >= robots_due:
                yield Intent(now, ident, p.ROBOTS)
                robots_due = now + 3600
                now += 1
            name = usernames[position % len(usernames)]
            position += 1
            yield Intent(now, ident, p.PROFILE, name)
            now += self.rng.expovariate(self.rate)
            timeline = world.posts_of.get(world.by_username[name])
            if timeline is not None and not world.users[world.by_username[name]].is_private:
                for post in timeline.items[: timeline.created_by(now)][-3:]:
                    yield Intent(now, ident, p.POST, post.id)
                    now += self.rng.expovariate(self.rate)


class StoryPoster(Actor):
    """Someone posting stories from their phone during a live run: the stories the world plans
    for the run are uploaded by their owners, at the time planned (live mode only; in event mode
    the stories are simply in the world)."""

    actor_class = "person"

    def __init__(self, actor_id: str, ctx: SimContext, user: User, stories: list[Story]) -> None:
        super().__init__(actor_id, ctx)
        self.stories = sorted(stories, key=lambda story: story.created_at)
        self.identity = ctx.keys.identity(
            ctx.space.address("home"),
            self.rng.choice(MOBILE_UAS),
            session=ctx.keys.session_id(),
            user_id=user.id,
        )

    def intents(self) -> Iterator[Intent]:
        for story in self.stories:
            yield self.request(self.identity, p.STORY_UPLOAD, story.created_at, story.id)
