"""The live enforcement loop over a simulated day: every adversary the engine flags gets a case,
decisions on its keys and an audited trail; no person's key is ever acted on."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from harvestguard.detect import DetectionEngine, DetectionReport
from harvestguard.detect.context import context_from_world
from harvestguard.detect.incremental import IncrementalDetector
from harvestguard.enforce.cases import CaseStore
from harvestguard.enforce.ladder import Ladder
from harvestguard.enforce.levels import Level
from harvestguard.enforce.loop import EnforcementLoop
from harvestguard.enforce.records import DecisionRecord
from harvestguard.enforce.table import DecisionTable
from harvestguard.events import from_arrow
from harvestguard.simulate import RunResult
from harvestguard.simulate.groundtruth import ActorKey, GroundTruth
from tests.enforce_helpers import RecordingPlatform
from tests.simulate_helpers import tiny_run
from tests.test_detect_modes import _slices


class _EventClock:
    """Time as the events tell it: the latest one the loop was given."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def now(self) -> datetime:
        assert self.at is not None
        return self.at

    def seconds(self, real_seconds: float) -> float:
        return real_seconds


def _owners(truth: GroundTruth, keys: frozenset[ActorKey]) -> set[str]:
    return {record.actor_id for key in keys for record in truth.actors_of(key)}


@dataclass
class Enforced:
    run: RunResult
    table: DecisionTable
    cases: CaseStore
    platform: RecordingPlatform
    loop: EnforcementLoop
    batch: DetectionReport
    decided: list[DecisionRecord]  # every decision the loop took, expired ones included


@pytest.fixture(scope="module")
def enforced(tmp_path_factory: pytest.TempPathFactory) -> Enforced:
    run = tiny_run()
    assert run.events is not None and run.world is not None
    context = context_from_world(run.world)
    clock = _EventClock()
    table = DecisionTable(clock=clock.now)
    platform = RecordingPlatform()
    cases = CaseStore(f"sqlite:///{tmp_path_factory.mktemp('loop') / 'cases.db'}")
    loop = EnforcementLoop(
        IncrementalDetector(DetectionEngine(), context, evaluate_every_seconds=600),
        Ladder(table, platform),
        cases=cases,
        clock=clock,
        context=lambda: context,
    )
    decided = []
    for piece in _slices(run.events, 300):
        if piece.num_rows == 0:
            continue
        for event in from_arrow(piece):
            loop.submit(event)
        clock.at = pc.max(piece.column("ts")).as_py()
        decided += loop.step()
    batch = DetectionEngine().run(run.events, context)
    return Enforced(run, table, cases, platform, loop, batch, decided)


def test_every_adversary_the_engine_flags_is_acted_on(enforced: Enforced) -> None:
    truth = enforced.run.ground_truth
    acted = {record.key for record in enforced.decided}
    flagged = enforced.batch.flagged
    assert flagged
    for entity in flagged:
        assert entity.keys & acted, f"entity {entity.id} ({entity.detectors}) was not acted on"
    adversaries = {a for e in flagged for a in _owners(truth, e.keys) if truth.actors[a].adversary}
    assert len(adversaries) >= 3


def test_no_person_is_acted_on(enforced: Enforced) -> None:
    truth = enforced.run.ground_truth
    for record in enforced.decided:
        users = {r.actor_id for r in truth.actors_of(record.key)}
        benign = {u for u in users if not truth.actors[u].adversary}
        assert not benign, f"{record.key} ({record.level.name}) is used by benign {benign}"


def test_each_case_holds_its_decisions_in_the_audit_log(enforced: Enforced) -> None:
    cases = enforced.cases
    by_case: dict[str, set[Level]] = defaultdict(set)
    for record in enforced.decided:
        assert record.case_id is not None
        by_case[record.case_id].add(record.level)
    assert by_case
    for case_id, levels in by_case.items():
        actions = {entry.action for entry in cases.audit(case_id)}
        assert "opened" in actions
        assert {level.name.lower() for level in levels} <= actions
        assert cases.get(case_id).evidence.detectors


def test_a_ban_disables_the_entitys_accounts_and_revokes_its_app(
    enforced: Enforced,
) -> None:
    table, platform = enforced.table, enforced.platform
    banned = [r for r in enforced.decided if r.level == Level.BAN]
    assert banned, "the harvesters of the scenario reach the top of the ladder"
    assert all(table.records_for(r.key) for r in banned), "a ban lasts beyond the day"
    assert {r.key[1] for r in banned if r.key[0] == "account"} == platform.disabled
    assert {r.key[1] for r in banned if r.key[0] == "client"} == platform.revoked


def test_a_failed_step_loses_no_event(enforced: Enforced) -> None:
    loop, events_table = enforced.loop, enforced.run.events
    assert events_table is not None
    events = from_arrow(events_table.slice(0, 5))
    broken = EnforcementLoop(loop.detector, loop.ladder)

    def fail(_batch: pa.Table) -> list[object]:
        raise RuntimeError("engine down")

    original = broken.detector.add
    broken.detector.add = fail  # type: ignore[method-assign,assignment]
    try:
        for event in events:
            broken.submit(event)
        with pytest.raises(RuntimeError):
            broken.step()
        assert len(broken._queue) == len(events)
    finally:
        broken.detector.add = original  # type: ignore[method-assign]


def test_the_loop_refuses_a_nonsense_interval(enforced: Enforced) -> None:
    loop = enforced.loop
    with pytest.raises(ValueError, match="interval"):
        EnforcementLoop(loop.detector, loop.ladder, interval=0)


def test_closing_judges_what_is_still_queued(
    enforced: Enforced, tmp_path_factory: pytest.TempPathFactory
) -> None:
    events_table = enforced.run.events
    assert events_table is not None
    loop = EnforcementLoop(
        IncrementalDetector(DetectionEngine()),
        Ladder(DecisionTable()),
        cases=CaseStore(f"sqlite:///{tmp_path_factory.mktemp('close') / 'cases.db'}"),
        interval=3600,  # the thread never steps by itself here
        status_path=tmp_path_factory.mktemp("status") / "status.json",
    )
    loop.start()
    for event in from_arrow(events_table.slice(0, 50)):
        loop.submit(event)
    loop.close()
    assert loop.stats.events == 50 and loop.stats.steps == 1
    assert loop.status_path is not None
    assert json.loads(loop.status_path.read_text())["events"] == 50
