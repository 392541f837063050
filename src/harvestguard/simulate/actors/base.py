"""What every actor shares: its id and class, its drawn parameters, human timing, the context."""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from harvestguard.simulate.intents import Identity, Intent, Page
from harvestguard.simulate.network import AddressSpace, Keys
from harvestguard.simulate.scenario import Range, Scenario
from harvestguard.simulate.world import User, World

DAY = 86400.0


@dataclass(slots=True)
class SimContext:
    scenario: Scenario
    world: World
    keys: Keys
    space: AddressSpace
    start: float
    end: float
    # shared NAT pools: many people behind few addresses
    carrier_pools: list[list[str]] = field(default_factory=list)
    campus_pools: list[list[str]] = field(default_factory=list)


class Actor(ABC):
    actor_class: ClassVar[str]
    adversary: ClassVar[bool] = False

    def __init__(self, actor_id: str, ctx: SimContext) -> None:
        self.actor_id = actor_id
        self.ctx = ctx
        self.rng = random.Random(f"{ctx.scenario.seed}:{actor_id}")
        self.parameters: dict[str, float | str] = {}

    @abstractmethod
    def intents(self) -> Iterator[Intent]:
        """The actor's requests, in time order, until the end of the scenario."""

    def draw(self, name: str, *, integer: bool = False) -> float:
        """One parameter, drawn from the scenario's range for this class, and remembered."""
        bounds: Range = self.ctx.scenario.parameter_ranges(self.actor_class)[name]
        value = self.rng.uniform(bounds.low, bounds.high)
        if integer:
            value = float(max(1, round(value)))
        self.parameters[name] = value
        return value

    def new_account(self, username_hint: str, created_at: float, city: str) -> User:
        """An account of the actor's own, added to the world so the platform knows it."""
        world = self.ctx.world
        name = username_hint
        while name in world.by_username:
            name = f"{username_hint}{self.rng.randint(1, 9999)}"
        user = User(world.next_user_id(), name, name.title(), city, False, False, created_at)
        world.add_user(user)
        return user

    @staticmethod
    def request(ident: Identity, page: Page, ts: float, target: object = None) -> Intent:
        return Intent(ts, ident, page, target, False)


def local_hour(ts: float, utc_offset_hours: float) -> float:
    return ((ts / 3600.0) + utc_offset_hours) % 24.0


def diurnal_weight(hour: float) -> float:
    """Relative activity by local hour: low at 4 am, peaks around 1 pm and 9 pm; at most 1."""
    night = 0.5 + 0.5 * math.cos((hour - 4.0) / 24.0 * 2 * math.pi)
    evening = math.exp(-(((hour - 21.0) / 2.5) ** 2))
    return min(1.0, 0.05 + 0.75 * (1.0 - night) + 0.35 * evening)


def next_session(rng: random.Random, now: float, per_day: float, utc_offset_hours: float) -> float:
    """The next session start of a person who starts ``per_day`` sessions on an average day.

    A Poisson process thinned by the diurnal weight; the peak rate is raised so that the mean over
    a day stays ``per_day``.
    """
    peak = per_day / DAY / 0.55
    while True:
        now += rng.expovariate(peak)
        if rng.random() < diurnal_weight(local_hour(now, utc_offset_hours)):
            return now


def think_time(rng: random.Random, median_seconds: float) -> float:
    return rng.lognormvariate(math.log(median_seconds), 0.9)
