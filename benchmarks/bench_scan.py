"""Log-scan throughput: `harvestguard scan` end to end against a per-line Python regex, GoAccess
and `wc -l`, on the same combined-format file, in one run.

    .venv/bin/python benchmarks/bench_scan.py                  # 1,000,000 lines
    .venv/bin/python benchmarks/bench_scan.py --lines 5000000
    .venv/bin/python benchmarks/bench_scan.py --phases         # where the CPU time goes

The file is the real Apache log of ../shared/data/elastic-examples-apache_logs replayed: copy k
moves every timestamp k * 4 days later and every client into its own copy of the address space
(k added to the second octet), so the mix of clients, pages, assets, bots and statuses is the real
one. It is generated once under var/bench-scan/. "Ours" is parse + events + all detectors
(Scanner.run, the User-Agent visible); the regex baseline only parses (a lower bound of a
per-line Python scanner's cost); GoAccess parses and aggregates; `wc -l` is the floor.

Speed never trades correctness: the run also reads the file with the exact parser (the format's
regular expression on every line, `LogReader(exact=True)`), builds the events of both under one
key, and checks that both give the same number of lines, parsed and malformed, and the same
events (count and an order-free hash of every column but `request_id`, whose numbering follows
reading order); the exit status is 1 if they differ.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa

from harvestguard.detect.detection import missing_context_notes, run_detector
from harvestguard.detect.engines import DuckDBEngine
from harvestguard.ingest import (
    EventBuilder,
    LogReader,
    ParseStats,
    RouteMap,
    load_crawlers,
    resolve_format,
)
from harvestguard.pseudonym import Pseudonymiser
from harvestguard.scan import Scanner, ScanOptions, address_verdicts
from harvestguard.scan.scanner import _context

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "elastic-examples-apache_logs" / "apache_logs"
CACHE = ROOT / "var" / "bench-scan"
COMBINED = re.compile(
    r'^(\S+) \S+ (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-)'
    r'(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?'
)
_STAMP = re.compile(r"\[(\d\d/\w\w\w/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\]")


def replayed(lines: int) -> Path:
    path = CACHE / f"replay-{lines}.log"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    source = REAL.read_text(encoding="utf-8").splitlines()
    print(f"generating {lines:,} lines into {path} ...", flush=True)
    with path.open("w", encoding="utf-8") as out:
        copy = 0
        written = 0
        while written < lines:
            shift = timedelta(days=4 * copy)
            for text in source[: lines - written]:
                address, _, rest = text.partition(" ")
                octets = address.split(".")
                if len(octets) == 4:
                    octets[1] = str((int(octets[1]) + copy) % 256)
                    address = ".".join(octets)
                match = _STAMP.search(rest)
                if match and copy:
                    moved = datetime.strptime(match.group(1), "%d/%b/%Y:%H:%M:%S %z") + shift
                    rest = rest.replace(match.group(1), moved.strftime("%d/%b/%Y:%H:%M:%S %z"), 1)
                out.write(f"{address} {rest}\n")
                written += 1
            copy += 1
    return path


Timing = tuple[float, float]  # (wall seconds, CPU seconds of every thread and child)
T = TypeVar("T")


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def python_regex(path: Path) -> Timing:
    start, cpu = time.perf_counter(), _cpu()
    parsed = 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for text in handle:
            match = COMBINED.match(text)
            if match:
                datetime.strptime(match.group(3), "%d/%b/%Y:%H:%M:%S %z")
                int(match.group(5))
                parsed += 1
    return time.perf_counter() - start, _cpu() - cpu


def goaccess(path: Path) -> Timing | None:
    binary = shutil.which("goaccess")
    if binary is None:
        return None
    start, cpu = time.perf_counter(), _cpu()
    subprocess.run(
        [
            binary,
            str(path),
            "--log-format=COMBINED",
            "-o",
            str(CACHE / "goaccess.json"),
            "--no-global-config",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start, _cpu() - cpu


def wc(path: Path) -> Timing:
    start, cpu = time.perf_counter(), _cpu()
    subprocess.run(["wc", "-l", str(path)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, _cpu() - cpu


def ours(path: Path) -> tuple[Timing, int, int]:
    start, cpu = time.perf_counter(), _cpu()
    scanner = Scanner(ScanOptions(crawlers=load_crawlers()))
    with scanner.run([str(path)]) as result:
        flagged = sum(1 for v in address_verdicts(result, scanner) if v.status == "flagged")
        parsed = result.stats.parsed
    return (time.perf_counter() - start, _cpu() - cpu), parsed, flagged


def _digest(tables: list[pa.Table]) -> tuple[int, int]:
    """(rows, order-free hash): the sum of a hash of each event, every column but request_id."""
    rows, total = 0, 0
    with duckdb.connect() as connection:
        for table in tables:
            connection.register("_events", table)
            ((count, hashed),) = connection.execute(
                "SELECT count(*), coalesce(sum(hash(e)::HUGEINT), 0) "
                "FROM (SELECT * EXCLUDE (request_id) FROM _events) e"
            ).fetchall()
            connection.unregister("_events")
            rows, total = rows + int(count), total + int(hashed)
    return rows, total % (1 << 64)


def _events(path: Path, exact: bool) -> tuple[Timing, ParseStats, tuple[int, int]]:
    """The file's events read by the fast path or the exact parser, under one fixed key."""
    start, cpu = time.perf_counter(), _cpu()
    fmt = resolve_format("combined", None, None, str(path))
    builder = EventBuilder(Pseudonymiser(b"bench-scan-key" * 3), RouteMap("none"), load_crawlers())
    stats = ParseStats()
    # hashed a table at a time: memory stays that of one batch
    rows, total = 0, 0
    for raw in LogReader(fmt, exact=exact).batches(str(path), stats):
        count, hashed = _digest([builder.build(raw, path.name)])
        rows, total = rows + count, total + hashed
    return (time.perf_counter() - start, _cpu() - cpu), stats, (rows, total % (1 << 64))


