"""Redis, which shares decisions and limit counters between instances, killed (SIGKILL) mid-run and
restarted, under two photoshare instances on loopback: one configured to fail open (the
default, ``HARVESTGUARD_FAIL_OPEN=1``), one to fail closed (``HARVESTGUARD_FAIL_OPEN=0``).

The configured behaviour, asserted here and written down in docs/reliability.md:
- for ``HARVESTGUARD_DECISIONS_STALE_AFTER`` seconds after Redis goes, both instances keep
  enforcing the decisions they hold in memory;
- after that the fail-open instance serves everyone (blocks and limits are not enforced, every
  request is still recorded); the fail-closed one answers 503 to everyone;
- either way only the policy's anonymous view is ever served, and every event is stored;
- when Redis is back (same port, its append-only file) both reconnect by themselves: the block
  kept in Redis holds again, a new block reaches both, and the limits count again.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from harvestguard.config import load_or_create_key
from harvestguard.deploy import RedisServer, wait_until
from harvestguard.enforce.levels import Level
from harvestguard.enforce.records import DecisionRecord
from harvestguard.enforce.table import DecisionTable
from harvestguard.pseudonym import Pseudonymiser
from photoshare.server_process import ServerProcess
from tests.fault_helpers import PUBLIC_NAMES, Traffic, instance, instance_env, seed, stored_ids

STALE_AFTER = 6  # seconds an instance trusts its memory while Redis is unreachable
LIMITS = (
    "version: 1\nlimits:\n  - name: profiles-per-ip\n    per: ip\n    resource: profile\n"
    "    count: owners\n    rate: 2/hour\n"
)


@dataclass
class Setup:
    root: Path
    redis: RedisServer
    open: ServerProcess
    closed: ServerProcess
    pseudonymiser: Pseudonymiser

    def address_key(self, number: int) -> tuple[str, str]:
        return ("ip", self.pseudonymiser.ip(_address(number)))


def _address(number: int) -> str:
    return f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    data = tmp_path / "photoshare"
    seed(f"sqlite:///{data / 'photoshare.db'}", data / "media")
    (tmp_path / "limits.yaml").write_text(LIMITS)
    redis_server = RedisServer(tmp_path / "redis").start()
    env = instance_env(
        tmp_path,
        HARVESTGUARD_REDIS_URL=redis_server.url,
        HARVESTGUARD_LIMITS=str(tmp_path / "limits.yaml"),
        HARVESTGUARD_DECISIONS_STALE_AFTER=str(STALE_AFTER),
    )
    servers = [
        instance(data, {**env, "HARVESTGUARD_FAIL_OPEN": "1"}, "open"),
        instance(data, {**env, "HARVESTGUARD_FAIL_OPEN": "0"}, "closed"),
    ]
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(ServerProcess.start, servers))
        key = load_or_create_key(tmp_path / "guard")
        yield Setup(tmp_path, redis_server, servers[0], servers[1], Pseudonymiser(key))
    finally:
        for server in servers:
            server.stop()
        redis_server.stop()


def _block(table: DecisionTable, key: tuple[str, str]) -> None:
    now = datetime.now(UTC)
    table.put(
        DecisionRecord(key, Level.BLOCK, "fault test", "tester", now, now + timedelta(hours=1))
    )


def test_redis_killed_and_restarted_mid_run(setup: Setup) -> None:
    traffic = Traffic("redis", agent="fault-test/redis")
    both = (setup.open.base_url, setup.closed.base_url)
    blocked, over_limit, visitor = 7, 8, 9
    analyst = DecisionTable.from_url(setup.redis.url)
    client = httpx.Client()
    try:

        def status(base: str, number: int, path: str = "/u/ana") -> int:
            return traffic.get(client, base, path, number).status_code

        _block(analyst, setup.address_key(blocked))
        assert wait_until(lambda: all(status(b, blocked) == 403 for b in both), 30)
        # a limit counted in Redis: three people's profiles from one address, two allowed
        for name in PUBLIC_NAMES:
            status(setup.open.base_url, over_limit, f"/u/{name}")
        assert wait_until(lambda: status(setup.closed.base_url, over_limit) == 429, 30)

        assert setup.redis.process is not None
        os.kill(setup.redis.process.pid, signal.SIGKILL)
        setup.redis.process.wait()
        # at first both still enforce what they hold in memory
        assert [status(b, blocked) for b in both] == [403, 403]
        assert [status(b, visitor) for b in both] == [200, 200]
        # then each degrades as configured
        assert wait_until(lambda: status(setup.open.base_url, blocked) == 200, 30)
        assert wait_until(lambda: status(setup.closed.base_url, visitor) == 503, 30)
        assert status(setup.closed.base_url, blocked) == 503
        # fail open: served, and the limits cannot count (three profiles, all served)
        outage_address = 20
        assert [
            status(setup.open.base_url, outage_address, f"/u/{name}") for name in PUBLIC_NAMES
        ] == [200, 200, 200]

        setup.redis.start()  # same port, same append-only file: nobody touches the instances
        # the block Redis kept holds again on both; the fail-closed instance serves again
        assert wait_until(lambda: all(status(b, blocked) == 403 for b in both), 30)
        assert wait_until(lambda: status(setup.closed.base_url, visitor) == 200, 30)
        # a new decision reaches both instances through the restarted Redis
        _block(analyst, setup.address_key(visitor))
        assert wait_until(lambda: all(status(b, visitor) == 403 for b in both), 30)
        # and the limits count again
        recovered_address = 30
        for name in PUBLIC_NAMES:
            status(setup.open.base_url, recovered_address, f"/u/{name}")
        assert wait_until(lambda: status(setup.open.base_url, recovered_address) == 429, 30)
    finally:
        client.close()
        analyst.close()

    assert not traffic.failures
    # privacy failed closed: never more than the anonymous view, whatever enforcement did
    assert not traffic.leaked()
    assert set(traffic.statuses()) <= {200, 403, 429, 503}
    # every request of both instances became exactly one stored event
    sent = set(traffic.answers)
    events = setup.root / "events"
    assert wait_until(lambda: set(stored_ids(events, traffic.agent)) == sent, 60)
    assert set(stored_ids(events, traffic.agent).values()) == {1}
    print(f"redis outage: {len(sent)} events in, {len(sent)} out; statuses {traffic.statuses()}")
