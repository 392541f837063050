"""Detector SQL on Spark: the DuckDB dialect the detectors are written in, transpiled by sqlglot.

Events reach Spark as Parquet, the way they sit on shared storage in production: a folder is
read where it lies; an Arrow table (tests, the CLI's other stores) is first written to a Parquet
file in the engine's scratch folder. Context tables go the same way. The queries of linking and
evidence are DuckDB SQL too and are transpiled like the detectors.

Spark runs in local mode (``local[2]``) unless ``HARVESTGUARD_SPARK_MASTER`` names a cluster.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from pyspark.sql import SparkSession
from sqlglot import exp

from harvestguard.detect.context import CONTEXT_SCHEMAS
from harvestguard.detect.engines import CLASS_FLAGS, PRINCIPAL_SQL, EventSource
from harvestguard.events import ARROW_SCHEMA, FIELD_NAMES

# columns holding lists, for which DuckDB's len() is Spark's size(), not length()
LIST_COLUMNS = frozenset(
    field.name
    for schema in (ARROW_SCHEMA, *CONTEXT_SCHEMAS.values())
    for field in schema
    if pa.types.is_list(field.type) or pa.types.is_large_list(field.type)
)

SPARK_SETTINGS = {
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.session.timeZone": "UTC",
    # DuckDB's semantics, which the detectors are written against: a division by zero or an
    # overflowing cast is NULL, not an error (Spark 4 turns ANSI mode on by default)
    "spark.sql.ansi.enabled": "false",
    # Parquet folders written over time may add columns; DuckDB reads them with union_by_name
    "spark.sql.parquet.mergeSchema": "true",
}


def spark_session() -> SparkSession:
    """The process's Spark session, started on first use with the settings above."""
    master = os.environ.get("HARVESTGUARD_SPARK_MASTER", "local[2]")
    # read by the JVM at launch: it then neither looks up the host name nor warns about it
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(master).appName("harvestguard-detect")
    for key, value in SPARK_SETTINGS.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _double_literals(node: exp.Expression) -> exp.Expression:
    """``0.6`` is a DECIMAL in both dialects, but DuckDB turns decimal arithmetic with a division
    into DOUBLE while Spark keeps DECIMAL (rounded to 6 places): scores would differ in the last
    digits. Spark's ``0.6D`` suffix keeps every fractional literal a DOUBLE, as DuckDB computes."""
    if isinstance(node, exp.Literal) and not node.is_string:
        text = node.this
        if "." in text and "e" not in text.lower():
            return exp.cast(node, exp.DataType.build("DOUBLE"))
    return node


def _list_sizes(node: exp.Expression) -> exp.Expression:
    """DuckDB's ``len`` takes strings and lists alike; sqlglot, without the column types, writes
    Spark's ``length``, which refuses a list: the list columns are known by name."""
    column = node.this if isinstance(node, exp.Length) else None
    if isinstance(column, exp.Column) and column.name in LIST_COLUMNS:
        return exp.Anonymous(this="size", expressions=[column])
    return node


def _grouped_subqueries(node: exp.Expression) -> exp.Expression:
    """A scalar subquery in the SELECT list of a GROUP BY query, correlated on the grouped
    columns (evidence's sample request ids per entity), is one value per group: DuckDB takes it
    as is, Spark wants it inside an aggregate, and ``first`` of a constant is that constant."""
    if isinstance(node, exp.Select) and node.args.get("group"):
        for projection in node.expressions:
            inner = projection.this if isinstance(projection, exp.Alias) else projection
            if isinstance(inner, exp.Subquery):
                inner.replace(exp.func("first", inner.copy()))
    return node


