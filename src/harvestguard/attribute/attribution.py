"""From a leak to a ranking: every candidate's likelihood ratio and the evidence behind it."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from harvestguard.attribute.candidates import Candidate
from harvestguard.attribute.evidence import Outcome, Units, image_scores, outcomes, unit_kinds
from harvestguard.attribute.keys import WatermarkKey
from harvestguard.attribute.leak import Leak
from harvestguard.attribute.likelihood import (
    DEFAULT_ALPHA,
    combine_keys,
    log_likelihood_ratio_read_as,
    threshold,
)
from harvestguard.canaries import Canary, CanaryMatcher
from harvestguard.policy.model import Policy


@dataclass(slots=True)
class Verdict:
    candidate: Candidate
    log_ratio: float  # natural log of the likelihood ratio against chance
    share: float  # the share of the leak that best explains the matches
    key_id: str | None  # the key under which the marks match best
    outcome: Outcome | None = field(default=None, repr=False)  # under key_id
    canaries: list[str] = field(default_factory=list)  # leaked canaries this actor read
    named: bool = False

    @property
    def matches(self) -> dict[str, tuple[int, int]]:
        """For each kind of unit: (matched, units)."""
        found: dict[str, tuple[int, int]] = {}
        if self.outcome is not None:
            for kind, hit in zip(self.outcome.kinds, self.outcome.matched, strict=True):
                matched, total = found.get(kind, (0, 0))
                found[kind] = (matched + hit, total + 1)
        return found

    @property
    def lines(self) -> list[int]:
        """The lines of the leak that carry one of this actor's marks."""
        if self.outcome is None:
            return []
        hits = zip(self.outcome.matched, self.outcome.lines, strict=True)
        return sorted({line for hit, where in hits if hit for line in where})

    @property
    def bound(self) -> float:
        """An upper bound of the chance of a ratio this large for an actor that is not a source
        (before the correction for the number of candidates)."""
        return min(1.0, math.exp(-self.log_ratio)) if self.log_ratio > 0 else 1.0


@dataclass(slots=True)
class Attribution:
    verdicts: list[Verdict]  # best first
    threshold: float
    units: dict[str, int]
    records: int
    images: int
    canaries_found: list[str]

    @property
    def named(self) -> list[Verdict]:
        return [verdict for verdict in self.verdicts if verdict.named]


def policy_precisions(policy: Policy) -> tuple[int, ...]:
    """Every geohash precision the policy coarsens a coordinate to."""
    found: set[int] = set()
    for resource in policy.resources.values():
        rule_sets = [*resource.audiences.values(), resource.private_rules]
        for rules in rule_sets:
            for name, rule in (rules or {}).items():
                spec = resource.fields.get(name)
                if spec is not None and spec.axis is not None and rule.geohash_precision:
                    found.add(rule.geohash_precision)
    return tuple(sorted(found))


def readings(kinds: Sequence[str]) -> list[list[bool]]:
    """How a leak's units are read. Its coordinates carry either the fine marks (cells of
    coarsened values, digits below 1.1 m of full ones) or the grid mark of full values that
    survives rounding to 11 m; a coarsened value's grid point is a coin toss for its own actor
    too. With both kinds of unit, the leak is read once with each (orders and images in both),
    and the ratios are averaged: a factor of 2 at most, against a reading that counts coin tosses
    as misses."""
    if "coordinate" not in kinds or "grid" not in kinds:
        return []
    return [[kind != "grid" for kind in kinds], [kind != "coordinate" for kind in kinds]]


def leaked_canaries(leak: Leak, canaries: Sequence[Canary]) -> list[Canary]:
    matcher = CanaryMatcher(canaries)
    found: dict[str, Canary] = {}
    for record in leak.records:
        for canary in matcher.in_text(" ".join(record.fields.values())):
            found.setdefault(canary.marker, canary)
    return list(found.values())


def attribute(
    units: Units,
    candidates: Sequence[Candidate],
    keys: Sequence[WatermarkKey],
    *,
    records: int = 0,
    images: int = 0,
    canaries: Sequence[Canary] = (),
    readers: dict[str, set[str]] | None = None,
    alpha: float = DEFAULT_ALPHA,
    progress: Callable[[int], None] | None = None,
) -> Attribution:
    """Ranks ``candidates``: named are those whose ratio passes the family-wise threshold."""
    readers = readers or {}
    verdicts = []
    chosen = readings(unit_kinds(units))
    image_z = {
        key.key_id: image_scores(
            units, [key.actor_key(candidate.identity) for candidate in candidates]
        )
        for key in keys
    }
    for index, candidate in enumerate(candidates):
        per_key: list[tuple[float, float, str, Outcome]] = []
        for key in keys:
            outcome = outcomes(units, key.actor_key(candidate.identity), image_z[key.key_id][index])
            log_ratio, share = log_likelihood_ratio_read_as(outcome.matched, outcome.chance, chosen)
            per_key.append((log_ratio, share, key.key_id, outcome))
        log_ratio, share, key_id, outcome = max(per_key, key=lambda item: item[0])
        verdict = Verdict(
            candidate, combine_keys([item[0] for item in per_key]), share, key_id, outcome
        )
        verdict.canaries = sorted(
            canary.marker
            for canary in canaries
            if candidate.identity in readers.get(canary.marker, ())
        )
        verdicts.append(verdict)
        if progress is not None:
            progress(1)
    limit = threshold(len(candidates), alpha)
    for verdict in verdicts:
        verdict.named = verdict.log_ratio >= limit
    verdicts.sort(key=lambda v: (v.named, v.log_ratio, len(v.canaries)), reverse=True)
    return Attribution(
        verdicts,
        limit,
        {
            "coordinate": len(units.coordinates),
            "grid": len(units.grids),
            "order": len(units.orders),
            "image": len(units.images),
        },
        records,
        images,
        [canary.marker for canary in canaries],
    )
