"""Leak attribution at full size: simulated leaks from one actor among 1,000, damaged, and from none.

    .venv/bin/python benchmarks/bench_attribute.py [--actors 1000] [--trials 100] \
        [--sizes 50,200,5000] [--image-trials 20] [--scenarios "intact,two sources mixed"]

Prints, per scenario and leak size, the share of leaks whose true source is ranked first and
named, and the share of leaks in which any actor is named wrongly (the goal: none). The world,
the serving path (redact + Watermarker) and the test are harvestguard.attribute.evaluation, the
same code tests/test_attribute_evaluation.py runs at a small size. Wall and CPU time (user+sys)
are printed side by side: the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from harvestguard.attribute.evaluation import (
    RECORD_SCENARIOS,
    Trial,
    build_world,
    image_trial,
    record_trial,
    synthetic_photo,
)

console = Console()


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def _rate(trials: list[Trial], attribute: str) -> str:
    hits = sum(bool(getattr(trial, attribute)) for trial in trials)
    return f"{hits / len(trials):.1%} ({hits}/{len(trials)})"


def _margin(trials: list[Trial]) -> str:
    """The best log LR of any actor that was no source, minus the naming threshold (< 0: none
    named), over the row's leaks."""
    return f"{max(trial.wrong_margin for trial in trials):+.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actors", type=int, default=1000)
    parser.add_argument("--posts", type=int, default=30000)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--sizes", default="50,200,5000")
    parser.add_argument("--image-trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--scenarios",
        default=",".join(RECORD_SCENARIOS),
        help="comma-separated record scenarios to run (default: all)",
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(scenarios) - set(RECORD_SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {', '.join(RECORD_SCENARIOS)}")
    started, cpu = time.perf_counter(), _cpu()
    with tempfile.TemporaryDirectory() as directory:
        world = build_world(Path(directory), actors=args.actors, posts=args.posts, seed=args.seed)
        rng = random.Random(args.seed)
        table = Table(
            title=f"leaks from one of {args.actors:,} actors ({args.trials} leaks per row)",
            title_justify="left",
        )
        for name in (
            "scenario",
            "records",
            "right actor first and named",
            "any actor wrongly named",
            "closest wrong actor (log LR - threshold)",
        ):
            table.add_column(name, justify="left" if name == "scenario" else "right")
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(
                "leaks",
                total=len(scenarios) * len(sizes) * args.trials + 2 * args.image_trials,
            )
            for scenario in scenarios:
                for size in sizes:
                    trials = []
                    for _ in range(args.trials):
                        trials.append(record_trial(world, size, scenario, rng))
                        progress.advance(task)
                    right = (
                        "-" if scenario.startswith("no source") else _rate(trials, "right_first")
                    )
                    table.add_row(
                        scenario, f"{size:,}", right, _rate(trials, "false_named"), _margin(trials)
                    )
            if args.image_trials:
                photos = [synthetic_photo(rng) for _ in range(40)]
                for count in (5, 20):
                    trials = []
                    for _ in range(args.image_trials // 2):
                        trials.append(image_trial(world, photos, count, rng))
                        progress.advance(task)
                    clean = []
                    for _ in range(args.image_trials // 2):
                        clean.append(image_trial(world, photos, count, rng, source=False))
                        progress.advance(task)
                    label = "images resized 30-70 %, JPEG q60-85"
                    table.add_row(label, f"{count} images", _rate(trials, "right_first"),
                                  _rate(trials, "false_named"), _margin(trials))  # fmt: skip
                    table.add_row("images, no source (originals)", f"{count} images", "-",
                                  _rate(clean, "false_named"), _margin(clean))  # fmt: skip
    console.print(table)
    console.print(
        f"wall {time.perf_counter() - started:.0f} s, CPU (user+sys) {_cpu() - cpu:.0f} s,"
        f" load average {os.getloadavg()[0]:.1f}",
        highlight=False,
    )


if __name__ == "__main__":
    main()
