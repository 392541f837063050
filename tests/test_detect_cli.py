"""``harvestguard detect`` on an event store: entities with evidence, JSON output, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from typer.testing import CliRunner

from harvestguard.detect.cli import detect_command
from tests.detect_helpers import table, view
from tests.simulate_helpers import tiny_run

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("detect")(detect_command)
    app.command("other")(lambda: None)  # a second command keeps "detect" a subcommand
    return app


def _store(tmp_path: Path, events: pa.Table) -> str:
    day = tmp_path / "events" / "date=2025-06-02"
    day.mkdir(parents=True)
    pq.write_table(events, day / "part.parquet")
    return f"parquet:{tmp_path / 'events'}"


def test_detect_prints_entities_with_their_evidence(tmp_path: Path) -> None:
    events = tiny_run().events
    assert events is not None
    result = runner.invoke(_app(), ["detect", _store(tmp_path, events)])
    assert result.exit_code == 1, result.output  # something was flagged
    assert "flagged: risk" in result.output
    assert "personal records" in result.output and "sample requests" in result.output
    assert "enumeration" in result.output or "breadth" in result.output


def test_detect_json_and_context_folder(tmp_path: Path) -> None:
    events = table([view(1.5 * i, 100 + i, ip=f"crawl-{i % 3}", net="search") for i in range(60)])
    context = tmp_path / "context"
    context.mkdir()
    (context / "allowlist.csv").write_text("kind,key,label\nnet,search,verified crawler\n")
    result = runner.invoke(
        _app(), ["detect", _store(tmp_path, events), "--format", "json", "--context", str(context)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["flagged"] == []
    assert [e["allowlisted"] for e in report["allowlisted"]] == ["verified crawler"]
    assert report["allowlisted"][0]["exposure"]["owners"] == 60


def test_detect_refuses_bad_input_with_status_2(tmp_path: Path) -> None:
    store = _store(tmp_path, table([view(1, 1, account="a")]))
    bad = tmp_path / "mine"
    bad.mkdir()
    (bad / "broken.sql").write_text("-- ---\n-- id: x\n-- ---\nSELECT 1\n")
    result = runner.invoke(_app(), ["detect", store, "--detectors", str(bad)])
    assert result.exit_code == 2
    assert "broken.sql:2:" in result.output.replace("\n", "")
    assert runner.invoke(_app(), ["detect", store, "--format", "xml"]).exit_code == 2
    assert runner.invoke(_app(), ["detect", "parquet:/nonexistent/x"]).exit_code == 2
    assert runner.invoke(_app(), ["detect", store, "--param", "breadth=3"]).exit_code == 2
    result = runner.invoke(_app(), ["detect", store, "--param", "breadth.min_strangers=lots"])
    assert result.exit_code == 2 and "is not int" in result.output
