"""ParquetSink: events as Parquet files partitioned by day, safe for many writers at once.

Layout: ``ROOT/date=YYYY-MM-DD/HOST-PID-UUID.parquet``, the day of the event's timestamp in UTC.
Every write creates new files and never touches existing ones, so any number of processes, on
this host or others sharing the directory, can append to one root. A file is written under a
hidden temporary name, fsynced, then renamed: a reader never sees a half-written file under a
final name, whatever happens to the writer.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, date
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from harvestguard.events import ARROW_SCHEMA, FIELD_NAMES, AccessEvent, to_arrow
from harvestguard.sinks.files import fsync_directory

PARTITION_PREFIX = "date="
TEMP_SUFFIX = ".tmp"
# a temporary file this old belongs to a writer that died: no write takes an hour
_STALE_TEMP_SECONDS = 3600.0

Compression = Literal["zstd", "snappy", "gzip", "brotli", "lz4", "none"]


class ParquetSink:
    def __init__(self, root: str | Path, *, compression: Compression = "zstd") -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.compression = compression
        _remove_stale_temp_files(self.root)

    def write(self, events: Sequence[AccessEvent]) -> None:
        if not events:
            return
        by_day: dict[date, list[AccessEvent]] = {}
        for event in events:
            by_day.setdefault(event.ts.astimezone(UTC).date(), []).append(event)
        staged: list[tuple[Path, Path]] = []
        renamed: list[Path] = []
        try:
            for day, group in sorted(by_day.items()):
                final = self._partition(day) / f"{_unique_name()}.parquet"
                temp = final.with_name(f".{final.name}{TEMP_SUFFIX}")
                staged.append((temp, final))
                write_durably(to_arrow(group), temp, self.compression)
            # a batch spanning days is several files: rename only when all are on disk
            for temp, final in staged:
                os.replace(temp, final)
                renamed.append(final)
                fsync_directory(final.parent)
        except BaseException:
            for temp, final in staged:
                temp.unlink(missing_ok=True)
                if final in renamed:
                    final.unlink(missing_ok=True)
            raise

    def close(self) -> None:
        """Nothing is held open between writes."""

    def _partition(self, day: date) -> Path:
        directory = self.root / f"{PARTITION_PREFIX}{day.isoformat()}"
        if not directory.is_dir():
            directory.mkdir(exist_ok=True)
            fsync_directory(self.root)
        return directory


def write_durably(table: pa.Table, path: Path, compression: Compression) -> None:
    with path.open("wb") as handle:
        pq.write_table(table, handle, compression=compression)
        handle.flush()
        os.fsync(handle.fileno())


def scan_sql(root: str | Path) -> str:
    """The DuckDB table function over every day of ``root``, for a FROM clause.

    The ``date`` column comes from the directory names, so ``WHERE date >= ...`` skips whole days.
    """
    pattern = str(Path(root) / "**" / "*.parquet").replace("'", "''")
    return (
        f"read_parquet('{pattern}', hive_partitioning = true, "
        "hive_types = {'date': 'DATE'}, union_by_name = true)"
    )


def read_events(root: str | Path) -> pa.Table:
    """Every event stored under ``root``, in the events schema."""
    if not any(Path(root).glob(f"{PARTITION_PREFIX}*/*.parquet")):
        return ARROW_SCHEMA.empty_table()
    columns = ", ".join(f'"{name}"' for name in FIELD_NAMES)
    with duckdb.connect() as connection:
        table: pa.Table = connection.sql(f"SELECT {columns} FROM {scan_sql(root)}").to_arrow_table()
    return table.cast(ARROW_SCHEMA)


def _unique_name() -> str:
    # the host and pid say who wrote a file; the uuid keeps names apart within one process
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex}"


def _remove_stale_temp_files(root: Path) -> None:
    cutoff = time.time() - _STALE_TEMP_SECONDS
    for temp in root.glob(f"{PARTITION_PREFIX}*/.*{TEMP_SUFFIX}"):
        try:
            if temp.stat().st_mtime < cutoff:
                temp.unlink()
        except FileNotFoundError:
            continue
