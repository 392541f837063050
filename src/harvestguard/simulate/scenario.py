"""A scenario: who is in the simulated world, for how long, and the ranges adversaries are drawn from.

Every adversary draws its own parameters (rates, breadth, pool sizes) uniformly from the ranges
named here, using the scenario's seed: two seeds give two different traces, so no detector can be
tuned to one of them. Scenarios load from YAML or JSON; keys left out keep the preset's values.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ADVERSARY_CLASSES: tuple[str, ...] = (
    "geofence_harvester",
    "story_archiver",
    "profile_enumerator",
    "low_and_slow",
    "scope_abuser",
    "mimic",
    "fresh_account_rush",
)
BENIGN_CLASSES: tuple[str, ...] = ("person", "power_user", "partner_app", "search_crawler")


class ScenarioError(ValueError):
    """A scenario file or mapping that cannot be used, with the reason."""


@dataclass(frozen=True, slots=True)
class Range:
    """A closed interval an actor parameter is drawn from, uniformly."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if self.low > self.high or self.low < 0:
            raise ScenarioError(f"a range needs 0 <= low <= high, got [{self.low}, {self.high}]")


def _ranges(**values: tuple[float, float]) -> dict[str, Range]:
    return {name: Range(low, high) for name, (low, high) in values.items()}


