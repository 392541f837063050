"""The escalation ladder: the first rung by risk, repeat offences climb, levels expire, a ban
covers the whole entity, shadow mode only records, and a lift undoes it all."""

from __future__ import annotations

from datetime import timedelta

import pytest

from harvestguard.actor import ActorKeys
from harvestguard.decisions import ALLOW
from harvestguard.detect.findings import Exposure
from harvestguard.enforce.ladder import Ladder, LadderSettings
from harvestguard.enforce.levels import Level
from harvestguard.enforce.table import DecisionTable
from harvestguard.events import Decision
from tests.enforce_helpers import T0, ManualClock, entity

PUPPETS = {("account", "11"), ("account", "12"), ("fingerprint", "fp-9"), ("net", "net-9")}
# what the ladder acts on: not the fingerprint, which strangers' browsers share
TARGETS = PUPPETS - {("fingerprint", "fp-9")}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def table(clock: ManualClock) -> DecisionTable:
    return DecisionTable(clock=clock)


@pytest.fixture
def ladder(table: DecisionTable) -> Ladder:
    return Ladder(table)


@pytest.mark.parametrize(
    ("risk", "level"),
    [(0.5, Level.THROTTLE), (0.75, Level.CHALLENGE), (0.9, Level.BLOCK), (0.99, Level.BAN)],
)
def test_the_first_rung_follows_the_risk(ladder: Ladder, risk: float, level: Level) -> None:
    records = ladder.decide(entity({("account", "11")}, risk=risk), T0)
    assert [(r.key, r.level, r.by) for r in records] == [(("account", "11"), level, "ladder")]
    assert records[0].expires_at == T0 + LadderSettings().durations[level]


def test_repeat_offences_climb_one_rung_each(ladder: Ladder, clock: ManualClock) -> None:
    keys = {("account", "11")}
    seen: list[Level] = []
    for hour in range(5):
        now = T0 + timedelta(hours=hour)
        clock.now = now
        (record,) = ladder.decide(entity(keys, risk=0.5, last_seen=now + timedelta(minutes=5)), now)
        seen.append(record.level)
    assert seen == [Level.THROTTLE, Level.CHALLENGE, Level.BLOCK, Level.BAN, Level.BAN]


def test_the_same_offence_is_not_punished_twice(ladder: Ladder) -> None:
    offender = entity({("account", "11")}, risk=0.5, last_seen=T0)
    assert len(ladder.decide(offender, T0)) == 1
    assert ladder.decide(offender, T0 + timedelta(minutes=1)) == []
    # a riskier view of the same activity still raises the level
    (record,) = ladder.decide(entity({("account", "11")}, risk=0.9, last_seen=T0), T0)
    assert record.level == Level.BLOCK


def test_keys_linked_after_the_decision_join_the_entitys_rung_at_once(
    ladder: Ladder, table: DecisionTable
) -> None:
    """A puppet account linked a step after its entity was banned (the same offence, nothing
    new since) is banned in that step, not when the entity next offends; the keys already
    banned are not decided twice."""
    first = entity({("account", "11"), ("client", "app-1")}, risk=0.99, last_seen=T0)
    assert {r.level for r in ladder.decide(first, T0)} == {Level.BAN}
    assert table.check(ActorKeys(account="12")) is ALLOW
    grown = entity(
        {("account", "11"), ("account", "12"), ("client", "app-1")}, risk=0.9, last_seen=T0
    )
    later = T0 + timedelta(seconds=30)
    records = ladder.decide(grown, later)
    assert [(r.key, r.level) for r in records] == [(("account", "12"), Level.BAN)]
    assert table.check(ActorKeys(account="12")).decision == Decision.BLOCK
    assert ladder.decide(grown, later + timedelta(seconds=10)) == []


def test_a_comeback_under_a_new_entity_id_with_an_old_key_climbs(ladder: Ladder) -> None:
    ladder.decide(entity({("net", "net-9")}, risk=0.9, entity_id="first"), T0)
    later = T0 + timedelta(days=2)
    records = ladder.decide(
        entity({("net", "net-9"), ("ip", "ip-new")}, entity_id="second", last_seen=later),
        later,
    )
    assert {r.level for r in records} == {Level.BAN}


def test_offences_are_forgotten_after_the_memory(table: DecisionTable) -> None:
    ladder = Ladder(table, settings=LadderSettings(memory=timedelta(days=1)))
    ladder.decide(entity({("account", "11")}, risk=0.5), T0)
    later = T0 + timedelta(days=3)
    (record,) = ladder.decide(entity({("account", "11")}, risk=0.5, last_seen=later), later)
    assert record.level == Level.THROTTLE


def test_each_level_expires_and_the_actor_is_served_again(
    ladder: Ladder, table: DecisionTable, clock: ManualClock
) -> None:
    ladder.decide(entity({("account", "11")}, risk=0.75), T0)
    assert table.check(ActorKeys(account="11")).decision == Decision.CHALLENGE
    clock.advance(hours=2, seconds=1)
    assert table.check(ActorKeys(account="11")) is ALLOW


