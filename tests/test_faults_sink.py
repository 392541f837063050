"""The process writing events is killed (SIGKILL) in the middle of writing a batch, over and over,
and started again: the directory never holds a half-written file a reader would see (both DuckDB
and pyarrow read all of it), every event whose flush the writer saw acknowledged is stored
exactly once, and no event is stored twice.

The writer is the whole sink stack of an app instance: ``BufferedSink`` (queue, background
thread, spill) over ``ParquetSink`` (temporary file, fsync, rename)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from harvestguard.sinks import BufferedSink, ParquetSink
from harvestguard.sinks.parquet import TEMP_SUFFIX, read_events
from tests.test_sinks import make_events

_spawn = multiprocessing.get_context("spawn")
BATCH = 20_000
STEP = timedelta(seconds=3)


def _produce(root: str, spill: str, progress: str, prefix: str, batches: int) -> None:
    """Submits batches of events; after each acknowledged flush, notes how many are stored."""
    sink = BufferedSink(ParquetSink(root), spill, batch_size=BATCH, flush_interval=0.05)
    with Path(progress).open("a") as out:
        for number in range(batches):
            for event in make_events(BATCH, prefix=_batch_prefix(prefix, number), step=STEP):
                sink.submit(event)
            if sink.flush(timeout=120):
                out.write(f"{prefix} {number + 1}\n")
                out.flush()
                os.fsync(out.fileno())
    sink.close()


def _batch_prefix(prefix: str, number: int) -> str:
    return f"{prefix}.{number:03d}"


def _acknowledged(progress: Path) -> dict[str, int]:
    """Writer -> how many of its batches it saw flushed."""
    done: dict[str, int] = {}
    if progress.exists():
        for line in progress.read_text().splitlines():
            prefix, count = line.split()
            done[prefix] = max(done.get(prefix, 0), int(count))
    return done


def _temp_files(root: Path) -> list[Path]:
    return list(root.glob(f"date=*/.*{TEMP_SUFFIX}"))


def test_a_writer_killed_mid_batch_leaves_a_readable_store_and_loses_nothing_acknowledged(
    tmp_path: Path,
) -> None:
    root, spill, progress = tmp_path / "events", tmp_path / "spill", tmp_path / "progress"
    kills_mid_write = 0
    prefixes = []
    for attempt in range(6):
        prefix = f"w{attempt}"
        prefixes.append(prefix)
        writer = _spawn.Process(
            target=_produce, args=(str(root), str(spill), str(progress), prefix, 50)
        )
        writer.start()
        deadline = time.monotonic() + 120
        # strike once the writer has had a batch acknowledged, while a file is half written
        while not _acknowledged(progress).get(prefix) or not _temp_files(root):
            assert time.monotonic() < deadline, "the writer wrote nothing"
            assert writer.is_alive(), "the writer died by itself"
            time.sleep(0.002)
        assert writer.pid is not None
        os.kill(writer.pid, signal.SIGKILL)
        writer.join()
        assert writer.exitcode == -signal.SIGKILL
        kills_mid_write += bool(_temp_files(root))
        if kills_mid_write >= 2:
            break
    assert kills_mid_write >= 1, "no kill landed during a write"
    # a last writer starts on the same spill (replaying what it holds) and finishes cleanly
    _produce(str(root), str(spill), str(progress), "last", 1)

    # every file a reader sees is whole: both readers read every row of every file
    finals = sorted(root.glob("date=*/*.parquet"))
    rows_in_files = sum(pq.read_metadata(path).num_rows for path in finals)
    with duckdb.connect() as connection:
        row = connection.execute(
            f"SELECT count(*) FROM read_parquet('{root}/**/*.parquet', hive_partitioning = true)"
        ).fetchone()
    assert row is not None and row[0] == rows_in_files
    dataset = ds.dataset(root, format="parquet", partitioning="hive")
    assert dataset.count_rows() == rows_in_files
    assert {Path(path).name for path in dataset.files} == {path.name for path in finals}

    stored = Counter(str(rid) for rid in read_events(root).column("request_id").to_pylist())
    assert stored and set(stored.values()) == {1}  # nothing twice
    acknowledged = _acknowledged(progress)
    for prefix in [*prefixes, "last"]:
        expected = {
            f"{_batch_prefix(prefix, number)}-{i:07d}"
            for number in range(acknowledged.get(prefix, 0))
            for i in range(BATCH)
        }
        kept = {rid for rid in stored if rid.startswith(f"{prefix}.")}
        assert expected <= kept, f"{prefix}: {len(expected - kept)} acknowledged events lost"
    assert acknowledged["last"] == 1
    print(
        f"sink writer killed {len(prefixes)} times ({kills_mid_write} mid-file): "
        f"{len(finals)} files, {rows_in_files} rows, all readable; "
        f"{sum(acknowledged.values()) * BATCH} acknowledged events, all stored once"
    )
