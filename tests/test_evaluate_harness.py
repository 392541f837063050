"""evaluate(): a scenario, several seeds, any detector; and the `simulate events` / `eval` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from harvestguard.evaluate import FlaggedEntity, IpThresholdBaseline, evaluate
from harvestguard.evaluate.harness import caught_by_detector
from harvestguard.simulate.cli import app as simulate_app
from harvestguard.simulate.cli import eval_command
from harvestguard.simulate.groundtruth import GroundTruth
from harvestguard.simulate.world import World
from harvestguard.sinks.parquet import read_events
from tests.simulate_helpers import SEED, TINY, tiny_run

runner = CliRunner()

# mounted the way harvestguard.cli mounts them
cli = typer.Typer()
cli.add_typer(simulate_app, name="simulate")
cli.command("eval")(eval_command)


def _oracle(events: pa.Table, world: World) -> list[FlaggedEntity]:
    """Flags every adversary by its ground-truth keys: what a perfect detector would report."""
    truth = tiny_run().ground_truth
    flags = []
    for actor in truth.actors.values():
        if actor.adversary and actor.first_harvest_at is not None:
            keys = frozenset(
                k for k in truth.keys_of(actor.actor_id) if k[0] in ("account", "client")
            )
            keys = keys or frozenset(k for k in truth.keys_of(actor.actor_id) if k[0] == "ip")
            flags.append(FlaggedEntity(keys, actor.first_harvest_at))
    return flags


def test_an_oracle_scores_one_and_an_empty_detector_zero() -> None:
    perfect = evaluate(TINY, [SEED], _oracle, name="oracle")
    summary = perfect.summary()
    assert summary["overall"]["f1"] == 1.0
    assert summary["overall"]["median_detection_seconds"] == 0.0
    empty = evaluate(TINY, [SEED], lambda events, world: [], name="nothing")
    assert empty.summary()["overall"]["recall"] == 0.0
    assert empty.summary()["overall"]["benign_acted_on_share"] == 0.0
    # stopping nobody, every adversary keeps what it harvested
    run = empty.runs[0]
    assert run["overall"]["records_disclosed"] > perfect.runs[0]["overall"]["records_disclosed"]


def test_the_baseline_over_several_seeds_writes_json_and_markdown(tmp_path: Path) -> None:
    evaluation = evaluate(TINY, [1, 2], IpThresholdBaseline(max_requests=60, window_minutes=10))
    json_path, markdown_path = evaluation.write(tmp_path)
    data = json.loads(json_path.read_text())
    assert data["seeds"] == [1, 2] and len(data["runs"]) == 2
    assert data["detector"].startswith("baseline")
    assert set(data["summary"]) == {*TINY.adversaries, "overall"}
    table = markdown_path.read_text()
    assert "| geofence_harvester |" in table and "| overall |" in table
    assert "Benign actors wrongly acted on" in table
    with pytest.raises(ValueError, match="at least one seed"):
        evaluate(TINY, [], IpThresholdBaseline())


def test_simulate_events_writes_events_and_ground_truth(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.json"
    scenario.write_text(json.dumps(TINY.to_dict()))
    result = runner.invoke(
        cli,
        [
            "simulate",
            "events",
            "--scenario", str(scenario),
            "--output", f"parquet:{tmp_path / 'events'}",
            "--truth", str(tmp_path / "truth"),
            "--max-events", "2000",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2,000 events" in result.output
    assert read_events(tmp_path / "events").num_rows == 2000
    assert GroundTruth.read(tmp_path / "truth" / "ground_truth.json").actors


def test_simulate_events_refuses_bad_input(tmp_path: Path) -> None:
    bad_output = runner.invoke(
        cli,
        ["simulate", "events", "--output", "s3://x", "--truth", str(tmp_path), "--max-events", "5"],
    )
    assert bad_output.exit_code != 0
    assert "unknown event sink URL" in bad_output.output
    missing = runner.invoke(
        cli,
        [
            "simulate",
            "events",
            "--output",
            f"parquet:{tmp_path}",
            "--truth",
            str(tmp_path),
            "--world",
            str(tmp_path / "none.json"),
        ],
    )
    assert missing.exit_code != 0


def test_eval_prints_the_table(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.json"
    scenario.write_text(json.dumps(TINY.to_dict()))
    result = runner.invoke(
        cli, ["eval", "--scenario", str(scenario), "--seeds", "3", "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert "| overall |" in result.output
    assert (tmp_path / "out" / "evaluation.json").exists()
    bad = runner.invoke(cli, ["eval", "--seeds", "one,two", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "seeds are integers" in bad.output


def test_the_report_says_what_each_detector_caught_and_how_split_each_adversary_was() -> None:
    truth = tiny_run().ground_truth
    adversary = next(a for a in truth.actors.values() if a.adversary)
    person = next(a for a in truth.actors.values() if not a.adversary)
    at = adversary.first_harvest_at
    assert at is not None
    flags = [
        FlaggedEntity(frozenset({k}), at, reasons=("volume: a lot", "breadth: wide"))
        for k in sorted(truth.keys_of(adversary.actor_id))[:2]
    ] + [FlaggedEntity(frozenset(truth.keys_of(person.actor_id)), at, reasons=("volume: x",))]
    attribution = [adversary.actor_id, adversary.actor_id, person.actor_id]
    caught = caught_by_detector(flags, attribution, truth)
    assert caught == {
        "breadth": {adversary.actor_class: 2},
        "volume": {adversary.actor_class: 2, person.actor_class: 1},
    }
    evaluation = evaluate(TINY, [SEED], lambda events, world: flags, name="split")
    row = evaluation.summary()[adversary.actor_class]
    assert row["entities_per_detected"] == 2.0
    assert f"| `volume` | {adversary.actor_class} 2 | {person.actor_class} 1 |" in (
        evaluation.markdown()
    )
