"""Detection on Spark over the partitioned Parquet store the app instances write finds what DuckDB
finds; both engines read only complete files (a writer's unfinished temporary file in a partition
is invisible to them). Two detectors on a few hundred events crossing midnight, written by two
writers at once: every detector, and the whole pipeline, on Spark are tests/test_detect_spark.py's."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from harvestguard.detect import load_detectors
from harvestguard.detect.detection import fold_findings
from harvestguard.detect.engines import DuckDBEngine, Engine
from harvestguard.detect.spark import SparkEngine, spark_session
from harvestguard.events import AccessEvent
from harvestguard.sinks.parquet import PARTITION_PREFIX, TEMP_SUFFIX, ParquetSink, read_events
from tests.detect_helpers import view

SPECS = [spec for spec in load_detectors() if spec.id in ("breadth", "enumeration")]


def _events() -> list[AccessEvent]:
    """A proxy-rotating walk and an account harvesting across midnight, among ordinary people."""
    walk = [
        view(1.5 * step, user, ip=f"proxy-{step % 6}", ua="Chrome")
        for step, user in enumerate(range(100, 160))
    ]
    night = [view(50_000 + 60 * i, 1000 + i, account="h", ip="home-h") for i in range(300)]
    people = [view(5 + 400 * i, 100 + i % 60, ip=f"home-{i}") for i in range(40)]
    return walk + night + people


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[AccessEvent]]:
    """The events written by two instances at once, batch by batch, plus one unfinished file."""
    events = _events()
    root = tmp_path_factory.mktemp("store") / "events"
    instances = (ParquetSink(root), ParquetSink(root))
    batches = [events[at : at + 25] for at in range(0, len(events), 25)]

    def write(number: int) -> None:
        for batch in batches[number::2]:
            instances[number].write(batch)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(write, (0, 1)))
    complete = sorted(root.glob(f"{PARTITION_PREFIX}*/*.parquet"))
    assert len({path.parent.name for path in complete}) == 2, "two days, two partitions"
    # a writer caught mid-write: half a Parquet file under its temporary name
    partial = complete[0].with_name(f".other-host-1-0123{complete[0].name}{TEMP_SUFFIX}")
    partial.write_bytes(complete[0].read_bytes()[: complete[0].stat().st_size // 2])
    return root, events


@pytest.fixture(scope="module")
def engines(store: tuple[Path, list[AccessEvent]]) -> Iterator[tuple[Engine, Engine]]:
    """DuckDB and Spark, each reading the store where it lies."""
    root, _ = store
    session = spark_session()
    duck, spark = DuckDBEngine(), SparkEngine()
    for engine in (duck, spark):
        engine.load_events(root)
    yield duck, spark
    duck.close()
    spark.close()
    session.stop()


def test_every_reader_sees_every_event_once_and_only_complete_files(
    store: tuple[Path, list[AccessEvent]], engines: tuple[Engine, Engine]
) -> None:
    root, events = store
    written = sorted(event.request_id for event in events)
    assert sorted(read_events(root)["request_id"].to_pylist()) == written
    for engine in engines:
        seen = engine.query("SELECT request_id FROM events")["request_id"].to_pylist()
        assert sorted(seen) == written, engine.name


def _findings(engine: Engine) -> dict[tuple[str, tuple[str, str]], tuple[Any, ...]]:
    return {
        (spec.id, f.key): (f.first_fired_at, f.window_start, f.window_end, round(f.score, 9))
        for spec in SPECS
        for f in fold_findings(spec, engine.query(spec.render()).to_pylist())
    }


def test_spark_finds_on_the_partitioned_store_what_duckdb_finds(
    engines: tuple[Engine, Engine],
) -> None:
    duck, spark = engines
    expected = _findings(duck)
    # the walk's addresses (enumeration) and the night harvester (breadth) are found
    assert {detector for detector, _ in expected} == {"breadth", "enumeration"}
    assert _findings(spark) == expected
