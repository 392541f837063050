"""Load test of the scaled-out deployment: wrk through nginx and two photoshare instances (and,
for comparison, straight at one instance), then whether the guard's decisions hold across them.

    .venv/bin/python benchmarks/bench_cluster.py                     # 2 instances, 20 s per run
    .venv/bin/python benchmarks/bench_cluster.py --instances 3 --duration 30 --connections 64

The deployment is ``photoshare.cluster.Cluster`` (what ``photoshare cluster`` runs): PostgreSQL,
Redis, the instances (guard on, shipped limits, events to one Parquet store) and nginx, all on
loopback, in a temporary directory. wrk requests profile pages and the home page of a seeded
world, each request from a random address of 10.0.0.0/8 (nginx keeps the client's
X-Forwarded-For here, so that the limits meet many visitors and not one). Prints requests per
second, latency percentiles and non-2xx answers per run; then the seconds until an address over
a limit on instance A is refused by both instances through nginx, and until a block written to
Redis is; then the events stored against the requests wrk completed (none lost). Load average
and the CPU time of the whole process tree are printed, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
from sqlalchemy import select

from harvestguard.config import load_or_create_key
from harvestguard.deploy import wait_until
from harvestguard.enforce.levels import Level
from harvestguard.enforce.records import DecisionRecord
from harvestguard.enforce.table import DecisionTable
from harvestguard.pseudonym import Pseudonymiser
from harvestguard.sinks.parquet import scan_sql
from photoshare.cluster import Cluster
from photoshare.db import make_engine
from photoshare.models import User

USER_AGENT = "bench-cluster/wrk"
LIMITS = (
    "version: 1\nlimits:\n  - name: profiles-per-ip\n    per: ip\n    resource: profile\n"
    "    count: owners\n    rate: 20/hour\n"
)
WRK_SCRIPT = """
local paths = {%(paths)s}
math.randomseed(os.time())
wrk.headers["User-Agent"] = "%(agent)s"
request = function()
  wrk.headers["X-Forwarded-For"] = "10." .. math.random(0, 255) .. "." ..
      math.random(0, 255) .. "." .. math.random(1, 254)
  return wrk.format("GET", paths[math.random(#paths)])
end
"""


def wrk(url: str, script: Path, args: argparse.Namespace) -> dict[str, str]:
    command = [
        "wrk", "--latency", "-t", str(args.threads), "-c", str(args.connections),
        "-d", f"{args.duration}s", "--timeout", "30s", "-s", str(script), url,
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    found = {
        "requests": _match(r"(\d+) requests in", output),
        "rps": _match(r"Requests/sec:\s+([\d.]+)", output),
        "non2xx": _match(r"Non-2xx or 3xx responses: (\d+)", output) or "0",
        "errors": _match(r"Socket errors: (.*)", output) or "none",
    }
    for percentile in ("50", "90", "99"):
        found[f"p{percentile}"] = _match(rf"\s{percentile}(?:\.000)?%\s+(\S+)", output)
    return found


def _match(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    return match.group(1) if match else ""


def public_usernames(cluster: Cluster) -> list[str]:
    engine = make_engine(cluster.database_url)
    with engine.connect() as connection:
        names = list(
            connection.execute(
                select(User.username).where(User.is_private.is_(False)).order_by(User.id)
            ).scalars()
        )
    engine.dispose()
    return names


def _statuses(cluster: Cluster, path: str, address: str, tries: int) -> dict[str, set[int]]:
    seen: dict[str, set[int]] = {}
    for _ in range(tries):
        response = httpx.get(cluster.url + path, headers={"X-Forwarded-For": address}, timeout=60)
        seen.setdefault(response.headers["x-upstream"], set()).add(response.status_code)
    return seen


def _refused_everywhere(cluster: Cluster, path: str, address: str, status: int) -> bool:
    seen = _statuses(cluster, path, address, 4)
    return len(seen) == len(cluster.servers) and all(s == {status} for s in seen.values())


def decisions_hold(cluster: Cluster, names: list[str]) -> None:
    """A limit exceeded on instance A, and a block written to Redis, seen through nginx on all."""
    assert cluster.redis is not None
    a = cluster.servers[0]
    address = "198.51.100.23"
    path = f"/u/{names[0]}"
    started = time.perf_counter()
    for name in names[:25]:
        httpx.get(f"{a.base_url}/u/{name}", headers={"X-Forwarded-For": address}, timeout=60)
    held = wait_until(lambda: _refused_everywhere(cluster, path, address, 429), 30)
    print(
        f"limit exceeded on instance A -> 429 on all {len(cluster.servers)} instances via nginx: "
        f"{'yes' if held else 'NO'}, {time.perf_counter() - started:.2f} s after the first "
        "of 25 requests straight to A"
    )
    address = "198.51.100.24"
    key = ("ip", Pseudonymiser(load_or_create_key(cluster.root / "guard")).ip(address))
    analyst = DecisionTable.from_url(cluster.redis.url)
    now = datetime.now(UTC)
    started = time.perf_counter()
    analyst.put(DecisionRecord(key, Level.BLOCK, "bench", "bench", now, now + timedelta(hours=1)))
    held = wait_until(lambda: _refused_everywhere(cluster, path, address, 403), 30, interval=0.01)
    print(
        f"block written to Redis -> 403 on all instances via nginx: {'yes' if held else 'NO'}, "
        f"{time.perf_counter() - started:.2f} s"
    )
    analyst.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--users", type=int, default=40, help="accounts seeded")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    (root / "limits.yaml").write_text(LIMITS)
    cluster = Cluster(
        root,
        instances=args.instances,
        users=args.users,
        pass_client_forwarded_for=True,
        keep_database=False,
        env={"HARVESTGUARD_LIMITS": str(root / "limits.yaml")},
    )
    started = time.perf_counter()
    with cluster:
        print(f"cluster of {args.instances} instances up in {time.perf_counter() - started:.1f} s")
        names = public_usernames(cluster)
        paths = ["/", *(f"/u/{name}" for name in names)]
        script = root / "load.lua"
        script.write_text(
            WRK_SCRIPT % {"paths": ", ".join(f'"{p}"' for p in paths), "agent": USER_AGENT}
        )
        print(
            f"{'target':<28} {'requests':>9} {'req/s':>8} {'p50':>8} {'p90':>8} {'p99':>8} "
            f"{'non-2xx':>8} {'load':>5}"
        )
        completed = 0
        targets = [
            (f"nginx -> {args.instances} instances", cluster.url),
            ("one instance directly", cluster.servers[0].base_url),
        ]
        for name, url in targets:
            result = wrk(url, script, args)
            completed += int(result["requests"] or 0)
            print(
                f"{name:<28} {result['requests']:>9} {result['rps']:>8} {result['p50']:>8} "
                f"{result['p90']:>8} {result['p99']:>8} {result['non2xx']:>8} "
                f"{os.getloadavg()[0]:>5.1f}"
                + ("" if result["errors"] == "none" else f"  socket errors: {result['errors']}")
            )
        decisions_hold(cluster, names)
    # the instances have stopped: each wrote what it still held
    with duckdb.connect() as connection:
        stored = connection.execute(
            f"SELECT count(*) FROM {scan_sql(cluster.events_dir)} WHERE ua = ?", [USER_AGENT]
        ).fetchone()
    print(
        f"events stored from wrk's requests: {stored[0] if stored else 0:,} "
        f"(wrk completed {completed:,}; requests cut at the end of a run are stored too)"
    )
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"CPU time of the servers and wrk: {usage.ru_utime + usage.ru_stime:.1f} s")


if __name__ == "__main__":
    main()
