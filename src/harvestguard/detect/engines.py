"""Where detector SQL runs. Engines are selected by name from ``ENGINES``; DuckDB is the default.

Every engine offers the same tables to detectors:

- ``events``: the AccessEvent columns (a view: over the source in batch mode, over the retained
  events in incremental mode, where ``restrict`` narrows it to recent events), plus ``epoch_s`` (seconds since the Unix epoch, DOUBLE) and
  the acting principal, ``actor_kind``/``actor_key``: the partner app when there is one, else the
  account, else the address (else the session, else the fingerprint) — who a finding is about;
- ``event_owners``: one row per event and owner disclosed (``owner``), with the event's
  ``epoch_s``, principal, ``route``, ``resource``, ``audience``, ``status``, ``object_id``, one
  boolean per data class (``has_identity``, ``has_location``, ``has_photo``, ``has_ephemeral``,
  ``has_social_graph``, ``has_contact``, ``has_content``) and ``owners_shown`` (how many owners
  the page showed: 1 for a profile, a post or a story, many for a feed, a search or a location
  page);
- the context tables it was given (docs/detection.md, "Context tables").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa

from harvestguard.events import FIELD_NAMES, DataClass

EventSource = pa.Table | Path

# event_owners carries one boolean per data class instead of the list: cheap to test per row
CLASS_FLAGS = ", ".join(
    f"array_contains(data_classes, '{c.value}') AS has_{c.value}" for c in DataClass
)

PRINCIPAL_SQL = """
    CASE WHEN actor_client IS NOT NULL THEN 'client'
         WHEN actor_account IS NOT NULL THEN 'account'
         WHEN ip IS NOT NULL THEN 'ip'
         WHEN session IS NOT NULL THEN 'session'
         ELSE 'fingerprint' END AS actor_kind,
    COALESCE(actor_client, actor_account, ip, session, fingerprint) AS actor_key
"""


class Engine(Protocol):
    name: str

    def load_events(
        self, source: EventSource, *, start: float | None = None, end: float | None = None
    ) -> None: ...

    def append_events(self, batch: pa.Table) -> None: ...

    def evict_before(self, epoch_s: float) -> None: ...

    def restrict(self, since: float | None) -> None: ...

    def load_table(self, name: str, table: pa.Table) -> None: ...

    def has_table(self, name: str) -> bool: ...

    def query(self, sql: str) -> pa.Table: ...

    def close(self) -> None: ...


class DuckDBEngine:
    """Detector SQL on an in-process DuckDB. The events sit in ``_events`` (a view over the source
    in batch mode, a table in incremental mode) and ``_event_owners`` (a table); ``events`` and
    ``event_owners`` are views over them, narrowed to recent events by ``restrict``."""

    name = "duckdb"

    def __init__(self, *, threads: int | None = None, memory_limit: str | None = None) -> None:
        # detectors never rely on the order of rows in a table: without it DuckDB materialises
        # event_owners and sorts with less memory
        self.connection = duckdb.connect(config={"preserve_insertion_order": False})
        if threads is not None:
            self.connection.execute(f"SET threads = {int(threads)}")
        if memory_limit is not None:
            self.connection.execute("SET memory_limit = ?", [memory_limit])
        self._tables: set[str] = set()

    def load_events(
        self, source: EventSource, *, start: float | None = None, end: float | None = None
    ) -> None:
        """Batch mode: ``_events`` is a view over the source (only the columns a query reads are
        scanned); ``_event_owners`` is materialised once."""
        if isinstance(source, pa.Table):
            self.connection.register("_source", source)
            origin = "_source"
        else:
            pattern = str(Path(source) / "**" / "*.parquet").replace("'", "''")
            origin = f"read_parquet('{pattern}', hive_partitioning = false, union_by_name = true)"
        bounds = [f"epoch(ts) >= {float(start)!r}"] if start is not None else []
        bounds += [f"epoch(ts) < {float(end)!r}"] if end is not None else []
        where = f"WHERE {' AND '.join(bounds)}" if bounds else ""
        self._fill("CREATE OR REPLACE VIEW {table} AS", origin, where, owners_from_events=True)
        self._expose(None)

    def append_events(self, batch: pa.Table) -> None:
        """Incremental mode: ``_events`` and ``_event_owners`` are tables, appended to."""
        self.connection.register("_batch", batch)
        if "events" not in self._tables:
            self._fill("CREATE OR REPLACE TABLE {table} AS", "_batch", "")
            self._expose(None)
        else:
            self._fill("INSERT INTO {table}", "_batch", "")
        self.connection.unregister("_batch")

    def evict_before(self, epoch_s: float) -> None:
        for table in ("_events", "_event_owners"):
            self.connection.execute(f"DELETE FROM {table} WHERE epoch_s < ?", [float(epoch_s)])

    def restrict(self, since: float | None) -> None:
        """``events`` and ``event_owners`` show only the events from ``since`` on (all: None)."""
        self._expose(since)

    def _expose(self, since: float | None) -> None:
        where = "" if since is None else f" WHERE epoch_s >= {float(since)!r}"
        for name in ("events", "event_owners"):
            self.connection.execute(
                f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM _{name}{where}"
            )
        self._tables |= {"events", "event_owners"}

    def _fill(
        self, statement: str, origin: str, where: str, *, owners_from_events: bool = False
    ) -> None:
        columns = ", ".join(f'"{name}"' for name in FIELD_NAMES)
        self.connection.execute(
            f"""{statement.format(table="_events")}
                SELECT {columns}, epoch(ts) AS epoch_s, {PRINCIPAL_SQL}
                FROM {origin} {where}"""
        )
        owners = (
            "SELECT epoch_s, actor_kind, actor_key, route, resource, audience, status, "
            f"object_id, {CLASS_FLAGS}, len(owner_ids) AS owners_shown, "
            "unnest(owner_ids) AS owner FROM _events WHERE len(owner_ids) > 0"
        )
        if not owners_from_events:
            owners = (
                f"SELECT epoch(ts) AS epoch_s, {PRINCIPAL_SQL}, route, resource, audience, "
                f"status, object_id, {CLASS_FLAGS}, len(owner_ids) AS owners_shown, "
                f"unnest(owner_ids) AS owner FROM {origin} {where} "
                f"{'AND' if where else 'WHERE'} len(owner_ids) > 0"
            )
        table = statement.format(table="_event_owners").replace("VIEW", "TABLE")
        self.connection.execute(f"{table} {owners}")

    def load_table(self, name: str, table: pa.Table) -> None:
        self.connection.register("_context", table)
        self.connection.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _context')
        self.connection.unregister("_context")
        self._tables.add(name)

    def has_table(self, name: str) -> bool:
        return name in self._tables

    def query(self, sql: str) -> pa.Table:
        table: pa.Table = self.connection.sql(sql).to_arrow_table()
        return table

    def close(self) -> None:
        self.connection.close()  # releases the registered source too


def _duckdb() -> Engine:
    return DuckDBEngine()


def _spark() -> Engine:
    # imported on use: PySpark is heavy to import and most runs use DuckDB
    from harvestguard.detect.spark import SparkEngine

    return SparkEngine()


ENGINES: dict[str, Callable[[], Engine]] = {"duckdb": _duckdb, "spark": _spark}


def open_engine(name: str) -> Engine:
    try:
        factory = ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; expected one of {', '.join(ENGINES)}") from None
    return factory()
