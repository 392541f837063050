"""BufferedSink: never blocks, never raises, and every event reaches the store exactly once."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from harvestguard.events import AccessEvent, from_arrow
from harvestguard.sinks import BufferedSink, DuckDBSink, ParquetSink
from harvestguard.sinks import duckdb as duckdb_sink
from harvestguard.sinks import parquet as parquet_sink
from harvestguard.sinks.spill import SEGMENT_SUFFIX, SpillDirectoryInUse
from tests.test_sinks import by_id, make_events

_spawn = multiprocessing.get_context("spawn")


class SwitchableDuckDB:
    """A real DuckDBSink that can be shut down and brought back: while it is down, writes fail
    as they would on a closed database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sink = DuckDBSink(path)
        self._lock = threading.Lock()

    def write(self, events: Sequence[AccessEvent]) -> None:
        with self._lock:
            self._sink.write(events)

    def stop(self) -> None:
        with self._lock:
            self._sink.close()

    def start(self) -> None:
        with self._lock:
            self._sink = DuckDBSink(self.path)

    def close(self) -> None:
        self.stop()


class GatedSink:
    """A real sink whose writes wait until the gate opens: a sink that has stalled."""

    def __init__(self, sink: DuckDBSink) -> None:
        self.sink = sink
        self.entered = threading.Event()
        self.gate = threading.Event()

    def write(self, events: Sequence[AccessEvent]) -> None:
        self.entered.set()
        self.gate.wait()
        self.sink.write(events)

    def close(self) -> None:
        self.sink.close()


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def request_id_counts(path: Path) -> Counter[str]:
    return Counter(
        str(value) for value in duckdb_sink.read_events(path).column("request_id").to_pylist()
    )


