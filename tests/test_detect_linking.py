"""Entity linking: one adversary with rotating addresses and sock puppets is one entity; people
sharing a NAT address with a harvester are not pulled in; allow-listed crawlers are labelled."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from harvestguard.detect import DetectionEngine
from harvestguard.detect.context import CONTEXT_SCHEMAS
from harvestguard.detect.findings import DetectionReport
from harvestguard.events import AccessEvent
from tests.detect_helpers import BASE, fired, run, table, view


def test_rotating_addresses_and_sock_puppets_are_one_entity() -> None:
    puppets, pool = [f"puppet{n}" for n in range(10)], [f"res-{n}" for n in range(40)]
    events = [
        view(
            20 * step + n,
            10_000 + 1000 * n + step,
            account=puppet,
            ip=pool[(step * 7 + n) % len(pool)],
            session=f"s-{puppet}",
        )
        for n, puppet in enumerate(puppets)
        for step in range(160)
    ]
    report = run("breadth", events)
    assert fired(report, "breadth") == {("account", p) for p in puppets}
    assert len(report.flagged) == 1
    keys = report.flagged[0].keys
    assert {k for k in keys if k[0] == "account"} == {("account", p) for p in puppets}
    assert {k for k in keys if k[0] == "ip"} == {("ip", ip) for ip in pool}
    assert report.flagged[0].to_flagged_entity().keys == keys


def test_people_behind_one_nat_address_are_not_merged_with_a_harvester_there() -> None:
    nat = "carrier-nat"
    harvester = [view(5 * i, 20_000 + i, account="harvester", ip=nat) for i in range(160)]
    people = [
        view(
            60 * i + n,
            n * 10 + i % 5,
            account=f"person{n}",
            ip=nat,
            audience="follower",
            session=f"s{n}",
        )
        for n in range(30)
        for i in range(20)
    ]
    report = run("breadth", harvester + people)
    assert len(report.flagged) == 1
    entity = report.flagged[0]
    assert ("account", "harvester") in entity.keys
    assert ("ip", nat) not in entity.keys  # shared: never acted on
    assert not any(k[0] == "account" and k[1].startswith("person") for k in entity.members)


def test_two_harvesters_that_merely_share_a_busy_nat_stay_apart() -> None:
    nat = "campus-nat"
    events = [
        view(5 * i + n, 30_000 + 1000 * n + i, account=f"h{n}", ip=nat)
        for n in range(2)
        for i in range(160)
    ] + [
        view(3 * i + n, n, account=f"student{n}", ip=nat, audience="follower")
        for n in range(40)
        for i in range(60)
    ]
    report = run("breadth", events)
    assert sorted(len(e.keys) > 0 for e in report.flagged) == [True, True]


def test_an_allow_listed_crawler_is_labelled_with_what_it_did_not_flagged() -> None:
    crawler = [
        view(1.5 * step, 100 + step, ip=f"crawl-{step % 4}", net="net-search", ua="SearchBot/2.1")
        for step in range(60)
    ]
    impostor = [
        view(
            5000 + 1.5 * step, 100 + step, ip=f"fake-{step % 4}", net="net-else", ua="SearchBot/2.1"
        )
        for step in range(60)
    ]
    schema = CONTEXT_SCHEMAS["allowlist"]
    allowlist = pa.table(
        {"kind": ["net"], "key": ["net-search"], "label": ["verified search crawler"]},
        schema=schema,
    )
    report = DetectionEngine().run(table(crawler + impostor), {"allowlist": allowlist})
    assert [e.allowlisted for e in report.allowlisted] == ["verified search crawler"]
    listed = report.allowlisted[0]
    assert not listed.flagged and listed.detectors == ["enumeration"]
    assert listed.exposure.requests == 60 and listed.exposure.owners == 60
    flagged_ips = {k[1] for e in report.flagged for k in e.keys if k[0] == "ip"}
    assert flagged_ips == {f"fake-{n}" for n in range(4)}
    assert report.to_dict()["allowlisted"][0]["allowlisted"] == "verified search crawler"


def _accounts(created: dict[str, float]) -> pa.Table:
    return pa.table(
        {"account": list(created), "created_at": list(created.values())},
        schema=CONTEXT_SCHEMAS["accounts"],
    )


def _slow_puppets(names: list[str]) -> list[AccessEvent]:
    """Each account on its own address and session, each viewing strangers: nothing shared."""
    return [
        view(20 * step + n, 10_000 + 1000 * n + step, account=name, ip=f"own-{name}", session=name)
        for n, name in enumerate(names)
        for step in range(160)
    ]


def test_accounts_created_together_and_flagged_by_one_detector_are_one_entity() -> None:
    puppets = [f"moments{n}" for n in range(6)]
    # made in one sitting, a few minutes apart; one more account made then is never flagged
    created = {name: 1_000_000 + 240 * n for n, name in enumerate(puppets)} | {
        "bystander": 1_000_100
    }
    events = _slow_puppets(puppets) + [view(60 * i, 5, account="bystander") for i in range(5)]
    report = run("breadth", events, {"accounts": _accounts(created)})
    assert fired(report, "breadth") == {("account", p) for p in puppets}
    assert len(report.flagged) == 1
    entity = report.flagged[0]
    assert {k for k in entity.keys if k[0] == "account"} == {("account", p) for p in puppets}
    assert ("account", "bystander") not in entity.members
    assert any("created within" in link for link in entity.links)
    # without the accounts table nothing ties them: six entities
    assert len(run("breadth", events).flagged) == len(puppets)


def test_flagged_accounts_created_days_apart_stay_apart() -> None:
    names = ["early", "late"]
    created = {"early": 1_000_000.0, "late": 1_000_000.0 + 3 * 86_400}
    report = run("breadth", _slow_puppets(names), {"accounts": _accounts(created)})
    assert len(report.flagged) == 2


def test_accounts_made_during_the_attack_are_not_linked_by_their_creation_time() -> None:
    # two fresh-account rushes signing up in the same minutes, each account on its own address:
    # nothing but the sign-up time ties them, and that is no tie for accounts made to be used now
    names = [f"fresh{n}" for n in range(4)]
    start = BASE.timestamp()
    created = {name: start - 3600 + 60 * n for n, name in enumerate(names)}
    report = run("breadth", _slow_puppets(names), {"accounts": _accounts(created)})
    assert len(report.flagged) == len(names)


def _walk(ids: range, *, start: float, gap: float, pool: str) -> list[AccessEvent]:
    """An anonymous walk over post ids, one address of its own proxy pool per request."""
    return [
        view(start + gap * step, post, resource="post", ip=f"{pool}-{step}")
        for step, post in enumerate(ids)
    ]


def _sweep_entities(report: DetectionReport, pools: tuple[str, ...]) -> list[set[str]]:
    """The pools each flagged entity's addresses come from."""
    flagged = report.flagged
    return [
        {pool for pool in pools for kind, key in e.keys if kind == "ip" and key.startswith(pool)}
        for e in flagged
    ]


