"""The dashboard's case actions on a real case store and an in-process decision table (as when
the dashboard is mounted in the app's process): a ban covers the keys the ladder acts on and
reaches the platform; a lift undoes both; each is in the case's audit log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from harvestguard.dashboard.actions import CaseActions, NoDecisionStore
from harvestguard.enforce.cases import CaseError, CaseStore
from harvestguard.enforce.ladder import Ladder
from harvestguard.enforce.levels import Level
from harvestguard.enforce.table import DecisionTable
from tests.case_helpers import harvester, simulated
from tests.enforce_helpers import RecordingPlatform


@pytest.fixture
def store(tmp_path: Path) -> CaseStore:
    return CaseStore(f"sqlite:///{tmp_path / 'cases.db'}")


def test_a_ban_and_its_lift(store: CaseStore, tmp_path: Path) -> None:
    entity = harvester(simulated().report)
    case = store.open_or_update(entity)
    table, platform = DecisionTable(), RecordingPlatform()
    actions = CaseActions(store, Ladder(table, platform), tmp_path / "reports")

    records = actions.ban(case.id, "dana", "confirmed harvester")
    banned = {r.key for r in records}
    assert banned == {k for k in case.keys if k[0] != "fingerprint"}
    assert all(r.level is Level.BAN and r.by == "dana" and r.case_id == case.id for r in records)
    for record in records:
        assert record.expires_at is not None
        longest = timedelta(days=7 if record.key[0] in ("ip", "net") else 30)
        assert record.expires_at - record.created_at == longest
    assert platform.disabled == {v for k, v in case.keys if k == "account"}
    assert platform.revoked == set(case.clients)
    entry = store.audit(case.id)[-1]
    assert (entry.action, entry.by, entry.reason) == ("ban", "dana", "confirmed harvester")
    assert sorted(map(tuple, entry.details["keys"])) == sorted(banned)

    lifted = actions.lift(case.id, "erin", "agreed to delete everything")
    assert lifted.status.value == "lifted"
    assert table.active() == []
    assert not platform.disabled and not platform.revoked
    assert store.audit(case.id)[-1].details["decisions_removed"] == len(records)


def test_bad_actions_are_refused(store: CaseStore, tmp_path: Path) -> None:
    case = store.open_or_update(harvester(simulated().report))
    without = CaseActions(store, None, tmp_path)
    with pytest.raises(NoDecisionStore):
        without.ban(case.id, "dana", "why")
    with pytest.raises(NoDecisionStore):
        without.lift(case.id, "dana", "why")
    actions = CaseActions(store, Ladder(DecisionTable()), tmp_path)
    with pytest.raises(CaseError, match="note"):
        actions.ban(case.id, "dana", "  ")
    with pytest.raises(CaseError, match="no case"):
        actions.ban("C-nothing", "dana", "why")
    with pytest.raises(CaseError, match="unknown action"):
        actions.verb(case.id, "delete", "dana", "why")
    assert [e.action for e in store.audit(case.id)] == ["opened"]
