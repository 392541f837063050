"""What live mode drives: the server's own world, the actors fitted to it, and who logs in how.

The world comes from the manifest of the server's database, so every post, story, venue and
username an actor asks for exists. Virtual time starts at the real time the run starts and runs
``speed`` times faster, so a story live in virtual time was created before now and has not
expired on the server yet. Accounts the actors create for themselves (sock puppets, fresh
accounts, the harvesters' own) are not on the server: live mode signs them up.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import math
import random
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from harvestguard.simulate.actors import Actor, SimContext, StoryPoster, build_population
from harvestguard.simulate.intents import Identity
from harvestguard.simulate.live_http import DEFAULT_LANGUAGE, require_loopback
from harvestguard.simulate.manifest import ManifestError, world_from_manifest
from harvestguard.simulate.network import AddressSpace, Keys
from harvestguard.simulate.scenario import Scenario
from harvestguard.simulate.world import PartnerApp, Story, User, World

_USERNAME = re.compile(r"[a-z0-9_.]{3,30}")
PLANNED_MEDIA = "planned-"  # the media key of a planned story, until the server names its own


class LiveSetupError(ValueError):
    """Live mode cannot start: a bad manifest, credentials file or scenario."""


@dataclass(frozen=True, slots=True)
class PartnerCredentials:
    client_id: str
    client_secret: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class ServerWorld:
    """The manifest of the server's database: the world, and when its stories expire there."""

    world: World
    story_expiry: dict[int, float]  # story id -> POSIX seconds

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any]) -> ServerWorld:
        world = world_from_manifest(data)
        expiry = {}
        for story in data.get("stories", []):
            if story.get("expires_at") is not None:
                moment = datetime.fromisoformat(str(story["expires_at"]))
                expiry[int(story["id"])] = moment.timestamp()
        return cls(world, expiry)

    @classmethod
    def load(cls, path: str | Path) -> ServerWorld:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise LiveSetupError(f"{path}: {error}") from error
        if not isinstance(data, dict):
            raise LiveSetupError(f"{path}: a manifest is a JSON object")
        try:
            return cls.from_manifest(data)
        except (ManifestError, ValueError) as error:
            raise LiveSetupError(f"{path}: {error}") from error


@dataclass(frozen=True, slots=True)
class LiveConfig:
    base_url: str
    password: str  # of the server's seeded accounts
    key: bytes  # the server's HARVESTGUARD_PSEUDONYM_KEY
    credentials: tuple[PartnerCredentials, ...] = ()
    speed: float = 60.0  # virtual seconds per real second
    max_seconds: float = 60.0
    max_requests: int = 20_000
    max_concurrency: int = 32
    max_rate: float = 200.0  # requests per real second
    timeout: float = 30.0

    def __post_init__(self) -> None:
        require_loopback(self.base_url)
        if min(self.speed, self.max_seconds, self.max_rate, self.timeout) <= 0:
            raise ValueError("speed, max_seconds, max_rate and timeout must be positive")
        if self.max_requests < 1 or self.max_concurrency < 1:
            raise ValueError("max_requests and max_concurrency must be at least 1")


def load_credentials(path: str | Path) -> tuple[str | None, list[PartnerCredentials]]:
    """The seeded password and partner credentials, as ``photoshare demo`` writes them."""
    try:
        data = json.loads(Path(path).read_text())
        password = data.get("password")
        partners = [
            PartnerCredentials(str(p["client_id"]), str(p["client_secret"]), str(p.get("name", "")))
            for p in data.get("partners", [])
        ]
    except (OSError, json.JSONDecodeError, AttributeError, KeyError, TypeError) as error:
        raise LiveSetupError(f"{path}: not a credentials file ({error})") from error
    return (None if password is None else str(password)), partners


def fit_scenario(base: Scenario, world: World, start: datetime, duration: timedelta) -> Scenario:
    """The scenario on the server's world: its people scaled to the accounts that exist."""
    users = len(world.people())  # account holders: never a canary
    if users < 1:
        raise LiveSetupError("the manifest has no accounts")
    share = min(1.0, users / base.users)
    people = min(users, round(base.people * share))
    return dataclasses.replace(
        base,
        start=start,
        duration=duration,
        users=users,
        people=people,
        power_users=min(users - people, round(base.power_users * share)),
        anonymous_visitors=round(base.anonymous_visitors * share),
        venues=max(1, len(world.venues)),
        cities=max(1, len(world.cities)),
    )


