"""Soak test on loopback: photoshare behind the guard, as hard as the machine allows, for a bounded
time, with harvesters in the mix; memory, latency, throughput, and whether decisions still arrive.

    .venv/bin/python benchmarks/bench_soak.py                   # 60 s
    .venv/bin/python benchmarks/bench_soak.py --seconds 300 --connections 64
    .venv/bin/python benchmarks/bench_soak.py --seconds 12 --json soak.json   # what CI runs

One uvicorn process serves photoshare (a seeded world, SQLite) with the guard on: limits counted
in and decisions shared through a real redis-server (the shipped 300 requests a minute per
address, and at most 10 people's profiles an hour per anonymous address), events to a Parquet
store.
wrk (closed loop: each connection sends its next request when the last is answered, so the rate
is the highest the server sustains) sends four requests in five from a fresh address of
10.0.0.0/8 to a random page, and one in five from one of two harvester addresses sweeping the
profiles (the limits throttle them). The run is four wrk runs back to back, one per
quarter, so that latency late in the run can be compared with latency early in it. Meanwhile
the server's resident memory is sampled every half second, and half-way through each quarter a
block is written to Redis for a new address while a probe asks with that address until it is
refused: the seconds that took is the decision delay. At the end: requests per second and
latency p50/p95/p99/max (wrk's own, over every request) per quarter, memory in the first and
last quarter, the events stored against the requests wrk completed, the harvesters' requests
refused, CPU time and load average.

Budgets: memory of the last quarter within 10 % of the first; p99 of the last quarter at most
1.5 times the first's; every block enforced within 1 s; every completed request stored; no 5xx.
wrk is Debian's (scripts/system-packages.txt); the exit status is 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
from sqlalchemy import select

from harvestguard.config import load_or_create_key
from harvestguard.deploy import RedisServer
from harvestguard.enforce.levels import Level
from harvestguard.enforce.records import DecisionRecord
from harvestguard.enforce.table import DecisionTable
from harvestguard.pseudonym import Pseudonymiser
from harvestguard.sinks.parquet import scan_sql
from photoshare import migrate
from photoshare.db import make_engine, make_sessionmaker
from photoshare.models import User
from photoshare.seed import seed_world
from photoshare.server_process import ServerProcess

BENIGN_AGENT = "bench-soak/visitor"
HARVESTER_AGENT = "bench-soak/harvester"
# the shipped per-address request rate, and a profile limit the harvesters' sweeps go over
LIMITS = """\
version: 1
limits:
  - name: requests-per-ip
    per: ip
    rate: 300/minute
  - name: profiles-per-anonymous-ip
    per: ip
    resource: profile
    audience: anonymous
    count: owners
    rate: 10/hour
