"""The detection process (``harvestguard case open`` over the Parquet event store, what a
deployment runs every few minutes) killed with SIGKILL in the middle of bringing the cases up to
date, then run again: the case store ends exactly as if nothing had happened.

Its state is the event store (durable, append-only) and the case store (one transaction per
case), so a restarted run resumes by recomputing: no event is skipped (the cases' evidence counts
every request of the reference run) and none is counted twice (the evidence is replaced, never
added to, and a case is found again by its keys instead of being opened a second time).

The in-app live detection (``HARVESTGUARD_LIVE_DETECTION``) keeps its state in memory: after a
restart it starts afresh from new events, and this scheduled run over the store is what
guarantees that nothing is missed (docs/reliability.md)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from harvestguard.cli import app
from harvestguard.enforce.case_models import Case
from harvestguard.enforce.cases import CaseStore
from harvestguard.events import from_arrow
from harvestguard.simulate import Scenario, run_event_mode
from harvestguard.sinks import ParquetSink

HARVESTGUARD = str(Path(sys.executable).parent / "harvestguard")
# four hours of a small platform: a few dozen flagged entities, seconds to detect
MINI = Scenario.from_dict(
    {
        "preset": "small",
        "name": "faults-mini",
        "duration_hours": 4,
        "users": 200,
        "people": 80,
        "power_users": 4,
        "anonymous_visitors": 10,
        "venues": 20,
    }
).with_seed(7)


def _store(events: pa.Table, root: Path) -> str:
    ParquetSink(root).write(from_arrow(events))
    return f"parquet:{root}"


def _open_cases(store: str, db: str) -> None:
    result = CliRunner().invoke(app, ["case", "open", store, "--db", db])
    assert result.exit_code == 0, result.output


def _summary(case: Case) -> tuple[object, ...]:
    evidence = case.evidence
    return (
        case.status,
        round(case.risk, 4),
        evidence.requests,
        evidence.owners,
        evidence.records,
        tuple(sorted(evidence.records_by_class.items())),
        tuple(sorted(d.detector for d in evidence.detectors)),
    )


def _cases(db: str) -> dict[frozenset[tuple[str, str]], tuple[object, ...]]:
    store = CaseStore(db)
    try:
        return {frozenset(case.keys): _summary(case) for case in store.list()}
    finally:
        store.close()


@pytest.mark.slow
def test_a_detection_run_killed_mid_way_and_run_again_ends_as_one_clean_run(
    tmp_path: Path,
) -> None:
    events = run_event_mode(MINI, keep=True).events
    assert events is not None
    halfway = (
        pc.min_max(events["ts"])["min"].as_py()
        + (pc.min_max(events["ts"])["max"].as_py() - pc.min_max(events["ts"])["min"].as_py()) / 2
    )
    first = events.filter(pc.less(events["ts"], pa.scalar(halfway, events.schema.field("ts").type)))
    rest = events.filter(
        pc.greater_equal(events["ts"], pa.scalar(halfway, events.schema.field("ts").type))
    )
    assert first.num_rows and rest.num_rows

    # a run over the first half of the day; then the rest of the events arrives
    root = tmp_path / "events"
    faulted_path, reference_path = tmp_path / "faulted.db", tmp_path / "reference.db"
    faulted_db, reference_db = f"sqlite:///{faulted_path}", f"sqlite:///{reference_path}"
    store = _store(first, root)
    _open_cases(store, faulted_db)
    before = _cases(faulted_db)
    shutil.copyfile(faulted_path, reference_path)
    _store(rest, root)
    # the reference: the same deployment, whose next run was not interrupted
    _open_cases(store, reference_db)
    reference = _cases(reference_db)
    assert reference != before

    # the faulted one: the next run is killed as soon as it has written a case
    run = subprocess.Popen(
        [HARVESTGUARD, "case", "open", store, "--db", faulted_db],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # SQLite's data_version moves when another connection commits: kill at the first case written
    watcher = sqlite3.connect(faulted_path)
    try:
        version = watcher.execute("PRAGMA data_version").fetchone()[0]
        deadline = time.monotonic() + 300
        while watcher.execute("PRAGMA data_version").fetchone()[0] == version:
            assert run.poll() is None, "the run ended before it wrote a case"
            assert time.monotonic() < deadline
            time.sleep(0.002)
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
    finally:
        watcher.close()
    assert run.returncode == -signal.SIGKILL
    interrupted = _cases(faulted_db)
    assert interrupted != reference  # killed part-way: some cases not yet brought up to date
    assert interrupted != before  # but one was

    _open_cases(store, faulted_db)  # the next scheduled run: nobody repaired anything
    assert _cases(faulted_db) == reference
    changed = sum(interrupted.get(keys) != summary for keys, summary in reference.items())
    print(
        f"detection killed: {events.num_rows} events, {len(reference)} cases; the killed run "
        f"left {changed} behind; the next run made all {len(reference)} equal to the reference"
    )
