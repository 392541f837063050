"""The decision table's check, the middleware's question on every request, at growing table sizes,
side by side; and the limits' cost per event in memory and (with --redis URL) in Redis.

    .venv/bin/python benchmarks/bench_decisions.py [--checks 200000] [--redis redis://127.0.0.1:6390/0]

A check for a visitor with no record and for one with a record, at 0, 1,000 and 100,000
records: O(1) means the columns stay flat. Limits are counted off the request path, on the
EnforcingSink's worker threads; their figure is what the workers keep up with (the default limits,
events spread over 500 addresses and 200 accounts).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from harvestguard.actor import ActorKeys
from harvestguard.enforce.levels import Level
from harvestguard.enforce.limits import LimitEnforcer
from harvestguard.enforce.limits_file import default_limits
from harvestguard.enforce.records import DecisionRecord
from harvestguard.enforce.sink import EnforcingSink
from harvestguard.enforce.table import DecisionTable
from harvestguard.events import AccessEvent
from harvestguard.pseudonym import Pseudonymiser

SIZES = (0, 1_000, 100_000)


def _table(size: int) -> DecisionTable:
    table = DecisionTable()
    now = datetime.now(UTC)
    for n in range(size):
        kind = ("account", "ip", "net", "fingerprint")[n % 4]
        table.apply_put(
            DecisionRecord(
                (kind, f"v{n}"), Level.BLOCK, "bench", "bench", now, now + timedelta(days=1)
            )
        )
    return table


def _per_check_ns(table: DecisionTable, keys: ActorKeys, checks: int) -> float:
    check = table.check
    started = time.perf_counter()
    for _ in range(checks):
        check(keys)
    return (time.perf_counter() - started) / checks * 1e9


def _events(count: int) -> list[AccessEvent]:
    return [
        AccessEvent(
            ts=datetime.now(UTC),
            request_id=str(n),
            ip=f"ip{n % 500}",
            net=f"net{n % 50}",
            actor_account=str(n % 200),
            resource="profile",
            owner_ids=[str(n % 5000)],
            data_classes=["identity"],
            audience="authenticated",
        )
        for n in range(count)
    ]


def _per_event_us(limits: LimitEnforcer, events: list[AccessEvent], workers: int) -> float:
    """Through an EnforcingSink with that many counting threads, until all are counted."""

    class Discard:
        def submit(self, event: AccessEvent) -> None:
            pass

    sink = EnforcingSink(Discard(), limits, workers=workers)
    started = time.perf_counter()
    for event in events:
        sink.submit(event)
    sink.flush()
    elapsed = time.perf_counter() - started
    sink.close()
    return elapsed / len(events) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--redis", default=None, help="also count limits in this Redis")
    args = parser.parse_args()

    stranger = ActorKeys(account="a", session="s", ip="i", net="n", ua="ua", fingerprint="f")
    recorded = ActorKeys(account="v0", ip="v1", net="v2", fingerprint="v3")
    print(f"{'records':>10} {'check, no record (ns)':>24} {'check, blocked (ns)':>22}")
    for size in SIZES:
        table = _table(max(size, 4) if size else 0)
        free = _per_check_ns(table, stranger, args.checks)
        blocked = _per_check_ns(table, recorded, args.checks) if size else float("nan")
        print(f"{size:>10,} {free:>24.0f} {blocked:>22.0f}")

    config = default_limits(lambda kind, address: Pseudonymiser(b"k" * 32).ip(address))
    storages = [("memory", None)] + ([("redis", args.redis)] if args.redis else [])
    events = _events(args.events)
    print(f"\n{'limits storage':>15} {'workers':>8} {'per event (us)':>16} {'events/s':>10}")
    for name, url in storages:
        for workers in (1, 4):
            limits = LimitEnforcer(config, DecisionTable(), storage_url=url)
            per_event = _per_event_us(limits, events, workers)
            print(f"{name:>15} {workers:>8} {per_event:>16.1f} {1e6 / per_event:>10,.0f}")


if __name__ == "__main__":
    main()
