"""Detection throughput: events to findings with DuckDB, in batch and incremental mode.

    .venv/bin/python benchmarks/bench_detect.py      # batch: 1M, 3M, 10M; incremental: 3M
    .venv/bin/python benchmarks/bench_detect.py --sizes 1000000 --incremental-events 1000000
    .venv/bin/python benchmarks/bench_detect.py --sizes 0 --incremental-events 100000 \\
        --batch-seconds 5 --evaluate-every 300              # a live feed at the simulated rate

Events come from the simulator's event mode (the `default` preset, stretched in time so that it
yields the largest size), generated once and cached as Parquet under var/bench-detect/; each size
is the first N events in time order, in its own Parquet file, which the engine reads directly.
Prints events per second and the peak resident memory of the process so far (sizes run in
increasing order, so each peak is that of the largest run so far), and each rate as a ratio to
the 20,000 events per second incremental mode must keep up with. Incremental mode is fed the
first events of the same stream in batches (by default of 100,000 events: five seconds at that
rate) and evaluates the detectors after each, past the 48 hours it retains.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import os
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
TARGET_RATE = 20_000  # events per second incremental mode must keep up with (issue 5)
BATCH_TARGET_RATE = 10_000_000 / 60  # batch mode: 10 million events to findings in 60 s


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


def cpu_seconds() -> float:
    """User + system CPU time of this process so far: on a shared machine the wall time grows
    with the other processes' load, the CPU time much less."""
    times = os.times()
    return times.user + times.system


def load() -> str:
    return "load " + " ".join(f"{value:.1f}" for value in os.getloadavg())


def batch(folder: Path, count: int) -> float:
    engine = DetectionEngine()
    started, cpu = time.perf_counter(), cpu_seconds()
    report = engine.run(folder)
    seconds = time.perf_counter() - started
    print(
        f"batch       {count:>11,} events  {seconds:7.1f} s ({cpu_seconds() - cpu:.1f} s CPU, "
        f"{load()})  "
        f"{count / seconds:>10,.0f} events/s  {len(report.findings):>6,} findings  "
        f"{len(report.flagged):>5,} flagged entities  peak {peak_mb():,.0f} MB"
        f"  ({BATCH_TARGET_RATE / (count / seconds):.2f} x the time of 10M events in 60 s)"
    )
    return count / seconds


def slices(table: pa.Table, seconds: float) -> list[pa.Table]:
    """Consecutive pieces of ``seconds`` of event time each, as a live feed delivers them."""
    moments = [int(m or 0) for m in table.column("ts").cast(pa.int64()).to_pylist()]
    step = int(seconds * 1_000_000)
    cuts = [0]
    while cuts[-1] < table.num_rows:
        edge = (moments[cuts[-1]] // step + 1) * step
        cuts.append(bisect.bisect_left(moments, edge, lo=cuts[-1]))
    return [table.slice(a, b - a) for a, b in itertools.pairwise(cuts)]


def incremental(pieces: list[pa.Table], every: float, how: str, batch_rate: float) -> None:
    """Feeds the pieces of a stream (in time order) to incremental mode, evaluating the detectors
    every ``every`` seconds of event time (0: after every piece), as a live guard does; the
    sustained rate is all the events over all the time spent in ``add`` and the final ``report``."""
    count = sum(piece.num_rows for piece in pieces)
    detector = IncrementalDetector(DetectionEngine(), evaluate_every_seconds=every)
    started, cpu = time.perf_counter(), cpu_seconds()
    slowest = 0.0
    for piece in pieces:
        before = time.perf_counter()
        detector.add(piece)
        slowest = max(slowest, time.perf_counter() - before)
    report = detector.report()
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    detector.close()
    rate = count / seconds
    first, last = pieces[0].column("ts")[0].as_py(), pieces[-1].column("ts")[-1].as_py()
    print(
        f"incremental {count:>11,} events  {seconds:7.1f} s ({cpu:.1f} s CPU, {load()})  "
        f"{rate:>10,.0f} events/s ({count / cpu:,.0f} per CPU second)"
        f"  = {rate / TARGET_RATE:.2f} x the {TARGET_RATE:,} events/s target"
        + (f" (batch: {batch_rate / TARGET_RATE:.2f} x)" if batch_rate else "")
        + "\n"
        f"            {(last - first).total_seconds() / 3600:.0f} h of event time in "
        f"{len(pieces):,} batches of {how}, evaluated "
        + (f"every {every:g} s of event time" if every else "after every batch")
        + f"; slowest batch {slowest:.2f} s; {len(report.flagged):,} flagged entities; "
        f"peak {peak_mb():,.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,3000000,10000000")
    parser.add_argument("--incremental-events", type=int, default=3_000_000)
    parser.add_argument(
        "--batch-events",
        type=int,
        default=100_000,
        help="events per incremental batch (100,000: five seconds at the target rate)",
    )
    parser.add_argument(
        "--batch-seconds",
        type=float,
        default=None,
        help="cut the incremental stream by event time instead (seconds per batch)",
    )
    parser.add_argument(
        "--evaluate-every",
        type=float,
        default=0.0,
        help="event time between evaluations (0: after every batch)",
    )
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(",") if int(s) > 0)
    events(max([*sizes, args.incremental_events]))
    batch_rate = 0.0
    for size in sizes:
        batch_rate = batch(events(size), size)
    if args.incremental_events:
        table = pq.read_table(events(args.incremental_events))
        if args.batch_seconds:
            pieces = slices(table, args.batch_seconds)
            how = f"{args.batch_seconds:g} s of event time"
        else:
            step = args.batch_events
            pieces = [table.slice(at, step) for at in range(0, table.num_rows, step)]
            how = f"{step:,} events"
        incremental(pieces, args.evaluate_every, how, batch_rate)


if __name__ == "__main__":
    main()
