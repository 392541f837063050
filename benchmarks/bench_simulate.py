"""Event mode throughput: events per minute for the `default` scenario, up to 1,000,000 events.

    .venv/bin/python benchmarks/bench_simulate.py [--events N] [--output parquet:DIR]

Counts everything a run does: building the world and the actors, the virtual clock, the policy
lookups, the Arrow batches, the ground truth (and writing, when --output is given).
"""

from __future__ import annotations

import argparse

from harvestguard.simulate import preset, run_event_mode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--output", default=None, help="a sink URL; default: keep in memory")
    args = parser.parse_args()
    result = run_event_mode(
        preset("default"), output=args.output, keep=False, max_events=args.events
    )
    print(
        f"{result.count:,} events in {result.seconds:.1f} s: "
        f"{result.events_per_minute:,.0f} events/minute"
    )


if __name__ == "__main__":
    main()
