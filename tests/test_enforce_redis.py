"""Decision tables of several instances share one real redis-server: writes reach the others within
a second, an outage leaves each answering from memory, and a restarted Redis is caught up."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from harvestguard.actor import ActorKeys
from harvestguard.cli import app as cli_app
from harvestguard.decisions import ALLOW
from harvestguard.enforce.levels import Level
from harvestguard.enforce.records import DecisionRecord
from harvestguard.enforce.redis_sync import RedisDecisionSync
from harvestguard.enforce.table import DecisionStoreUnavailable, DecisionTable
from harvestguard.events import Decision
from harvestguard.pseudonym import Pseudonymiser
from tests.enforce_helpers import ManualClock
from tests.redis_helpers import RedisServer, free_port

VISITOR = ActorKeys(ip="ip-1", net="net-1", fingerprint="fp-1")


def _now_record(key: tuple[str, str], level: Level, **kwargs: object) -> DecisionRecord:
    now = datetime.now(UTC)
    return DecisionRecord(key, level, "test", "tester", now, now + timedelta(hours=1), **kwargs)  # type: ignore[arg-type]


def _within(deadline: float, condition: Callable[[], bool]) -> float | None:
    """Seconds until the condition held, or None if it did not within the deadline."""
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        if condition():
            return time.monotonic() - started
        time.sleep(0.01)
    return None


@pytest.fixture
def tables(redis_url: str) -> Iterator[Callable[..., DecisionTable]]:
    made: list[DecisionTable] = []

    def make(url: str = redis_url, **kwargs: object) -> DecisionTable:
        table = DecisionTable.from_url(url, **kwargs)  # type: ignore[arg-type]
        made.append(table)
        return table

    yield make
    for table in made:
        table.close()


def test_a_write_reaches_the_other_instance_within_a_second(
    tables: Callable[..., DecisionTable],
) -> None:
    # no periodic resync within the test: only the published change can carry the write
    a, b = tables(resync_interval=3600), tables(resync_interval=3600)
    assert _within(5, lambda: _sync(a).resyncs == _sync(b).resyncs == 2)  # start-up, subscribed
    a.put(_now_record(("ip", "ip-1"), Level.BLOCK))
    delay = _within(5, lambda: b.check(VISITOR).decision == Decision.BLOCK)
    assert delay is not None and delay < 1.0
    b.lift(("ip", "ip-1"), by="analyst", reason="mistake")
    delay = _within(5, lambda: a.check(VISITOR) is ALLOW)
    assert delay is not None and delay < 1.0
    assert _sync(a).resyncs == _sync(b).resyncs == 2
    # each instance also hears its own publication, a moment after the other one does
    assert _within(5, lambda: _sync(a).messages >= 2 and _sync(b).messages >= 2) is not None


def test_a_new_instance_starts_with_the_shared_state(tables: Callable[..., DecisionTable]) -> None:
    a = tables()
    a.put(_now_record(("fingerprint", "fp-1"), Level.CHALLENGE))
    a.allow(("client", "partner-1"), by="analyst", reason="verified partner")
    late = tables()  # the first sync happens before the constructor returns
    assert late.check(VISITOR).decision == Decision.CHALLENGE
    assert late.check(ActorKeys(client="partner-1", fingerprint="fp-1")) is ALLOW


def test_a_missed_message_is_healed_by_the_periodic_resync(
    tables: Callable[..., DecisionTable], redis_server: RedisServer
) -> None:
    a = tables(resync_interval=0.2)
    record = _now_record(("net", "net-1"), Level.BLOCK)
    # written behind the table's back: no message is published
    with redis_server.client() as client:
        client.hset("harvestguard:decisions", record.slot, _json(record))
    assert _within(5, lambda: a.check(VISITOR).decision == Decision.BLOCK) is not None


def test_expired_records_are_not_loaded_and_are_removed(
    tables: Callable[..., DecisionTable], redis_server: RedisServer
) -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    old = DecisionRecord(("ip", "ip-1"), Level.BLOCK, "old", "t", past, past + timedelta(hours=1))
    with redis_server.client() as client:
        client.hset("harvestguard:decisions", old.slot, _json(old))
        table = tables()
        assert table.check(VISITOR) is ALLOW
        assert client.hlen("harvestguard:decisions") == 0


def test_an_outage_is_served_from_memory_and_healed_on_return(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    a = DecisionTable.from_url(server.url, resync_interval=0.2)
    b = DecisionTable.from_url(server.url, resync_interval=0.2)
    try:
        a.put(_now_record(("ip", "ip-1"), Level.BLOCK))
        assert _within(5, lambda: b.check(VISITOR).decision == Decision.BLOCK) is not None
        server.stop()
        assert _within(10, lambda: not _sync(a).connected and not _sync(b).connected)
        # both still answer from memory
        assert b.check(VISITOR).decision == Decision.BLOCK
        # a write during the outage is applied locally at once and kept for Redis
        a.put(_now_record(("account", "42"), Level.BAN))
        assert a.check(ActorKeys(account="42")).decision == Decision.BLOCK
        assert b.check(ActorKeys(account="42")) is ALLOW
        server.start()  # same port, same append-only file
        assert _within(10, lambda: b.check(ActorKeys(account="42")).decision == Decision.BLOCK)
        assert b.check(VISITOR).decision == Decision.BLOCK  # what Redis kept survives
        with server.client() as client:
            assert client.hlen("harvestguard:decisions") == 2
    finally:
        a.close()
        b.close()
        server.stop()


def test_a_table_out_of_touch_too_long_stops_answering(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    clock = ManualClock(datetime.now(UTC))
    table = DecisionTable.from_url(
        server.url, clock=clock, stale_after=timedelta(seconds=30), resync_interval=0.2
    )
    try:
        assert table.check(VISITOR) is ALLOW
        server.stop()
        assert _within(10, lambda: not _sync(table).connected)
        clock.advance(seconds=10)
        assert table.check(VISITOR) is ALLOW  # recent enough: memory is trusted
        clock.advance(seconds=30)
        with pytest.raises(DecisionStoreUnavailable):
            table.check(VISITOR)
        server.start()
        assert _within(10, lambda: _answers(table))
    finally:
        table.close()
        server.stop()


def test_a_table_that_never_reached_redis_does_not_pretend(tmp_path: Path) -> None:
    table = DecisionTable.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(DecisionStoreUnavailable):
            table.check(VISITOR)
    finally:
        table.close()


def _answers(table: DecisionTable) -> bool:
    try:
        table.check(VISITOR)
    except DecisionStoreUnavailable:
        return False
    return True


def _sync(table: DecisionTable) -> RedisDecisionSync:
    backend = table.backend
    assert isinstance(backend, RedisDecisionSync)
    return backend


def _json(record: DecisionRecord) -> str:
    return json.dumps(record.to_dict())


# the analysts' command line, on the same Redis

runner = CliRunner()
CLI_KEY = "cli-test-pseudonym-key-0123"


def _cli(*args: str) -> Result:
    return runner.invoke(
        cli_app, ["decisions", *args], env={"HARVESTGUARD_PSEUDONYM_KEY": CLI_KEY, "COLUMNS": "250"}
    )


def test_the_command_line_puts_lists_allows_and_lifts(
    tables: Callable[..., DecisionTable], redis_url: str
) -> None:
    app_table = tables()  # what an app instance sees
    address = Pseudonymiser(CLI_KEY.encode()).ip("203.0.113.9")
    put = _cli("put", "ip:203.0.113.9", "--level", "block", "--hours", "2", "--by", "rita",
               "--reason", "scraper", "--redis", redis_url)  # fmt: skip
    assert put.exit_code == 0, put.output
    assert _within(5, lambda: app_table.check(ActorKeys(ip=address)).decision == Decision.BLOCK)
    listed = _cli("list", "--redis", redis_url)
    assert listed.exit_code == 0
    assert f"ip:{address}" in listed.output and "scraper" in listed.output
    allowed = _cli("allow", "client:partner-9", "--by", "rita", "--reason", "verified",
                   "--redis", redis_url)  # fmt: skip
    assert allowed.exit_code == 0, allowed.output
    assert _within(
        5,
        lambda: [r.level for r in app_table.records_for(("client", "partner-9"))] == [Level.ALLOW],
    )
    lifted = _cli(
        "lift", "ip:203.0.113.9", "--by", "rita", "--reason", "appeal", "--redis", redis_url
    )
    assert lifted.exit_code == 0 and "lifted 1 decision on" in lifted.output
    assert _within(5, lambda: app_table.check(ActorKeys(ip=address)) is ALLOW)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("put", "ua:curl", "--level", "block"), "KIND:VALUE"),
        (("put", "account", "--level", "block"), "KIND:VALUE"),
        (("put", "account:1", "--level", "ban"), "bans are the ladder's"),
        (("put", "account:1", "--level", "nuke"), "unknown level"),
    ],
)
def test_the_command_line_refuses_bad_input(
    args: tuple[str, ...], message: str, redis_url: str
) -> None:
    result = _cli(*args, "--by", "rita", "--reason", "r", "--redis", redis_url)
    assert result.exit_code == 2
    assert message in result.output


def test_the_command_line_says_when_redis_is_unreachable() -> None:
    result = _cli("list", "--redis", f"redis://127.0.0.1:{free_port()}/0")
    assert result.exit_code == 2
    assert "cannot reach the decision store" in result.output
