"""Rate and data limits: counted with the limits library (in memory, or in a real Redis shared by
two instances), distinct owners per data class, allow-lists, and a limits file refused with
file:line on every mistake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from harvestguard.actor import ActorKeys
from harvestguard.decisions import ALLOW
from harvestguard.enforce.levels import Level
from harvestguard.enforce.limits import LimitEnforcer
from harvestguard.enforce.limits_file import (
    LimitsError,
    default_limits,
    load_limits,
    load_limits_text,
)
from harvestguard.enforce.sink import EnforcingSink
from harvestguard.enforce.table import DecisionTable
from harvestguard.events import AccessEvent, Decision
from harvestguard.pseudonym import Pseudonymiser
from photoshare.app import create_app
from photoshare.settings import Settings
from tests.factories import World

RULES = """\
version: 1
allow:
  client: [verified-partner]
  ip: [192.0.2.7]
limits:
  - name: requests-per-ip
    per: ip
    rate: 3/minute
  - name: profiles-per-account
    per: account
    resource: profile
    count: owners
    rate: 3/hour
  - name: stories-of-strangers
    per: account
    resource: story
    audience: authenticated
    count: owners
    rate: 2/day
  - name: located-people
    per: session
    data_class: location
    count: owners
    rate: 2/hour
  - name: people-per-entity
    per: entity
    count: owners
    rate: 4/day
