"""Detection throughput: events to findings with DuckDB, in batch and incremental mode.

    .venv/bin/python benchmarks/bench_detect.py                 # 1M, 3M and 10M events
    .venv/bin/python benchmarks/bench_detect.py --sizes 1000000 --incremental-events 1000000

Events come from the simulator's event mode (the `default` preset, stretched in time so that it
yields the largest size), generated once and cached as Parquet under var/bench-detect/; each size
is the first N events in time order, in its own Parquet file, which the engine reads directly.
Prints events per second and the peak resident memory of the process so far (sizes run in
increasing order, so each peak is that of the largest run so far).
"""

from __future__ import annotations

import argparse
import resource
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from harvestguard.detect import DetectionEngine
from harvestguard.detect.incremental import IncrementalDetector
from harvestguard.simulate import preset, run_event_mode

CACHE = Path("var/bench-detect")


def events(count: int) -> Path:
    """A Parquet folder holding the first ``count`` events of the cached run (generated once)."""
    folder = CACHE / "events"
    if not _enough(count):
        hours = max(48, int(48 * count / 1_300_000) + 12)
        scenario = replace(preset("default"), duration=timedelta(hours=hours), seed=7)
        print(f"generating {count:,} events ({hours} virtual hours) into {folder} ...")
        run_event_mode(scenario, output=f"parquet:{folder}", max_events=count)
        (CACHE / f"generated-{count}").touch()
    subset = CACHE / f"first-{count}"
    if not subset.exists():
        (subset / "all").mkdir(parents=True)
        pattern = str(folder / "**" / "*.parquet")
        with duckdb.connect() as connection:
            connection.execute(
                f"COPY (SELECT * FROM read_parquet('{pattern}', union_by_name = true) "
                f"ORDER BY ts LIMIT {int(count)}) TO '{subset / 'all' / 'events.parquet'}'"
            )
    return subset


def _enough(count: int) -> bool:
    return any(int(p.name.split("-")[1]) >= count for p in CACHE.glob("generated-*"))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batch(folder: Path, count: int) -> None:
    engine = DetectionEngine()
    started = time.perf_counter()
    report = engine.run(folder)
    seconds = time.perf_counter() - started
    print(
        f"batch       {count:>11,} events  {seconds:7.1f} s  "
        f"{count / seconds:>10,.0f} events/s  {len(report.findings):>6,} findings  "
        f"{len(report.flagged):>5,} flagged entities  peak {peak_mb():,.0f} MB"
    )


def incremental(table: pa.Table, batch_events: int) -> None:
    """Feeds ``table`` in batches of ``batch_events`` (5 s of traffic at 20,000 events/s is
    100,000), evaluating the detectors after every batch, as a live guard would."""
    detector = IncrementalDetector(DetectionEngine(), evaluate_every_seconds=0)
    started = time.perf_counter()
    slowest = 0.0
    for offset in range(0, table.num_rows, batch_events):
        before = time.perf_counter()
        detector.add(table.slice(offset, batch_events))
        slowest = max(slowest, time.perf_counter() - before)
    report = detector.report()
    seconds = time.perf_counter() - started
    print(
        f"incremental {table.num_rows:>11,} events  {seconds:7.1f} s  "
        f"{table.num_rows / seconds:>10,.0f} events/s  batches of {batch_events:,}, "
        f"slowest batch {slowest:.1f} s  {len(report.flagged):>5,} flagged entities  "
        f"peak {peak_mb():,.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,3000000,10000000")
    parser.add_argument("--incremental-events", type=int, default=1_000_000)
    parser.add_argument("--batch-events", type=int, default=100_000)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    events(max([*sizes, args.incremental_events]))
    for size in sizes:
        batch(events(size), size)
    if args.incremental_events:
        table = pq.read_table(events(args.incremental_events))
        incremental(table, args.batch_events)


if __name__ == "__main__":
    main()
