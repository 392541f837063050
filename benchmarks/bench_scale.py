"""Scaling curve of detection: DuckDB on one machine against Spark (local mode), per size.

    .venv/bin/python benchmarks/bench_scale.py                       # 1M, 10M and 30M events
    .venv/bin/python benchmarks/bench_scale.py --sizes 1000000,10000000
    .venv/bin/python benchmarks/bench_scale.py --sizes 200000 --engines duckdb,spark
    HARVESTGUARD_SPARK_MASTER=spark://host:7077 .venv/bin/python benchmarks/bench_scale.py ...

Events come from the simulator's event mode, generated once and cached by bench_detect.py
(var/bench-detect/: the `default` preset stretched in time, seed 7); each size is the first N
events in time order, laid out here the way the app instances write them: a Parquet store
partitioned by UTC day (var/bench-scale/store-N/date=YYYY-MM-DD/*.parquet). Every
(size, engine) runs ``DetectionEngine(engine=...).run(store)`` -- all detectors, linking,
risk, evidence -- in a child process of its own, so that each peak memory is that run's alone:
the whole process tree (Python and, for Spark, its JVM) is sampled from /proc every 0.2 s.
Prints wall time, CPU time (user+sys of the tree), events per second, peak resident memory,
the findings and flagged entities (the two engines must agree), and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from bench_detect import events as cached_events  # the simulator's events, generated once

from harvestguard.events import FIELD_NAMES

ROOT = Path("var/bench-scale")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def store(count: int) -> Path:
    """The first ``count`` events as a Parquet store partitioned by UTC day (made once)."""
    folder = ROOT / f"store-{count}"
    if not (folder / "complete").exists():
        source = cached_events(count) / "all" / "events.parquet"
        ROOT.mkdir(parents=True, exist_ok=True)
        columns = ", ".join(f'"{name}"' for name in FIELD_NAMES)
        with duckdb.connect() as connection:
            connection.execute("SET TimeZone = 'UTC'")
            connection.execute(
                f"COPY (SELECT {columns}, CAST(ts AS DATE) AS date FROM read_parquet('{source}')) "
                f"TO '{folder}' (FORMAT parquet, PARTITION_BY (date), OVERWRITE_OR_IGNORE)"
            )
        (folder / "complete").touch()
    return folder


def _tree(pid: int) -> list[int]:
    """The process and all its descendants (Spark's JVM is a child of the Python child)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return [pid, *(d for c in children for d in _tree(c))]


def _sample(pid: int) -> tuple[int, int] | None:
    """(resident KB, CPU ticks user+sys) of one process, None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return None
    # after the ")" of the command name: state is field 0, utime 11, stime 12
    return resident, int(fields[11]) + int(fields[12])


def measure(engine: str, folder: Path, count: int, driver_memory: str) -> dict[str, float]:
    """One run in a child process; its tree's peak memory and CPU sampled from /proc."""
    env = {**os.environ, "PYSPARK_SUBMIT_ARGS": f"--driver-memory {driver_memory} pyspark-shell"}
    command = [sys.executable, __file__, "--child", engine, str(folder), str(count)]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True)
    peak_kb = 0
    ticks: dict[int, int] = {}
    while child.poll() is None:
        resident = 0
        for pid in _tree(child.pid):
            sample = _sample(pid)
            if sample is not None:
                resident += sample[0]
                ticks[pid] = sample[1]
        peak_kb = max(peak_kb, resident)
        time.sleep(0.2)
    wall = time.perf_counter() - started
    output = child.stdout.read() if child.stdout else ""
    if child.returncode != 0:
        raise SystemExit(f"{engine} at {count:,} events failed (exit {child.returncode})")
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    result |= {"wall": wall, "cpu": sum(ticks.values()) / CLOCK_TICKS, "peak_mb": peak_kb / 1024}
    return result


def child(engine: str, folder: str, count: int) -> None:
    from harvestguard.detect import DetectionEngine

    detection = DetectionEngine(engine=engine)
    started = time.perf_counter()
    report = detection.run(Path(folder))
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "findings": len(report.findings),
                "flagged": len(report.flagged),
                "events": count,
            }
        )
    )
    if engine == "spark":
        from harvestguard.detect.spark import spark_session

        spark_session().stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000,30000000")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--driver-memory", default="6g", help="Spark driver's JVM heap")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, folder, count = args.child
        child(engine, folder, int(count))
        return
    sizes = sorted(int(s) for s in args.sizes.split(","))
    engines = [e.strip() for e in args.engines.split(",")]
    cached_events(sizes[-1])
    print(
        f"{'events':>12} {'engine':>7} {'wall s':>8} {'cpu s':>8} {'events/s':>10} "
        f"{'ev/cpu-s':>9} {'peak MB':>8} {'findings':>8} {'flagged':>7} {'load':>5}"
    )
    for size in sizes:
        folder = store(size)
        rates: dict[str, float] = {}
        for engine in engines:
            result = measure(engine, folder, size, args.driver_memory)
            rates[engine] = size / result["wall"]
            print(
                f"{size:>12,} {engine:>7} {result['wall']:>8.1f} {result['cpu']:>8.1f} "
                f"{rates[engine]:>10,.0f} {size / result['cpu']:>9,.0f} "
                f"{result['peak_mb']:>8,.0f} {int(result['findings']):>8,} "
                f"{int(result['flagged']):>7,} {os.getloadavg()[0]:>5.1f}",
                flush=True,
            )
        if len(rates) == 2:
            first, second = rates
            print(f"{'':>12} {second} / {first}: {rates[second] / rates[first]:.2f} x the rate")


if __name__ == "__main__":
    main()