def test_two_sweeps_walking_the_same_ids_at_the_same_time_stay_two_entities() -> None:
    # the second starts 150 ids behind the first, both walking at one id per second
    first = _walk(range(1000, 1300), start=0, gap=1.0, pool="alpha")
    second = _walk(range(1000, 1150), start=150, gap=1.0, pool="beta")
    report = run("enumeration", first + second)
    assert {k[1].split("-")[0] for k in fired(report, "enumeration")} == {"alpha", "beta"}
    pools = _sweep_entities(report, ("alpha", "beta"))
    assert sorted(map(sorted, pools)) == [["alpha"], ["beta"]]


def test_a_sweep_overtaking_another_is_never_merged_with_it() -> None:
    slow = _walk(range(2000, 2200), start=0, gap=2.0, pool="slow")
    fast = _walk(range(2000, 2400), start=60, gap=0.5, pool="fast")  # catches up near 2040
    report = run("enumeration", slow + fast)
    pools = _sweep_entities(report, ("slow", "fast"))
    assert {"slow"} in pools and {"fast"} in pools
    assert all(len(found) == 1 for found in pools)


def test_a_sweep_interleaved_with_other_visits_and_arriving_out_of_order_is_found() -> None:
    rng = random.Random(11)
    walk = _walk(range(3000, 3120), start=0, gap=2.0, pool="proxy")
    for n in range(0, len(walk) - 1, 3):  # every third pair arrives the wrong way round
        walk[n], walk[n + 1] = walk[n + 1], walk[n]
    # a busy visitor reading the same posts in no order, as often as the walk
    others = [
        view(2.0 * i + 1.0, rng.randrange(3000, 3120), resource="post", ip="reader")
        for i in range(120)
    ]
    report = run("enumeration", walk + others)
    assert ("ip", "reader") not in fired(report, "enumeration")
    assert report.flagged and _sweep_entities(report, ("proxy",)) == [{"proxy"}] * len(
        report.flagged
    )
    swept = {k for e in report.flagged for k in e.keys if k[0] == "ip"}
    assert len(swept) >= 100  # nearly every address of the walk


