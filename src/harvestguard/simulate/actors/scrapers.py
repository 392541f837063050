"""Adversaries that scrape at scale or abuse the API: the rotating-IP profile enumerator, the
low-and-slow distributed scraper and the partner scope abuser."""

from __future__ import annotations

import heapq
import random
import string
from collections.abc import Iterator

from harvestguard.simulate import intents as p
from harvestguard.simulate.actors.base import Actor, SimContext
from harvestguard.simulate.actors.harvesters import harvest
from harvestguard.simulate.intents import Identity, Intent, Page
from harvestguard.simulate.network import BROWSER_UAS
from harvestguard.simulate.world import PartnerApp


class ProfileEnumerator(Actor):
    """Anonymous, behind a rotating pool of residential addresses: many /24s, few requests each.

    It walks usernames alphabetically (guessing some that do not exist) or post ids in sequence.
    """

    actor_class = "profile_enumerator"
    adversary = True

    def __init__(self, actor_id: str, ctx: SimContext) -> None:
        super().__init__(actor_id, ctx)
        nets = int(self.draw("nets", integer=True))
        self.pool = ctx.space.pool("residential", nets, 2)
        self.rng.shuffle(self.pool)
        self._next_address = 0
        self.rate = self.draw("requests_per_second")
        self.per_ip = int(self.draw("requests_per_ip", integer=True))
        self.coverage = self.draw("coverage")
        self.mode = self.rng.choice(("usernames", "post_ids"))
        self.parameters["mode"] = self.mode

    def _targets(self) -> list[tuple[Page, object]]:
        world = self.ctx.world
        if self.mode == "post_ids":
            count = int(len(world.posts) * self.coverage)
            return [(p.POST, post_id) for post_id in range(1, count + 1)]
        names = world.sorted_usernames()
        start = self.rng.randrange(len(names))
        walk = (names[start:] + names[:start])[: int(len(names) * self.coverage)]
        targets: list[tuple[Page, object]] = []
        for name in walk:
            targets.append((p.PROFILE, name))
            if self.rng.random() < 0.15:  # a guessed neighbour that is nobody
                targets.append((p.PROFILE, name + self.rng.choice(string.ascii_lowercase)))
        return targets

    def intents(self) -> Iterator[Intent]:
        now = self.ctx.start + self.rng.uniform(0, (self.ctx.end - self.ctx.start) / 4)
        ident = self._rotate()
        for sent, (page, target) in enumerate(self._targets()):
            if now >= self.ctx.end:
                return
            if sent % self.per_ip == 0:
                ident = self._rotate()
            yield harvest(ident, page, now, target)
            now += self.rng.expovariate(self.rate)

    def _rotate(self) -> Identity:
        # round the pool in a shuffled order: every address is used as rarely as possible
        address = self.pool[self._next_address % len(self.pool)]
        self._next_address += 1
        ua = self.rng.choice(BROWSER_UAS)
        return self.ctx.keys.identity(address, ua, language=self.ctx.keys.language())


class LowAndSlow(Actor):
    """Many addresses and accounts, each one well under any single-actor rate limit."""

    actor_class = "low_and_slow"
    adversary = True

    def __init__(self, actor_id: str, ctx: SimContext) -> None:
        super().__init__(actor_id, ctx)
        ips = int(self.draw("ips", integer=True))
        accounts = int(self.draw("accounts", integer=True))
        self.interval = self.draw("minutes_between_requests_per_ip") * 60
        created = ctx.start - self.rng.uniform(10, 300) * 86400
        city = self.rng.choice(list(ctx.world.cities))
        users = [
            self.new_account(f"{city.split()[0].lower()}_{n}x", created, city)
            for n in range(accounts)
        ]
        self.identities = [
            ctx.keys.identity(
                ctx.space.address("residential"),
                self.rng.choice(BROWSER_UAS),
                session=ctx.keys.session_id(),
                user_id=users[n % accounts].id,
            )
            for n in range(ips)
        ]

    def intents(self) -> Iterator[Intent]:
        world = self.ctx.world
        ids = sorted(world.users)
        self.rng.shuffle(ids)
        # every address on its own clock; together they walk one list of targets
        clocks: list[tuple[float, int, int]] = [
            (self.ctx.start + self.rng.uniform(0, self.interval), n, 0)
            for n in range(len(self.identities))
        ]
        heapq.heapify(clocks)
        position = 0
        while clocks:
            now, n, post_id = heapq.heappop(clocks)
            if now >= self.ctx.end:
                continue
            ident = self.identities[n]
            if post_id:
                # a post of the profile just read, a few seconds later, from the same address
                yield harvest(ident, p.POST, now, post_id)
                heapq.heappush(clocks, (now + self.rng.expovariate(1.0 / self.interval), n, 0))
                continue
            target = ids[position % len(ids)]
            position += 1
            yield harvest(ident, p.PROFILE, now, world.users[target].username)
            timeline = world.posts_of.get(target)
            existing = 0 if timeline is None else timeline.created_by(now)
            if timeline is not None and existing and self.rng.random() < 0.4:
                post = timeline.items[existing - 1]
                heapq.heappush(clocks, (now + self.rng.uniform(2, 8), n, post.id))
            else:
                heapq.heappush(clocks, (now + self.rng.expovariate(1.0 / self.interval), n, 0))