"""
DECISION_BUDGET = 1.0  # seconds from a block written to Redis to its first refusal
MEMORY_BUDGET = 0.10  # growth of the mean RSS, last quarter over first quarter
LATENCY_BUDGET = 1.5  # p99 of the last quarter over the p99 of the first: no slowing down
WRK_SCRIPT = """
local paths = {%(paths)s}
local names = {%(names)s}
local harvesters = {"203.0.113.11", "203.0.113.12"}
local counter = 0
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  counter = counter + 1
  if counter %% 5 == 0 then
    wrk.headers["User-Agent"] = "%(harvester)s"
    wrk.headers["X-Forwarded-For"] = harvesters[math.random(#harvesters)]
    -- profile after profile, in no order: many people's data from one address
    return wrk.format("GET", "/u/" .. names[math.random(#names)])
  end
  wrk.headers["User-Agent"] = "%(visitor)s"
  wrk.headers["X-Forwarded-For"] = "10." .. math.random(0, 255) .. "." ..
      math.random(0, 255) .. "." .. math.random(1, 254)
  return wrk.format("GET", paths[math.random(#paths)])
end
done = function(summary, latency, requests)
  io.write(string.format("SOAK requests=%%d duration_us=%%d p50_us=%%d p95_us=%%d p99_us=%%d " ..
      "max_us=%%d status_errors=%%d socket_errors=%%d\\n", summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
      summary.errors.status, summary.errors.connect + summary.errors.read +
      summary.errors.write + summary.errors.timeout))
end
"""


@dataclass
class Quarter:
    requests: int
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class SoakResult:
    seconds: float
    connections: int
    requests: int
    requests_per_second: float
    quarters: list[Quarter]  # wrk's figures for each quarter of the run
    non_2xx: int  # the harvesters' refusals, mostly
    socket_errors: int
    rss_samples_mb: list[float]
    rss_first_quarter_mb: float
    rss_last_quarter_mb: float
    memory_growth: float  # last quarter over first quarter, minus one
    decision_delays: list[float | None]  # None: not enforced within 10 s
    events_stored: int
    harvester_events: int
    harvester_refused: int
    server_errors: int  # stored events with a 5xx status
    cpu_seconds: float
    load_average: float
    budgets_met: bool = field(default=False)


def _seed(database_url: str, media_dir: Path, users: int) -> list[str]:
    media_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        with make_sessionmaker(engine)() as db:
            seed_world(db, media_dir, users=users, seed=1, canaries=False)
        with engine.connect() as connection:
            names = connection.execute(
                select(User.username).where(User.is_private.is_(False)).order_by(User.id)
            ).scalars()
            return list(names)
    finally:
        engine.dispose()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class _Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples: list[float] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.samples.append(_rss_mb(self.pid))


def _decision_delay(base: str, analyst: DecisionTable, address: str, key: bytes) -> float | None:
    """Seconds from a block written to Redis until the server refuses ``address``."""
    ip = Pseudonymiser(key).ip(address)
    now = datetime.now(UTC)
    headers = {"X-Forwarded-For": address, "User-Agent": "bench-soak/probe"}
    with httpx.Client(headers=headers, timeout=10) as client:
        assert client.get(base + "/robots.txt").status_code == 200
        started = time.perf_counter()
        analyst.put(
            DecisionRecord(("ip", ip), Level.BLOCK, "soak probe", "bench", now, now + timedelta(1))
        )
        while time.perf_counter() - started < 10:
            if client.get(base + "/").status_code == 403:
                return time.perf_counter() - started
            time.sleep(0.01)
    return None


def _parse_wrk(output: str) -> dict[str, int]:
    line = next((line for line in output.splitlines() if line.startswith("SOAK ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    return {key: int(value) for key, value in (item.split("=") for item in line.split()[1:])}


def _quarter_means(samples: list[float]) -> tuple[float, float]:
    quarter = max(1, len(samples) // 4)
    return statistics.fmean(samples[:quarter]), statistics.fmean(samples[-quarter:])


def run_soak(seconds: float, connections: int, threads: int, users: int, root: Path) -> SoakResult:
    data = root / "photoshare"
    names = _seed(f"sqlite:///{data / 'photoshare.db'}", data / "media", users)
    (root / "limits.yaml").write_text(LIMITS)
    redis_server = RedisServer(root / "redis").start()
    server = ServerProcess(
        data,
        {
            "PHOTOSHARE_SECRET_KEY": "bench-soak-secret",
            "HARVESTGUARD_DATA_DIR": str(root / "guard"),
            "HARVESTGUARD_SINK": f"parquet:{root / 'events'}",
            "HARVESTGUARD_SPILL_DIR": str(root / "spill"),
            "HARVESTGUARD_TRUSTED_PROXIES": "127.0.0.1/32",
            "HARVESTGUARD_REDIS_URL": redis_server.url,
            "HARVESTGUARD_LIMITS": str(root / "limits.yaml"),
        },
        log=root / "server.log",
        start_timeout=180,
    )
    analyst: DecisionTable | None = None
    try:
        server.start()
        assert server.process is not None
        key = load_or_create_key(root / "guard")
        analyst = DecisionTable.from_url(redis_server.url)
        script = root / "soak.lua"
        paths = ["/", *(f"/u/{name}" for name in names), "/search?q=a"]
        script.write_text(
            WRK_SCRIPT
            % {
                "paths": ", ".join(f'"{p}"' for p in paths),
                "names": ", ".join(f'"{n}"' for n in names),
                "harvester": HARVESTER_AGENT,
                "visitor": BENIGN_AGENT,
            }
        )
        sampler = _Sampler(server.process.pid)
        sampler.start()
        quarters, delays = [], []
        quarter_seconds = max(2, round(seconds / 4))  # wrk takes whole seconds
        for quarter in range(4):
            # one wrk run per quarter, so that latency early and late can be compared; a block
            # for a new address is written half-way through each
            wrk = subprocess.Popen(
                ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{quarter_seconds}s",
                 "--timeout", "30s", "-s", str(script), server.base_url],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )  # fmt: skip
            time.sleep(quarter_seconds / 2)
            address = f"192.0.2.{quarter + 1}"
            delays.append(_decision_delay(server.base_url, analyst, address, key))
            output, _ = wrk.communicate(timeout=seconds + 120)
            quarters.append(_parse_wrk(output))
        sampler.stopped.set()
        sampler.join()
        load = os.getloadavg()[0]
    finally:
        if analyst is not None:
            analyst.close()
        server.stop()  # the guard writes what it still holds
        redis_server.stop()
    found = {name: sum(q[name] for q in quarters) for name in quarters[0]}
    with duckdb.connect() as connection:
        row = connection.execute(
            f"SELECT count(*) FILTER (ua = ?), count(*) FILTER (ua = ?), "
            f"count(*) FILTER (ua = ? AND decision <> 'allow'), "
            f"count(*) FILTER (status >= 500) FROM {scan_sql(root / 'events')}",
            [BENIGN_AGENT, HARVESTER_AGENT, HARVESTER_AGENT],
        ).fetchone()
    assert row is not None
    first, last = _quarter_means(sampler.samples)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    duration = found["duration_us"] / 1e6
    result = SoakResult(
        seconds=round(duration, 1),
        connections=connections,
        requests=found["requests"],
        requests_per_second=round(found["requests"] / duration, 1),
        quarters=[
            Quarter(
                requests=q["requests"],
                requests_per_second=round(q["requests"] / (q["duration_us"] / 1e6), 1),
                p50_ms=q["p50_us"] / 1000,
                p95_ms=q["p95_us"] / 1000,
                p99_ms=q["p99_us"] / 1000,
                max_ms=q["max_us"] / 1000,
            )
            for q in quarters
        ],
        non_2xx=found["status_errors"],
        socket_errors=found["socket_errors"],
        rss_samples_mb=[round(s, 1) for s in sampler.samples],
        rss_first_quarter_mb=round(first, 1),
        rss_last_quarter_mb=round(last, 1),
        memory_growth=round(last / first - 1, 4),
        decision_delays=[None if d is None else round(d, 3) for d in delays],
        events_stored=int(row[0]) + int(row[1]),
        harvester_events=int(row[1]),
        harvester_refused=int(row[2]),
        server_errors=int(row[3]),
        cpu_seconds=round(usage.ru_utime + usage.ru_stime, 1),
        load_average=round(load, 1),
    )
    result.budgets_met = (
        result.memory_growth <= MEMORY_BUDGET
        and result.quarters[-1].p99_ms <= LATENCY_BUDGET * result.quarters[0].p99_ms
        and all(d is not None and d <= DECISION_BUDGET for d in delays)
        and result.events_stored >= result.requests
        and result.server_errors == 0
    )
    return result


def _report(result: SoakResult) -> None:
    delays = ", ".join("NOT ENFORCED" if d is None else f"{d:.3f}" for d in result.decision_delays)
    print(
        f"soak: {result.seconds:.0f} s, {result.connections} connections, "
        f"load average {result.load_average}\n"
        f"  throughput      {result.requests:,} requests, {result.requests_per_second:,.0f}/s\n"
        + "".join(
            f"  quarter {n}       {q.requests_per_second:6.0f}/s  latency (ms) p50 {q.p50_ms:7.1f}  "
            f"p95 {q.p95_ms:7.1f}  p99 {q.p99_ms:7.1f}  max {q.max_ms:7.1f}\n"
            for n, q in enumerate(result.quarters, 1)
        )
        + f"  latency budget  p99 of the last quarter at most {LATENCY_BUDGET}x the first's\n"
        f"  memory (MB RSS) first quarter {result.rss_first_quarter_mb:.1f}, last quarter "
        f"{result.rss_last_quarter_mb:.1f} ({result.memory_growth:+.1%}; budget "
        f"{MEMORY_BUDGET:+.0%})\n"
        f"  decisions       block -> refused in {delays} s (budget {DECISION_BUDGET:.0f} s)\n"
        f"  events          {result.events_stored:,} stored for {result.requests:,} completed "
        f"(requests cut at the end are stored too); {result.server_errors} with a 5xx\n"
        f"  harvesters      {result.harvester_events:,} requests, "
        f"{result.harvester_refused:,} refused ({result.non_2xx:,} non-2xx seen by wrk)\n"
        f"  CPU time        {result.cpu_seconds:.1f} s (server, redis, wrk) in "
        f"{result.seconds:.0f} s wall\n"
        f"  budgets met     {'yes' if result.budgets_met else 'NO'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--users", type=int, default=40, help="accounts seeded")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if not 8 <= args.seconds <= 3600:
        parser.error("--seconds: 8 to 3600")
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as folder:
        result = run_soak(args.seconds, args.connections, args.threads, args.users, Path(folder))
    _report(result)
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(result), indent=2))
    raise SystemExit(0 if result.budgets_met else 1)


if __name__ == "__main__":
    main()
