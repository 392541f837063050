"""Adversaries that harvest people's content through accounts: the geo-fence harvester (the 2019
case), the story archiver, the mimic and the fresh-account rush."""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from harvestguard.simulate import intents as p
from harvestguard.simulate.actors.base import (
    DAY,
    Actor,
    SimContext,
    next_session,
    think_time,
)
from harvestguard.simulate.intents import Identity, Intent, Page
from harvestguard.simulate.network import DESKTOP_UAS, MOBILE_UAS
from harvestguard.simulate.world import PartnerApp, User

HARVEST_SCOPES = frozenset({"profile:basic", "media:read", "location:read"})


def _time(intent: Intent) -> float:
    return intent.ts


def harvest(ident: Identity, page: Page, ts: float, target: object = None) -> Intent:
    return Intent(ts, ident, page, target, True)


class GeofenceHarvester(Actor):
    """A registered partner app with logged-in accounts watching the venues of one city."""

    actor_class = "geofence_harvester"
    adversary = True

    def __init__(self, actor_id: str, ctx: SimContext) -> None:
        super().__init__(actor_id, ctx)
        world = ctx.world
        cities = sorted(world.venues_by_city, key=lambda c: -len(world.venues_by_city[c]))
        self.city = self.rng.choice(cities[:3])
        venues = world.venues_by_city[self.city]
        hotels = [v for v in venues if world.venues[v].category == "hotel"]
        others = [v for v in venues if v not in hotels]
        wanted = int(self.draw("venues", integer=True))
        self.watched = (hotels + self.rng.sample(others, len(others)))[:wanted]
        self.parameters["city"] = self.city
        self.poll = self.draw("poll_minutes") * 60
        self.gap = self.draw("request_gap_seconds")
        self.posts_per_target = int(self.draw("posts_per_target", integer=True))
        created = ctx.start - self.rng.uniform(30, 400) * DAY
        self.accounts = [
            self.new_account(f"travel.{self.city.split()[0].lower()}{n}", created, self.city)
            for n in range(int(self.draw("accounts", integer=True)))
        ]
        ids = list(world.users)
        self.app = PartnerApp(
            client_id=f"app-{self.rng.getrandbits(48):012x}",
            name="Vista Audience Insights",
            purpose="audience insights for hospitality brands",
            scopes=HARVEST_SCOPES,
            authorised_by={u.id for u in self.accounts}
            | set(self.rng.sample(ids, max(1, len(ids) // 200))),
        )
        world.add_app(self.app)
        network = ctx.space.network("datacenter")
        self.web = [
            ctx.keys.identity(
                f"{network}.{10 + n}",
                DESKTOP_UAS[n % len(DESKTOP_UAS)],
                session=ctx.keys.session_id(),
                user_id=account.id,
            )
            for n, account in enumerate(self.accounts)
        ]
        self.api_address = f"{network}.{200}"

    def intents(self) -> Iterator[Intent]:
        world = self.ctx.world
        now = self.ctx.start + self.rng.uniform(0, 2 * 3600)
        last_poll = now - 30 * DAY
        token_until = now - 1
        api = self._token()
        known: dict[int, float] = {}  # target -> time its stories were last collected
        turn = 0
        while now < self.ctx.end:
            if now >= token_until:
                api = self._token()
                yield Intent(now, api, p.OAUTH_TOKEN)
                token_until, now = now + 3600, now + 1
            targets: list[int] = []
            for venue in self.watched:
                account = self.web[turn % len(self.web)]
                turn += 1
                yield harvest(account, p.LOCATION, now, venue)
                yield harvest(api, p.API_LOCATION_MEDIA, now + 0.5, venue)
                now += self.gap
                posts = world.posts_at.get(venue)
                if posts is not None:
                    targets += [post.owner_id for post in posts.between(last_poll, now)]
                stories = world.stories_at.get(venue)
                if stories is not None:
                    targets += [story.owner_id for story in stories.live(now)]
            last_poll = now
            fresh = [t for t in dict.fromkeys(targets) if not world.users[t].is_private]
            for target in [*fresh, *known]:
                account = self.web[turn % len(self.web)]
                turn += 1
                for ident, page, item in self._collect(
                    account, api, target, known.get(target), now
                ):
                    yield harvest(ident, page, now, item)
                    now += self.gap * self.rng.uniform(0.5, 1.5)
                known[target] = now
            now = max(now, last_poll + self.poll * self.rng.uniform(0.8, 1.2))

    def _collect(
        self, account: Identity, api: Identity, target: int, since: float | None, now: float
    ) -> Iterator[tuple[Identity, Page, object]]:
        """What to fetch about one person: everything the first time, new stories after that."""
        world = self.ctx.world
        user = world.users[target]
        if since is None:
            yield account, p.PROFILE, user.username
            yield api, p.API_USER, target
            timeline = world.posts_of.get(target)
            if timeline is not None:
                for post in timeline.items[: timeline.created_by(now)][-self.posts_per_target :]:
                    yield account, p.POST, post.id
        stories = world.stories_of.get(target)
        new = () if stories is None else stories.between(since or now - DAY, now)
        if new or since is None:
            yield account, p.USER_STORIES, user.username
        for story in new:
            yield account, p.STORY, story.id
            yield account, p.MEDIA, story.media_key

    def _token(self) -> Identity:
        return self.ctx.keys.identity(
            self.api_address,
            "VistaCollector/3.2 python-requests/2.32.3",
            session=self.ctx.keys.session_id(),
            app=self.app.client_id,
            token_scopes=self.app.scopes,
        )


class StoryArchiver(Actor):
    """Sock puppets following many public accounts, saving each new story soon after it appears."""

    actor_class = "story_archiver"
    adversary = True

    def __init__(self, actor_id: str, ctx: SimContext) -> None:
        super().__init__(actor_id, ctx)
        world = ctx.world
        public = [u for u in world.users.values() if not u.is_private]
        popular = sorted(public, key=lambda u: -len(world.followers[u.id]))
        follows = int(self.draw("follows_per_puppet", integer=True))
        self.delay = self.draw("fetch_delay_minutes") * 60
        self.feed_poll = self.draw("feed_poll_minutes") * 60
        addresses = [
            ctx.space.address("residential") for _ in range(int(self.draw("ips", integer=True)))
        ]
        city = self.rng.choice(list(world.cities))
        created = ctx.start - self.rng.uniform(3, 60) * DAY
        self.puppets: list[tuple[Identity, list[int]]] = []
        for n in range(int(self.draw("puppets", integer=True))):
            puppet = self.new_account(f"daily.moments{n}", created, city)
            pool = popular[: max(follows * 3, 50)]
            targets = [u.id for u in self.rng.sample(pool, min(follows, len(pool)))]
            for target in targets:
                world.follow(puppet.id, target)
            ident = ctx.keys.identity(
                addresses[n % len(addresses)],
                MOBILE_UAS[3],
                device=ctx.keys.device_id(),
                session=ctx.keys.session_id(),
                user_id=puppet.id,
            )
            self.puppets.append((ident, targets))

    def intents(self) -> Iterator[Intent]:
        puppets = (self._puppet(ident, targets) for ident, targets in self.puppets)
        return heapq.merge(*puppets, key=_time)

    def _puppet(self, ident: Identity, targets: list[int]) -> Iterator[Intent]:
        world, rng = self.ctx.world, self.rng
        wanted = set(targets)
        start, end = self.ctx.start, self.ctx.end
        fetches = [
            story
            for story in world.all_stories.between(start - self.delay, end)
            if story.owner_id in wanted
        ]
        planned: list[Intent] = []
        for story in fetches:
            at = story.created_at + self.delay * rng.uniform(0.3, 1.0)
            planned.append(harvest(ident, p.STORY, at, story.id))
            planned.append(harvest(ident, p.MEDIA, at + 0.4, story.media_key))
        at = start + rng.uniform(0, self.feed_poll)
        while at < end:
            planned.append(Intent(at, ident, p.FEED))
            at += self.feed_poll * rng.uniform(0.7, 1.3)
        planned.sort(key=lambda intent: intent.ts)
        return iter([intent for intent in planned if start <= intent.ts < end])


class Mimic(Actor):
    """Human timing and navigation, a few follows, and slowly, over days, strangers' profiles."""

    actor_class = "mimic"
    adversary = True

    def __init__(self, actor_id: str, ctx: SimContext) -> None:
        super().__init__(actor_id, ctx)
        world = ctx.world
        self.city = self.rng.choice(list(world.venues_by_city) or list(world.cities))
        self.parameters["city"] = self.city
        self.per_day = self.draw("sessions_per_day")
        self.per_session = self.draw("requests_per_session")
        self.stranger_share = self.draw("stranger_share")
        self.think = self.draw("think_seconds")
        follows = int(self.draw("follows", integer=True))
        created = ctx.start - self.rng.uniform(20, 200) * DAY
        locals_ = [u for u in world.users.values() if u.city == self.city and not u.is_private]
        self.targets = [u.id for u in sorted(locals_, key=lambda u: -len(world.followers[u.id]))]
        self.identities: list[tuple[Identity, list[int]]] = []
        for n in range(int(self.draw("accounts", integer=True))):
            account = self.new_account(
                f"{self.city.split()[0].lower()}.explorer{n}", created, self.city
            )
            friends = self.rng.sample(self.targets[:50], min(follows, len(self.targets[:50])))
            for friend in friends:
                world.follow(account.id, friend)
            ident = ctx.keys.identity(
                ctx.space.address("home"),
                MOBILE_UAS[n % 3],
                session=ctx.keys.session_id(),
                user_id=account.id,
            )
            self.identities.append((ident, friends))

    def intents(self) -> Iterator[Intent]:
        offset = self.ctx.world.cities[self.city].utc_offset_hours
        position = 0
        now = next_session(self.rng, self.ctx.start, self.per_day, offset)
        while now < self.ctx.end and self.targets:
            ident, friends = self.rng.choice(self.identities)
            for _ in range(1 + int(self.rng.expovariate(1.0 / self.per_session))):
                if self.rng.random() < self.stranger_share or not friends:
                    target = self.targets[position % len(self.targets)]
                    position += 1
                    yield harvest(ident, p.PROFILE, now, self.ctx.world.users[target].username)
                    timeline = self.ctx.world.posts_of.get(target)
                    if (
                        timeline is not None
                        and timeline.created_by(now)
                        and self.rng.random() < 0.5
                    ):
                        now += think_time(self.rng, self.think / 2)
                        post = timeline.items[timeline.created_by(now) - 1]
                        yield harvest(ident, p.POST, now, post.id)
                elif self.rng.random() < 0.5:
                    yield Intent(now, ident, p.FEED)
                else:
                    friend = self.ctx.world.users[self.rng.choice(friends)]
                    yield Intent(now, ident, p.PROFILE, friend.username)
                now += think_time(self.rng, self.think)
            now = next_session(self.rng, now, self.per_day, offset)


class FreshAccountRush(Actor):
    """New accounts that view hundreds of strangers within minutes of signing up."""

    actor_class = "fresh_account_rush"
    adversary = True

    def __init__(self, actor_id: str, ctx: SimContext) -> None:
        super().__init__(actor_id, ctx)
        self.first_view = self.draw("minutes_to_first_view") * 60
        self.views = int(self.draw("views_per_account", integer=True))
        self.gap = self.draw("view_gap_seconds")
        network = ctx.space.network("residential")
        self.addresses = [f"{network}.{10 + n}" for n in range(int(self.draw("ips", integer=True)))]
        self.ua = self.rng.choice(DESKTOP_UAS)
        span = max(1.0, (ctx.end - ctx.start) * 0.8)
        first = ctx.start + self.rng.uniform(0, span / 2)
        accounts = int(self.draw("accounts", integer=True))
        signups = sorted(first + self.rng.uniform(0, span / 2) for _ in range(accounts))
        self.accounts = [
            (self.new_account(f"user{self.rng.randint(10**6, 10**7)}", at, "unknown"), at)
            for at in signups
        ]

    def intents(self) -> Iterator[Intent]:
        rushes = (self._account(n, user, at) for n, (user, at) in enumerate(self.accounts))
        return heapq.merge(*rushes, key=_time)

    def _account(self, number: int, account: User, signed_up: float) -> Iterator[Intent]:
        world, rng = self.ctx.world, self.rng
        address = self.addresses[number % len(self.addresses)]
        visitor = self.ctx.keys.identity(address, self.ua)
        ident = self.ctx.keys.identity(
            address, self.ua, session=self.ctx.keys.session_id(), user_id=account.id
        )
        planned = [Intent(signed_up, visitor, p.SIGNUP)]
        now = signed_up + self.first_view * rng.uniform(0.5, 1.0)
        strangers = rng.sample(sorted(world.users), min(self.views, len(world.users)))
        for target in strangers:
            if target == account.id:
                continue
            planned.append(harvest(ident, p.PROFILE, now, world.users[target].username))
            timeline = world.posts_of.get(target)
            if timeline is not None and timeline.created_by(now) and rng.random() < 0.3:
                now += rng.uniform(1, 3)
                planned.append(
                    harvest(ident, p.POST, now, timeline.items[timeline.created_by(now) - 1].id)
                )
            now += rng.expovariate(1.0 / self.gap)
        return iter([intent for intent in planned if intent.ts < self.ctx.end])
