"""Several processes append to one Parquet root, and a writer killed mid-write corrupts nothing."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import Counter
from datetime import UTC, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from harvestguard.events import from_arrow
from harvestguard.sinks import ParquetSink
from harvestguard.sinks.parquet import TEMP_SUFFIX, read_events
from tests.test_sinks import make_events

_spawn = multiprocessing.get_context("spawn")
STEP = timedelta(seconds=3)


def _append(root: str, prefix: str, batches: int, size: int) -> None:
    sink = ParquetSink(root)
    events = make_events(batches * size, prefix=prefix, step=timedelta(minutes=3))
    for i in range(batches):
        sink.write(events[i * size : (i + 1) * size])
    sink.close()


def _write_forever(root: str) -> None:
    sink = ParquetSink(root)
    events = make_events(40_000, prefix=str(os.getpid()), step=STEP)
    while True:
        sink.write(events)


def temp_files(root: Path) -> list[Path]:
    return list(root.glob(f"date=*/.*{TEMP_SUFFIX}"))


def test_two_processes_append_to_one_root_and_lose_nothing(tmp_path: Path) -> None:
    root = str(tmp_path / "events")
    writers = [_spawn.Process(target=_append, args=(root, p, 20, 500)) for p in ("a", "b")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
        assert writer.exitcode == 0

    stored = from_arrow(read_events(root))

    assert len(stored) == 20_000
    assert {event.request_id for event in stored} == {
        event.request_id for p in ("a", "b") for event in make_events(10_000, prefix=p)
    }


def test_a_writer_killed_mid_write_leaves_only_readable_files(tmp_path: Path) -> None:
    root = tmp_path / "events"
    caught_mid_write = False
    for _ in range(10):
        writer = _spawn.Process(target=_write_forever, args=(str(root),))
        writer.start()
        deadline = time.monotonic() + 60
        before = len(list(root.glob("date=*/*.parquet")))
        # let it finish a batch, then strike while a file is half written
        while len(list(root.glob("date=*/*.parquet"))) <= before or not temp_files(root):
            assert time.monotonic() < deadline, "the writer wrote nothing"
        assert writer.pid is not None
        os.kill(writer.pid, signal.SIGKILL)
        writer.join()
        if temp_files(root):
            caught_mid_write = True
            break
    assert caught_mid_write, "no kill landed during a write"

    finals = list(root.glob("date=*/*.parquet"))
    for path in finals:
        assert pq.read_table(path).num_rows == pq.read_metadata(path).num_rows > 0
    assert read_events(root).num_rows == sum(pq.read_metadata(path).num_rows for path in finals)
    # every visible file holds one whole day of a batch, never part of one
    day_sizes = Counter(event.ts.astimezone(UTC).date() for event in make_events(40_000, step=STEP))
    assert {pq.read_metadata(path).num_rows for path in finals} <= set(day_sizes.values())


def test_stale_temp_files_are_removed_fresh_ones_kept(tmp_path: Path) -> None:
    partition = tmp_path / "events" / "date=2025-03-01"
    partition.mkdir(parents=True)
    stale = partition / f".old.parquet{TEMP_SUFFIX}"
    fresh = partition / f".new.parquet{TEMP_SUFFIX}"
    stale.write_bytes(b"PAR1 half")
    fresh.write_bytes(b"PAR1 half")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))

    ParquetSink(tmp_path / "events")

    assert not stale.exists()
    assert fresh.exists()
    assert read_events(tmp_path / "events").num_rows == 0
