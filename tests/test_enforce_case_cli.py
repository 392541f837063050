"""``harvestguard case ...`` end to end on simulated events: open, list, show, the analyst
verbs, notice and incident; bad input is refused with a clear message and changes nothing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from harvestguard.cli import app
from harvestguard.enforce.case_models import Case, CaseStatus
from harvestguard.enforce.cases import CaseStore
from tests.case_helpers import client_of, harvester, simulated, write_store

runner = CliRunner()


@pytest.fixture
def events(tmp_path: Path) -> str:
    return write_store(simulated().events, tmp_path / "events")


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'cases.db'}"


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["case", *args])
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def opened(db: str) -> Case:
    """The harvester's case, opened through the API (the CLI's `open` is tested once)."""
    store = CaseStore(db)
    case = store.open_or_update(harvester(simulated().report))
    store.close()
    return case


def _harvester_case(db: str) -> Case:
    store = CaseStore(db)
    client = client_of(harvester(simulated().report))
    (case,) = store.find(("client", client))
    store.close()
    return case


def test_open_list_show_and_the_verbs(events: str, db: str) -> None:
    code, output = _run("open", events, "--db", db)
    assert code == 0, output
    flagged = simulated().report.flagged
    assert f"{len(flagged)} flagged entities -> {len(flagged)} cases" in output
    case = _harvester_case(db)

    code, output = _run("list", "--db", db, "--status", "open")
    assert code == 0 and f"{len(flagged)} cases" in output and case.id in output

    code, output = _run("confirm", case.id, "--by", "alice", "--note", "venue sweep", "--db", db)
    assert code == 0 and f"{case.id} is now confirmed" in output
    code, output = _run("escalate", case.id, "--by", "bob", "--note", "to legal", "--db", db)
    assert code == 0 and "is now escalated" in output
    code, output = _run("lift", case.id, "--by", "carol", "--note", "certified", "--db", db)
    assert code == 0 and "is now lifted" in output

    code, output = _run("list", "--db", db, "--status", "lifted")
    assert "1 cases" in output and case.id in output
    result = runner.invoke(app, ["case", "show", case.id, "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["status"] == "lifted" and shown["verdict"] == "confirmed"
    assert shown["evidence"]["records"] == case.evidence.records
    assert [(e["action"], e["by"]) for e in shown["audit"]] == [
        ("opened", "detection"),
        ("confirmed", "alice"),
        ("escalated", "bob"),
        ("lifted", "carol"),
    ]
    code, output = _run("show", case.id, "--db", db)
    assert code == 0
    for expected in (
        case.id,
        "lifted",
        "venue sweep",
        *(d.detector for d in case.evidence.detectors),
    ):
        assert expected in output, expected

    # opening again on the same events changes nothing
    code, output = _run("open", events, "--db", db)
    assert code == 0 and f"-> {len(flagged)} cases" in output
    assert len(CaseStore(db).audit(case.id)) == 4


def test_the_dismiss_verb(opened: Case, db: str) -> None:
    case = opened
    code, output = _run("dismiss", case.id, "--by", "alice", "--note", "benign", "--db", db)
    assert code == 0 and "is now dismissed" in output
    assert CaseStore(db).feedback()[0].case_id == case.id


def test_notice_and_incident(opened: Case, events: str, db: str, tmp_path: Path) -> None:
    case = opened
    out = tmp_path / "out"
    notice = [
        "notice", case.id, "--by", "alice", "--db", db, "--out", str(out),
        "--partner-name", "Locatrix Marketing Ltd", "--partner-email", "counsel@locatrix.example",
        "--reply-to", "legal@photoshare.example", "--deadline-days", "10",
    ]  # fmt: skip
    code, output = _run(*notice)
    assert code == 2 and "not confirmed" in output
    assert not out.exists()

    _run("confirm", case.id, "--by", "alice", "--note", "venue sweep", "--db", db)
    code, output = _run(*notice)
    assert code == 0, output
    pdf = out / f"notice-{case.id}.pdf"
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(pdf).pages).split())
    assert "To Locatrix Marketing Ltd <counsel@locatrix.example>" in text
    assert f"obtained {case.evidence.records:,} personal records" in text

    code, output = _run("incident", case.id, events, "--by", "dpo", "--db", db, "--out", str(out))
    assert code == 0, output
    with (out / f"affected-{case.id}.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert f"{len(rows)} affected accounts; high risk" in output
    assert (out / f"incident-{case.id}.pdf").read_bytes().startswith(b"%PDF-")

    log = CaseStore(db).audit(case.id)
    assert [(e.action, e.by) for e in log[-2:]] == [("notice", "alice"), ("incident", "dpo")]
    assert log[-2].details["certify_by"] == notice_deadline(log[-2].at, 10)
    assert log[-1].details["affected_accounts"] == len(rows)


def notice_deadline(at: object, days: int) -> str:
    from datetime import datetime, timedelta

    assert isinstance(at, datetime)
    return (at.date() + timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "C-missing"], "no case 'C-missing'"),
        (["confirm", "C-missing", "--by", "a", "--note", "b"], "no case 'C-missing'"),
        (["list", "--status", "shut"], "unknown status 'shut'"),
        (["confirm", "{case}", "--by", "a", "--note", " "], "needs a note"),
        (["lift", "{case}", "--by", "a", "--note", "b", "--decisions", "http://x"], "decision store"),
        (["incident", "{case}", "nowhere:x", "--by", "dpo"], "unknown event sink URL"),
        (
            ["notice", "{case}", "--by", "a", "--partner-name", "n", "--partner-email", "e",
             "--client-id", "app-other"],
            "not confirmed",
        ),
    ],
)  # fmt: skip
def test_bad_input_is_refused(opened: Case, db: str, args: list[str], message: str) -> None:
    case = opened
    before = CaseStore(db).audit()
    code, output = _run(*[a.replace("{case}", case.id) for a in args], "--db", db)
    assert code == 2, output
    assert message in output
    assert CaseStore(db).audit() == before
    assert CaseStore(db).get(case.id).status is CaseStatus.OPEN


def test_open_refuses_a_missing_store(db: str, tmp_path: Path) -> None:
    code, output = _run("open", f"jsonl:{tmp_path / 'none.jsonl'}", "--db", db)
    assert code == 2 and "cannot run detection" in output
