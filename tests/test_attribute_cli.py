"""`harvestguard attribute` and `attribute-keys`: the ranking, canaries, rotation, bad input."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harvestguard.attribute.evaluation import World, build_world, served_feed
from harvestguard.attribute.leak import Record
from harvestguard.canaries import Canary, CanaryKind, canary_marker, save_canaries
from harvestguard.cli import app as cli
from harvestguard.sinks.parquet import ParquetSink
from tests.detect_helpers import event

runner = CliRunner()
CANARY_POST = "424242"


def _store(data_dir: Path, world: World, canary_reader: str) -> None:
    sink = ParquetSink(data_dir / "events")
    events = []
    for n, identity in enumerate(world.identities):
        kind, _, name = identity.partition(":")
        who = {"actor_account": name} if kind == "account" else {"actor_client": name}
        events.append(event(n, resource="post", object_id=str(n), owner_ids=["7"], **who))
    kind, _, name = canary_reader.partition(":")
    who = {"actor_account": name} if kind == "account" else {"actor_client": name}
    events.append(event(999, resource="post", object_id=CANARY_POST, **who))
    sink.write(events)
    sink.close()


def _write(path: Path, records: list[Record]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0].fields))
        writer.writeheader()
        writer.writerows(record.fields for record in records)
    return path


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, World]:
    data_dir = tmp_path / "guard"
    world = build_world(data_dir, actors=60, posts=2000, seed=4)
    return data_dir, world


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.output


def test_the_source_is_named_with_its_canary_and_evidence(
    setup: tuple[Path, World], tmp_path: Path
) -> None:
    data_dir, world = setup
    source, reader = world.identities[3], world.identities[9]
    _store(data_dir, world, reader)
    marker = canary_marker(b"canary-key", CanaryKind.POST, CANARY_POST)
    save_canaries(
        [Canary(CanaryKind.POST, CANARY_POST, "canary post", marker.tag, "quietuser")],
        data_dir / "canaries.json",
    )
    records = served_feed(world, source, 100, 40)
    records.append(Record(99, {**records[0].fields, "caption": f"nice #{marker.tag}"}))
    leak = _write(tmp_path / "leak.csv", records)
    code, output = _run("attribute", str(leak), "--data-dir", str(data_dir), "--format", "json")
    assert code == 0, output
    report = json.loads(output)
    assert report["named"] == [source]
    assert report["candidates"] == len(world.identities)
    first = report["ranking"][0]
    assert first["actor"] == source and first["share"] > 0.5
    assert first["key_id"] == world.watermarker.keys.current.key_id
    assert report["canaries_in_leak"] == [marker.tag]
    by_actor = {row["actor"]: row for row in report["ranking"]}
    assert by_actor[reader]["canaries_read"] == [marker.tag]
    assert not by_actor[reader]["named"]
    code, output = _run("attribute", str(leak), "--data-dir", str(data_dir))
    assert code == 0 and "read leaked canaries" in output and source in output


def test_a_leak_from_before_a_rotation_is_still_attributed(
    setup: tuple[Path, World], tmp_path: Path
) -> None:
    data_dir, world = setup
    source = world.identities[5]
    _store(data_dir, world, source)
    old = world.watermarker.keys.current.key_id
    leak = _write(tmp_path / "old.json.csv", served_feed(world, source, 0, 30))
    code, output = _run("attribute-keys", "--data-dir", str(data_dir), "--rotate")
    assert code == 0 and old in output and "attribution only" in output
    code, output = _run("attribute", str(leak), "--data-dir", str(data_dir), "--format", "json")
    assert code == 0, output
    report = json.loads(output)
    assert report["named"] == [source] and report["ranking"][0]["key_id"] == old


def test_records_in_json_and_json_lines_are_read(setup: tuple[Path, World], tmp_path: Path) -> None:
    data_dir, world = setup
    source = world.identities[1]
    _store(data_dir, world, source)
    records = served_feed(world, source, 10, 30)
    nested = [{"post": {"id": r.fields["id"], "place": {"lat": float(r.fields["lat"]),
               "lon": float(r.fields["lon"])}}} for r in records]  # fmt: skip
    as_json = tmp_path / "leak.json"
    as_json.write_text(json.dumps({"data": nested}))
    as_lines = tmp_path / "leak.jsonl"
    as_lines.write_text("\n".join(json.dumps(item) for item in nested))
    for path in (as_json, as_lines):
        code, output = _run("attribute", str(path), "--data-dir", str(data_dir), "--format", "json")
        assert code == 0, output
        assert json.loads(output)["named"] == [source]


def test_bad_input_is_refused_with_the_line_at_fault(
    setup: tuple[Path, World], tmp_path: Path
) -> None:
    data_dir, world = setup
    _store(data_dir, world, world.identities[0])
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("id,lat,lon\n1,48.1,2.3\n2,48.2\n")
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": 1},\n {"id": 2,,}]')
    lines = tmp_path / "leak.jsonl"
    lines.write_text('{"id": 1}\n[1, 2]\n')
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("nothing here")
    other = tmp_path / "leak.xlsx"
    other.write_bytes(b"PK")
    cases = {
        ragged: "line 3: 2 fields, the header has 3",
        broken: "line 2: not JSON",
        lines: "line 2: expected a JSON object",
        empty: "no images and no CSV or JSON files",
        other: "expected a .csv, .json or .jsonl file",
        tmp_path / "missing.csv": "no such file",
    }
    for path, message in cases.items():
        code, output = _run("attribute", str(path), "--data-dir", str(data_dir))
        assert code == 2, (path, output)
        assert message in " ".join(output.split()), output
    good = _write(tmp_path / "good.csv", served_feed(world, world.identities[0], 0, 5))
    code, output = _run("attribute", str(good), "--data-dir", str(tmp_path / "nowhere"))
    assert code == 2 and "no watermark keys" in output
    code, output = _run(
        "attribute", str(good), "--data-dir", str(data_dir), "--events", "parquet:/nonexistent"
    )
    assert code == 2 and "cannot read the events" in output


def test_random_digits_name_nobody(setup: tuple[Path, World], tmp_path: Path) -> None:
    data_dir, world = setup
    _store(data_dir, world, world.identities[0])
    rng = random.Random(8)
    rows = [
        Record(n, {"id": str(n), "lat": f"{rng.uniform(-60, 60):.12f}",
                   "lon": f"{rng.uniform(-170, 170):.12f}"})
        for n in range(2, 400)
    ]  # fmt: skip
    leak = _write(tmp_path / "noise.csv", rows)
    code, output = _run("attribute", str(leak), "--data-dir", str(data_dir), "--format", "json")
    assert code == 0, output
    assert json.loads(output)["named"] == []
