"""Faults in a running deployment on loopback: two photoshare instances (SQLite, one shared
Parquet event store) behind nginx, with named traffic flowing while the fault happens.

- The event store disappears mid-run and comes back: every request is still answered at once,
  the instances spill to disk and replay by themselves, and every event arrives exactly once.
- An instance is killed (SIGKILL) mid-run while its spill holds events, and restarted: nginx
  sends its traffic to the other one (no request fails), the restarted instance replays its
  spill and takes traffic again, and the only events that can be missing are the ones the
  killed process still held in memory (at most its last flush interval, 1 s), never any other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from harvestguard.deploy import NginxProxy, wait_until
from photoshare.server_process import PROBE_PATH, ServerProcess
from tests.fault_helpers import (
    Seeded,
    Traffic,
    crash,
    instance,
    instance_env,
    seed,
    spill_dir,
    spilled,
    stored_ids,
)

FLUSH_INTERVAL = 1.0  # BufferedSink's default: what a killed instance may hold in memory


@dataclass
class Deployment:
    root: Path
    data: Path
    env: dict[str, str]
    seeded: Seeded
    servers: list[ServerProcess]
    proxy: NginxProxy

    @property
    def events(self) -> Path:
        return self.root / "events"

    def upstream(self, number: int) -> str:
        return f"127.0.0.1:{self.servers[number].port}"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("faults-cluster")
    data = root / "photoshare"
    seeded = seed(f"sqlite:///{data / 'photoshare.db'}", data / "media")
    env = instance_env(root)
    servers = [instance(data, env, f"instance-{n}") for n in range(2)]
    proxy = NginxProxy(root / "nginx", [f"127.0.0.1:{s.port}" for s in servers])
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(ServerProcess.start, servers))
        proxy.start(probe=PROBE_PATH)
        yield Deployment(root, data, env, seeded, servers, proxy)
    finally:
        proxy.stop()
        for server in servers:
            server.stop()


def _statuses_by_path(traffic: Traffic, paths: tuple[str, ...]) -> dict[str, set[int]]:
    """Request ids are numbered in order and each round visits ``paths`` in order."""
    by_path: dict[str, set[int]] = {}
    for number, (status, _, _) in enumerate(traffic.answers.values()):
        by_path.setdefault(paths[number % len(paths)], set()).add(status)
    return by_path


def test_the_event_store_goes_away_and_comes_back(deployment: Deployment) -> None:
    paths = deployment.seeded.paths
    traffic = Traffic("store-outage", agent="fault-test/store-outage")
    spills = [spill_dir(deployment.data, f"instance-{n}") for n in range(2)]
    away = deployment.root / "events.away"
    with httpx.Client() as client:
        traffic.round(client, deployment.proxy.url, paths)
        before = len(traffic.answers)
        assert wait_until(lambda: len(stored_ids(deployment.events, traffic.agent)) == before, 30)
        # the store's root becomes a plain file: every write of every instance fails
        deployment.events.rename(away)
        deployment.events.write_text("the event store is unreachable")
        try:
            rounds = 0
            # traffic until both instances have met the fault and spilled to disk
            while not all(spilled(spill) for spill in spills):
                traffic.round(client, deployment.proxy.url, paths, start=100 + rounds)
                rounds += 1
                assert rounds < 200, "the instances never spilled"
                time.sleep(0.1)
            during = len(traffic.answers) - before
        finally:
            deployment.events.unlink()
            away.rename(deployment.events)
        traffic.round(client, deployment.proxy.url, paths, start=500)

    # served throughout, and never more than before the fault
    assert not traffic.failures
    assert not traffic.leaked()
    by_path = _statuses_by_path(traffic, paths)
    assert all(len(statuses) == 1 for statuses in by_path.values()), by_path
    assert during >= len(paths)
    # nothing lost, nothing twice: the spills were replayed without a restart
    sent = set(traffic.answers)
    assert wait_until(lambda: set(stored_ids(deployment.events, traffic.agent)) == sent, 60)
    assert set(stored_ids(deployment.events, traffic.agent).values()) == {1}
    assert wait_until(lambda: not any(spilled(spill) for spill in spills), 30)
    print(f"store outage: {len(sent)} events in, {len(sent)} out, {during} during the outage")


class _Background:
    """Requests through nginx, one after another, until stopped."""

    def __init__(self, traffic: Traffic, base: str, paths: tuple[str, ...]) -> None:
        self.traffic = traffic
        self.base = base
        self.paths = paths
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client() as client:
            address = 1000
            while not self._stop.is_set():
                try:
                    self.traffic.round(client, self.base, self.paths, start=address)
                except httpx.TransportError as error:
                    self.errors.append(error)
                address += len(self.paths)
                time.sleep(0.02)

    def __enter__(self) -> _Background:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def test_an_instance_killed_mid_run_is_routed_around_and_recovers(
    deployment: Deployment,
) -> None:
    paths = deployment.seeded.paths
    traffic = Traffic("instance-kill", agent="fault-test/instance-kill")
    victim, survivor = deployment.upstream(0), deployment.upstream(1)
    victim_spill = spill_dir(deployment.data, "instance-0")
    away = deployment.root / "events.away"
    with _Background(traffic, deployment.proxy.url, paths) as background:
        # the store fails first, so that the victim's events pile up in its spill
        deployment.events.rename(away)
        deployment.events.write_text("the event store is unreachable")
        try:
            assert wait_until(lambda: spilled(victim_spill) >= 2 * len(paths), 60)
            crash(deployment.servers[0])
            killed_at = time.monotonic()
        finally:
            deployment.events.unlink()
            away.rename(deployment.events)
        answered_by_victim_before = {
            rid for rid, (_, upstream, _) in traffic.answers.items() if upstream == victim
        }
        # restarted by hand here as a supervisor would (same port: nginx's upstream)
        restarted = instance(
            deployment.data, deployment.env, "instance-0", port=deployment.servers[0].port
        )
        deployment.servers[0] = restarted.start()
        restarted_at = time.monotonic()
        # nginx tries the instance again after its fail_timeout (5 s) and finds it up
        assert wait_until(
            lambda: any(
                upstream == victim and traffic.answered_at[rid] > restarted_at
                for rid, (_, upstream, _) in list(traffic.answers.items())
            ),
            60,
        )
    assert not background.errors and not traffic.failures
    assert not traffic.leaked()
    by_path = _statuses_by_path(traffic, paths)
    assert all(len(statuses) == 1 for statuses in by_path.values()), by_path
    served_by = {upstream for _, upstream, _ in traffic.answers.values()}
    assert served_by == {victim, survivor}

    sent = set(traffic.answers)

    def stored() -> set[str]:
        return set(stored_ids(deployment.events, traffic.agent))

    # the survivor's events, and what the victim had spilled, all arrive without anyone's help
    settled = wait_until(lambda: sent - stored() <= answered_by_victim_before, 60)
    assert settled, sorted(sent - stored())[:10]
    time.sleep(2 * FLUSH_INTERVAL)  # a last flush of the survivor's queue
    counts = stored_ids(deployment.events, traffic.agent)
    assert set(counts) <= sent and set(counts.values()) == {1}
    missing = sent - set(counts)
    # only the killed process's last moments in memory can be missing
    lost_window = {
        rid
        for rid in answered_by_victim_before
        if traffic.answered_at[rid] > killed_at - FLUSH_INTERVAL - 2.0
    }
    assert missing <= lost_window, sorted(missing - lost_window)[:10]
    assert not spilled(victim_spill)  # replayed at the restart
    print(
        f"instance killed: {len(sent)} requests answered, {len(traffic.retried)} retried by "
        f"nginx on the survivor, {len(counts)} events stored, {len(missing)} lost in memory"
    )
