"""The ``harvestguard`` command line: policy check and show, events summary, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from harvestguard.cli import app
from harvestguard.events import AccessEvent
from harvestguard.sinks import ParquetSink, read_store

runner = CliRunner()
DEFAULT_POLICY = Path(__file__).parent.parent / "src" / "harvestguard" / "policy" / "default.yaml"


def test_policy_check_accepts_the_shipped_policy() -> None:
    result = runner.invoke(app, ["policy", "check", str(DEFAULT_POLICY)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_policy_check_refuses_a_bad_file_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    text = DEFAULT_POLICY.read_text().replace("identity", "identiti", 1)
    bad.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "identiti" in row)
    result = runner.invoke(app, ["policy", "check", str(bad)])
    assert result.exit_code == 2
    assert f"policy.yaml:{line}:" in result.output.replace("\n", "")
    assert "identiti" in result.output


def test_policy_check_of_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["policy", "check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_policy_show_lists_what_anonymous_visitors_see_of_a_post() -> None:
    result = runner.invoke(app, ["policy", "show"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    post_table = result.output[result.output.index("post") :]
    anonymous_row = next(row for row in post_table.splitlines() if "anonymous" in row)
    assert "caption" in anonymous_row
    assert "venue_name" not in anonymous_row and "lat" not in anonymous_row


def _events(now: datetime) -> list[AccessEvent]:
    def event(n: int, *, actor: str, owners: list[str], age: timedelta) -> AccessEvent:
        return AccessEvent(
            ts=now - age,
            request_id=f"r{n}",
            actor_account=actor,
            ip="ip-hash",
            resource="profile",
            owner_ids=owners,
            data_classes=["identity"] if owners else [],
            audience="authenticated",
        )

    rows = [event(n, actor="harvester", owners=[f"u{n}"], age=timedelta(hours=1)) for n in range(6)]
    rows += [event(10, actor="reader", owners=["u1"], age=timedelta(hours=1))]
    rows += [event(11, actor="reader", owners=[], age=timedelta(days=40))]
    return rows


def test_events_summary_ranks_actors_by_people_obtained(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    sink = ParquetSink(tmp_path / "events")
    sink.write(_events(now))
    sink.close()
    url = f"parquet:{tmp_path / 'events'}"
    result = runner.invoke(app, ["events", "summary", url], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "8 events" in result.output
    ranking = result.output[result.output.index("actors by people") :].splitlines()
    harvester = next(row for row in ranking if "harvester" in row)
    assert harvester.replace("│", " ").split()[-1] == "6"
    assert ranking.index(harvester) < next(i for i, row in enumerate(ranking) if "reader" in row)


def test_events_summary_of_a_missing_store_fails_clearly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["events", "summary", f"parquet:{tmp_path / 'none'}"])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_retention_deletes_only_old_events(tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path / "events")
    sink.write(_events(datetime.now(UTC)))
    sink.close()
    url = f"parquet:{tmp_path / 'events'}"
    result = runner.invoke(app, ["retention", url, "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 events" in result.output
    assert sorted(read_store(url).column("request_id").to_pylist()) == sorted(
        f"r{n}" for n in [0, 1, 2, 3, 4, 5, 10]
    )