def check_fast_equals_exact(path: Path) -> bool:
    fast_time, fast, fast_digest = _events(path, exact=False)
    exact_time, exact, exact_digest = _events(path, exact=True)
    same = (fast.lines, fast.parsed, fast.malformed, fast_digest) == (
        exact.lines,
        exact.parsed,
        exact.malformed,
        exact_digest,
    )
    for name, (wall, cpu), stats, (rows, hashed) in (
        ("fast path", fast_time, fast, fast_digest),
        ("exact parser", exact_time, exact, exact_digest),
    ):
        print(
            f"{name:<13} lines {stats.lines:,} parsed {stats.parsed:,} malformed "
            f"{stats.malformed:,} events {rows:,} hash {hashed:016x} "
            f"(read + events: {wall:.1f} s wall, {cpu:.1f} CPU s)"
        )
    print("fast path == exact parser" if same else "MISMATCH: the fast path differs")
    return same


def phases(path: Path) -> None:
    """CPU seconds of each phase of a scan, run one after the other (no overlap)."""
    scanner = Scanner(ScanOptions(crawlers=load_crawlers()))
    fmt = resolve_format("combined", None, None, str(path))
    builder = EventBuilder(Pseudonymiser(b"bench-scan-key" * 3), RouteMap("none"), load_crawlers())
    detection = scanner.detection
    timings: list[tuple[str, float, float]] = []

    def timed(name: str, work: Callable[[], T]) -> T:
        start, cpu = time.perf_counter(), _cpu()
        result = work()
        timings.append((name, time.perf_counter() - start, _cpu() - cpu))
        return result

    stats = ParseStats()
    raw = timed("read and parse", lambda: list(LogReader(fmt).batches(str(path), stats)))
    events = timed(
        "build events", lambda: pa.concat_tables([builder.build(t, path.name) for t in raw])
    )
    engine = DuckDBEngine(memory_limit=Scanner.memory_limit)
    try:
        given = timed(
            "load events",
            lambda: (
                engine.load_events(events),
                detection.load_context(engine, _context(builder.allowlist)),
            )[1],
        )
        log_specs = [s for s in detection.detectors if s.id.startswith("log_")]
        rows = {}
        for spec in detection.detectors:
            if all(name in given for name in spec.needs):
                rows[spec.id] = timed(
                    f"detector {spec.id}" + ("" if spec in log_specs else " (detect/)"),
                    lambda spec=spec: run_detector(engine, spec, detection.parameters.get(spec.id)),
                )
        notes = missing_context_notes(detection.detectors, given)
        timed("engine report (detect/)", lambda: detection.report(engine, rows, notes))
    finally:
        engine.close()
    total = sum(cpu for _, _, cpu in timings)
    print(f"{'phase':<44} {'wall s':>7} {'CPU s':>7}")
    for name, wall, cpu in timings:
        print(f"{name:<44} {wall:7.2f} {cpu:7.2f}")
    print(f"{'total':<44} {'':>7} {total:7.2f}")


def _load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--skip-check", action="store_true", help="no fast == exact check")
    parser.add_argument("--phases", action="store_true", help="CPU per phase, then stop")
    args = parser.parse_args()
    path = replayed(args.lines)
    lines = args.lines
    print(f"{lines:,} combined-format lines, {path.stat().st_size / 1e6:,.0f} MB; {_load()}")
    if args.phases:
        phases(path)
        return
    (wall, cpu), parsed, flagged = ours(path)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        "wall seconds depend on what else the machine runs; CPU seconds (all threads) less so\n"
        f"{'':<19} {'wall s':>8} {'lines/s':>11} {'CPU s':>8} {'lines/CPU-s':>12}  rate / ours (CPU)"
    )
    print(
        f"{'harvestguard scan':<19} {wall:8.2f} {lines / wall:11,.0f} {cpu:8.2f} "
        f"{lines / cpu:12,.0f}  1.00x  ({parsed:,} requests, {flagged} addresses flagged, "
        f"peak memory {peak:,.0f} MB)"
    )
    if not args.skip_baselines:
        baselines(path, lines, cpu)
    print(_load())
    if not args.skip_check and not check_fast_equals_exact(path):
        sys.exit(1)


def baselines(path: Path, lines: int, cpu: float) -> None:
    rows: list[tuple[str, Timing | None]] = [
        ("python regex/line", python_regex(path)),
        ("goaccess", goaccess(path)),
        ("wc -l (floor)", wc(path)),
    ]
    for name, taken in rows:
        if taken is None:
            print(f"{name:<19} not installed")
            continue
        other_wall, other_cpu = taken
        print(
            f"{name:<19} {other_wall:8.2f} {lines / other_wall:11,.0f} {other_cpu:8.2f} "
            f"{lines / max(other_cpu, 1e-3):12,.0f}  {cpu / max(other_cpu, 1e-3):.2f}x"
        )


if __name__ == "__main__":
    main()