"""
PSEUDONYMS = Pseudonymiser(b"k" * 32)


def _pseudonymise(kind: str, address: str) -> str:
    return PSEUDONYMS.ip(address) if kind == "ip" else PSEUDONYMS.net(address)


def event(
    *,
    ip: str = "ip-1",
    account: str | None = None,
    session: str | None = None,
    client: str | None = None,
    resource: str = "other",
    owners: tuple[str, ...] = (),
    classes: tuple[str, ...] = ("identity",),
    audience: str | None = None,
    decision: str = "allow",
) -> AccessEvent:
    return AccessEvent(
        ts=datetime.now(UTC),
        request_id="r",
        ip=ip,
        actor_account=account,
        session=session,
        actor_client=client,
        resource=resource,
        owner_ids=list(owners),
        data_classes=list(classes) if owners else [],
        audience=audience,
        decision=decision,
    )


@pytest.fixture
def table() -> DecisionTable:
    return DecisionTable()


@pytest.fixture
def enforcer(table: DecisionTable) -> Iterator[LimitEnforcer]:
    limits = LimitEnforcer(load_limits_text(RULES, "rules.yaml", _pseudonymise), table)
    yield limits
    limits.close()


def test_going_over_a_request_rate_throttles_the_key_for_the_rest_of_the_window(
    enforcer: LimitEnforcer, table: DecisionTable
) -> None:
    for _ in range(3):
        assert enforcer.observe(event()) == []
    (record,) = enforcer.observe(event())
    assert (record.key, record.level, record.by) == (("ip", "ip-1"), Level.THROTTLE, "limits")
    assert "requests-per-ip" in record.reason
    assert record.expires_at is not None
    verdict = table.check(ActorKeys(ip="ip-1"))
    assert verdict.decision == Decision.THROTTLE
    assert verdict.retry_after is not None and 1 <= verdict.retry_after <= 60
    assert table.check(ActorKeys(ip="ip-2")) is ALLOW
    assert enforcer.exceeded["requests-per-ip"] == 1
    # while throttled, the key is not written again on every event
    assert enforcer.observe(event()) == []


def test_data_limits_count_distinct_owners_not_requests(
    enforcer: LimitEnforcer, table: DecisionTable
) -> None:
    for n in range(10):  # one profile, read again and again, from several addresses
        viewing = event(ip=f"ip-{n}", account="7", resource="profile", owners=("alice",))
        assert enforcer.observe(viewing) == []
    assert enforcer.remaining("profiles-per-account", "7") == 2
    enforcer.observe(event(ip="ip-a", account="7", resource="profile", owners=("bob",)))
    enforcer.observe(event(ip="ip-b", account="7", resource="profile", owners=("carol",)))
    records = enforcer.observe(event(ip="ip-c", account="7", resource="profile", owners=("dan",)))
    assert [(r.key, r.level) for r in records] == [(("account", "7"), Level.THROTTLE)]
    assert table.check(ActorKeys(account="7")).decision == Decision.THROTTLE


def test_stories_count_only_owners_the_viewer_does_not_follow(enforcer: LimitEnforcer) -> None:
    for owner in ("a", "b", "c", "d"):
        followed = event(
            ip=owner, account="8", resource="story", owners=(owner,), audience="follower"
        )
        assert enforcer.observe(followed) == []
    enforcer.observe(event(account="8", resource="story", owners=("x",), audience="authenticated"))
    enforcer.observe(event(account="8", resource="story", owners=("y",), audience="authenticated"))
    stranger = event(account="8", resource="story", owners=("z",), audience="authenticated")
    assert [r.key for r in enforcer.observe(stranger)] == [("account", "8")]


def test_a_data_class_limit_counts_only_events_that_disclosed_it(enforcer: LimitEnforcer) -> None:
    for owner in ("a", "b", "c"):
        enforcer.observe(event(ip=owner, session="s", owners=(owner,), classes=("photo",)))
    located = [
        enforcer.observe(event(ip=f"l{o}", session="s", owners=(o,), classes=("location",)))
        for o in ("d", "e", "f")
    ]
    assert [len(records) for records in located] == [0, 0, 1]
    assert located[2][0].key == ("session", "s")


def test_an_entity_is_counted_across_all_its_keys(
    enforcer: LimitEnforcer, table: DecisionTable
) -> None:
    enforcer.link("ring-1", [("account", "31"), ("account", "32"), ("ua", "Mozilla/5.0")])
    enforcer.observe(event(ip="p1", account="31", owners=("a", "b")))
    enforcer.observe(event(ip="p2", account="32", owners=("c", "d")))
    records = enforcer.observe(event(ip="p3", account="32", owners=("e",)))
    assert {r.key for r in records} == {("account", "31"), ("account", "32")}
    assert {r.entity_id for r in records} == {"ring-1"}
    assert table.check(ActorKeys(account="31")).decision == Decision.THROTTLE
    enforcer.unlink("ring-1")
    assert enforcer.observe(event(ip="p4", account="33", owners=("f", "g", "h", "i", "j"))) == []


def test_allow_listed_actors_are_never_limited(
    enforcer: LimitEnforcer, table: DecisionTable
) -> None:
    crawler = PSEUDONYMS.ip("192.0.2.7")
    for _ in range(10):
        assert enforcer.observe(event(ip="shared", client="verified-partner")) == []
        assert enforcer.observe(event(ip=crawler)) == []
    table.allow(("account", "9"), by="analyst", reason="our archive")
    for _ in range(10):
        assert enforcer.observe(event(ip="ip-9", account="9")) == []
    assert enforcer.exceeded == {}


def test_refused_requests_are_not_counted(enforcer: LimitEnforcer) -> None:
    for _ in range(10):
        assert enforcer.observe(event(decision="block")) == []
    assert enforcer.remaining("requests-per-ip", "ip-1") == 3


def test_shadow_limits_record_without_enforcing(table: DecisionTable) -> None:
    enforcer = LimitEnforcer(
        load_limits_text(RULES, "rules.yaml", _pseudonymise), table, shadow=True
    )
    records = [r for _ in range(4) for r in enforcer.observe(event())]
    assert [r.shadow for r in records] == [True]
    assert table.check(ActorKeys(ip="ip-1")) is ALLOW


def test_two_instances_count_together_in_redis(redis_url: str) -> None:
    config = load_limits_text(RULES, "rules.yaml", _pseudonymise)
    tables = [DecisionTable(), DecisionTable()]
    a, b = (LimitEnforcer(config, table, storage_url=redis_url) for table in tables)
    try:
        a.observe(event(account="5", resource="profile", owners=("alice",), ip="x1"))
        b.observe(event(account="5", resource="profile", owners=("alice",), ip="x2"))
        b.observe(event(account="5", resource="profile", owners=("bob",), ip="x3"))
        assert a.remaining("profiles-per-account", "5") == 1  # alice once, bob once
        a.observe(event(account="5", resource="profile", owners=("carol",), ip="x4"))
        records = b.observe(event(account="5", resource="profile", owners=("dan",), ip="x5"))
        assert [r.key for r in records] == [("account", "5")]
        assert tables[1].check(ActorKeys(account="5")).decision == Decision.THROTTLE
    finally:
        a.close()
        b.close()


def test_the_shipped_limits_load_and_are_generous_to_people() -> None:
    config = default_limits(_pseudonymise)
    names = {rule.name for rule in config.rules}
    assert {
        "profiles-per-account",
        "location-pages-per-ip",
        "stories-of-strangers-per-account",
    } <= names
    assert all(rule.rate.amount >= 100 for rule in config.rules)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("version: 2\nlimits: []\n", 1, "unsupported limits version"),
        ("version: 1\n", 1, "lacks 'limits'"),
        ("version: 1\nlimits: {}\n", 2, "must be a list"),
        ("version: 1\nlimits:\n  - name: a\n    per: ua\n    rate: 1/hour\n", 4, "per 'ua'"),
        ("version: 1\nlimits:\n  - name: a\n    per: ip\n    rate: lots\n", 5, "not a rate"),
        ("version: 1\nlimits:\n  - name: a\n    per: ip\n    rate: 0/hour\n", 5, "at least 1"),
        (
            "version: 1\nlimits:\n  - {name: a, per: ip, rate: 1/hour, count: bytes}\n",
            3,
            "count 'bytes'",
        ),
        (
            "version: 1\nlimits:\n  - name: a\n    per: ip\n    rate: 1/hour\n"
            "    data_class: [identity, photos]\n",
            6,
            "unknown data class 'photos'",
        ),
        (
            "version: 1\nlimits:\n  - name: a\n    per: ip\n    rat: 1/hour\n",
            5,
            "unknown key 'rat'",
        ),
        (
            "version: 1\nlimits:\n  - {name: a, per: ip, rate: 1/hour}\n"
            "  - {name: a, per: net, rate: 1/hour}\n",
            4,
            "given twice (first on line 3)",
        ),
        ("version: 1\nallow:\n  ip: [not-an-address]\nlimits: []\n", 3, "not an IP address"),
        ("version: 1\nallow:\n  ua: [curl]\nlimits: []\n", 3, "unknown key 'ua'"),
        ("version: 1\nlimits: [\n", 3, "invalid YAML"),
        ("", 1, "empty"),
    ],
)
def test_a_bad_limits_file_is_refused_with_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = tmp_path / "limits.yaml"
    path.write_text(text)
    with pytest.raises(LimitsError) as error:
        load_limits(path, _pseudonymise)
    assert str(error.value).startswith(f"{path}:{line}: ")
    assert message in str(error.value)


def test_an_unreadable_limits_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LimitsError, match="cannot read the limits"):
        load_limits(tmp_path / "missing.yaml")


def test_the_enforcing_sink_passes_every_event_on_and_counts_it(table: DecisionTable) -> None:
    received: list[AccessEvent] = []

    class ListSink:
        def submit(self, item: AccessEvent) -> None:
            received.append(item)

    config = load_limits_text(RULES, "rules.yaml", _pseudonymise)
    sink = EnforcingSink(ListSink(), LimitEnforcer(config, table))
    events = [event() for _ in range(4)]
    for item in events:
        sink.submit(item)
    assert sink.flush(timeout=10)
    assert received == events
    assert table.check(ActorKeys(ip="ip-1")).decision == Decision.THROTTLE
    sink.close()


def test_photoshare_throttles_a_client_over_its_limit_with_429_and_retry_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits_file = tmp_path / "limits.yaml"
    limits_file.write_text(
        # the test client has no address: its (header) fingerprint is the key
        "version: 1\nlimits:\n  - name: profiles-per-device\n    per: fingerprint\n"
        "    resource: profile\n    count: owners\n    rate: 2/hour\n"
    )
    monkeypatch.setenv("HARVESTGUARD_LIMITS", str(limits_file))
    app = create_app(Settings(data_dir=tmp_path / "ps", secret_key="s"))
    with app.state.sessionmaker() as db:
        world = World(db=db, media_dir=app.state.settings.media_dir)
        for name in ("ana", "bea", "cid"):
            world.user(name)
    with TestClient(app, base_url="https://testserver") as client:
        statuses = []
        # the request that goes over is the last one served: limits count what went out
        for name in ("ana", "ana", "bea", "cid", "ana"):
            statuses.append(client.get(f"/u/{name}").status_code)
            assert app.state.guard_sink.flush(timeout=10)
        refused = client.get("/u/ana")
    assert statuses == [200, 200, 200, 200, 429]
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    assert "ana" not in refused.text
    assert app.state.guard_limits.exceeded == {"profiles-per-device": 1}
    decisions = [r.level for r in app.state.guard_decisions.active()]
    assert decisions == [Level.THROTTLE]
