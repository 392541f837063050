"""Coverage-guided fuzzing of the log parsers (atheris, libFuzzer), bounded in inputs and time.

Each input picks a format (the first byte) and is read as a log file both ways, DuckDB's fast
path and the exact parser; a crash (any exception) or a line the exact parser does not account
for (parsed + malformed != lines in) stops the run with the input; the fast path's
mismatches are counted and kept in var/bench-fuzz/mismatches/. Inputs whose first byte is odd also give
a fuzzed nginx ``log_format`` (their first line). The ingest modules are instrumented so that
libFuzzer's coverage feedback reaches the Python code of the parsers.

    .venv/bin/python benchmarks/bench_fuzz.py --runs 20000 --seconds 600

Prints the inputs tried, crashes, lines in and lines accounted (tests/test_fuzz_parsers.py runs
a short version). The fast path is fed lines ending in "\\n" (docs/reliability.md says why).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import time
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports(include=["harvestguard.ingest"]):
    from harvestguard.ingest import formats, lines, reader  # noqa: F401

from tests.fuzz_helpers import FORMATS, account, template_or_none

_NAMES = sorted(FORMATS)
_BARE_CR = re.compile(rb"\r(?!\n)")
_FIGURES = {
    "inputs tried": 0,
    "crashes": 0,
    "lines in": 0,
    "lines accounted": 0,
    "fast path lines in": 0,
    "fast path lines accounted": 0,
    "fast path mismatches": 0,
    "corrupt gzip files refused": 0,
}
_GZIP = b"\x1f\x8b"
_START = time.perf_counter()
_MISMATCHES = Path("var/bench-fuzz/mismatches")  # var/ is ignored by git
_LIMITS = {"runs": 5000, "seconds": 300}


def one_input(data: bytes) -> None:
    _FIGURES["inputs tried"] += 1
    try:
        _check(data)
    except BaseException:
        _report()
        raise
    # libFuzzer ends the process with exit(), past Python's atexit: the bounds are kept here
    if (
        _FIGURES["inputs tried"] >= _LIMITS["runs"]
        or time.perf_counter() - _START > _LIMITS["seconds"]
    ):
        _report()
        os._exit(0)


def _check(data: bytes) -> None:
    if not data:
        return
    fmt = FORMATS[_NAMES[data[0] % len(_NAMES)]][0]
    log = data[1:]
    if data[0] % 2:
        template, _, log = log.partition(b"\n")
        custom = template_or_none(template.decode("utf-8", "replace"))
        if custom is not None:
            fmt = custom
    try:
        exact = account(log, fmt, exact=True)
        fast = account(_BARE_CR.sub(b"\n", log), fmt, exact=False)
    except OSError:
        # a file that says it is gzip and is not: refused whole with the reader's error (the
        # scan command prints it), the one refusal allowed (found by this benchmark)
        if log[:2] == _GZIP:
            _FIGURES["corrupt gzip files refused"] += 1
            return
        _FIGURES["crashes"] += 1
        raise
    except Exception:
        _FIGURES["crashes"] += 1
        raise  # libFuzzer keeps the input as var/bench-fuzz/crash-<sha1>
    # the exact parser is the reference: a line it loses is a failure
    _FIGURES["lines in"] += exact.lines_in
    _FIGURES["lines accounted"] += exact.stats.parsed + exact.stats.malformed
    if exact.problems():
        _FIGURES["crashes"] += 1
        raise AssertionError(f"{fmt.name}: {exact.problems()}")
    # the fast path's mismatches are counted and their inputs kept, rather than stopping the
    # run: one run shows them all (the first run found 83, docs/reliability.md)
    _FIGURES["fast path lines in"] += fast.lines_in
    _FIGURES["fast path lines accounted"] += fast.stats.parsed + fast.stats.malformed
    if fast.problems():
        _FIGURES["fast path mismatches"] += 1
        _MISMATCHES.mkdir(parents=True, exist_ok=True)
        (_MISMATCHES / f"{fmt.name}-{_FIGURES['inputs tried']}.bin").write_bytes(data)


def _seeds(folder: Path) -> None:
    """A good line of each format, as a starting corpus."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(_NAMES):
        good = FORMATS[name][1]
        even = index * 2 if index * 2 < 256 else index
        (folder / f"{name}.seed").write_bytes(bytes([even]) + (good + "\n").encode() * 3)


def _report() -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter() - _START
    for name, value in _FIGURES.items():
        print(f"{name}: {value}")
    print(
        f"wall seconds: {wall:.1f}  cpu seconds (user+sys): {usage.ru_utime + usage.ru_stime:.1f}"
    )
    print(f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000, help="inputs to try")
    parser.add_argument("--seconds", type=int, default=300, help="time bound")
    parser.add_argument(
        "--corpus", type=Path, default=Path("var/bench-fuzz/corpus"), help="seed folder"
    )
    parser.add_argument("--seed", type=int, default=1, help="libFuzzer's seed (0: random)")
    parser.add_argument("--max-len", type=int, default=4096, help="longest input, bytes")
    args = parser.parse_args()
    _seeds(args.corpus)
    _LIMITS.update(runs=args.runs, seconds=args.seconds)
    atheris.Setup(
        [
            sys.argv[0],
            f"-max_len={args.max_len}",
            "-print_final_stats=0",
            f"-seed={args.seed}",
            f"-artifact_prefix={args.corpus.parent}/",  # crash-<sha1> beside the corpus
            str(args.corpus),
        ],
        one_input,
    )
    atheris.Fuzz()


if __name__ == "__main__":
    main()
