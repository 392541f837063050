"""Scoring detection and enforcement against ground truth. Pure functions; docs/simulator.md
("Metrics") defines each one.

- A flagged entity is attributed to the actor that accounts for the most events carrying its keys:
  for each actor, the sum over the entity's keys of the events that actor made with that key
  (ties go to the adversary, then to the smaller actor id). Keys no actor used count for nobody;
  an entity whose keys match no event is a false positive.
- An adversary is detected when at least one entity is attributed to it. Entities attributed to a
  benign actor, or to nobody, are false positives. Precision is over entities, recall over
  adversaries. Per adversary class, the scores are those of the scenario restricted to that class
  and the benign actors: false positives count against every class.
- An adversary's event is prevented when, at its time, a stopping action (block, ban, revoke)
  covers one of the event's keys. Records disclosed are the distinct (owner, data class) pairs of
  its events that were not prevented.
- A benign actor is wrongly acted on when any action covers a key it used at or after the action.
  A shared key (a NAT address) therefore counts every benign actor behind it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any

import pyarrow as pa

from harvestguard.simulate.groundtruth import KEY_COLUMNS, ActorKey, GroundTruth

STOPPING_ACTIONS = frozenset({"block", "ban", "revoke"})
ACTIONS = frozenset({"throttle", "challenge", *STOPPING_ACTIONS})


@dataclass(frozen=True, slots=True)
class FlaggedEntity:
    """What a detector reports: one suspected actor, as the set of keys it was seen with."""

    keys: frozenset[ActorKey]
    detected_at: datetime
    score: float = 1.0
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EnforcementAction:
    key: ActorKey
    action: str  # throttle | challenge | block | ban | revoke
    at: datetime

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}; expected one of {sorted(ACTIONS)}")


@dataclass(slots=True)
class ClassScore:
    actors: int = 0
    detected: int = 0
    true_entities: int = 0
    false_entities: int = 0
    detection_seconds: list[float] = field(default_factory=list)
    records_disclosed: list[int] = field(default_factory=list)

    @property
    def precision(self) -> float:
        flagged = self.true_entities + self.false_entities
        return self.true_entities / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        return self.detected / self.actors if self.actors else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def summary(self) -> dict[str, float | int | None]:
        times = self.detection_seconds
        return {
            "actors": self.actors,
            "detected": self.detected,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            # how many entities one detected adversary was split into (1.0: linked whole)
            "entities_per_detected": self.true_entities / self.detected if self.detected else None,
            "median_detection_seconds": median(times) if times else None,
            "max_detection_seconds": max(times) if times else None,
            "records_disclosed": sum(self.records_disclosed),
            "max_records_disclosed": max(self.records_disclosed, default=0),
        }


@dataclass(slots=True)
class Scores:
    per_class: dict[str, ClassScore]
    overall: ClassScore
    attribution: list[str | None]  # the actor of each flagged entity, None for nobody
    benign_actors: int
    benign_acted_on: int

    @property
    def benign_acted_on_share(self) -> float:
        return self.benign_acted_on / self.benign_actors if self.benign_actors else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "overall": self.overall.summary(),
            "per_class": {name: score.summary() for name, score in sorted(self.per_class.items())},
            "benign_actors": self.benign_actors,
            "benign_acted_on": self.benign_acted_on,
            "benign_acted_on_share": self.benign_acted_on_share,
        }


def attribute(entity: FlaggedEntity, truth: GroundTruth) -> str | None:
    """The actor a flagged entity stands for (see the module docstring), or None."""
    weights: dict[str, int] = {}
    for key in entity.keys:
        for record in truth.actors_of(key):
            weights[record.actor_id] = weights.get(record.actor_id, 0) + record.events
    if not weights:
        return None

    def rank(actor_id: str) -> tuple[int, bool, str]:
        actor = truth.actors[actor_id]
        return (-weights[actor_id], not actor.adversary, actor_id)

    return min(weights, key=rank)


def actions_from_flags(
    flags: Iterable[FlaggedEntity], action: str = "block"
) -> list[EnforcementAction]:
    """What a guard that acts on every flag would do: ``action`` on each key when flagged."""
    return [
        EnforcementAction(key, action, entity.detected_at)
        for entity in flags
        for key in sorted(entity.keys)
    ]


def benign_acted_on(truth: GroundTruth, actions: Sequence[EnforcementAction]) -> set[str]:
    """Benign actors that used a key at or after an action on it."""
    hit: set[str] = set()
    for action in actions:
        for record in truth.actors_of(action.key):
            if not truth.actors[record.actor_id].adversary and record.last_seen >= action.at:
                hit.add(record.actor_id)
    return hit


def records_disclosed(
    events: pa.Table,
    labels: Sequence[str | None],
    actions: Sequence[EnforcementAction],
    actor_ids: Iterable[str],
) -> dict[str, int]:
    """Per actor: distinct (owner, data class) pairs in its events that no stopping action prevented."""
    wanted = set(actor_ids)
    stops: dict[ActorKey, datetime] = {}
    for action in actions:
        if action.action in STOPPING_ACTIONS:
            stops[action.key] = min(action.at, stops.get(action.key, action.at))
    rows = [i for i, actor in enumerate(labels) if actor in wanted]
    if not rows:
        return dict.fromkeys(wanted, 0)
    subset = events.take(pa.array(rows, pa.int64()))
    columns: dict[str, list[Any]] = {
        name: subset.column(name).to_pylist()
        for name in ("ts", "owner_ids", "data_classes", *KEY_COLUMNS)
    }
    pairs: dict[str, set[tuple[str, str]]] = {actor: set() for actor in wanted}
    for position, row in enumerate(rows):
        ts = columns["ts"][position]
        prevented = any(
            (value := columns[column][position]) is not None
            and (kind, value) in stops
            and stops[(kind, value)] <= ts
            for column, kind in KEY_COLUMNS.items()
        )
        if prevented:
            continue
        owners = columns["owner_ids"][position] or []
        classes = columns["data_classes"][position] or []
        pairs[labels[row] or ""].update((owner, c) for owner in owners for c in classes)
    return {actor: len(found) for actor, found in pairs.items()}


def score(
    truth: GroundTruth,
    flags: Sequence[FlaggedEntity],
    *,
    actions: Sequence[EnforcementAction] | None = None,
    events: pa.Table | None = None,
    labels: Sequence[str | None] | None = None,
) -> Scores:
    """Every metric for one run. Without ``actions`` the guard is taken to block every flagged
    key when flagged; without ``events`` and ``labels`` records disclosed are not computed."""
    if actions is None:
        actions = actions_from_flags(flags)
    attribution = [attribute(entity, truth) for entity in flags]
    adversaries = {a.actor_id: a for a in truth.actors.values() if a.adversary}
    first_detection: dict[str, datetime] = {}
    false_entities = 0
    true_by_class: dict[str, int] = {}
    for entity, actor_id in zip(flags, attribution, strict=True):
        if actor_id is None or actor_id not in adversaries:
            false_entities += 1
            continue
        actor_class = adversaries[actor_id].actor_class
        true_by_class[actor_class] = true_by_class.get(actor_class, 0) + 1
        known = first_detection.get(actor_id)
        first_detection[actor_id] = (
            entity.detected_at if known is None else min(known, entity.detected_at)
        )
    disclosed: Mapping[str, int] = {}
    if events is not None and labels is not None:
        disclosed = records_disclosed(events, labels, actions, adversaries)
    per_class: dict[str, ClassScore] = {}
    overall = ClassScore(false_entities=false_entities)
    for actor_id, actor in sorted(adversaries.items()):
        cls = per_class.setdefault(actor.actor_class, ClassScore(false_entities=false_entities))
        for target in (cls, overall):
            target.actors += 1
            if actor_id in disclosed:
                target.records_disclosed.append(disclosed[actor_id])
            if actor_id in first_detection:
                target.detected += 1
                start = actor.first_harvest_at or first_detection[actor_id]
                # a flag before the first harvesting request counts as instant detection
                delay = max(0.0, (first_detection[actor_id] - start).total_seconds())
                target.detection_seconds.append(delay)
    for actor_class, count in true_by_class.items():
        per_class[actor_class].true_entities = count
    overall.true_entities = sum(true_by_class.values())
    benign = [a for a in truth.actors.values() if not a.adversary]
    return Scores(
        per_class=per_class,
        overall=overall,
        attribution=attribution,
        benign_actors=len(benign),
        benign_acted_on=len(benign_acted_on(truth, actions)),
    )