class ScopeAbuser(Actor):
    """A partner app asking for what its scopes and its users' authorisations do not cover."""

    actor_class = "scope_abuser"
    adversary = True

    def __init__(self, actor_id: str, ctx: SimContext) -> None:
        super().__init__(actor_id, ctx)
        world = ctx.world
        ids = sorted(world.users)
        authorised = int(self.draw("authorised_accounts", integer=True))
        self.rate = self.draw("requests_per_minute") / 60
        self.error_share = self.draw("error_share")
        self.app = PartnerApp(
            client_id=f"app-{self.rng.getrandbits(48):012x}",
            name="PrintMyPics",
            purpose="printing the user's own photos",
            scopes=frozenset({"profile:basic", "media:read"}),
            authorised_by=set(self.rng.sample(ids, min(authorised, len(ids)))),
        )
        world.add_app(self.app)
        network = ctx.space.network("datacenter")
        self.addresses = [f"{network}.{n}" for n in (21, 22)]

    def intents(self) -> Iterator[Intent]:
        world, rng = self.ctx.world, self.rng
        ids = sorted(world.users)
        mine = sorted(self.app.authorised_by)
        names = world.sorted_usernames()
        now = self.ctx.start + rng.uniform(0, 3600)
        token_until = now - 1
        ident = self._token()
        while now < self.ctx.end:
            if now >= token_until:
                asks_more = rng.random() < self.error_share / 2
                ident = self._token()
                target = (
                    "profile:basic media:read location:read contact:read" if asks_more else None
                )
                yield Intent(now, ident, p.OAUTH_TOKEN, target)
                token_until, now = now + 3600, now + 1
            if rng.random() < self.error_share:
                yield self._probe(ident, rng, ids, names, now)
            elif rng.random() < 0.5:
                yield harvest(ident, p.API_USER_MEDIA, now, rng.choice(mine))
            else:
                yield harvest(
                    ident,
                    p.API_USER_SEARCH,
                    now,
                    rng.choice(string.ascii_lowercase) + rng.choice("aeiou"),
                )
            now += rng.expovariate(self.rate)

    def _probe(
        self, ident: Identity, rng: random.Random, ids: list[int], names: list[str], now: float
    ) -> Intent:
        kind = rng.randrange(5)
        if kind == 0:
            return harvest(ident, p.API_USER, now, rng.choice(ids))
        if kind == 1:
            return harvest(ident, p.API_USER_MEDIA, now, rng.choice(ids))
        if kind == 2:
            return harvest(ident, p.API_LOCATION, now, rng.choice(list(self.ctx.world.venues)))
        if kind == 3:
            return harvest(ident, p.API_STORY, now, rng.randrange(1, 10**5))
        return harvest(
            ident, p.API_USER_LOOKUP, now, tuple(rng.sample(names, min(100, len(names))))
        )

    def _token(self) -> Identity:
        return self.ctx.keys.identity(
            self.rng.choice(self.addresses),
            "python-requests/2.32.3",
            session=self.ctx.keys.session_id(),
            app=self.app.client_id,
            token_scopes=self.app.scopes,
        )
