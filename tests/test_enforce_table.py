"""The decision table in one process: strongest record wins, allow-lists win, shadow records only
count, lifts reverse, records expire (time moved by hand, never slept)."""

from __future__ import annotations

import json

import pytest

from harvestguard.actor import ActorKeys
from harvestguard.decisions import ALLOW
from harvestguard.enforce.levels import Level
from harvestguard.enforce.records import DecisionRecord
from harvestguard.enforce.table import DecisionTable
from harvestguard.events import Decision
from tests.enforce_helpers import T0, ManualClock, record

ALICE = ActorKeys(account="17", session="s-1", ip="ip-a", net="net-a", ua="Mozilla/5.0")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def table(clock: ManualClock) -> DecisionTable:
    return DecisionTable(clock=clock)


def test_an_empty_table_allows_everyone(table: DecisionTable) -> None:
    assert table.check(ALICE) is ALLOW
    assert table.check(ActorKeys()) is ALLOW


def test_the_strongest_unexpired_record_of_any_key_wins(
    table: DecisionTable, clock: ManualClock
) -> None:
    table.put(record(("net", "net-a"), Level.THROTTLE, minutes=120))
    table.put(record(("account", "17"), Level.BLOCK, minutes=30, reason="sock puppet"))
    verdict = table.check(ALICE)
    assert verdict.decision == Decision.BLOCK
    assert verdict.reason == "sock puppet"
    clock.advance(minutes=31)  # the block has expired; the throttle still runs
    verdict = table.check(ALICE)
    assert verdict.decision == Decision.THROTTLE
    assert verdict.retry_after == 89 * 60
    clock.advance(minutes=90)
    assert table.check(ALICE) is ALLOW
    assert table.active() == []


def test_a_key_the_request_does_not_carry_is_not_matched(table: DecisionTable) -> None:
    table.put(record(("client", "app-1"), Level.BLOCK))
    table.put(record(("ip", "ip-b"), Level.BLOCK))
    assert table.check(ALICE) is ALLOW
    assert table.check(ActorKeys(client="app-1")).decision == Decision.BLOCK


def test_a_ban_is_enforced_as_a_block_without_retry_after(table: DecisionTable) -> None:
    table.put(record(("fingerprint", "fp-1"), Level.BAN, minutes=None))
    verdict = table.check(ActorKeys(fingerprint="fp-1"))
    assert verdict.decision == Decision.BLOCK
    assert verdict.retry_after is None


def test_an_allow_listed_key_wins_over_every_other_record(table: DecisionTable) -> None:
    table.put(record(("ip", "ip-a"), Level.BLOCK))
    table.allow(("account", "17"), by="analyst", reason="verified crawler")
    assert table.check(ALICE) is ALLOW
    assert table.check(ActorKeys(ip="ip-a")).decision == Decision.BLOCK


def test_shadow_records_are_counted_but_never_enforced(table: DecisionTable) -> None:
    shadow = record(("account", "17"), Level.BAN, shadow=True)
    table.put(shadow)
    assert table.check(ALICE) is ALLOW
    assert table.check(ALICE) is ALLOW
    assert table.shadow_hits[shadow.slot] == 2
    assert shadow in table.active()
    # a real record next to the shadow one is enforced
    table.put(record(("account", "17"), Level.THROTTLE))
    assert table.check(ALICE).decision == Decision.THROTTLE


def test_lift_removes_every_record_of_the_key_and_returns_them(table: DecisionTable) -> None:
    block = record(("account", "17"), Level.BLOCK)
    throttle = record(("account", "17"), Level.THROTTLE)
    table.put(block)
    table.put(throttle)
    table.put(record(("ip", "ip-z"), Level.BLOCK))
    lifted = table.lift(("account", "17"), by="analyst", reason="false positive")
    assert set(lifted) == {block, throttle}
    assert table.check(ALICE) is ALLOW
    assert [r.key for r in table.active()] == [("ip", "ip-z")]
    with pytest.raises(ValueError, match="who lifts and why"):
        table.lift(("ip", "ip-z"), by="", reason="")


def test_lift_entity_removes_its_records_on_every_key(table: DecisionTable) -> None:
    table.put(record(("account", "17"), Level.BAN, entity_id="e1"))
    table.put(record(("ip", "ip-a"), Level.BAN, entity_id="e1"))
    table.put(record(("ip", "ip-b"), Level.BLOCK, entity_id="e2"))
    assert len(table.lift_entity("e1", by="analyst", reason="appeal upheld")) == 2
    assert table.check(ALICE) is ALLOW
    assert [r.entity_id for r in table.active()] == ["e2"]


def test_a_new_record_of_the_same_level_replaces_the_old(
    table: DecisionTable, clock: ManualClock
) -> None:
    table.put(record(("ip", "ip-a"), Level.THROTTLE, minutes=5))
    table.put(record(("ip", "ip-a"), Level.THROTTLE, minutes=50))
    assert len(table.active()) == 1
    clock.advance(minutes=10)
    assert table.check(ALICE).decision == Decision.THROTTLE


def test_ua_keys_are_never_acted_on() -> None:
    with pytest.raises(ValueError, match="not 'ua'"):
        record(("ua", "Mozilla/5.0"), Level.BLOCK)
    with pytest.raises(ValueError, match="not 'cookie'"):
        record(("cookie", "x"), Level.BLOCK)
    with pytest.raises(ValueError, match="time zone"):
        DecisionRecord(("ip", "x"), Level.BLOCK, "r", "b", T0.replace(tzinfo=None), None)


def test_records_round_trip_through_json() -> None:
    original = record(("client", "app-1"), Level.BAN, shadow=True, entity_id="e9")
    assert DecisionRecord.from_dict(json.loads(json.dumps(original.to_dict()))) == original
    forever = record(("ip", "x"), Level.CHALLENGE, minutes=None)
    assert DecisionRecord.from_dict(forever.to_dict()) == forever
    with pytest.raises(ValueError, match="unknown level"):
        DecisionRecord.from_dict({**forever.to_dict(), "level": "nuke"})


def test_the_levels_map_to_the_middlewares_decisions() -> None:
    assert [level.decision for level in Level] == [
        Decision.ALLOW,
        Decision.THROTTLE,
        Decision.CHALLENGE,
        Decision.BLOCK,
        Decision.BLOCK,
    ]
    assert Level.BAN > Level.BLOCK > Level.CHALLENGE > Level.THROTTLE > Level.ALLOW


def test_an_unknown_store_url_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported decision store"):
        DecisionTable.from_url("memcached://localhost")
    assert not DecisionTable.from_url(None).shared
