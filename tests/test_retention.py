"""Retention deletes exactly the events older than the limit, from DuckDB and from Parquet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harvestguard.events import AccessEvent
from harvestguard.retention import enforce_retention
from harvestguard.sinks import DuckDBSink, ParquetSink
from harvestguard.sinks import duckdb as duckdb_sink
from harvestguard.sinks import parquet as parquet_sink

NOW = datetime(2025, 6, 30, 15, 0, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=30)  # 2025-05-31 15:00 UTC

AGES = {
    "ancient": timedelta(days=90),
    "old-day": timedelta(days=31, hours=1),
    "boundary-before": timedelta(days=30, microseconds=1),
    "boundary-exact": timedelta(days=30),
    "boundary-after": timedelta(days=29, hours=23),
    "recent": timedelta(days=1),
    "now": timedelta(0),
}
KEPT = {"boundary-exact", "boundary-after", "recent", "now"}


def aged_events() -> list[AccessEvent]:
    return [AccessEvent(ts=NOW - age, request_id=name) for name, age in AGES.items()]


def ids(table: pa.Table) -> set[str]:
    return {str(value) for value in table.column("request_id").to_pylist()}


def test_duckdb_rows_older_than_the_limit_are_deleted(tmp_path: Path) -> None:
    sink = DuckDBSink(tmp_path / "events.duckdb")
    sink.write(aged_events())

    result = enforce_retention(sink, 30, now=NOW)
    again = enforce_retention(sink, 30, now=NOW)
    sink.close()

    assert result.cutoff == CUTOFF
    assert result.rows_deleted == 3
    assert again.rows_deleted == 0
    assert ids(duckdb_sink.read_events(tmp_path / "events.duckdb")) == KEPT


def test_duckdb_store_by_url(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    sink = DuckDBSink(path)
    sink.write(aged_events())
    sink.close()
    assert enforce_retention(f"duckdb:{path}", 2, now=NOW).rows_deleted == 5
    assert ids(duckdb_sink.read_events(path)) == {"recent", "now"}


def test_parquet_drops_old_days_and_trims_the_boundary_day(tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path / "events")
    events = aged_events()
    # the boundary day in two files: one to trim, one untouched (all after the cutoff)
    sink.write([e for e in events if e.request_id != "boundary-after"])
    sink.write([e for e in events if e.request_id == "boundary-after"])
    boundary = tmp_path / "events" / "date=2025-05-31"
    assert len(list(boundary.glob("*.parquet"))) == 2
    (tmp_path / "events" / "notes").mkdir()  # not a partition: left alone

    result = enforce_retention(sink, 30, now=NOW)

    assert (result.rows_deleted, result.partitions_dropped, result.files_rewritten) == (3, 2, 1)
    assert sorted(path.name for path in (tmp_path / "events").iterdir()) == [
        "date=2025-05-31",
        "date=2025-06-29",
        "date=2025-06-30",
        "notes",
    ]
    files = list(boundary.glob("*.parquet"))
    assert sorted(pq.read_table(path).num_rows for path in files) == [1, 1]
    assert not list(boundary.glob(".*"))
    assert ids(parquet_sink.read_events(tmp_path / "events")) == KEPT
    assert enforce_retention(f"parquet:{tmp_path / 'events'}", 30, now=NOW).rows_deleted == 0


def test_a_boundary_file_with_only_old_rows_is_removed(tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path / "events")
    sink.write([AccessEvent(ts=CUTOFF - timedelta(hours=1), request_id="early")])
    sink.write([AccessEvent(ts=CUTOFF + timedelta(hours=1), request_id="late")])
    result = enforce_retention(sink, 30, now=NOW)
    assert (result.rows_deleted, result.files_rewritten) == (1, 1)
    assert ids(parquet_sink.read_events(tmp_path / "events")) == {"late"}


def test_zero_days_keeps_only_the_present(tmp_path: Path) -> None:
    sink = DuckDBSink(tmp_path / "events.duckdb")
    sink.write(aged_events())
    assert enforce_retention(sink, 0, now=NOW).rows_deleted == 6
    sink.close()


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    sink = DuckDBSink(tmp_path / "events.duckdb")
    with pytest.raises(ValueError, match="negative"):
        enforce_retention(sink, -1, now=NOW)
    with pytest.raises(ValueError, match="timezone"):
        enforce_retention(sink, 30, now=datetime(2025, 6, 30))
    sink.close()
    with pytest.raises(ValueError, match="jsonl"):
        enforce_retention(f"jsonl:{tmp_path / 'e.jsonl'}", 30)
    with pytest.raises(ValueError, match="sink URL"):
        enforce_retention("events.duckdb", 30)
    with pytest.raises(FileNotFoundError):
        enforce_retention(f"duckdb:{tmp_path / 'missing.duckdb'}", 30)
    assert not (tmp_path / "missing.duckdb").exists()
