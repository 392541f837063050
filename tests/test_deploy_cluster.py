"""The scaled-out deployment on real servers: PostgreSQL, Redis, two photoshare instances behind
nginx, one Parquet event store; started by the same ``Cluster`` as ``photoshare cluster``.

What a decision made on one instance does through nginx on both, and that the events of both
instances all land in the shared store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pyarrow.compute as pc
import pytest
from sqlalchemy import text

from harvestguard.config import load_or_create_key
from harvestguard.deploy import wait_until
from harvestguard.enforce.levels import Level
from harvestguard.enforce.records import DecisionRecord
from harvestguard.enforce.table import DecisionTable
from harvestguard.pseudonym import Pseudonymiser
from harvestguard.sinks.parquet import read_events, scan_sql
from photoshare.cluster import Cluster
from photoshare.db import make_engine, make_sessionmaker
from tests.factories import World

LIMITS = (
    "version: 1\nlimits:\n  - name: profiles-per-ip\n    per: ip\n    resource: profile\n"
    "    count: owners\n    rate: 2/hour\n"
)
NAMES = ("ana", "bea", "cid")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    (root / "limits.yaml").write_text(LIMITS)
    running = Cluster(
        root,
        instances=2,
        # one test client speaks for several addresses; nginx appends what it saw
        pass_client_forwarded_for=True,
        keep_database=False,
        env={"HARVESTGUARD_LIMITS": str(root / "limits.yaml")},
    )
    with running:
        engine = make_engine(running.database_url)
        with make_sessionmaker(engine)() as db:
            world = World(db=db, media_dir=running.data_dir / "media")
            for name in NAMES:
                world.user(name)
        engine.dispose()
        yield running


def _get(base: str, path: str, address: str, **headers: str) -> httpx.Response:
    return httpx.get(base + path, headers={"X-Forwarded-For": address, **headers}, timeout=30)


def _statuses_by_instance(cluster: Cluster, address: str, tries: int = 6) -> dict[str, set[int]]:
    """What each instance answered ``address`` through nginx (round robin: both are reached)."""
    seen: dict[str, set[int]] = {}
    for _ in range(tries):
        response = _get(cluster.url, "/u/ana", address)
        seen.setdefault(response.headers["x-upstream"], set()).add(response.status_code)
    return seen


def _instances(cluster: Cluster) -> set[str]:
    return {f"127.0.0.1:{server.port}" for server in cluster.servers}


def test_both_instances_share_the_postgresql_database(cluster: Cluster) -> None:
    seen = _statuses_by_instance(cluster, "192.0.2.10")
    assert set(seen) == _instances(cluster)
    assert all(statuses == {200} for statuses in seen.values()), seen
    assert _get(cluster.url, "/u/nobody-here", "192.0.2.10").status_code == 404
    engine = make_engine(cluster.database_url)
    with engine.connect() as connection:
        assert connection.dialect.name == "postgresql"
        assert connection.execute(text("SELECT count(*) FROM users")).scalar() == len(NAMES)
    engine.dispose()


def test_a_limit_exceeded_on_instance_a_refuses_the_address_on_both(cluster: Cluster) -> None:
    a = cluster.servers[0]
    address = "198.51.100.7"
    # straight to instance A: three profiles, one over the limit of two an hour
    assert [_get(a.base_url, f"/u/{name}", address).status_code for name in NAMES] == [200] * 3
    assert wait_until(lambda: _get(a.base_url, "/u/ana", address).status_code == 429, 30)
    seen = _statuses_by_instance(cluster, address)
    assert set(seen) == _instances(cluster)
    assert all(statuses == {429} for statuses in seen.values()), seen
    # another address through the same proxy is served
    assert _get(cluster.url, "/u/ana", "198.51.100.8").status_code == 200


def test_a_block_written_to_redis_refuses_the_address_via_nginx_on_both(cluster: Cluster) -> None:
    assert cluster.redis is not None
    address = "203.0.113.9"
    key = ("ip", Pseudonymiser(load_or_create_key(cluster.root / "guard")).ip(address))
    assert _statuses_by_instance(cluster, address) == {i: {200} for i in _instances(cluster)}
    now = datetime.now(UTC)
    analyst = DecisionTable.from_url(cluster.redis.url)
    try:
        analyst.put(
            DecisionRecord(key, Level.BLOCK, "test", "tester", now, now + timedelta(hours=1))
        )
        # propagated through Redis: both instances refuse within seconds
        assert wait_until(
            lambda: (
                _statuses_by_instance(cluster, address, 4)
                == {i: {403} for i in _instances(cluster)}
            ),
            30,
        )
        analyst.lift(key, by="tester", reason="test over")
        assert wait_until(
            lambda: (
                _statuses_by_instance(cluster, address, 4)
                == {i: {200} for i in _instances(cluster)}
            ),
            30,
        )
    finally:
        analyst.close()


def test_events_of_both_instances_all_land_in_the_parquet_store(cluster: Cluster) -> None:
    marker = f"count-test/{uuid.uuid4().hex}"
    served: dict[str, int] = {}
    for step in range(40):
        response = _get(
            cluster.url, "/u/bea", f"192.0.2.{100 + step % 50}", **{"User-Agent": marker}
        )
        assert response.status_code == 200
        upstream = response.headers["x-upstream"]
        served[upstream] = served.get(upstream, 0) + 1
    assert set(served) == _instances(cluster)

    def written() -> dict[str, int]:
        with duckdb.connect() as connection:
            rows = connection.execute(
                f"SELECT filename, count(*) FROM {scan_sql(cluster.events_dir)} "
                "WHERE ua = ? GROUP BY filename",
                [marker],
            ).fetchall()
        writers: dict[str, int] = {}
        for filename, count in rows:
            # HOST-PID-UUID.parquet: the pid says which instance wrote the file
            pid = Path(filename).name.rsplit("-", 2)[-2]
            writers[pid] = writers.get(pid, 0) + count
        return writers

    assert wait_until(lambda: sum(written().values()) >= 40, 60)
    by_pid = written()
    assert sum(by_pid.values()) == 40
    expected = {
        str(server.process.pid): served[f"127.0.0.1:{server.port}"]
        for server in cluster.servers
        if server.process is not None
    }
    assert by_pid == expected
    events = read_events(cluster.events_dir)
    assert events.filter(pc.equal(events["ua"], marker)).num_rows == 40
