"""What happened in a demo run, per adversary and for the benign actors, from three records kept
apart: the runner's ground truth (who sent which request), the guard's events (what each request
disclosed and what enforcement did), and the cases' audit log (when each decision was taken).

Times are the platform's (virtual) time, the clock the guard and the simulator share.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from harvestguard.enforce.case_models import AuditEntry, Case
from harvestguard.enforce.ladder import LADDER_KINDS
from harvestguard.simulate.groundtruth import GroundTruth

STOPPING = frozenset({"block", "ban"})
DECISIONS = frozenset({"throttle", "challenge", *STOPPING})


@dataclass(slots=True)
class AdversaryOutcome:
    actor_id: str
    actor_class: str
    requests: int = 0
    refused: int = 0
    started_at: datetime | None = None  # its first harvesting request
    detected_at: datetime | None = None  # its case was opened
    # the block or ban that stopped it: the first after which it obtained at most a trickle
    # (else its first), so a first action on one of its addresses does not count as the stop
    # while the rest of its pool goes on collecting
    stopped_at: datetime | None = None
    records_before_stop: int = 0  # distinct (owner, data class) obtained before stopped_at
    records_after_stop: int = 0  # obtained afterwards, through keys not yet known
    stops: list[datetime] = field(default_factory=list)  # every block or ban, in time order
    actions: list[str] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)

    @property
    def detection_seconds(self) -> float | None:
        if self.detected_at is None or self.started_at is None:
            return None
        return max(0.0, (self.detected_at - self.started_at).total_seconds())

    @property
    def obtained_nothing(self) -> bool:
        return self.records_before_stop == 0 and self.records_after_stop == 0

    @property
    def contained(self) -> bool:
        """Stopped, or never got a personal record to stop."""
        return self.stopped or self.obtained_nothing

    @property
    def stopped(self) -> bool:
        """Stopped: blocked or banned, and what it obtained afterwards is at most a twentieth of
        what it had obtained before (a rotating actor's fresh addresses get a few requests
        through before they are linked to it)."""
        return self.stopped_at is not None and _trickle(
            self.records_before_stop, self.records_after_stop
        )


def _trickle(before: int, after: int) -> bool:
    return after <= max(5, before // 20)


@dataclass(slots=True)
class DemoOutcome:
    adversaries: list[AdversaryOutcome]
    benign_actors: int
    benign_refused: list[str]  # benign actors that had any request refused

    @property
    def every_adversary_contained(self) -> bool:
        return bool(self.adversaries) and all(a.contained for a in self.adversaries)


def demo_outcome(
    truth: GroundTruth,
    labels: pa.Table,
    events: pa.Table,
    cases: Sequence[Case],
    audit: Iterable[AuditEntry],
) -> DemoOutcome:
    actor_of = dict(
        zip(
            labels.column("request_id").to_pylist(),
            labels.column("actor_id").to_pylist(),
            strict=True,
        )
    )
    adversaries = {
        actor_id: AdversaryOutcome(actor_id, record.actor_class, started_at=record.first_harvest_at)
        for actor_id, record in truth.actors.items()
        if record.adversary
    }
    # the keys decisions are taken on: a shared browser fingerprint in a case is evidence, and
    # would attribute one adversary's case to another that uses the same browser build
    keys_of = {
        actor_id: {k for k in truth.keys_of(actor_id) if k[0] in LADDER_KINDS}
        for actor_id in adversaries
    }
    entries: dict[str, list[AuditEntry]] = defaultdict(list)
    for entry in audit:
        entries[entry.case_id].append(entry)
    for case in cases:
        for actor_id, outcome in adversaries.items():
            if not case.keys & keys_of[actor_id]:
                continue
            outcome.cases.append(case.id)
            if outcome.detected_at is None or case.opened_at < outcome.detected_at:
                outcome.detected_at = case.opened_at
            for entry in sorted(entries[case.id], key=lambda e: e.at):
                action = entry.action.split(" ")[0]
                if action not in DECISIONS:
                    continue
                if action not in outcome.actions:
                    outcome.actions.append(action)
                if action in STOPPING:
                    outcome.stops.append(entry.at)
    obtained: dict[str, list[tuple[datetime, set[tuple[str, str]]]]] = defaultdict(list)
    benign_seen: set[str] = set()
    benign_refused: set[str] = set()
    for row in events.select(
        ["request_id", "ts", "status", "decision", "owner_ids", "data_classes"]
    ).to_pylist():
        sender = actor_of.get(row["request_id"])
        if sender is None:
            continue  # the demo's own probes
        refused = row["decision"] not in (None, "allow")
        if sender in adversaries:
            outcome = adversaries[sender]
            outcome.requests += 1
            outcome.refused += refused
            if 200 <= int(row["status"]) < 300:
                records = {
                    (owner, data_class)
                    for owner in row["owner_ids"] or ()
                    for data_class in row["data_classes"] or ()
                }
                obtained[sender].append((row["ts"], records))
        else:
            benign_seen.add(sender)
            if refused:
                benign_refused.add(sender)
    for actor_id, outcome in adversaries.items():
        outcome.stops.sort()
        splits = [(at, _split(obtained[actor_id], at)) for at in outcome.stops]
        # the first stop after which only a trickle came, else the first (not stopped)
        chosen = next((s for s in splits if _trickle(*s[1])), splits[0] if splits else None)
        if chosen is None:
            outcome.records_before_stop = _split(obtained[actor_id], None)[0]
        else:
            outcome.stopped_at = chosen[0]
            outcome.records_before_stop, outcome.records_after_stop = chosen[1]
    return DemoOutcome(
        adversaries=sorted(adversaries.values(), key=lambda a: a.actor_id),
        benign_actors=len(benign_seen),
        benign_refused=sorted(benign_refused),
    )


def _split(
    obtained: list[tuple[datetime, set[tuple[str, str]]]], at: datetime | None
) -> tuple[int, int]:
    """Distinct records obtained before ``at``, and new ones from ``at`` on (all before: None)."""
    before: set[tuple[str, str]] = set()
    after: set[tuple[str, str]] = set()
    for moment, records in obtained:
        (after if at is not None and moment >= at else before).update(records)
    return len(before), len(after - before)
