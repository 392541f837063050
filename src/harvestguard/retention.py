"""Retention: the guard's events are personal data too, kept for a bounded number of days.

``enforce_retention`` deletes every event older than ``days`` days before ``now``: rows of a
DuckDB store; whole day partitions of a Parquet store, plus the older rows of the day the limit
falls in. Run it daily (``harvestguard`` CLI or cron). A Parquet file of the boundary day is
rewritten under a temporary name and renamed over the old one, so readers see the old file or
the new one, never a mix; writers are unaffected, as they only ever add new files.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from harvestguard.events import ARROW_SCHEMA
from harvestguard.sinks import DuckDBSink, ParquetSink, parse_sink_url
from harvestguard.sinks.duckdb import TABLE
from harvestguard.sinks.files import fsync_directory
from harvestguard.sinks.parquet import PARTITION_PREFIX, TEMP_SUFFIX, write_durably


@dataclass(frozen=True, slots=True)
class RetentionResult:
    cutoff: datetime  # events before this instant were deleted
    rows_deleted: int
    partitions_dropped: int = 0
    files_rewritten: int = 0


def enforce_retention(
    store: DuckDBSink | ParquetSink | str, days: int, now: datetime | None = None
) -> RetentionResult:
    """Deletes the events of ``store`` (a sink, or a ``duckdb:``/``parquet:`` URL) older than
    ``days`` days."""
    if days < 0:
        raise ValueError("retention days must not be negative")
    now = datetime.now(UTC) if now is None else now
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    cutoff = now.astimezone(UTC) - timedelta(days=days)
    if isinstance(store, DuckDBSink):
        return _retain_duckdb(store.cursor(), cutoff)
    if isinstance(store, ParquetSink):
        return _retain_parquet(store.root, cutoff)
    kind, path = parse_sink_url(store)
    if kind == "duckdb":
        if not path.is_file():
            raise FileNotFoundError(f"no DuckDB event store at {path}")
        # fails, with DuckDB's lock error, while an app process has the file open: pass its sink
        return _retain_duckdb(duckdb.connect(str(path)), cutoff)
    if kind == "parquet":
        return _retain_parquet(path, cutoff)
    raise ValueError(f"retention is not supported for {kind} sinks; rotate the file instead")


def _retain_duckdb(connection: duckdb.DuckDBPyConnection, cutoff: datetime) -> RetentionResult:
    with connection:
        row = connection.execute(f"DELETE FROM {TABLE} WHERE ts < ?", [cutoff]).fetchone()
    return RetentionResult(cutoff=cutoff, rows_deleted=int(row[0]) if row else 0)


def _retain_parquet(root: Path, cutoff: datetime) -> RetentionResult:
    boundary = cutoff.date()
    rows = dropped = rewritten = 0
    for partition in sorted(root.glob(f"{PARTITION_PREFIX}*")):
        try:
            day = datetime.strptime(partition.name.removeprefix(PARTITION_PREFIX), "%Y-%m-%d")
        except ValueError:
            continue  # not a partition of ours: leave it alone
        if day.date() < boundary:
            rows += sum(pq.read_metadata(path).num_rows for path in partition.glob("*.parquet"))
            shutil.rmtree(partition)
            dropped += 1
        elif day.date() == boundary:
            for path in sorted(partition.glob("*.parquet")):
                removed = _drop_rows_before(path, cutoff)
                rows += removed
                rewritten += removed > 0
    if dropped:
        fsync_directory(root)
    return RetentionResult(
        cutoff=cutoff, rows_deleted=rows, partitions_dropped=dropped, files_rewritten=rewritten
    )


def _drop_rows_before(path: Path, cutoff: datetime) -> int:
    table = pq.read_table(path)
    limit = pa.scalar(cutoff, type=ARROW_SCHEMA.field("ts").type)
    kept = table.filter(pc.greater_equal(table["ts"], limit))
    removed = table.num_rows - kept.num_rows
    if removed == 0:
        return 0
    if kept.num_rows == 0:
        path.unlink()
    else:
        temp = path.with_name(f".{path.name}{TEMP_SUFFIX}")
        write_durably(kept, temp, "zstd")
        temp.replace(path)
    fsync_directory(path.parent)
    return removed
