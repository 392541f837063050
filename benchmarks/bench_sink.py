"""Events per second through BufferedSink into each sink, side by side.

    .venv/bin/python benchmarks/bench_sink.py [--events 200000] [--batch-size 20000] [--producers 1]

The clock runs from the first submit() until close() returns, when every event is durable in the
sink. Generating the events is not timed. The queue holds every event unless --max-queue says
otherwise, so the figure is the rate the writer sustains; a smaller queue measures the overflow
path too, where submit() writes events to the spill log itself.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harvestguard.events import AccessEvent
from harvestguard.pseudonym import Pseudonymiser
from harvestguard.sinks import BufferedSink, BufferStats, open_sink

ROUTES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/u/{username}", "profile", ("identity",)),
    ("/p/{post_id}", "post", ("identity", "photo", "location")),
    ("/stories/{username}", "story", ("identity", "photo", "ephemeral")),
    ("/explore/locations/{venue_id}", "location", ("location",)),
    ("/api/v1/users/{user_id}/followers", "profile", ("identity", "social_graph")),
    ("/search", "search", ()),
)
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "python-requests/2.32.3",
)


def generate(n: int, seed: int = 7) -> list[AccessEvent]:
    rng = random.Random(seed)
    pseudonyms = Pseudonymiser(b"benchmark-key-0123456789abcdef")
    addresses = [f"198.51.{rng.randrange(256)}.{rng.randrange(256)}" for _ in range(2000)]
    ips = [(pseudonyms.ip(a), pseudonyms.net(a)) for a in addresses]
    start = datetime(2025, 6, 1, tzinfo=UTC)
    events = []
    for i in range(n):
        route, resource, classes = ROUTES[min(int(rng.expovariate(0.8)), len(ROUTES) - 1)]
        ip, net = ips[int(rng.paretovariate(1.2)) % len(ips)]
        account = str(int(rng.paretovariate(1.1)) % 5000) if rng.random() < 0.6 else None
        api = route.startswith("/api/")
        events.append(
            AccessEvent(
                ts=start + timedelta(milliseconds=i * 37),
                request_id=f"{i:012x}{rng.getrandbits(64):016x}",
                channel="api" if api else "web",
                actor_account=account,
                actor_client="partner-7" if api else None,
                session=f"s{rng.getrandbits(48):012x}" if account else None,
                ip=ip,
                net=net,
                ua=rng.choice(AGENTS),
                fingerprint=f"hdr:{rng.getrandbits(96):024x}",
                route=route,
                path=route.replace("{", "").replace("}", ""),
                status=200 if rng.random() < 0.95 else 404,
                bytes=rng.randrange(500, 90_000),
                duration_ms=rng.lognormvariate(2.0, 0.6),
                resource=resource,
                object_id=str(rng.randrange(1, 100_000)),
                owner_ids=[str(rng.randrange(1, 5000)) for _ in range(rng.randrange(0, 4))],
                data_classes=list(classes),
                audience="authenticated" if account else "anonymous",
            )
        )
    return events


def run(
    url: str, spill: Path, events: list[AccessEvent], args: argparse.Namespace
) -> tuple[float, BufferStats]:
    buffered = BufferedSink(
        open_sink(url), spill, batch_size=args.batch_size, max_queue=args.max_queue or len(events)
    )
    producers = args.producers
    shares = [events[i::producers] for i in range(producers)]

    def produce(share: list[AccessEvent]) -> None:
        for event in share:
            buffered.submit(event)

    threads = [threading.Thread(target=produce, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    buffered.close()
    return time.perf_counter() - started, buffered.stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--producers", type=int, default=1)
    parser.add_argument("--max-queue", type=int, default=0, help="default: --events")
    args = parser.parse_args()
    events = generate(args.events)
    print(f"{args.events:,} events, batch size {args.batch_size:,}, {args.producers} producer(s)")
    print(f"{'sink':<8} {'seconds':>8} {'events/s':>10} {'spilled':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for kind, location in (
            ("duckdb", root / "events.duckdb"),
            ("parquet", root / "events"),
            ("jsonl", root / "events.jsonl"),
        ):
            seconds, stats = run(f"{kind}:{location}", root / f"spill-{kind}", events, args)
            assert stats.written == args.events, stats
            print(f"{kind:<8} {seconds:8.2f} {args.events / seconds:10,.0f} {stats.spilled:8,}")


if __name__ == "__main__":
    main()
