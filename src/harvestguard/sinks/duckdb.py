"""DuckDBSink: events in one DuckDB file, the zero set-up store of a single machine.

DuckDB lets one process at a time open a database file for writing, and while it does no other
process can open the file at all, not even read-only. So one app process owns the file: readers in
that process use ``DuckDBSink.cursor()``; other processes read it with ``read_events`` once the
writer has closed it. Several app instances each need their own file, or the Parquet sink.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from harvestguard.events import ARROW_SCHEMA, FIELD_NAMES, AccessEvent, duckdb_columns, to_arrow

TABLE = "events"
_COLUMN_LIST = ", ".join(f'"{name}"' for name in FIELD_NAMES)


class DuckDBSink:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = duckdb.connect(str(self.path))
        self._connection.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({duckdb_columns()})")
        # one DuckDB connection must not run two statements at once
        self._lock = threading.Lock()

    def write(self, events: Sequence[AccessEvent]) -> None:
        if not events:
            return
        batch = to_arrow(events)
        with self._lock:
            self._connection.register("_incoming", batch)
            try:
                # one INSERT is one transaction: the whole batch is stored, or none of it
                self._connection.execute(f"INSERT INTO {TABLE} BY NAME SELECT * FROM _incoming")
            finally:
                self._connection.unregister("_incoming")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own to the same database, for readers in this process."""
        with self._lock:
            return self._connection.cursor()

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def read_events(path: str | Path) -> pa.Table:
    """Every stored event, read-only; fails while another process has the file open."""
    with duckdb.connect(str(path), read_only=True) as connection:
        table: pa.Table = connection.sql(f"SELECT {_COLUMN_LIST} FROM {TABLE}").to_arrow_table()
    return table.cast(ARROW_SCHEMA)
