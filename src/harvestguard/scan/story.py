"""What the scanned events say about addresses: activity counts and one address's story."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from harvestguard.ingest import STATIC_ROUTE
from harvestguard.scan.scanner import ScanResult

TOP_URLS = 10
SAMPLE_REQUESTS = 8


@dataclass(slots=True)
class Activity:
    requests: int
    pages: int
    first_seen: datetime
    last_seen: datetime


@dataclass(slots=True)
class Story:
    address: str
    activity: Activity | None
    statuses: list[tuple[int, int]] = field(default_factory=list)
    urls: list[tuple[str, int]] = field(default_factory=list)
    hours: list[tuple[datetime, int]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)


def _events(result: ScanResult, connection: duckdb.DuckDBPyConnection) -> str:
    if isinstance(result.events, pa.Table):
        connection.register("_scanned", result.events)
        return "_scanned"
    pattern = str(result.events / "*.parquet").replace("'", "''")
    return f"read_parquet('{pattern}')"


def activity(result: ScanResult, pseudonyms: Sequence[str]) -> dict[str, Activity]:
    if not pseudonyms:
        return {}
    with duckdb.connect() as connection:
        connection.register("_wanted", pa.table({"ip": pa.array(list(pseudonyms), pa.string())}))
        rows = connection.execute(
            f"""
            SELECT ip, count(*), count(*) FILTER (WHERE route IS NULL OR route <> ?),
                   min(ts), max(ts)
            FROM {_events(result, connection)} WHERE ip IN (SELECT ip FROM _wanted) GROUP BY ip
            """,
            [STATIC_ROUTE],
        ).fetchall()
    return {row[0]: Activity(row[1], row[2], row[3], row[4]) for row in rows}


def story(result: ScanResult, address: str) -> Story:
    pseudonym = result.pseudonymiser.ip(address)
    found = activity(result, [pseudonym]).get(pseudonym)
    told = Story(address=result.address_of(pseudonym), activity=found)
    if found is None:
        return told
    with duckdb.connect() as connection:
        source = _events(result, connection)
        told.statuses = [
            (int(s), int(n))
            for s, n in connection.execute(
                f"SELECT status, count(*) FROM {source} WHERE ip = ? GROUP BY 1 ORDER BY 2 DESC",
                [pseudonym],
            ).fetchall()
        ]
        told.urls = [
            (str(p), int(n))
            for p, n in connection.execute(
                f"SELECT path, count(*) FROM {source} WHERE ip = ? GROUP BY 1 "
                f"ORDER BY 2 DESC, 1 LIMIT {TOP_URLS}",
                [pseudonym],
            ).fetchall()
        ]
        told.hours = [
            (h, int(n))
            for h, n in connection.execute(
                f"SELECT date_trunc('hour', ts) AS h, count(*) FROM {source} WHERE ip = ? "
                "GROUP BY 1 ORDER BY 1",
                [pseudonym],
            ).fetchall()
        ]
        columns = ("ts", "request_id", "method", "path", "status", "bytes", "ua", "route")
        told.samples = [
            dict(zip(columns, row, strict=True))
            for row in connection.execute(
                f"SELECT {', '.join(columns)} FROM {source} WHERE ip = ? ORDER BY ts "
                f"LIMIT {SAMPLE_REQUESTS}",
                [pseudonym],
            ).fetchall()
        ]
    return told
