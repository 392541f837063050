"""Every sink stores events exactly as given, and open_sink knows its URLs."""

from __future__ import annotations

import dataclasses
import inspect
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from harvestguard.events import AccessEvent, from_arrow
from harvestguard.sinks import (
    SINKS,
    BufferedSink,
    BufferStats,
    DuckDBSink,
    JsonLinesSink,
    ParquetSink,
    open_sink,
    parse_sink_url,
)
from harvestguard.sinks import duckdb as duckdb_sink
from harvestguard.sinks import jsonl as jsonl_sink
from harvestguard.sinks import parquet as parquet_sink

START = datetime(2025, 3, 1, 23, 0, tzinfo=UTC)
_ZONES = (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-7, minutes=-30)))


def make_events(
    n: int, *, prefix: str = "r", start: datetime = START, step: timedelta | None = None
) -> list[AccessEvent]:
    """Events with every field set the way real traffic sets them, in several time zones."""
    rng = random.Random(prefix)
    step = step if step is not None else timedelta(seconds=7.3)
    events = []
    for i in range(n):
        ts = (start + i * step).astimezone(_ZONES[i % len(_ZONES)])
        anonymous = i % 4 == 0
        events.append(
            AccessEvent(
                ts=ts,
                request_id=f"{prefix}-{i:07d}",
                channel="api" if i % 5 == 0 else "web",
                actor_account=None if anonymous else str(rng.randrange(1, 500)),
                actor_client="app-17" if i % 5 == 0 else None,
                session=None if anonymous else f"s{rng.randrange(10_000)}",
                ip=f"{rng.getrandbits(128):032x}",
                net=f"{rng.getrandbits(128):032x}",
                ua="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0 — ünïcode",
                fingerprint=f"hdr:{rng.getrandbits(96):024x}",
                method="GET" if i % 7 else "POST",
                route="/u/{username}",
                path=f"/u/user{i}",
                status=200 if i % 11 else 404,
                bytes=rng.randrange(100, 200_000),
                duration_ms=rng.random() * 80,
                resource=("profile", "post", "story", "location")[i % 4],
                object_id=str(i),
                owner_ids=[str(rng.randrange(1, 500)) for _ in range(i % 3)],
                data_classes=["identity", "location", "photo"][: i % 4],
                audience=None if i % 9 == 0 else "authenticated",
                decision="allow" if i % 13 else "throttle",
            )
        )
    return events


def by_id(events: list[AccessEvent]) -> dict[str, AccessEvent]:
    return {event.request_id: event for event in events}


def stored_events(kind: str, location: Path) -> list[AccessEvent]:
    if kind == "duckdb":
        return from_arrow(duckdb_sink.read_events(location))
    if kind == "parquet":
        return from_arrow(parquet_sink.read_events(location))
    return jsonl_sink.read_events(location)


@pytest.mark.parametrize("kind", ["duckdb", "parquet", "jsonl"])
def test_each_sink_round_trips_every_field(tmp_path: Path, kind: str) -> None:
    location = tmp_path / f"events.{kind}"
    events = make_events(300)
    sink = open_sink(f"{kind}:{location}")
    sink.write(events[:120])
    sink.write(events[120:])
    sink.write([])
    sink.close()

    stored = stored_events(kind, location)

    assert len(stored) == len(events)
    assert by_id(stored) == by_id(events)
    some = by_id(stored)["r-0000001"]
    assert some.ts.utcoffset() == timedelta(0)
    assert some.ts == events[1].ts and events[1].ts.utcoffset() == timedelta(hours=2)
    assert by_id(stored)["r-0000002"].owner_ids == events[2].owner_ids
    assert len(events[2].owner_ids) == 2


def test_duckdb_sink_appends_to_an_existing_file_and_serves_readers(tmp_path: Path) -> None:
    path = tmp_path / "db" / "events.duckdb"
    first = DuckDBSink(path)
    first.write(make_events(10, prefix="a"))
    first.close()
    sink = DuckDBSink(path)
    sink.write(make_events(5, prefix="b"))
    with sink.cursor() as cursor:
        counts = cursor.sql(
            "SELECT split_part(request_id, '-', 1) AS p, count(*) FROM events GROUP BY p ORDER BY p"
        ).fetchall()
    assert counts == [("a", 10), ("b", 5)]
    # the documented limit: no other reader while a process has the file open
    with pytest.raises(duckdb.ConnectionException):
        duckdb_sink.read_events(path)
    sink.close()
    assert len(duckdb_sink.read_events(path)) == 15


def test_parquet_sink_partitions_by_utc_day(tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path / "events")
    # 23:00 UTC on March 1st plus hourly steps: two UTC days, whatever the event's own zone
    sink.write(make_events(3, step=timedelta(hours=1)))
    days = sorted(path.name for path in (tmp_path / "events").iterdir())
    assert days == ["date=2025-03-01", "date=2025-03-02"]
    names = [path.name for path in (tmp_path / "events").glob("date=*/*")]
    assert all(name.endswith(".parquet") and not name.startswith(".") for name in names)
    with duckdb.connect() as connection:
        rows = connection.sql(
            f"SELECT date, count(*) FROM {parquet_sink.scan_sql(sink.root)} GROUP BY date ORDER BY date"
        ).fetchall()
    assert [(day.isoformat(), n) for day, n in rows] == [("2025-03-01", 1), ("2025-03-02", 2)]


def test_parquet_reader_of_an_empty_root(tmp_path: Path) -> None:
    ParquetSink(tmp_path / "events")
    assert parquet_sink.read_events(tmp_path / "events").num_rows == 0


def test_jsonl_reader_skips_a_line_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonLinesSink(path)
    sink.write(make_events(3))
    sink.close()
    with path.open("ab") as handle:
        handle.write(b'{"ts":"2025-03-01T00:00:00+00:00","request_id":"half')
    assert [event.request_id for event in jsonl_sink.read_events(path)] == [
        "r-0000000",
        "r-0000001",
        "r-0000002",
    ]


def test_jsonl_sink_fails_after_close(tmp_path: Path) -> None:
    sink = JsonLinesSink(tmp_path / "events.jsonl")
    sink.close()
    sink.close()
    with pytest.raises(OSError):
        sink.write(make_events(1))


def test_sink_urls(tmp_path: Path) -> None:
    assert parse_sink_url("parquet:var/events") == ("parquet", Path("var/events"))
    assert parse_sink_url("duckdb:~/events.duckdb")[1] == Path.home() / "events.duckdb"
    assert isinstance(open_sink(f"duckdb:{tmp_path / 'e.duckdb'}"), DuckDBSink)
    assert isinstance(open_sink(f"parquet:{tmp_path / 'p'}"), ParquetSink)
    assert isinstance(open_sink(f"jsonl:{tmp_path / 'e.jsonl'}"), JsonLinesSink)


@pytest.mark.parametrize(
    "url",
    ["", "events.duckdb", "sqlite:events.db", "duckdb:", "parquet:  ", "DuckDB:x", "s3://b/k"],
)
def test_bad_sink_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="sink URL"):
        open_sink(url)


def test_telemetry_docs_cover_every_url_option_and_stat() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "telemetry.md").read_text()
    for kind in SINKS:
        assert f"`{kind}:" in text, kind
    for field in dataclasses.fields(BufferStats):
        assert f"| `{field.name}` |" in text, field.name
    for name, parameter in inspect.signature(BufferedSink).parameters.items():
        if parameter.kind is parameter.KEYWORD_ONLY:
            assert f"`{name}`" in text, name