@pytest.mark.parametrize("app_caught", [True, False])
def test_a_partner_app_and_its_accounts_on_its_network_are_one_entity(app_caught: bool) -> None:
    """The 2019 pattern: one of the app's accounts reads a canary on the web from the app's
    data-centre network (and the app, in one variant, another on the API). The app, that
    account and its other account there, which authorised the app but was not caught yet, are
    one adversary. A stranger on that network who did not authorise the app, an unflagged app
    account elsewhere and a flagged account elsewhere stay out."""
    house, home = "203.0.113.0/24", "198.51.100.0/24"
    canaries = pa.table(
        {"resource": ["profile"] * 3, "object_id": ["901", "902", "903"], "label": ["c"] * 3},
        schema=CONTEXT_SCHEMAS["canaries"],
    )
    events = [
        view(20, 902, account="travel0", ip="203.0.113.10", net=house, session="s0"),
        view(30, 903, account="elsewhere", ip="198.51.100.7", net=home, session="s9"),
        view(10, 901 if app_caught else 1, ip="203.0.113.200", net=house, actor_client="app-1"),
    ]
    events += [
        view(40 + i, 100 + i, account=account, ip=ip, net=net, session=account)
        for account, ip, net in [
            ("travel1", "203.0.113.11", house),
            ("stranger", "203.0.113.12", house),
            ("customer", "198.51.100.8", home),
        ]
        for i in range(5)
    ]
    # logged out (by a ban), the app's accounts go on anonymously from the same addresses
    events += [view(60 + i, 200 + i, ip="203.0.113.11", net=house) for i in range(2)]
    events += [view(60 + i, 300 + i, ip="203.0.113.12", net=house) for i in range(2)]
    authorisations = pa.table(
        {
            "client": ["app-1", "app-1", "app-1", "app-2"],
            "account": ["travel0", "travel1", "customer", "stranger"],
        },
        schema=CONTEXT_SCHEMAS["authorisations"],
    )
    context = {"canaries": canaries, "authorisations": authorisations}
    report = DetectionEngine().run(table(events), context)
    caught = {("account", "travel0"), ("account", "elsewhere")}
    assert fired(report, "canary_access") == caught | (
        {("client", "app-1")} if app_caught else set()
    )
    members = sorted(
        sorted(k for k in e.members if k[0] in {"account", "client"}) for e in report.flagged
    )
    assert members == [
        [("account", "elsewhere")],
        [("account", "travel0"), ("account", "travel1"), ("client", "app-1")],
    ]
    linked = next(e for e in report.flagged if ("client", "app-1") in e.members)
    # acted on with the account that was caught, before they are caught themselves
    assert {("account", "travel1"), ("client", "app-1"), ("ip", "203.0.113.11")} <= linked.keys
    assert ("ip", "203.0.113.12") not in linked.members  # the stranger's
    assert any("send from its network" in link for link in linked.links)