def test_a_ban_covers_every_safe_key_and_holds_networks_for_less(
    ladder: Ladder, table: DecisionTable, clock: ManualClock
) -> None:
    shared_ua = ("ua", "Mozilla/5.0")
    records = ladder.decide(entity(PUPPETS | {shared_ua}, risk=0.99), T0)
    assert {r.key for r in records} == TARGETS  # never the user agent, nor the fingerprint
    assert {r.level for r in records} == {Level.BAN}
    assert {r.entity_id for r in records} == {"e-1"}
    expiry = {r.key[0]: r.expires_at for r in records}
    assert expiry["account"] == T0 + timedelta(days=30)
    assert expiry["net"] == T0 + timedelta(days=7)
    assert table.check(ActorKeys(fingerprint="fp-9")).decision == Decision.ALLOW
    for keys in (ActorKeys(account="12"), ActorKeys(net="net-9")):
        assert table.check(keys).decision == Decision.BLOCK
    clock.advance(days=8)
    assert table.check(ActorKeys(net="net-9")) is ALLOW
    assert table.check(ActorKeys(account="11")).decision == Decision.BLOCK


def test_keys_shared_with_others_are_never_acted_on(ladder: Ladder) -> None:
    offender = entity({("account", "11")}, members={("ip", "carrier-nat")}, risk=0.99)
    assert {r.key for r in ladder.decide(offender, T0)} == {("account", "11")}


def test_allow_listed_entities_and_keys_are_left_alone(
    ladder: Ladder, table: DecisionTable
) -> None:
    assert ladder.decide(entity(PUPPETS, allowlisted="verified partner"), T0) == []
    table.allow(("account", "11"), by="analyst", reason="our own crawler")
    records = ladder.decide(entity(PUPPETS, risk=0.99), T0)
    assert ("account", "11") not in {r.key for r in records}
    assert table.check(ActorKeys(account="11")) is ALLOW


def test_an_entity_seen_in_one_or_two_requests_is_left_to_linking(ladder: Ladder) -> None:
    """A request or two that fell inside a sweep are no ground to refuse anyone by themselves."""
    lone = entity({("ip", "crawler")}, risk=0.8)
    for requests in (1, 2):
        lone.exposure = Exposure(requests=requests, first_seen=T0, last_seen=T0)
        assert ladder.decide(lone, T0) == []
    lone.exposure = Exposure(requests=3, first_seen=T0, last_seen=T0)
    assert [r.level for r in ladder.decide(lone, T0)] == [Level.CHALLENGE]


def test_an_entity_that_was_not_flagged_gets_nothing(ladder: Ladder) -> None:
    quiet = entity({("account", "11")})
    quiet.detected_at = None
    assert ladder.decide(quiet, T0) == []


def test_shadow_mode_records_what_would_have_happened(table: DecisionTable) -> None:
    ladder = Ladder(table, shadow=True)
    records = ladder.decide(entity(PUPPETS, risk=0.99), T0)
    assert records and all(r.shadow for r in records)
    assert table.check(ActorKeys(account="11")) is ALLOW
    assert sum(table.shadow_hits.values()) == 1
    assert {r.key for r in table.active()} == TARGETS


def test_the_case_id_is_carried_on_every_record(ladder: Ladder) -> None:
    records = ladder.decide(entity(PUPPETS, risk=0.99), T0, case_id="case-7")
    assert {r.case_id for r in records} == {"case-7"}


def test_propose_writes_nothing(ladder: Ladder, table: DecisionTable) -> None:
    assert len(ladder.propose(entity(PUPPETS, risk=0.99), T0)) == len(TARGETS)
    assert table.active() == []


def test_a_lift_reverses_the_entity_and_forgets_its_offences(
    ladder: Ladder, table: DecisionTable
) -> None:
    ladder.decide(entity(PUPPETS, risk=0.9), T0)
    lifted = ladder.lift("e-1", by="analyst", reason="false positive")
    assert {r.key for r in lifted} == TARGETS
    assert table.active() == []
    later = T0 + timedelta(hours=1)
    (record, *_) = ladder.decide(entity(PUPPETS, risk=0.5, last_seen=later), later)
    assert record.level == Level.THROTTLE  # a fresh start, not a climb


def test_bad_ladder_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="risks must rise"):
        LadderSettings(challenge_risk=0.9, block_risk=0.8)
    with pytest.raises(ValueError, match="missing for ban"):
        LadderSettings(
            durations={
                Level.THROTTLE: timedelta(1),
                Level.CHALLENGE: timedelta(1),
                Level.BLOCK: timedelta(1),
            }
        )


def test_activity_right_after_a_decision_is_the_same_offence(ladder: Ladder) -> None:
    ladder.decide(entity({("account", "11")}, risk=0.5), T0)
    soon = T0 + timedelta(seconds=30)  # e.g. the requests the throttle refused
    assert ladder.decide(entity({("account", "11")}, risk=0.5, last_seen=soon), soon) == []
