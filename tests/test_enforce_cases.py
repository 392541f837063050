"""The case store: cases from real detected entities, their evidence, the analysts' verbs, the
append-only audit log, and the feedback the evaluation can use."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DatabaseError

from harvestguard.detect import DetectionEngine, Entity
from harvestguard.enforce.case_models import CaseStatus, Verdict
from harvestguard.enforce.cases import CaseError, CaseStore
from harvestguard.enforce.levels import Level
from harvestguard.enforce.records import DecisionRecord
from harvestguard.enforce.table import DecisionTable
from harvestguard.evaluate.metrics import FlaggedEntity, attribute
from tests.case_helpers import harvester, simulated
from tests.postgres_helpers import PostgresServer

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CaseStore]:
    cases = CaseStore(f"sqlite:///{tmp_path / 'cases' / 'cases.db'}")
    yield cases
    cases.close()


def test_a_flagged_entity_opens_a_case_holding_its_evidence(store: CaseStore) -> None:
    entity = harvester(simulated().report)
    case = store.open_or_update(entity, NOW)

    assert case.status is CaseStatus.OPEN and case.verdict is None
    assert case.keys == entity.keys
    assert case.entity_id == entity.id and case.risk == pytest.approx(entity.risk, abs=1e-4)
    evidence, exposure = case.evidence, entity.exposure
    assert evidence.requests == exposure.requests
    assert evidence.owners == exposure.owners
    assert evidence.records == exposure.records == sum(exposure.records_by_class.values())
    assert evidence.records_by_class == exposure.records_by_class
    assert (evidence.first_seen, evidence.last_seen) == (exposure.first_seen, exposure.last_seen)
    assert evidence.sample_request_ids == exposure.sample_request_ids
    assert set(evidence.clauses) == {f.tos_clause for f in entity.findings}
    assert [d.detector for d in evidence.detectors] == entity.detectors
    for detector in evidence.detectors:
        mine = [f for f in entity.findings if f.detector == detector.detector]
        assert detector.keys == len({f.key for f in mine})
        assert detector.window_start == min(f.window_start for f in mine)
        assert detector.window_end == max(f.window_end for f in mine)
    # the store gives back what it was given
    assert store.get(case.id) == case

    (opened,) = store.audit(case.id)
    assert (opened.action, opened.by, opened.at) == ("opened", "detection", NOW)
    assert opened.details["records"] == exposure.records


def test_detection_rerun_changes_nothing_and_logs_nothing(store: CaseStore) -> None:
    flagged = simulated().report.flagged
    first = [store.open_or_update(entity, NOW) for entity in flagged]
    log = store.audit()
    again = [store.open_or_update(entity, NOW + timedelta(hours=1)) for entity in flagged]
    assert [c.id for c in again] == [c.id for c in first]
    assert len({c.id for c in first}) == len(flagged)
    assert store.audit() == log
    assert len(store.list()) == len(flagged)


def test_new_evidence_updates_the_same_case_and_is_audited(store: CaseStore) -> None:
    events = simulated().events
    entity = harvester(simulated().report)
    # detection over the first hours only: the harvester had obtained less by then
    assert entity.exposure.first_seen is not None
    cutoff = pa.scalar(entity.exposure.first_seen + timedelta(hours=5), pa.timestamp("us", "UTC"))
    early_report = DetectionEngine().run(events.filter(pc.less(events["ts"], cutoff)))
    early = harvester(early_report)
    assert early.exposure.records < entity.exposure.records

    case = store.open_or_update(early, NOW)
    updated = store.open_or_update(entity, NOW + timedelta(hours=1))
    assert updated.id == case.id
    assert updated.evidence.records == entity.exposure.records
    assert updated.keys == early.keys | entity.keys
    assert updated.updated_at == NOW + timedelta(hours=1)
    _, update = store.audit(case.id)
    assert update.action == "updated"
    assert update.details["records"] == [early.exposure.records, entity.exposure.records]
    assert update.details["new_keys"] == sorted(list(k) for k in entity.keys - early.keys)


def test_an_entity_goes_to_the_case_sharing_most_of_its_keys(store: CaseStore) -> None:
    entity = harvester(simulated().report)
    keys = sorted(entity.keys)
    small = store.open_or_update(dataclasses.replace(entity, keys=frozenset(keys[:2])), NOW)
    large = store.open_or_update(dataclasses.replace(entity, keys=frozenset(keys[2:])), NOW)
    assert small.id != large.id
    merged = store.open_or_update(entity, NOW + timedelta(minutes=1))
    assert merged.id == large.id
    assert store.find(keys[0])[0].id == small.id
    assert {c.id for c in store.find(keys[-1])} == {large.id}


def test_an_entity_without_keys_to_act_on_is_refused(store: CaseStore) -> None:
    entity = harvester(simulated().report)
    with pytest.raises(CaseError, match="no key"):
        store.open_or_update(dataclasses.replace(entity, keys=frozenset()), NOW)
    with pytest.raises(CaseError, match="timezone"):
        store.open_or_update(entity, datetime(2025, 6, 2, 12, 0))
    assert store.list() == []


def test_analyst_verbs_change_the_status_and_are_audited(store: CaseStore) -> None:
    case = store.open_or_update(harvester(simulated().report), NOW)
    store.escalate(case.id, "alice", "legal should see this", NOW + timedelta(minutes=1))
    confirmed = store.confirm(case.id, "bob", "venue sweep via proxies", NOW + timedelta(minutes=2))
    assert (confirmed.status, confirmed.verdict) == (CaseStatus.CONFIRMED, Verdict.CONFIRMED)
    lifted = store.lift(case.id, "carol", "deletion certified", now=NOW + timedelta(minutes=3))
    # lifting lets the entity back in; it does not undo the verdict
    assert (lifted.status, lifted.verdict) == (CaseStatus.LIFTED, Verdict.CONFIRMED)
    assert store.list(CaseStatus.LIFTED) == [lifted]
    assert store.list("open") == []

    log = [(e.action, e.by, e.reason, e.details.get("from")) for e in store.audit(case.id)]
    assert log[1:] == [
        ("escalated", "alice", "legal should see this", "open"),
        ("confirmed", "bob", "venue sweep via proxies", "escalated"),
        ("lifted", "carol", "deletion certified", "confirmed"),
    ]


def test_bad_analyst_actions_are_refused_and_change_nothing(store: CaseStore) -> None:
    case = store.open_or_update(harvester(simulated().report), NOW)
    store.dismiss(case.id, "alice", "a known research crawler")
    before = (store.get(case.id), store.audit(case.id))
    with pytest.raises(CaseError, match="dismissed"):
        store.dismiss(case.id, "alice", "again")
    with pytest.raises(CaseError, match="name"):
        store.confirm(case.id, " ", "no name")
    with pytest.raises(CaseError, match="why"):
        store.confirm(case.id, "alice", "")
    with pytest.raises(CaseError, match="no case"):
        store.confirm("C-nope", "alice", "unknown case")
    with pytest.raises(CaseError, match="no case"):
        store.record_action("C-nope", "notice", "alice", "unknown case")
    assert (store.get(case.id), store.audit(case.id)) == before
    store.lift(case.id, "alice", "dismissed: let it back in")
    with pytest.raises(CaseError, match="cannot be lifted"):
        store.lift(case.id, "alice", "again", decisions=DecisionTable())
    with pytest.raises(CaseError, match="cannot be lifted"):
        store.lift(case.id, "alice", "again")


def test_lift_also_lifts_the_case_decisions(store: CaseStore) -> None:
    entity = harvester(simulated().report)
    case = store.open_or_update(entity, NOW)
    table = DecisionTable()
    for key in sorted(entity.keys):
        table.put(
            DecisionRecord(key, Level.BAN, "harvesting", "ladder", NOW, None, case_id=case.id)
        )
    assert len(table.active(NOW)) == len(entity.keys)
    store.lift(case.id, "carol", "deletion certified", decisions=table, now=NOW)
    assert table.active(NOW) == []
    lifted = store.audit(case.id)[-1]
    assert lifted.details["keys_lifted"] == len(entity.keys)
    assert lifted.details["decisions_removed"] == len(entity.keys)


def test_the_audit_log_is_append_only_in_the_database(store: CaseStore) -> None:
    case = store.open_or_update(harvester(simulated().report), NOW)
    store.record_action(case.id, "notice", "alice", "sent", {"certify_by": "2025-06-16"})
    before = store.audit(case.id)
    for statement in (
        "UPDATE hg_case_audit SET by = 'mallory'",
        "DELETE FROM hg_case_audit",
        "DELETE FROM hg_cases",  # the log's case cannot go either
    ):
        with (
            pytest.raises(DatabaseError, match=r"append-only|FOREIGN KEY"),
            store.engine.begin() as db,
        ):
            db.execute(text(statement))
    assert store.audit(case.id) == before
    # a second store on the same file finds the schema and keeps the protection
    reopened = CaseStore(store.url)
    assert reopened.audit(case.id) == before
    with pytest.raises(DatabaseError, match="append-only"), reopened.engine.begin() as db:
        db.execute(text("UPDATE hg_case_audit SET reason = ''"))
    reopened.close()


def test_no_store_method_rewrites_the_audit_log(store: CaseStore) -> None:
    statements: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def _record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()).upper())

    flagged = simulated().report.flagged
    cases = [store.open_or_update(entity, NOW) for entity in flagged]
    store.open_or_update(dataclasses.replace(flagged[0], risk=0.99), NOW)
    store.confirm(cases[0].id, "alice", "yes")
    store.escalate(cases[0].id, "alice", "legal")
    store.dismiss(cases[1].id, "alice", "no")
    store.lift(cases[0].id, "alice", "certified", decisions=DecisionTable())
    store.record_action(cases[0].id, "notice", "alice", "sent")
    store.feedback()
    store.list()
    assert any(s.startswith("INSERT INTO HG_CASE_AUDIT") for s in statements)
    assert any(s.startswith("UPDATE HG_CASES") for s in statements)
    rewrites = [s for s in statements if s.startswith(("UPDATE HG_CASE_AUDIT", "DELETE"))]
    assert rewrites == []


def test_feedback_labels_the_judged_cases_for_the_evaluation(store: CaseStore) -> None:
    sim = simulated()
    # detection flags no benign actor on this seed: an analyst looks at one anyway
    benign_keys = next(
        keys
        for actor in sorted(sim.truth.actors)
        if not sim.truth.actors[actor].adversary
        and (keys := frozenset(k for k in sim.truth.keys_of(actor) if k[0] == "account"))
    )
    looked_at = dataclasses.replace(
        harvester(sim.report), id="E-benign", keys=benign_keys, members=benign_keys
    )
    judged: dict[str, bool] = {}
    for entity in [looked_at, *sim.report.flagged]:
        case = store.open_or_update(entity, NOW)
        actor = attribute(_flag(entity), sim.truth)
        adversary = actor is not None and sim.truth.actors[actor].adversary
        if len(judged) % 3 == 2:
            continue  # some cases stay unjudged
        if adversary:
            store.confirm(case.id, "alice", f"attributed to {actor}")
        else:
            store.dismiss(case.id, "alice", "benign")
        judged[case.id] = adversary
    store.escalate(next(iter(judged)), "bob", "after the verdict")

    outcomes = store.feedback()
    assert {o.case_id: o.adversary for o in outcomes} == judged
    assert {o.verdict for o in outcomes} == {Verdict.CONFIRMED, Verdict.DISMISSED}
    for outcome in outcomes:
        assert outcome.keys == store.get(outcome.case_id).keys
        assert outcome.by == "alice"
        assert (outcome.verdict is Verdict.CONFIRMED) == outcome.adversary
        # the labels work with the evaluation's own attribution
        actor = attribute(FlaggedEntity(keys=outcome.keys, detected_at=NOW), sim.truth)
        assert outcome.adversary == (actor is not None and sim.truth.actors[actor].adversary)


def _flag(entity: Entity) -> FlaggedEntity:
    return entity.to_flagged_entity()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


def test_the_store_on_postgresql(postgres: PostgresServer) -> None:
    store = CaseStore(postgres.url)
    entity = harvester(simulated().report)
    case = store.open_or_update(entity, NOW)
    assert store.get(case.id) == case
    store.confirm(case.id, "alice", "venue sweep", NOW)
    before = store.audit(case.id)
    for statement in (
        "UPDATE hg_case_audit SET by = 'mallory'",
        "DELETE FROM hg_case_audit",
        "TRUNCATE hg_case_audit CASCADE",
    ):
        with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as db:
            db.execute(text(statement))
    # opening it again finds the tables and replaces the triggers with themselves
    again = CaseStore(postgres.url)
    assert again.audit(case.id) == before
    assert [o.case_id for o in again.feedback()] == [case.id]
    with pytest.raises(DatabaseError, match="append-only"), again.engine.begin() as db:
        db.execute(text("DELETE FROM hg_case_audit"))
    again.close()
    store.close()