def to_spark_sql(sql: str) -> str:
    """One DuckDB statement as Spark SQL."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    for rewrite in (_double_literals, _list_sizes, _grouped_subqueries):
        tree = tree.transform(rewrite)
    return tree.sql(dialect="spark")


class SparkEngine:
    """Detector SQL on Spark SQL; ``events`` is a view over Parquet, ``event_owners`` is cached."""

    name = "spark"

    def __init__(self) -> None:
        self._session: SparkSession | None = None
        self._scratch = Path(tempfile.mkdtemp(prefix="harvestguard-spark-"))
        self._tables: set[str] = set()
        self._files = 0
        self._evicted_before: float | None = None

    @property
    def session(self) -> SparkSession:
        # started on first query, so that checking an engine name does not start a JVM; a session
        # of its own keeps its temporary views apart from other engines' (the JVM is shared)
        if self._session is None:
            self._session = spark_session().newSession()
        return self._session

    def _parquet(self, name: str, table: pa.Table, folder: Path | None = None) -> str:
        # a fresh file every time: Spark may still hold the listing of a file it read before
        self._files += 1
        # Spark skips files whose names start with "_" (such as "_members"): the number goes first
        path = (folder or self._scratch) / f"{self._files:06d}-{name}.parquet"
        pq.write_table(table, path)
        return str(path)

    def load_events(
        self, source: EventSource, *, start: float | None = None, end: float | None = None
    ) -> None:
        """Batch mode: ``events`` is a view over the source's Parquet files."""
        path = self._parquet("events", source) if isinstance(source, pa.Table) else str(source)
        reader = self.session.read.option("recursiveFileLookup", "true")
        reader.parquet(path).createOrReplaceTempView("_source")
        bounds = [f"epoch_s >= {float(start)!r}"] if start is not None else []
        bounds += [f"epoch_s < {float(end)!r}"] if end is not None else []
        self._fill(bounds)

    def append_events(self, batch: pa.Table) -> None:
        """Incremental mode: each batch is one more Parquet file of the engine's events folder."""
        folder = self._scratch / "events"
        folder.mkdir(exist_ok=True)
        self._parquet("batch", batch, folder)
        self.session.read.parquet(str(folder)).createOrReplaceTempView("_source")
        self._refill()

    def evict_before(self, epoch_s: float) -> None:
        self._evicted_before = float(epoch_s)
        self._refill()

    def _refill(self) -> None:
        evicted = self._evicted_before
        self._fill([] if evicted is None else [f"epoch_s >= {evicted!r}"])

    def _fill(self, bounds: list[str]) -> None:
        columns = ", ".join(f"`{name}`" for name in FIELD_NAMES)
        where = f"WHERE {' AND '.join(bounds)}" if bounds else ""
        # epoch_s is derived from microseconds so that it equals DuckDB's epoch(ts) exactly
        self.session.sql(
            f"""CREATE OR REPLACE TEMPORARY VIEW _all_events AS
                SELECT * FROM (
                    SELECT {columns}, CAST(unix_micros(ts) AS DOUBLE) / 1000000.0D AS epoch_s,
                           {PRINCIPAL_SQL}
                    FROM _source) framed {where}"""
        )
        if "event_owners" in self._tables:
            self.session.catalog.uncacheTable("_all_event_owners")
        self.session.sql(
            f"""CREATE OR REPLACE TEMPORARY VIEW _all_event_owners AS
                SELECT epoch_s, actor_kind, actor_key, route, resource, audience, status,
                       object_id, {CLASS_FLAGS}, size(owner_ids) AS owners_shown,
                       explode(owner_ids) AS owner
                FROM _all_events WHERE size(owner_ids) > 0"""
        )
        self.session.catalog.cacheTable("_all_event_owners")
        self.restrict(None)

    def restrict(self, since: float | None) -> None:
        """``events`` and ``event_owners`` show only the events from ``since`` on (all: None)."""
        where = "" if since is None else f" WHERE epoch_s >= {float(since)!r}D"
        for name in ("events", "event_owners"):
            self.session.sql(
                f"CREATE OR REPLACE TEMPORARY VIEW {name} AS SELECT * FROM _all_{name}{where}"
            )
        self._tables |= {"events", "event_owners"}

    def load_table(self, name: str, table: pa.Table) -> None:
        frame = self.session.read.parquet(self._parquet(name, table))
        frame.createOrReplaceTempView(name)
        self._tables.add(name)

    def has_table(self, name: str) -> bool:
        return name in self._tables

    def query(self, sql: str) -> pa.Table:
        table: pa.Table = self.session.sql(to_spark_sql(sql)).toArrow()
        return table

    def close(self) -> None:
        # Spark stays up for the next engine of the process; only this engine's cache goes
        if self._session is not None and "event_owners" in self._tables:
            self._session.catalog.uncacheTable("_all_event_owners")
        self._tables.clear()
        shutil.rmtree(self._scratch, ignore_errors=True)