def test_every_event_is_stored_exactly_once_across_a_sink_outage(tmp_path: Path) -> None:
    store = SwitchableDuckDB(tmp_path / "events.duckdb")
    buffered = BufferedSink(
        store,
        tmp_path / "spill",
        batch_size=500,
        flush_interval=0.02,
        max_queue=2000,
        retry_initial=0.01,
        retry_max=0.1,
    )
    phases = [threading.Event() for _ in range(3)]
    producers_done = [threading.Event() for _ in range(3)]
    finished = [0] * 3
    lock = threading.Lock()

    def produce(name: str) -> None:
        events = make_events(5000, prefix=name)
        for phase, (start, stop) in enumerate(((0, 1500), (1500, 3500), (3500, 5000))):
            phases[phase].wait()
            for event in events[start:stop]:
                buffered.submit(event)
            with lock:
                finished[phase] += 1
                if finished[phase] == 4:
                    producers_done[phase].set()

    threads = [threading.Thread(target=produce, args=(f"p{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()

    phases[0].set()
    producers_done[0].wait()
    wait_until(lambda: buffered.stats.written >= 2000)
    store.stop()
    phases[1].set()  # 8,000 events arrive while the database is down
    producers_done[1].wait()
    wait_until(lambda: buffered.stats.failures >= 3 and buffered.stats.spilled >= 2000)
    assert buffered.stats.written < 20_000
    store.start()
    phases[2].set()
    for thread in threads:
        thread.join()
    assert buffered.flush(timeout=60)
    stats = buffered.stats
    buffered.close()

    counts = request_id_counts(tmp_path / "events.duckdb")
    assert len(counts) == 20_000
    assert set(counts.values()) == {1}
    assert counts.keys() == {
        e.request_id for i in range(4) for e in make_events(5000, prefix=f"p{i}")
    }
    assert stats.submitted == stats.written == 20_000
    assert stats.replayed == stats.spilled > 0
    assert stats.failures >= 3
    assert stats.pending == stats.lost == stats.torn == 0
    assert not list((tmp_path / "spill").glob(f"*{SEGMENT_SUFFIX}"))


def test_events_round_trip_exactly_through_the_buffer(tmp_path: Path) -> None:
    events = make_events(1234)
    buffered = BufferedSink(DuckDBSink(tmp_path / "e.duckdb"), tmp_path / "spill", batch_size=100)
    for event in events:
        buffered.submit(event)
    buffered.close()
    assert by_id(from_arrow(duckdb_sink.read_events(tmp_path / "e.duckdb"))) == by_id(events)


def test_a_full_queue_spills_instead_of_dropping(tmp_path: Path) -> None:
    gated = GatedSink(DuckDBSink(tmp_path / "events.duckdb"))
    buffered = BufferedSink(
        # a long interval: the writer takes its first batch when 5 events are queued, not before
        gated,
        tmp_path / "spill",
        batch_size=5,
        flush_interval=30,
        max_queue=10,
    )
    events = make_events(200)
    for event in events[:5]:
        buffered.submit(event)
    assert gated.entered.wait(10)

    started = time.monotonic()
    for event in events[5:]:
        buffered.submit(event)
    submit_seconds = time.monotonic() - started

    stats = buffered.stats
    assert stats.spilled == 185  # 5 being written, 10 queued, the rest on disk
    assert stats.pending == 200 and stats.written == 0
    assert submit_seconds < 5  # the stalled sink did not hold the producer
    gated.gate.set()
    assert buffered.flush(timeout=30)
    buffered.close()
    counts = request_id_counts(tmp_path / "events.duckdb")
    assert len(counts) == 200 and set(counts.values()) == {1}


def _spill_and_crash(store: str, spill: str) -> None:
    sink = DuckDBSink(store)
    sink.close()  # the database is unusable: every write fails
    buffered = BufferedSink(sink, spill, batch_size=100, flush_interval=0.01, retry_initial=0.01)
    for event in make_events(300, prefix="crashed"):
        buffered.submit(event)
    buffered.flush(timeout=2)
    if buffered.stats.spilled == 300:
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_spill_left_by_a_crashed_process_is_replayed_at_start_up(tmp_path: Path) -> None:
    store, spill = tmp_path / "events.duckdb", tmp_path / "spill"
    child = _spawn.Process(target=_spill_and_crash, args=(str(store), str(spill)))
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    assert list(spill.glob(f"*{SEGMENT_SUFFIX}"))

    buffered = BufferedSink(DuckDBSink(store), spill, flush_interval=0.01)
    assert buffered.flush(timeout=30)
    stats = buffered.stats
    buffered.close()

    assert stats.replayed == stats.written == 300 and stats.submitted == 0
    assert by_id(from_arrow(duckdb_sink.read_events(store))) == by_id(
        make_events(300, prefix="crashed")
    )
    assert not list(spill.glob(f"*{SEGMENT_SUFFIX}"))


def _leave_spill(spill: Path, events: list[AccessEvent], store: Path) -> None:
    dead = DuckDBSink(store)
    dead.close()
    buffered = BufferedSink(dead, spill, batch_size=1000, flush_interval=0.01)
    for event in events:
        buffered.submit(event)
    buffered.close()  # the sink is down: the events stay in the spill for the next start
    assert buffered.stats.spilled == len(events)


def test_torn_and_corrupt_spill_records_are_skipped_and_counted(tmp_path: Path) -> None:
    spill, store = tmp_path / "spill", tmp_path / "events.duckdb"
    events = make_events(50)
    _leave_spill(spill, events, store)
    (segment,) = spill.glob(f"*{SEGMENT_SUFFIX}")
    lines = segment.read_bytes().split(b"\n")
    # a bit flipped inside record 10 (status 200 -> 201), and record 49 cut short by a crash
    lines[10] = lines[10].replace(b'"status":200', b'"status":201')
    assert b'"status":201' in lines[10]
    segment.write_bytes(b"\n".join(lines[:49]) + b"\n" + lines[49][:40])

    buffered = BufferedSink(DuckDBSink(store), spill, flush_interval=0.01)
    assert buffered.flush(timeout=30)
    stats = buffered.stats
    buffered.close()

    assert stats.torn == 2
    assert stats.replayed == 48
    stored = by_id(from_arrow(duckdb_sink.read_events(store)))
    assert stored == {e.request_id: e for i, e in enumerate(events) if i not in (10, 49)}


def test_a_real_parquet_outage_spills_and_replays(tmp_path: Path) -> None:
    root = tmp_path / "events"
    buffered = BufferedSink(
        ParquetSink(root),
        tmp_path / "spill",
        batch_size=50,
        flush_interval=0.01,
        retry_initial=0.01,
        retry_max=0.05,
    )
    events = make_events(400)
    for event in events[:100]:
        buffered.submit(event)
    assert buffered.flush(timeout=30)
    # the storage goes away: the partition directories cannot be created any more
    shutil.rmtree(root)
    root.write_bytes(b"not a directory")
    for event in events[100:300]:
        buffered.submit(event)
    wait_until(lambda: buffered.stats.spilled == 200)
    assert not buffered.flush(timeout=0.2)
    root.unlink()
    root.mkdir()
    for event in events[300:]:
        buffered.submit(event)
    assert buffered.flush(timeout=30)
    buffered.close()

    stored = from_arrow(parquet_sink.read_events(root))
    # the first 100 went down with the old directory; everything after it is there, once
    assert len(stored) == 300
    assert by_id(stored) == by_id(events[100:])


def test_close_is_idempotent_and_later_events_are_counted_lost(tmp_path: Path) -> None:
    buffered = BufferedSink(DuckDBSink(tmp_path / "e.duckdb"), tmp_path / "spill")
    buffered.submit(make_events(1)[0])
    buffered.close()
    buffered.close()
    buffered.submit(make_events(2)[1])  # must not raise
    stats = buffered.stats
    assert (stats.submitted, stats.written, stats.lost) == (2, 1, 1)


def test_one_owner_per_spill_directory(tmp_path: Path) -> None:
    first = BufferedSink(DuckDBSink(tmp_path / "a.duckdb"), tmp_path / "spill")
    second_sink = DuckDBSink(tmp_path / "b.duckdb")
    with pytest.raises(SpillDirectoryInUse):
        BufferedSink(second_sink, tmp_path / "spill")
    second_sink.close()
    first.close()
    BufferedSink(DuckDBSink(tmp_path / "c.duckdb"), tmp_path / "spill").close()


@pytest.mark.parametrize(
    "options",
    [
        {"batch_size": 0},
        {"max_queue": 0},
        {"flush_interval": 0},
        {"retry_initial": 2, "retry_max": 1},
    ],
)
def test_bad_options_are_refused(tmp_path: Path, options: dict[str, float]) -> None:
    sink = DuckDBSink(tmp_path / "e.duckdb")
    with pytest.raises(ValueError):
        BufferedSink(sink, tmp_path / "spill", **options)  # type: ignore[arg-type]
    sink.close()
