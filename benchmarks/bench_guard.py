"""What the guard costs: photoshare with and without GuardMiddleware, and the middleware alone.

    .venv/bin/python benchmarks/bench_guard.py [--duration 4] [--rounds 3] [--connections 8]

1. Seeds one photoshare world, copies it, and serves each copy with uvicorn on loopback (same
   worker count): one with the guard, one without. Each endpoint (a profile page, a post page, a
   partner API call) is driven by wrk, alternating the two servers round by round so that drift
   of the machine hits both alike: first saturated (``--connections``) for throughput, then with
   one connection for latency without queueing. Medians over the rounds are printed side by side.
   wrk comes from Debian (``apt-get install -y wrk``); without it a bounded httpx load generator
   is used, which measures the client as much as the server (the report says so).
2. Times the middleware alone around a trivial ASGI app, called in-process: the per-request
   overhead in microseconds, with a real BufferedSink behind it.

Loopback only; every run is bounded by --duration; the servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
GUARD_ENV = "HG_BENCH_GUARD"


def serve_app() -> object:
    """The uvicorn factory: photoshare over PHOTOSHARE_DATA_DIR, guarded when HG_BENCH_GUARD=1."""
    from photoshare.app import create_app
    from photoshare.settings import Settings

    settings = Settings.from_env()
    settings.secret_key = "benchmark"
    settings.guard = os.environ[GUARD_ENV] == "1"
    return create_app(settings)


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    path: str
    needs_token: bool = False


@dataclass(frozen=True, slots=True)
class Run:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int


@dataclass(slots=True)
class Server:
    name: str
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]
    token: str = ""

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"


def seed(data_dir: Path, users: int) -> tuple[list[Endpoint], tuple[str, str]]:
    """Seeds a world; returns the endpoints and the partner credentials for the API call."""
    from sqlalchemy import select

    from photoshare.app import create_app
    from photoshare.models import Post, User
    from photoshare.seed import seed_world
    from photoshare.settings import Settings

    app = create_app(Settings(data_dir=data_dir, guard=False, secret_key="benchmark"))
    with app.state.sessionmaker() as db:
        report = seed_world(db, data_dir / "media", users=users, seed=7)
        partner = next(p for p in report.partners if "media:read" in p.scopes and p.authorised_by)
        owner = db.scalar(select(User).where(User.username == partner.authorised_by[0]))
        assert owner is not None
        public = db.scalar(
            select(User).where(User.is_private.is_(False)).order_by(User.id).limit(1)
        )
        post = db.scalar(select(Post).join(User).where(User.is_private.is_(False)).limit(1))
        api_post = db.scalar(select(Post).where(Post.owner_id == owner.id).limit(1))
        assert public is not None and post is not None and api_post is not None
        endpoints = [
            Endpoint("profile page", f"/u/{public.username}"),
            Endpoint("post page", f"/p/{post.id}"),
            Endpoint("API media", f"/api/v1/media/{api_post.id}", needs_token=True),
        ]
    app.state.engine.dispose()
    return endpoints, (partner.client_id, partner.client_secret)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def start(name: str, data_dir: Path, guard: bool, workers: int) -> Server:
    port = free_port()
    env = {**os.environ, "PHOTOSHARE_DATA_DIR": str(data_dir), GUARD_ENV: "1" if guard else "0"}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "bench_guard:serve_app",
        "--app-dir",
        str(Path(__file__).parent),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    server = Server(name, data_dir, port, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the {name} server exited with {process.returncode}")
        try:
            if httpx.get(server.base + "/robots.txt", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    stop(server)
    raise RuntimeError(f"the {name} server did not start within 60 s")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown runs the lifespan
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def issue_token(server: Server, credentials: tuple[str, str]) -> None:
    response = httpx.post(
        server.base + "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "media:read"},
        auth=credentials,
        timeout=10,
    )
    response.raise_for_status()
    server.token = response.json()["access_token"]


_WRK_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_WRK_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_WRK_TOTAL = re.compile(r"^\s+(\d+) requests in", re.MULTILINE)
_WRK_ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, headers: dict[str, str], connections: int, duration: int) -> Run:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=duration + 30
    ).stdout
    if errors := _WRK_ERRORS.search(output):
        raise RuntimeError(f"{errors.group(1)} error responses from {url}")
    latency = {pct: float(v) * _UNIT_MS[unit] for pct, v, unit in _WRK_LATENCY.findall(output)}
    rate = _WRK_RATE.search(output)
    total = _WRK_TOTAL.search(output)
    assert rate and total and len(latency) == 2, output
    return Run(float(rate.group(1)), latency["50"], latency["99"], int(total.group(1)))


async def _httpx_load(url: str, headers: dict[str, str], connections: int, duration: int) -> Run:
    latencies: list[float] = []
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=5) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code >= 400:
                    raise RuntimeError(f"{response.status_code} from {url}")

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    quantiles = statistics.quantiles(latencies, n=100)
    return Run(len(latencies) / elapsed, quantiles[49], quantiles[98], len(latencies))


def load(server: Server, endpoint: Endpoint, connections: int, duration: int) -> Run:
    headers = {"Authorization": f"Bearer {server.token}"} if endpoint.needs_token else {}
    url = server.base + endpoint.path
    if shutil.which("wrk"):
        return wrk(url, headers, connections, duration)
    return asyncio.run(_httpx_load(url, headers, connections, duration))


def median_run(runs: list[Run]) -> Run:
    return Run(
        statistics.median(run.requests_per_second for run in runs),
        statistics.median(run.p50_ms for run in runs),
        statistics.median(run.p99_ms for run in runs),
        sum(run.requests for run in runs),
    )


def compare(
    servers: tuple[Server, Server],
    endpoints: list[Endpoint],
    connections: int,
    duration: int,
    rounds: int,
) -> dict[tuple[str, str], Run]:
    runs: dict[tuple[str, str], list[Run]] = {}
    for endpoint in endpoints:
        for server in servers:
            load(server, endpoint, connections, 1)  # warm-up, not counted
        for round_number in range(rounds):
            order = servers if round_number % 2 == 0 else servers[::-1]
            for server in order:
                run = load(server, endpoint, connections, duration)
                runs.setdefault((endpoint.name, server.name), []).append(run)
    return {key: median_run(value) for key, value in runs.items()}


def print_comparison(
    title: str, endpoints: list[Endpoint], results: dict[tuple[str, str], Run]
) -> None:
    print(f"\n{title}")
    print(
        f"{'endpoint':<14}{'req/s off':>11}{'req/s on':>11}{'ratio':>8}"
        f"{'p50 off':>10}{'p50 on':>9}{'+p50':>8}{'p99 off':>10}{'p99 on':>9}{'+p99':>8}"
    )
    for endpoint in endpoints:
        off = results[(endpoint.name, "off")]
        on = results[(endpoint.name, "on")]
        print(
            f"{endpoint.name:<14}{off.requests_per_second:>11.0f}{on.requests_per_second:>11.0f}"
            f"{on.requests_per_second / off.requests_per_second:>8.3f}"
            f"{off.p50_ms:>9.2f}m{on.p50_ms:>8.2f}m{on.p50_ms - off.p50_ms:>+7.2f}m"
            f"{off.p99_ms:>9.2f}m{on.p99_ms:>8.2f}m{on.p99_ms - off.p99_ms:>+7.2f}m"
        )


def recorded_events(data_dir: Path) -> int:
    from harvestguard.sinks.parquet import read_events

    events_dir = data_dir / "guard" / "events"
    return read_events(events_dir).num_rows if events_dir.exists() else 0


@contextmanager
def servers_running(
    base: Path, users: int, workers: int
) -> Iterator[tuple[list[Endpoint], tuple[Server, Server]]]:
    off_dir, on_dir = base / "off", base / "on"
    endpoints, credentials = seed(off_dir, users)
    shutil.copytree(off_dir, on_dir)
    started: list[Server] = []
    try:
        started.append(start("off", off_dir, guard=False, workers=workers))
        started.append(start("on", on_dir, guard=True, workers=workers))
        for server in started:
            issue_token(server, credentials)
        yield endpoints, (started[0], started[1])
    finally:
        for server in started:
            stop(server)


def end_to_end(args: argparse.Namespace) -> None:
    generator = "wrk" if shutil.which("wrk") else "httpx (wrk missing: apt-get install -y wrk)"
    print(
        f"end to end: photoshare under uvicorn on {HOST}, {args.workers} worker(s) each, "
        f"{args.users} seeded accounts, load generator {generator}, {args.rounds} rounds of "
        f"{args.duration} s per endpoint and server, medians"
    )
    with tempfile.TemporaryDirectory(prefix="bench-guard-") as tmp:
        with servers_running(Path(tmp), args.users, args.workers) as (endpoints, servers):
            saturated = compare(servers, endpoints, args.connections, args.duration, args.rounds)
            single = compare(servers, endpoints, 1, args.duration, args.rounds)
        print_comparison(f"saturated: {args.connections} connections", endpoints, saturated)
        print_comparison("unqueued latency: 1 connection", endpoints, single)
        sent = sum(
            run.requests
            for results in (saturated, single)
            for (_, server), run in results.items()
            if server == "on"
        )
        print(
            f"\nthe guarded server recorded {recorded_events(Path(tmp) / 'on')} events "
            f"(measured requests: {sent}; warm-ups, token and readiness requests come on top)"
        )


async def _trivial_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def micro(requests: int) -> None:
    from harvestguard.config import GuardConfig
    from harvestguard.middleware import GuardMiddleware
    from harvestguard.sinks import BufferedSink, open_sink

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/u/alice",
        "raw_path": b"/u/alice",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"example.org"),
            (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"),
            (b"accept", b"text/html,application/xhtml+xml"),
            (b"accept-language", b"de-DE,de;q=0.9"),
        ],
        "client": ("198.51.100.23", 50123),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    async def timings(app: ASGIApp, senders: int) -> list[float]:
        samples = []
        for index in range(requests):
            sender = index % senders
            address = f"10.{sender >> 16 & 255}.{sender >> 8 & 255}.{sender & 255}"
            request_scope = {**scope, "client": (address, 50123)}
            started = time.perf_counter_ns()
            await app(request_scope, receive, send)
            samples.append((time.perf_counter_ns() - started) / 1000)
        return samples

    print(
        f"\nmiddleware alone: {requests} in-process requests to a trivial ASGI app, events "
        "stored through a BufferedSink over the default Parquet sink; µs per request"
    )
    print(f"{'':<42}{'mean':>8}{'p50':>8}{'p99':>8}")
    bare = asyncio.run(timings(_trivial_app, 1))
    print_micro_row("bare app", bare)
    # "writer idle": the sink's thread writes only at close, so the row shows the guard's own
    # path; "writer busy": the thread writes while requests run, as it does in a server
    for label, senders, writer_busy in (
        ("returning senders (1000), writer idle", 1000, False),
        ("new address every time, writer idle", requests, False),
        ("returning senders (1000), writer busy", 1000, True),
    ):
        with tempfile.TemporaryDirectory(prefix="bench-guard-micro-") as tmp:
            config = GuardConfig.from_env(Path(tmp), environ={})
            batching = {} if writer_busy else {"batch_size": 4 * requests, "flush_interval": 3600}
            sink = BufferedSink(
                open_sink(config.sink_url), config.spill_dir, max_queue=4 * requests, **batching
            )
            guarded = GuardMiddleware(_trivial_app, config=config, sink=sink)
            asyncio.run(timings(guarded, 1))  # warm-up
            with_guard = asyncio.run(timings(guarded, senders))
            sink.close()
            assert sink.stats.written == 2 * requests
        print_micro_row(label, with_guard, bare)


def print_micro_row(label: str, samples: list[float], baseline: list[float] | None = None) -> None:
    q = statistics.quantiles(samples, n=100)
    row = f"{label:<42}{statistics.fmean(samples):>8.1f}{q[49]:>8.1f}{q[98]:>8.1f}"
    if baseline is not None:
        b = statistics.quantiles(baseline, n=100)
        added = statistics.fmean(samples) - statistics.fmean(baseline)
        row += f"   added: mean {added:.1f}, p50 {q[49] - b[49]:.1f}, p99 {q[98] - b[98]:.1f}"
    print(row)


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=4, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--users", type=int, default=40, help="accounts in the seeded world")
    parser.add_argument("--micro-requests", type=int, default=20000)
    parser.add_argument("--micro-only", action="store_true")
    args = parser.parse_args()
    if not 0 < args.duration <= 60 or not 0 < args.connections <= 64 or not 0 < args.rounds <= 9:
        parser.error("keep it bounded: duration 0..60 s, connections 1..64, rounds 1..9")
    print(f"before: {load_average()}")
    if not args.micro_only:
        end_to_end(args)
    micro(args.micro_requests)
    print(f"\nafter: {load_average()}")


if __name__ == "__main__":
    main()
