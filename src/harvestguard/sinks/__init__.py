"""Where events go. ``open_sink(url)`` opens a sink named by a URL:

- ``duckdb:PATH`` — one DuckDB file (one writing process per file)
- ``parquet:DIR`` — Parquet files partitioned by day under DIR (any number of writers)
- ``jsonl:PATH`` — JSON lines appended to one file (one writing process per file)

PATH and DIR are file-system paths, relative to the working directory unless absolute; ``~``
is expanded. Wrap the sink in a ``BufferedSink`` before handing it to the request path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from harvestguard.events import to_arrow
from harvestguard.sinks import duckdb, jsonl, parquet
from harvestguard.sinks.base import Sink
from harvestguard.sinks.buffer import BufferedSink, BufferStats
from harvestguard.sinks.duckdb import DuckDBSink
from harvestguard.sinks.jsonl import JsonLinesSink
from harvestguard.sinks.parquet import ParquetSink

SINKS: dict[str, Callable[[Path], Sink]] = {
    "duckdb": DuckDBSink,
    "parquet": ParquetSink,
    "jsonl": JsonLinesSink,
}

__all__ = [
    "SINKS",
    "BufferStats",
    "BufferedSink",
    "DuckDBSink",
    "JsonLinesSink",
    "ParquetSink",
    "Sink",
    "open_sink",
    "parse_sink_url",
    "read_store",
]


def parse_sink_url(url: str) -> tuple[str, Path]:
    """``"parquet:var/events"`` -> ``("parquet", Path("var/events"))``; ValueError if malformed."""
    kind, colon, location = url.partition(":")
    if not colon or kind not in SINKS:
        known = ", ".join(f"{name}:PATH" for name in SINKS)
        raise ValueError(f"unknown event sink URL {url!r}; expected one of {known}")
    if not location.strip():
        raise ValueError(f"event sink URL {url!r} names no path")
    return kind, Path(location).expanduser()


def read_store(url: str) -> pa.Table:
    """Every event stored at a sink URL, as an Arrow table in the events schema."""
    kind, path = parse_sink_url(url)
    if not path.exists():
        raise FileNotFoundError(f"no event store at {path}")
    if kind == "parquet":
        return parquet.read_events(path)
    if kind == "duckdb":
        return duckdb.read_events(path)
    return to_arrow(jsonl.read_events(path))


def open_sink(url: str) -> Sink:
    kind, path = parse_sink_url(url)
    return SINKS[kind](path)