class LiveKeys(Keys):
    """Keys that also remember which device id and language made each fingerprint, so the
    runner can send the headers the fingerprint stands for."""

    def __init__(self, key: bytes, rng: random.Random) -> None:
        super().__init__(key, rng)
        self.headers: dict[str, tuple[str | None, str]] = {}

    def identity(
        self,
        address: str,
        ua: str,
        *,
        device: str | None = None,
        language: str | None = None,
        session: str | None = None,
        user_id: int | None = None,
        app: str | None = None,
        token_scopes: frozenset[str] = frozenset(),
    ) -> Identity:
        spoken = language or DEFAULT_LANGUAGE
        ident = super().identity(
            address,
            ua,
            device=device,
            language=spoken,
            session=session,
            user_id=user_id,
            app=app,
            token_scopes=token_scopes,
        )
        self.headers[ident.fingerprint] = (device, spoken)
        return ident


@dataclass(slots=True)
class LivePlan:
    """The actors of a scenario on the server's world, and the accounts and apps they use."""

    scenario: Scenario
    server: ServerWorld
    keys: LiveKeys
    actors: list[Actor]
    seeded_accounts: frozenset[int]  # ids that exist on the server
    own_accounts: dict[int, list[int]] = field(default_factory=dict)  # actor -> its accounts
    usernames: dict[int, str] = field(default_factory=dict)  # own account -> its real username
    # stories the world plans during the run: their owners upload them (simulated id -> story)
    planned_stories: dict[int, Story] = field(default_factory=dict)
    # own accounts made before the run that the server was given beforehand (``registered``):
    # logged in to, not signed up
    registered: set[int] = field(default_factory=set)

    @classmethod
    def build(
        cls,
        scenario: Scenario,
        server: ServerWorld,
        key: bytes,
        *,
        stories_per_day: float | None = None,
    ) -> LivePlan:
        world = server.world
        seeded = frozenset(world.users)
        rng = random.Random(f"population:{scenario.seed}")
        keys = LiveKeys(key, rng)
        ctx = SimContext(
            scenario=scenario,
            world=world,
            keys=keys,
            space=AddressSpace(rng),
            start=scenario.start.timestamp(),
            end=scenario.end.timestamp(),
        )
        rate = observed_story_rate(world, ctx.start) if stories_per_day is None else stories_per_day
        planned = plan_stories(world, random.Random(f"stories:{scenario.seed}"), ctx, rate)
        actors = build_population(ctx)
        by_owner: dict[int, list[Story]] = {}
        for story in planned:
            by_owner.setdefault(story.owner_id, []).append(story)
        for n, owner in enumerate(sorted(by_owner)):
            actors.append(StoryPoster(f"poster-{n}", ctx, world.users[owner], by_owner[owner]))
        plan = cls(scenario, server, keys, actors, seeded)
        plan.planned_stories = {story.id: story for story in planned}
        taken = {world.users[uid].username for uid in seeded}
        owners = _owners(actors, world, seeded)
        for index in range(len(actors)):
            plan.own_accounts[index] = []
        for uid in sorted(set(world.users) - seeded):
            plan.own_accounts[owners[uid]].append(uid)
            plan.usernames[uid] = _valid_username(world.users[uid].username, taken)
        return plan

    @property
    def world(self) -> World:
        return self.server.world

    def username(self, user_id: int) -> str:
        return self.usernames.get(user_id) or self.world.users[user_id].username

    def simulated_apps(self) -> list[PartnerApp]:
        """Every app the actors use, the server's and the adversaries' own."""
        return sorted(self.world.apps.values(), key=lambda app: app.client_id)

    def accounts_made_before(self) -> list[int]:
        """The actors' own accounts made before the run (sock puppets aged for weeks, a
        harvester's accounts): a server set up for the run should already have them, with their
        follows, as it has the adversaries' partner apps."""
        start = self.scenario.start.timestamp()
        made = (uid for uids in self.own_accounts.values() for uid in uids)
        return sorted(uid for uid in made if self.world.users[uid].created_at < start)


