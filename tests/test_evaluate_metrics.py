"""The evaluation metrics on small hand-made cases, where the right answer is known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from harvestguard.evaluate import (
    EnforcementAction,
    FlaggedEntity,
    IpThresholdBaseline,
    actions_from_flags,
    attribute,
    score,
)
from harvestguard.events import ARROW_SCHEMA, AccessEvent, to_arrow
from harvestguard.simulate.groundtruth import ActorRecord, GroundTruth, KeyRecord

T0 = datetime(2025, 6, 2, 12, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _truth() -> GroundTruth:
    actors = {
        "geo": ActorRecord("geo", "geofence_harvester", True, 53, at(0)),
        "enum": ActorRecord("enum", "profile_enumerator", True, 10, at(5)),
        "p1": ActorRecord("p1", "person", False, 10, None),
        "p2": ActorRecord("p2", "person", False, 10, None),
        "p3": ActorRecord("p3", "person", False, 20, None),
    }
    keys = [
        # a carrier NAT address: two people and, for three requests, the harvester
        KeyRecord("ip", "nat", "p1", 10, at(0), at(60)),
        KeyRecord("ip", "nat", "p2", 10, at(0), at(20)),
        KeyRecord("ip", "nat", "geo", 3, at(0), at(2)),
        KeyRecord("account", "g", "geo", 53, at(0), at(90)),
        KeyRecord("ip", "dc", "geo", 50, at(3), at(90)),
        KeyRecord("ip", "e1", "enum", 5, at(5), at(30)),
        KeyRecord("ip", "e2", "enum", 5, at(6), at(31)),
        KeyRecord("ip", "home", "p3", 20, at(0), at(100)),
    ]
    return GroundTruth(actors, keys)


GEO = FlaggedEntity(frozenset({("account", "g"), ("ip", "dc")}), at(10), 0.9, ("many venues",))
ENUM = FlaggedEntity(frozenset({("ip", "e1"), ("ip", "e2")}), at(15))
NAT = FlaggedEntity(frozenset({("ip", "nat")}), at(10))


def test_a_perfect_detector_scores_one() -> None:
    scores = score(_truth(), [GEO, ENUM])
    assert (scores.overall.precision, scores.overall.recall, scores.overall.f1) == (1.0, 1.0, 1.0)
    assert scores.attribution == ["geo", "enum"]
    assert scores.per_class["geofence_harvester"].f1 == 1.0
    assert scores.overall.detection_seconds == [600.0, 600.0]
    assert scores.benign_acted_on == 0


def test_an_empty_detector_has_no_recall() -> None:
    scores = score(_truth(), [])
    assert (scores.overall.recall, scores.overall.f1) == (0.0, 0.0)
    assert scores.overall.precision == 1.0  # no flags, none wrong
    assert scores.benign_acted_on_share == 0.0
    assert scores.per_class["profile_enumerator"].summary()["median_detection_seconds"] is None


def test_flagging_a_shared_nat_address_hits_the_people_behind_it() -> None:
    scores = score(_truth(), [NAT])
    # the people made most of its events: the flag stands for one of them, a false positive
    assert scores.attribution == ["p1"]
    assert (scores.overall.precision, scores.overall.recall) == (0.0, 0.0)
    # p1 and p2 both used the address at or after the block; p3 did not
    assert scores.benign_acted_on == 2
    assert scores.benign_acted_on_share == pytest.approx(2 / 3)


def test_an_entity_is_the_actor_with_most_events_on_its_keys() -> None:
    truth = _truth()
    mixed = FlaggedEntity(frozenset({("ip", "nat"), ("account", "g")}), at(10))
    assert attribute(mixed, truth) == "geo"  # 3 + 53 events against 10
    assert attribute(FlaggedEntity(frozenset({("ip", "nobody")}), at(1)), truth) is None
    # still a true positive, and still a block on the people behind the NAT
    scores = score(truth, [mixed])
    assert scores.overall.true_entities == 1
    assert scores.benign_acted_on == 2


def test_a_tie_goes_to_the_adversary() -> None:
    base = _truth()
    shared_ua = [
        KeyRecord("ua", "bot", "enum", 10, at(5), at(30)),
        KeyRecord("ua", "bot", "p3", 10, at(0), at(30)),
    ]
    truth = GroundTruth(base.actors, [*base.keys, *shared_ua])
    assert attribute(FlaggedEntity(frozenset({("ua", "bot")}), at(1)), truth) == "enum"


def test_precision_per_class_counts_every_false_positive() -> None:
    scores = score(_truth(), [GEO, NAT])
    assert scores.overall.precision == 0.5
    assert scores.per_class["geofence_harvester"].precision == 0.5
    assert scores.per_class["geofence_harvester"].recall == 1.0
    assert scores.per_class["profile_enumerator"].recall == 0.0
    assert scores.overall.recall == 0.5


def test_a_flag_before_the_first_harvesting_request_counts_as_instant() -> None:
    early = FlaggedEntity(frozenset({("ip", "e1")}), at(1))
    assert score(_truth(), [early]).overall.detection_seconds == [0.0]


def test_a_benign_actor_who_stopped_using_a_key_before_the_action_is_not_hit() -> None:
    late = [EnforcementAction(("ip", "nat"), "throttle", at(30))]
    scores = score(_truth(), [NAT], actions=late)
    assert scores.benign_acted_on == 1  # p2 was last seen at minute 20


def _event(
    minute: float, keys: dict[str, str], owners: list[str], classes: list[str]
) -> AccessEvent:
    return AccessEvent(
        ts=at(minute),
        request_id=f"r{minute}",
        actor_account=keys.get("account"),
        ip=keys.get("ip"),
        owner_ids=owners,
        data_classes=classes,
    )


def test_records_disclosed_stop_at_the_block_on_a_key_of_the_event() -> None:
    events = to_arrow(
        [
            _event(1, {"ip": "nat"}, ["u1"], ["identity", "photo"]),
            _event(4, {"account": "g", "ip": "dc"}, ["u2"], ["location"]),
            _event(4.5, {"account": "g", "ip": "dc"}, ["u2"], ["location"]),  # same record again
            _event(12, {"account": "g", "ip": "dc"}, ["u3"], ["identity"]),  # after the block
            _event(13, {"ip": "nat"}, ["u4"], ["identity"]),  # the NAT address was not blocked
            _event(14, {"ip": "home"}, ["u5"], ["identity"]),  # someone else's event
        ]
    )
    labels = ["geo", "geo", "geo", "geo", "geo", "p3"]
    blocks = [EnforcementAction(("account", "g"), "block", at(10))]
    scores = score(_truth(), [GEO], actions=blocks, events=events, labels=labels)
    assert scores.per_class["geofence_harvester"].records_disclosed == [4]
    assert scores.overall.summary()["records_disclosed"] == 4
    # a throttle or a challenge does not stop anything
    slowed = [EnforcementAction(("account", "g"), "throttle", at(10))]
    scores = score(_truth(), [GEO], actions=slowed, events=events, labels=labels)
    assert scores.per_class["geofence_harvester"].records_disclosed == [5]


def test_flags_become_blocks_on_every_key() -> None:
    actions = actions_from_flags([GEO])
    assert {(a.key, a.action, a.at) for a in actions} == {
        (("account", "g"), "block", at(10)),
        (("ip", "dc"), "block", at(10)),
    }


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown action 'nuke'"):
        EnforcementAction(("ip", "x"), "nuke", at(0))


def _burst(ip: str, count: int, start: float) -> list[AccessEvent]:
    return [
        AccessEvent(ts=at(start + n * 5 / count), request_id=f"{ip}{n}", ip=ip)
        for n in range(count)
    ]


def test_the_baseline_flags_an_address_over_its_threshold_only() -> None:
    events = to_arrow(_burst("busy", 301, 0) + _burst("steady", 300, 0) + _burst("later", 40, 60))
    flags = IpThresholdBaseline(max_requests=300, window_minutes=10)(events)
    assert [flag.keys for flag in flags] == [frozenset({("ip", "busy")})]
    assert flags[0].detected_at == at(10)
    assert "301 requests" in flags[0].reasons[0]
    assert IpThresholdBaseline()(ARROW_SCHEMA.empty_table()) == []
    with pytest.raises(ValueError, match="positive"):
        IpThresholdBaseline(max_requests=0)(pa.Table.from_pylist([], schema=ARROW_SCHEMA))
