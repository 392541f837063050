"""Incident reports: the affected accounts checked against the events (computed here with
pyarrow, independently of the report's DuckDB query), the notification rule, the outputs."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from pypdf import PdfReader

from harvestguard.detect.findings import ActorKey
from harvestguard.enforce.case_models import Case
from harvestguard.enforce.cases import CaseError, CaseStore
from harvestguard.enforce.incident import (
    AffectedAccount,
    NotificationRule,
    affected_accounts,
    build_incident,
)
from tests.case_helpers import harvester, simulated, write_store

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
COLUMNS = {
    "account": "actor_account",
    "client": "actor_client",
    "session": "session",
    "ip": "ip",
    "net": "net",
    "fingerprint": "fingerprint",
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CaseStore]:
    cases = CaseStore(f"sqlite:///{tmp_path / 'cases.db'}")
    yield cases
    cases.close()


@pytest.fixture
def case(store: CaseStore) -> Case:
    opened = store.open_or_update(harvester(simulated().report), NOW)
    return store.confirm(opened.id, "alice", "venue sweep", NOW)


def expected_accounts(
    events: pa.Table, keys: frozenset[ActorKey], start: datetime, end: datetime
) -> dict[str, tuple[set[str], int]]:
    """owner -> (data classes, requests), straight from the event rows in Python."""
    wanted = {(COLUMNS[kind], value) for kind, value in keys if kind in COLUMNS}
    own = {value for kind, value in keys if kind == "account"}
    found: dict[str, tuple[set[str], int]] = {}
    for event in events.to_pylist():
        if not start <= event["ts"] <= end:
            continue
        if not any((column, event[column]) in wanted for column in COLUMNS.values()):
            continue
        for owner in event["owner_ids"]:
            if owner in own:
                continue
            classes, requests = found.get(owner, (set(), 0))
            found[owner] = (classes | set(event["data_classes"]), requests + 1)
    return found


def _as_dict(
    accounts: list[AffectedAccount] | tuple[AffectedAccount, ...],
) -> dict[str, tuple[set[str], int]]:
    return {a.account_id: (set(a.data_classes), a.requests) for a in accounts}


def test_the_affected_accounts_are_those_in_the_events(case: Case, tmp_path: Path) -> None:
    events = simulated().events
    url = write_store(events, tmp_path / "events")
    report = build_incident(case, url, generated_at=NOW)
    evidence = case.evidence
    assert evidence.first_seen is not None and evidence.last_seen is not None
    assert (report.period_start, report.period_end) == (evidence.first_seen, evidence.last_seen)
    expected = expected_accounts(events, case.keys, evidence.first_seen, evidence.last_seen)
    assert _as_dict(report.accounts) == expected
    assert [a.account_id for a in report.accounts] == sorted(expected)
    # the case's principals obtained at least the owners its evidence counted
    assert len(report.accounts) >= evidence.owners > 0
    for name, count in report.accounts_by_class.items():
        assert count == sum(1 for classes, _ in expected.values() if name in classes)
    # a table of events gives the same as the Parquet store
    assert build_incident(case, events, generated_at=NOW).accounts == report.accounts


def test_the_period_bounds_the_accounts(case: Case) -> None:
    events = simulated().events
    start = case.evidence.first_seen
    assert start is not None
    end = start + timedelta(hours=3)
    report = build_incident(case, events, start=start, end=end)
    expected = expected_accounts(events, case.keys, start, end)
    assert _as_dict(report.accounts) == expected
    assert len(report.accounts) < len(build_incident(case, events).accounts)
    for account in report.accounts:
        assert start <= account.first_seen <= account.last_seen <= end


def test_the_harvester_meets_the_individual_notification_threshold(case: Case) -> None:
    events = simulated().events
    report = build_incident(case, events, generated_at=NOW)
    tracked = sum(1 for a in report.accounts if {"location", "ephemeral"} <= set(a.data_classes))
    assert tracked >= NotificationRule().high_risk_min_accounts
    assessment = report.assessment
    assert assessment.level == "high risk"
    assert assessment.notify_authority and assessment.notify_individuals
    assert assessment.authority_deadline == case.opened_at + timedelta(hours=72)
    assert f"{tracked} members had both their location and their stories taken" in (
        assessment.reasons
    )


def _accounts(count: int, classes: tuple[str, ...]) -> list[AffectedAccount]:
    return [AffectedAccount(str(n), classes, 1, NOW, NOW) for n in range(count)]


@pytest.mark.parametrize(
    ("accounts", "level"),
    [
        (_accounts(99, ("identity", "photo")), "unlikely to result in a risk"),
        (_accounts(100, ("identity", "photo")), "risk"),
        (_accounts(1, ("identity", "location")), "risk"),
        (_accounts(9, ("location", "ephemeral")), "risk"),
        (_accounts(10, ("location", "ephemeral")), "high risk"),
        (_accounts(10, ("identity", "contact")), "high risk"),
        (_accounts(999, ("location",)), "risk"),
        (_accounts(1000, ("location",)), "high risk"),
        ([], "unlikely to result in a risk"),
    ],
)
def test_the_notification_rule(accounts: list[AffectedAccount], level: str) -> None:
    assessment = NotificationRule().assess(accounts, NOW)
    assert assessment.level == level
    assert assessment.notify_authority == (level != "unlikely to result in a risk")
    assert assessment.notify_individuals == (level == "high risk")
    deadline = NOW + timedelta(hours=72) if assessment.notify_authority else None
    assert assessment.authority_deadline == deadline
    assert assessment.reasons


def test_the_report_files(case: Case, tmp_path: Path) -> None:
    report = build_incident(case, simulated().events, generated_at=NOW)
    paths = report.write(tmp_path / "out")

    rows = list(csv.DictReader(io.StringIO(paths["csv"].read_text(encoding="utf-8"))))
    assert [r["account_id"] for r in rows] == [a.account_id for a in report.accounts]
    assert [r["data_classes"].split(";") for r in rows] == [
        list(a.data_classes) for a in report.accounts
    ]
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["affected_accounts"] == len(report.accounts) == len(data["accounts"])
    assert data["assessment"]["notify_individuals"] is True
    assert data["case_id"] == case.id

    pdf = PdfReader(paths["pdf"])
    text = " ".join(" ".join(page.extract_text() for page in pdf.pages).split())
    deadline = report.assessment.authority_deadline
    assert deadline is not None
    for expected in (
        f"Case {case.id}",
        f"Affected members {len(report.accounts)}",
        "Level: high risk.",
        f"Notify the supervisory authority by {deadline:%Y-%m-%d %H:%M} UTC",
        f"affected-{case.id}.csv",
        *(f"Clause {clause}" for clause in case.evidence.clauses),
    ):
        assert expected in text, expected
    html = paths["html"].read_text(encoding="utf-8")
    for account in report.accounts:
        assert f"<td>{account.account_id}</td>" in html


def test_bad_requests_are_refused(store: CaseStore, case: Case, tmp_path: Path) -> None:
    events = simulated().events
    with pytest.raises(ValueError, match="user agents"):
        affected_accounts(events, [("ua", "Mozilla/5.0")], NOW - timedelta(days=1), NOW)
    with pytest.raises(ValueError, match="timezone"):
        affected_accounts(events, case.keys, datetime(2025, 6, 2), NOW)
    with pytest.raises(ValueError, match="ends before"):
        build_incident(case, events, start=NOW, end=NOW - timedelta(hours=1))
    with pytest.raises(FileNotFoundError):
        build_incident(case, f"parquet:{tmp_path / 'nothing'}")
    with pytest.raises(ValueError, match="unknown event sink"):
        build_incident(case, "s3:bucket")
    dismissed = store.dismiss(case.id, "bob", "benign after all")
    with pytest.raises(CaseError, match="dismissed"):
        build_incident(dismissed, events)


def test_an_empty_store_has_no_affected_accounts(case: Case, tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    report = build_incident(case, f"parquet:{tmp_path / 'events'}")
    assert report.accounts == ()
    assert report.assessment.level == "unlikely to result in a risk"
