"""Log-scan throughput: `harvestguard scan` end to end against a per-line Python regex, GoAccess
and `wc -l`, on the same combined-format file, in one run.

    .venv/bin/python benchmarks/bench_scan.py                  # 1,000,000 lines
    .venv/bin/python benchmarks/bench_scan.py --lines 5000000

The file is the real Apache log of ../shared/data/elastic-examples-apache_logs replayed: copy k
moves every timestamp k * 4 days later and every client into its own copy of the address space
(k added to the second octet), so the mix of clients, pages, assets, bots and statuses is the real
one. It is generated once under var/bench-scan/. "Ours" is parse + events + all detectors
(Scanner.run, the User-Agent visible); the regex baseline only parses (a lower bound of a
per-line Python scanner's cost); GoAccess parses and aggregates; `wc -l` is the floor.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

from harvestguard.ingest import load_crawlers
from harvestguard.scan import Scanner, ScanOptions, address_verdicts

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--skip-baselines", action="store_true")
    args = parser.parse_args()
    path = replayed(args.lines)
    lines = args.lines
    print(f"{lines:,} combined-format lines, {path.stat().st_size / 1e6:,.0f} MB")
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
    if args.skip_baselines:
        return
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
