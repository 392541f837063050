"""PostgreSQL, photoshare's database, crashes mid-run (an immediate shutdown: SIGQUIT to the
postmaster, no checkpoint, crash recovery at the next start) under a running instance, and is
started again on the same port.

While it is down the pages that need the database fail with a 5xx and serve nothing personal;
the guard records every one of those requests (the event store does not need PostgreSQL); when
PostgreSQL is back the instance serves again without a restart (its pool checks connections
before use), and every event was stored exactly once.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harvestguard.deploy import PostgresServer, wait_until
from photoshare.server_process import ServerProcess
from tests.fault_helpers import Traffic, instance, instance_env, seed, stored_ids, stored_rows


@pytest.fixture
def database(tmp_path: Path) -> Iterator[PostgresServer]:
    # kept (not removed) at a stop, so that the test can start it again; removed here at the end.
    # Not under tmp_path: as root the cluster belongs to Debian's postgres user, who cannot
    # enter pytest's private temporary directories.
    directory = Path(tempfile.mkdtemp(prefix="hg-faults-pg-"))
    server = PostgresServer(directory, keep=True)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _crash(server: PostgresServer) -> None:
    """SIGQUIT to the postmaster: every backend quits at once, nothing is flushed."""
    pid = int((server.directory / "data" / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGQUIT)
    assert server.process is not None
    server.process.wait(timeout=30)
    server.process = None


def test_postgres_crashes_and_comes_back_under_a_running_instance(
    tmp_path: Path, database: PostgresServer
) -> None:
    url = database.create_database("photoshare")
    data = tmp_path / "photoshare"
    seeded = seed(url, data / "media")
    traffic = Traffic("postgres", agent="fault-test/postgres")
    server: ServerProcess = instance(data, instance_env(tmp_path, DATABASE_URL=url), "app")
    try:
        server.start()
        # uvicorn closes the connection after an unhandled error; a fresh one per request keeps
        # that race (a reset on reuse, which browsers retry silently) out of the count
        with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)) as client:
            traffic.round(client, server.base_url, seeded.paths)
            healthy = dict(traffic.statuses())
            _crash(database)
            down = len(traffic.answers)
            traffic.round(client, server.base_url, seeded.paths * 3, start=100)
            during = {rid: traffic.answers[rid][0] for rid in list(traffic.answers)[down:]}
            database.start()  # same directory and port
            recovered = wait_until(
                lambda: traffic.get(client, server.base_url, "/u/ana", 200).status_code == 200,
                60,
            )
            assert recovered
            after = len(traffic.answers)
            traffic.round(client, server.base_url, seeded.paths, start=300)
    finally:
        server.stop()

    assert healthy == {200: len(seeded.paths) - 1, 404: 1}  # the private post is not found
    # during the outage every database page failed, and failed closed
    assert set(during.values()) == {500}
    assert not traffic.failures and not traffic.leaked()
    assert [s for s, _, _ in list(traffic.answers.values())[after:]] == [
        s for s, _, _ in list(traffic.answers.values())[: len(seeded.paths)]
    ]
    # every request, failed ones included, is one stored event; the failed ones disclosed nothing
    sent = set(traffic.answers)
    events = tmp_path / "events"
    assert wait_until(lambda: set(stored_ids(events, traffic.agent)) == sent, 30)
    assert set(stored_ids(events, traffic.agent).values()) == {1}
    failed = [row for row in stored_rows(events, traffic.agent) if row[0] in during]
    assert len(failed) == len(during)
    assert all(status == 500 and classes == [] for _, status, classes, _ in failed)
    print(f"postgres crash: {len(sent)} events in, {len(sent)} out, {len(during)} during")
