"""Each shipped detector on small hand-built traffic: it fires on the behaviour it looks for and
stays quiet on the benign counterpart (the same amount of traffic, done the way people do)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pyarrow as pa

from harvestguard.detect.context import CONTEXT_SCHEMAS
from harvestguard.events import AccessEvent
from tests.detect_helpers import BASE, event, fired, run, view


def context_table(name: str, rows: Sequence[tuple[object, ...]]) -> pa.Table:
    schema = CONTEXT_SCHEMAS[name]
    return pa.table({f.name: [row[i] for row in rows] for i, f in enumerate(schema)}, schema=schema)


def test_breadth_fires_on_many_strangers_not_on_many_friends() -> None:
    harvester = [view(10 * i, 1000 + i, account="h") for i in range(160)]
    friend = [view(10 * i, 1000 + i % 40, account="f", audience="follower") for i in range(160)]
    report = run("breadth", harvester + friend)
    assert fired(report, "breadth") == {("account", "h")}
    finding = report.findings[0]
    assert finding.evidence["strangers"] >= 100 and "strangers" not in finding.explanation


def test_volume_peer_fires_far_above_peers_not_when_all_are_busy() -> None:
    rng = random.Random(3)
    peers = [
        view(rng.uniform(0, 540), rng.randrange(500), account=f"p{n}", audience="follower")
        for n in range(30)
        for _ in range(rng.randint(5, 15))
    ]
    burst = [view(i * 1.2, 2000 + i, account="bot") for i in range(450)]
    assert fired(run("volume_peer", peers + burst), "volume_peer") == {("account", "bot")}
    busy_peers = [
        view(i * 1.2, 2000 + i, account=f"busy{n}", audience="follower")
        for n in range(12)
        for i in range(450)
    ]
    assert fired(run("volume_peer", busy_peers), "volume_peer") == set()


def _sweep(order: list[int], *, gap: float, ips: int) -> list[AccessEvent]:
    return [
        view(gap * step, user, ip=f"proxy-{step % ips}", ua="Mozilla/5.0 (Windows NT 10.0) Chrome")
        for step, user in enumerate(order)
    ]


def test_enumeration_finds_a_sweep_over_rotating_addresses_whatever_the_user_agent() -> None:
    walk = _sweep(list(range(100, 160)), gap=1.5, ips=30)
    visitors = [view(5 + 40 * i, 100 + (i * 7) % 60, ip=f"home-{i}") for i in range(20)]
    report = run("enumeration", walk + visitors)
    assert fired(report, "enumeration") == {("ip", f"proxy-{n}") for n in range(30)}
    groups = {g for f in report.findings for g in f.link_groups}
    assert groups and all(g.count("proxy-") == 2 for g in groups)  # neighbour pairs of the walk
    assert len(report.flagged) == 1
    assert {k for k in report.flagged[0].keys if k[0] == "ip"} == fired(report, "enumeration")


def test_enumeration_ignores_the_same_requests_in_no_order() -> None:
    order = list(range(100, 160))
    random.Random(5).shuffle(order)
    assert fired(run("enumeration", _sweep(order, gap=1.5, ips=30)), "enumeration") == set()


def test_enumeration_leaves_a_polite_slow_walk_to_the_crawler_policy() -> None:
    slow = _sweep(list(range(100, 160)), gap=15.0, ips=3)
    assert fired(run("enumeration", slow), "enumeration") == set()


def _location(seconds: float, venue: int, account: str, posters: list[int]) -> AccessEvent:
    return event(
        seconds,
        actor_account=account,
        ip="ip-geo",
        route="/explore/locations/{venue_id:int}",
        path=f"/explore/locations/{venue}",
        resource="location",
        object_id=str(venue),
        owner_ids=[str(p) for p in posters],
        data_classes=["identity", "location"],
        audience="authenticated",
    )


def test_geo_sweep_fires_on_polled_venues_and_their_posters() -> None:
    polls = [
        _location(300 * poll + venue, venue, "geo", [venue * 10 + k for k in range(5)])
        for poll in range(24)
        for venue in range(1, 5)
    ]
    lookups = [
        view(8000 + 5 * i, venue * 10 + k, account="geo")
        for i, (venue, k) in enumerate((v, k) for v in range(1, 5) for k in range(5))
    ]
    report = run("geo_sweep", polls + lookups)
    assert fired(report, "geo_sweep") == {("account", "geo")}
    assert report.findings[0].evidence["followed_posters"] == 20


def test_geo_sweep_ignores_a_person_opening_venue_pages_now_and_then() -> None:
    browsing = [_location(3000 * i, 1 + i % 6, "person", [i, i + 1]) for i in range(12)]
    assert fired(run("geo_sweep", browsing), "geo_sweep") == set()


def _story(seconds: float, story: int, owner: int, account: str) -> AccessEvent:
    return view(
        seconds,
        owner,
        account=account,
        resource="story",
        audience="follower",
        object_id=str(story),
        path=f"/stories/{story}",
        data_classes=["ephemeral"],
    )


def test_story_harvest_uses_posting_times_when_given() -> None:
    start = BASE.timestamp()
    stories = context_table(
        "stories", [(str(s), str(500 + s), start + s * 60.0) for s in range(40)]
    )
    fresh = [_story(s * 60 + 90, s, 500 + s, "archiver") for s in range(40)]
    late = [_story(s * 60 + 6 * 3600, s, 500 + s, "friend") for s in range(40)]
    report = run("story_harvest", fresh + late, {"stories": stories})
    assert fired(report, "story_harvest") == {("account", "archiver")}


def test_story_harvest_without_posting_times_uses_the_first_fetch() -> None:
    pool = [_story(s * 60 + p * 20, s, 500 + s, f"puppet{p}") for s in range(40) for p in range(3)]
    late = [_story(s * 60 + 7200, s, 500 + s, "friend") for s in range(40)]
    report = run("story_harvest", pool + late)
    assert fired(report, "story_harvest") == {("account", f"puppet{p}") for p in range(3)}


def test_fresh_account_rush_needs_a_sign_up_just_before() -> None:
    signup = event(0, ip="ip-r", route="/signup", path="/signup", method="POST", status=303)
    rush = [view(60 + 5 * i, 3000 + i, account="new", ip="ip-r") for i in range(60)]
    old = [view(60 + 5 * i, 3000 + i, account="old", ip="ip-o") for i in range(60)]
    report = run("fresh_account_rush", [signup, *rush, *old])
    assert fired(report, "fresh_account_rush") == {("account", "new")}


def test_fresh_account_rush_reads_creation_times_from_the_accounts_table() -> None:
    accounts = context_table("accounts", [("new", BASE.timestamp() - 30.0), ("old", 0.0)])
    rush = [view(60 + 5 * i, 3000 + i, account="new", ip="ip-r") for i in range(60)]
    old = [view(60 + 5 * i, 3000 + i, account="old", ip="ip-o") for i in range(60)]
    report = run("fresh_account_rush", rush + old, {"accounts": accounts})
    assert fired(report, "fresh_account_rush") == {("account", "new")}


def test_timing_regularity_sees_a_clock_not_a_person() -> None:
    rng = random.Random(9)
    clock = [view(30 * i + rng.uniform(-1, 1), i, ip="ip-clock") for i in range(100)]
    moments, person = 0.0, []
    for i in range(100):
        moments += rng.expovariate(1 / 30)
        person.append(view(moments, i, ip="ip-person"))
    assert fired(run("timing_regularity", clock + person), "timing_regularity") == {
        ("ip", "ip-clock")
    }


def _api(
    seconds: float, client: str, status: int, route: str, object_id: str | None
) -> AccessEvent:
    return event(
        seconds,
        channel="api",
        actor_client=client,
        ip=f"dc-{client}",
        net=f"net-{client}",
        route=route,
        path=route,
        resource="api",
        object_id=object_id,
        status=status,
        audience="partner",
    )


def test_partner_scope_abuse_fires_on_refusals_and_out_of_purpose_reads() -> None:
    abuser = [
        _api(10 * i, "abuser", 403 if i % 3 == 0 else 200, "/api/v1/users/{user_id}", str(i))
        for i in range(90)
    ]
    honest = [_api(10 * i, "honest", 200, "/api/v1/users/{user_id}", str(i)) for i in range(90)]
    report = run("partner_scope_abuse", abuser + honest)
    assert fired(report, "partner_scope_abuse") == {("client", "abuser")}
    assert report.findings[0].evidence["forbidden"] == 30


def test_partner_proxy_accounts_links_an_app_to_accounts_fetching_what_it_was_refused() -> None:
    refused = [_api(10 * i, "app", 404, "/api/v1/users/{user_id}", str(700 + i)) for i in range(6)]
    proxy = [
        view(200 + 10 * i, 700 + i, account="sock", ip="dc-other", net="net-app") for i in range(6)
    ]
    elsewhere = [
        view(200 + 10 * i, 700 + i, account="someone", ip="home", net="net-home") for i in range(6)
    ]
    report = run("partner_proxy_accounts", refused + proxy + elsewhere)
    assert fired(report, "partner_proxy_accounts") == {("account", "sock"), ("client", "app")}
    assert len(report.flagged) == 1


def test_data_limit_counts_distinct_people_per_class_against_its_limit() -> None:
    over = [view(10 * i, 4000 + i, account="over") for i in range(12)]
    under = [view(10 * i, 4000 + i % 3, account="under") for i in range(12)]
    report = run("data_limit", over + under, parameters={"data_limit": {"limit_identity": 10}})
    assert fired(report, "data_limit") == {("account", "over")}
    assert {f.evidence["data_class"] for f in report.findings} == {"identity"}


def test_canary_access_reports_a_read_of_a_canary_and_is_skipped_without_the_table() -> None:
    canaries = context_table("canaries", [("profile", "4242", "honeypot profile")])
    reads = [view(5, 4242, account="thief"), view(5, 7, account="reader")]
    assert fired(run("canary_access", reads, {"canaries": canaries}), "canary_access") == {
        ("account", "thief")
    }
    report = run("canary_access", reads)
    assert report.findings == []
    assert "detector canary_access skipped: needs canaries" in report.notes


def _follows(popular: dict[int, int]) -> pa.Table:
    rows = [
        (f"fan{owner}-{n}", str(owner)) for owner, count in popular.items() for n in range(count)
    ]
    return context_table("follows", rows)


def test_popularity_sweep_sees_a_walk_down_a_ranked_list() -> None:
    popularity = {5000 + rank: 200 - 5 * rank for rank in range(40)}
    walk = [view(600 * rank, 5000 + rank, account="mimic") for rank in range(40)]
    order = list(range(40))
    random.Random(2).shuffle(order)
    person = [view(600 * i, 5000 + rank, account="person") for i, rank in enumerate(order)]
    report = run("popularity_sweep", walk + person, {"follows": _follows(popularity)})
    assert fired(report, "popularity_sweep") == {("account", "mimic")}


def test_puppet_cohort_needs_several_look_alike_accounts() -> None:
    build = "hdr:same-browser"
    puppets = [
        view(
            120 * i + n, 6000 + 100 * n + i, account=f"puppet{n}", ip=f"res-{n}", fingerprint=build
        )
        for n in range(6)
        for i in range(30)
    ]
    report = run("puppet_cohort", puppets)
    assert fired(report, "puppet_cohort") == {("account", f"puppet{n}") for n in range(6)}
    assert (
        fired(
            run("puppet_cohort", [e for e in puppets if e.actor_account in ("puppet0", "puppet1")]),
            "puppet_cohort",
        )
        == set()
    )


def test_breadth_social_uses_the_two_hop_neighbourhood() -> None:
    follows = context_table(
        "follows",
        [("me", "friend")] + [("friend", str(100 + i)) for i in range(40)],
    )
    near = [view(30 * i, 100 + i, account="me") for i in range(40)]
    far = [view(30 * i, 900 + i, account="stranger") for i in range(40)]
    report = run("breadth_social", near + far, {"follows": follows})
    assert fired(report, "breadth_social") == {("account", "stranger")}