def observed_story_rate(world: World, now: float) -> float:
    """Stories per account per day on the server: those posted in the day before ``now``."""
    posted = len(world.all_stories.between(now - 86400.0, now))
    return posted / max(1, len(world.users))


def plan_stories(world: World, rng: random.Random, ctx: SimContext, per_day: float) -> list[Story]:
    """Stories the server's accounts post during the run, ``per_day`` per account on average
    (some post daily, most every few days: a log-normal rate per account), added to the world
    so that every actor plans around them. Their ids and media keys are the simulation's until
    the upload tells the server's."""
    if per_day <= 0:
        return []
    spread = 1.2
    mu = math.log(per_day) - spread**2 / 2  # a log-normal with mean ``per_day``
    next_id = max(world.stories, default=0) + 1
    planned: list[Story] = []
    by_city = world.venues_by_city
    for uid in sorted(world.users):
        user = world.users[uid]
        rate = rng.lognormvariate(mu, spread) / 86400.0
        at = ctx.start + rng.expovariate(rate)
        while at < ctx.end:
            venues = by_city.get(user.city)
            venue = rng.choice(venues) if venues and rng.random() < 0.3 else None
            planned.append(Story(next_id, uid, at, venue, f"{PLANNED_MEDIA}{next_id}"))
            next_id += 1
            at += rng.expovariate(rate)
    for story in planned:
        world.add_story(story)
    return planned


def own_password(key: bytes, username: str) -> str:
    """The password of an account live mode signs up: the same on every run with the same key,
    so a second run logs in to the accounts the first one created."""
    return hmac.new(key, b"live-account:" + username.encode(), hashlib.sha256).hexdigest()[:24]


def match_credentials(
    apps: Sequence[PartnerApp], credentials: Sequence[PartnerCredentials]
) -> dict[str, PartnerCredentials]:
    """Simulated client id -> the real app's credentials: the same client id, or else an unused
    app registered under the same name (how adversaries' own apps are given real ones)."""
    by_id = {c.client_id: c for c in credentials}
    used: set[str] = set()
    matched: dict[str, PartnerCredentials] = {}
    for app in apps:
        if app.client_id in by_id:
            matched[app.client_id] = by_id[app.client_id]
            used.add(app.client_id)
    for app in apps:
        if app.client_id in matched:
            continue
        for candidate in credentials:
            if candidate.client_id not in used and candidate.name == app.name:
                matched[app.client_id] = candidate
                used.add(candidate.client_id)
                break
    return matched


def _owners(actors: list[Actor], world: World, seeded: frozenset[int]) -> dict[int, int]:
    """Which actor created each account that is not on the server: the actor that keeps it."""
    owners: dict[int, int] = {}
    for index, actor in enumerate(actors):
        for uid in _accounts_kept_by(actor) - seeded:
            owners.setdefault(uid, index)
    for uid in set(world.users) - seeded:
        if uid not in owners:
            raise LiveSetupError(f"account {uid} was created by no known actor")
    return owners


def _accounts_kept_by(actor: Actor) -> set[int]:
    """Account ids an actor holds in its attributes: users, identities, and lists of them."""
    found: set[int] = set()

    def visit(value: object, depth: int) -> None:
        if isinstance(value, Identity) and value.user_id is not None:
            found.add(value.user_id)
        elif isinstance(value, User):
            found.add(value.id)
        elif isinstance(value, list | tuple) and depth < 2:
            for item in value:
                visit(item, depth + 1)

    for value in vars(actor).values():
        visit(value, 0)
    return found


def _valid_username(name: str, taken: set[str]) -> str:
    """photoshare's rules: 3 to 30 of ``a-z0-9_.``; accents folded, anything else dropped."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    base = "".join(ch for ch in folded if ch.isalnum() or ch in "._")[:30]
    base = base if _USERNAME.fullmatch(base) else f"sim_{base}"[:30]
    candidate, suffix = base, 1
    while candidate in taken:
        suffix += 1
        candidate = f"{base[: 30 - len(str(suffix))]}{suffix}"
    taken.add(candidate)
    return candidate
