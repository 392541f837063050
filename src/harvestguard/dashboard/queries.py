"""What the dashboard reads from the guard's event store, in DuckDB: traffic over time, the
refusals, the records disclosed to flagged entities, one entity's activity and its links.

Every query runs over the store named by the guard's ``sink_url``; a Parquet store is scanned in
place (only the days of the window are read), other stores are read whole. Times are UTC; the
window ends at the newest event, so a store replayed from the past reads as it did then.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from harvestguard.events import ARROW_SCHEMA
from harvestguard.simulate.groundtruth import KEY_COLUMNS, ActorKey
from harvestguard.sinks import parse_sink_url, read_store
from harvestguard.sinks.parquet import PARTITION_PREFIX, scan_sql

# key kind -> the event column holding it; user agents never select an actor's events
KEY_KIND_COLUMNS = {kind: column for column, kind in KEY_COLUMNS.items() if kind != "ua"}
# the graph of an entity: which kinds of key it links, in the order its columns are drawn
GRAPH_KINDS = ("client", "account", "session", "fingerprint", "ip", "net")
GRAPH_NODES_PER_KIND = 20
_BUCKETS_MINUTES = (1, 5, 15, 30, 60, 180, 360, 720, 1440)
_MAX_BUCKETS = 96


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    bucket_minutes: int

    @classmethod
    def ending(cls, end: datetime, hours: float, earliest: datetime | None = None) -> Window:
        """The ``hours`` up to ``end``, starting no earlier than ``earliest`` when given."""
        start = end - timedelta(hours=hours)
        if earliest is not None and earliest > start:
            start = earliest - timedelta(microseconds=1)  # the window excludes its start
        span = (end - start).total_seconds() / 60
        bucket = next((m for m in _BUCKETS_MINUTES if span / m <= _MAX_BUCKETS), 1440)
        return cls(start, end, bucket)


@dataclass(frozen=True, slots=True)
class Series:
    """Counts per time bucket, one list per named line."""

    buckets: list[str]  # ISO times
    lines: dict[str, list[int]]

    def to_dict(self) -> dict[str, Any]:
        return {"buckets": self.buckets, "lines": self.lines}


@dataclass(frozen=True, slots=True)
class Graph:
    nodes: list[dict[str, Any]]  # {"kind", "value", "events"}
    edges: list[dict[str, Any]]  # {"source", "target", "events"} (node indexes)
    hidden: dict[str, int]  # kind -> keys not drawn

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "edges": self.edges, "hidden": self.hidden}


class EventQueries:
    def __init__(self, sink_url: str) -> None:
        parse_sink_url(sink_url)  # a malformed URL fails at start-up, not on the first page
        self.sink_url = sink_url

    @contextmanager
    def _db(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, str, bool]]:
        """A connection, the FROM clause of the events and whether it is partitioned by day."""
        with duckdb.connect() as db:
            db.execute("SET TimeZone = 'UTC'")
            kind, path = parse_sink_url(self.sink_url)
            if kind == "parquet":
                if path.is_dir() and any(path.glob(f"{PARTITION_PREFIX}*/*.parquet")):
                    yield db, scan_sql(path), True
                    return
                db.register("_events", ARROW_SCHEMA.empty_table())
            elif path.exists():
                db.register("_events", read_store(self.sink_url))
            else:
                db.register("_events", ARROW_SCHEMA.empty_table())
            yield db, "_events", False

    def span(self) -> tuple[datetime, datetime] | None:
        """The oldest and the newest event's times; None for an empty store."""
        with self._db() as (db, source, _):
            row = db.execute(f"SELECT min(ts), max(ts) FROM {source}").fetchone()
        if row is None or row[0] is None:
            return None
        return _utc(row[0]), _utc(row[1])

    def latest(self) -> datetime | None:
        span = self.span()
        return None if span is None else span[1]

    def traffic(self, window: Window) -> Series:
        """Requests per bucket, one line per channel and audience."""
        return self._series(
            window, "channel || ' / ' || coalesce(audience, '-')", "TRUE", "count(*)"
        )

    def refusals(self, window: Window) -> Series:
        """Requests throttled, challenged and blocked per bucket."""
        return self._series(window, "decision", "decision <> 'allow'", "count(*)")

    def totals(self, window: Window) -> dict[str, int]:
        with self._db() as (db, source, by_day):
            rows = db.execute(
                f"SELECT decision, count(*) FROM {source} "
                f"WHERE ts > $start AND ts <= $end {_days(by_day)} GROUP BY decision",
                {"start": window.start, "end": window.end},
            ).fetchall()
        counts = {str(decision): int(n) for decision, n in rows}
        return counts | {"requests": sum(counts.values())}

    def records_disclosed(self, window: Window, keys: Iterable[ActorKey]) -> Series:
        """Personal records (distinct owner x data class) first disclosed in each bucket to any
        of ``keys``, and their running total."""
        usable = _usable(keys)
        if not usable:
            return Series(_labels(window), {"new records": [], "total": []})
        with self._db() as (db, source, by_day):
            _register_keys(db, usable)
            rows = db.execute(
                f"""
                WITH hits AS (
                    SELECT ts, unnest(owner_ids) AS owner, data_classes FROM {source}
                    WHERE ts > $start AND ts <= $end {_days(by_day)} AND ({_matches(usable)})
                      AND len(owner_ids) > 0
                ),
                classes AS (SELECT ts, owner, unnest(data_classes) AS data_class FROM hits),
                pairs AS (SELECT owner, data_class, min(ts) AS first FROM classes GROUP BY ALL)
                SELECT {_bucket(window)} AS b, count(*) FROM pairs GROUP BY b ORDER BY b
                """,
                {"start": window.start, "end": window.end},
            ).fetchall()
        labels = _labels(window)
        found = {_utc(b).isoformat(): int(n) for b, n in rows}
        new = [found.get(label, 0) for label in labels]
        return Series(labels, {"new records": new, "total": list(itertools.accumulate(new))})

    def activity(self, window: Window, keys: Iterable[ActorKey]) -> Series:
        """Requests carrying any of ``keys`` per bucket, one line per decision."""
        usable = _usable(keys)
        if not usable:
            return Series(_labels(window), {})
        with self._db() as (db, source, by_day):
            _register_keys(db, usable)
            return self._series_in(db, source, by_day, window, "decision", _matches(usable))

    def graph(self, keys: Iterable[ActorKey]) -> Graph:
        """The entity's keys as nodes, linked where one request carried both."""
        usable = [k for k in _usable(keys) if k[0] in GRAPH_KINDS]
        if not usable:
            return Graph([], [], {})
        columns = [KEY_KIND_COLUMNS[kind] for kind in GRAPH_KINDS]
        with self._db() as (db, source, _):
            _register_keys(db, usable)
            rows = db.execute(
                f"SELECT {', '.join(columns)}, count(*) FROM {source} "
                f"WHERE {_matches(usable)} GROUP BY ALL"
            ).fetchall()
        wanted = set(usable)
        events: dict[ActorKey, int] = {key: 0 for key in usable}
        pairs: dict[tuple[ActorKey, ActorKey], int] = {}
        for row in rows:
            *values, count = row
            present = [
                (kind, str(value))
                for kind, value in zip(GRAPH_KINDS, values, strict=True)
                if value is not None and (kind, str(value)) in wanted
            ]
            for key in present:
                events[key] += count
            for a, b in itertools.combinations(present, 2):
                pairs[(a, b)] = pairs.get((a, b), 0) + count
        shown: list[ActorKey] = []
        hidden: dict[str, int] = {}
        for kind in GRAPH_KINDS:
            of_kind = sorted((k for k in usable if k[0] == kind), key=lambda k: (-events[k], k))
            shown += of_kind[:GRAPH_NODES_PER_KIND]
            if len(of_kind) > GRAPH_NODES_PER_KIND:
                hidden[kind] = len(of_kind) - GRAPH_NODES_PER_KIND
        index = {key: i for i, key in enumerate(shown)}
        nodes = [{"kind": k, "value": v, "events": events[(k, v)]} for k, v in shown]
        edges = [
            {"source": index[a], "target": index[b], "events": n}
            for (a, b), n in sorted(pairs.items())
            if a in index and b in index
        ]
        return Graph(nodes, edges, hidden)

    def _series(self, window: Window, line: str, where: str, value: str) -> Series:
        with self._db() as (db, source, by_day):
            return self._series_in(db, source, by_day, window, line, where, value)

    @staticmethod
    def _series_in(
        db: duckdb.DuckDBPyConnection,
        source: str,
        by_day: bool,
        window: Window,
        line: str,
        where: str,
        value: str = "count(*)",
    ) -> Series:
        rows = db.execute(
            f"""
            SELECT {_bucket(window, "ts")} AS b, {line} AS line, {value} FROM {source}
            WHERE ts > $start AND ts <= $end {_days(by_day)} AND ({where})
            GROUP BY ALL ORDER BY b
            """,
            {"start": window.start, "end": window.end},
        ).fetchall()
        labels = _labels(window)
        position = {label: i for i, label in enumerate(labels)}
        lines: dict[str, list[int]] = {}
        for bucket, name, count in rows:
            counts = lines.setdefault(str(name), [0] * len(labels))
            slot = position.get(_utc(bucket).isoformat())
            if slot is not None:
                counts[slot] += int(count)
        return Series(labels, dict(sorted(lines.items())))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _bucket(window: Window, column: str = "first") -> str:
    return (
        f"time_bucket(INTERVAL '{window.bucket_minutes} minutes', {column}, "
        f"TIMESTAMPTZ '{window.start.isoformat()}')"
    )


def _labels(window: Window) -> list[str]:
    step = timedelta(minutes=window.bucket_minutes)
    labels, moment = [], window.start
    while moment <= window.end:
        labels.append(_utc(moment).isoformat())
        moment += step
    return labels


def _days(by_day: bool) -> str:
    return "AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)" if by_day else ""


def _usable(keys: Iterable[ActorKey]) -> list[ActorKey]:
    return sorted({(kind, value) for kind, value in keys if kind in KEY_KIND_COLUMNS})


def _register_keys(db: duckdb.DuckDBPyConnection, keys: list[ActorKey]) -> None:
    db.register(
        "_keys",
        pa.table(
            {
                "kind": pa.array([k for k, _ in keys], pa.string()),
                "value": pa.array([v for _, v in keys], pa.string()),
            }
        ),
    )


def _matches(keys: list[ActorKey]) -> str:
    # the kinds are KEY_KIND_COLUMNS' own names; the values stay in the registered table
    return " OR ".join(
        f"{KEY_KIND_COLUMNS[kind]} IN (SELECT value FROM _keys WHERE kind = '{kind}')"
        for kind in sorted({kind for kind, _ in keys})
    )