# name -> parameter -> range; docs/simulator.md explains each.
DEFAULT_PARAMETERS: dict[str, dict[str, Range]] = {
    "geofence_harvester": _ranges(
        venues=(3, 8),
        accounts=(2, 6),
        poll_minutes=(5, 30),
        request_gap_seconds=(1, 6),
        posts_per_target=(2, 8),
    ),
    "story_archiver": _ranges(
        puppets=(2, 8),
        follows_per_puppet=(80, 400),
        fetch_delay_minutes=(0.5, 15),
        feed_poll_minutes=(3, 15),
        ips=(1, 4),
    ),
    "profile_enumerator": _ranges(
        nets=(150, 1200),
        requests_per_second=(0.5, 4),
        requests_per_ip=(1, 4),
        coverage=(0.2, 0.9),
    ),
    "low_and_slow": _ranges(
        ips=(40, 200),
        accounts=(15, 60),
        minutes_between_requests_per_ip=(4, 20),
    ),
    "scope_abuser": _ranges(
        authorised_accounts=(3, 30),
        requests_per_minute=(2, 20),
        error_share=(0.15, 0.6),
    ),
    "mimic": _ranges(
        accounts=(1, 3),
        follows=(3, 12),
        sessions_per_day=(3, 8),
        requests_per_session=(20, 60),
        stranger_share=(0.4, 0.8),
        think_seconds=(6, 25),
    ),
    "fresh_account_rush": _ranges(
        accounts=(5, 30),
        minutes_to_first_view=(0.5, 10),
        views_per_account=(100, 400),
        view_gap_seconds=(2, 10),
        ips=(1, 5),
    ),
}


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    seed: int
    start: datetime
    duration: timedelta
    users: int  # accounts in the world; benign people are drawn from them
    people: int  # benign people browsing (each is one account holder)
    power_users: int
    anonymous_visitors: int  # benign people who browse logged out
    partner_apps: int  # honest partner apps
    search_crawlers: int
    venues: int
    cities: int
    shared_nat_share: float  # share of people behind a carrier or campus NAT
    adversaries: dict[str, int] = field(default_factory=dict)  # class -> how many
    parameters: dict[str, dict[str, Range]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.adversaries) - set(ADVERSARY_CLASSES)
        if unknown:
            raise ScenarioError(f"unknown adversary classes: {', '.join(sorted(unknown))}")
        if any(count < 0 for count in self.adversaries.values()):
            raise ScenarioError("adversary counts cannot be negative")
        if self.duration <= timedelta(0):
            raise ScenarioError("the duration must be positive")
        if self.start.tzinfo is None:
            raise ScenarioError("the start time needs a time zone")
        if self.people + self.power_users > self.users:
            raise ScenarioError("people and power users are account holders: at most `users`")
        if min(self.users, self.venues, self.cities) < 1:
            raise ScenarioError("a world needs at least one user, venue and city")
        if not 0 <= self.shared_nat_share <= 1:
            raise ScenarioError("shared_nat_share is a share, within 0..1")

    @property
    def end(self) -> datetime:
        return self.start + self.duration

    def parameter_ranges(self, actor_class: str) -> dict[str, Range]:
        return {**DEFAULT_PARAMETERS[actor_class], **self.parameters.get(actor_class, {})}

    def with_seed(self, seed: int) -> Scenario:
        return dataclasses.replace(self, seed=seed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "duration_hours": self.duration.total_seconds() / 3600,
            "users": self.users,
            "people": self.people,
            "power_users": self.power_users,
            "anonymous_visitors": self.anonymous_visitors,
            "partner_apps": self.partner_apps,
            "search_crawlers": self.search_crawlers,
            "venues": self.venues,
            "cities": self.cities,
            "shared_nat_share": self.shared_nat_share,
            "adversaries": dict(self.adversaries),
            "parameters": {
                cls: {name: [r.low, r.high] for name, r in ranges.items()}
                for cls, ranges in self.parameters.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """A scenario from a mapping; ``preset`` (default ``small``) supplies what is left out."""
        values = dict(data)
        base = PRESETS.get(str(values.pop("preset", "small")))
        if base is None:
            raise ScenarioError(f"unknown preset; expected one of {', '.join(PRESETS)}")
        merged = {**base.to_dict(), **values}
        known = set(base.to_dict())
        if unknown := set(merged) - known:
            raise ScenarioError(f"unknown scenario keys: {', '.join(sorted(unknown))}")
        try:
            start = datetime.fromisoformat(str(merged["start"]))
            parameters = {
                str(actor_class): {
                    str(name): Range(float(bounds[0]), float(bounds[1]))
                    for name, bounds in dict(ranges).items()
                }
                for actor_class, ranges in dict(merged["parameters"]).items()
            }
            for actor_class, ranges in parameters.items():
                if actor_class not in DEFAULT_PARAMETERS:
                    raise ScenarioError(f"parameters for unknown adversary class {actor_class!r}")
                if extra := set(ranges) - set(DEFAULT_PARAMETERS[actor_class]):
                    raise ScenarioError(
                        f"unknown {actor_class} parameters: {', '.join(sorted(extra))}"
                    )
            return cls(
                name=str(merged["name"]),
                seed=int(merged["seed"]),
                start=start if start.tzinfo else start.replace(tzinfo=UTC),
                duration=timedelta(hours=float(merged["duration_hours"])),
                users=int(merged["users"]),
                people=int(merged["people"]),
                power_users=int(merged["power_users"]),
                anonymous_visitors=int(merged["anonymous_visitors"]),
                partner_apps=int(merged["partner_apps"]),
                search_crawlers=int(merged["search_crawlers"]),
                venues=int(merged["venues"]),
                cities=int(merged["cities"]),
                shared_nat_share=float(merged["shared_nat_share"]),
                adversaries={str(k): int(v) for k, v in dict(merged["adversaries"]).items()},
                parameters=parameters,
            )
        except (TypeError, ValueError, IndexError, KeyError) as error:
            if isinstance(error, ScenarioError):
                raise
            raise ScenarioError(f"bad scenario value: {error}") from error

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """A scenario from a YAML or JSON file (JSON is YAML, but its errors read better)."""
        text = Path(path).read_text()
        try:
            data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as error:
            raise ScenarioError(f"{path}: {error}") from error
        if not isinstance(data, dict):
            raise ScenarioError(f"{path}: a scenario is a mapping")
        return cls.from_dict(data)


def preset(name: str) -> Scenario:
    try:
        return PRESETS[name]
    except KeyError:
        raise ScenarioError(
            f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}"
        ) from None


_START = datetime(2025, 6, 2, tzinfo=UTC)

PRESETS: dict[str, Scenario] = {
    # seconds to run: for tests and a first look
    "small": Scenario(
        name="small",
        seed=1,
        start=_START,
        duration=timedelta(hours=12),
        users=600,
        people=300,
        power_users=15,
        anonymous_visitors=40,
        partner_apps=2,
        search_crawlers=1,
        venues=60,
        cities=3,
        shared_nat_share=0.25,
        adversaries=dict.fromkeys(ADVERSARY_CLASSES, 1),
    ),
    # about a million events: for detector development and the evaluation table
    "default": Scenario(
        name="default",
        seed=1,
        start=_START,
        duration=timedelta(days=2),
        users=12000,
        people=6000,
        power_users=200,
        anonymous_visitors=800,
        partner_apps=6,
        search_crawlers=2,
        venues=600,
        cities=8,
        shared_nat_share=0.2,
        adversaries={
            "geofence_harvester": 2,
            "story_archiver": 2,
            "profile_enumerator": 2,
            "low_and_slow": 2,
            "scope_abuser": 2,
            "mimic": 3,
            "fresh_account_rush": 2,
        },
    ),
}
