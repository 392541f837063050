"""Event mode: the events' shape, determinism, and the statistics of every kind of actor."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from harvestguard.events import ARROW_SCHEMA, from_arrow
from harvestguard.simulate import run_event_mode
from harvestguard.simulate.groundtruth import GroundTruth
from harvestguard.sinks.duckdb import read_events as read_duckdb
from harvestguard.sinks.parquet import read_events as read_parquet
from tests.simulate_helpers import SEED, TINY, tiny_run, tiny_simulation

# photoshare's route templates, as its middleware records them
PHOTOSHARE_ROUTES = {
    "/", "/login", "/signup", "/robots.txt", "/u/{username}", "/u/{username}/followers",
    "/u/{username}/following", "/u/{username}/stories", "/u/{username}/follow",
    "/p/{post_id:int}", "/stories/{story_id:int}", "/explore/locations/{venue_id:int}",
    "/search", "/search/locations", "/media/{key}", "/oauth/token", "/api/v1/users/{user_id}",
    "/api/v1/users/by-username/{username}", "/api/v1/users/{user_id}/media",
    "/api/v1/media/{post_id}", "/api/v1/media/{post_id}/comments",
    "/api/v1/locations/{venue_id}", "/api/v1/locations/{venue_id}/media",
    "/api/v1/users/search", "/api/v1/users/lookup",
}  # fmt: skip


def _rows() -> list[dict[str, Any]]:
    run = tiny_run()
    assert run.events is not None and run.labels is not None
    rows = run.events.to_pylist()
    for row, actor in zip(rows, run.labels.to_pylist(), strict=True):
        row["actor"] = actor
    return rows


def _by_class(cls: str) -> list[dict[str, Any]]:
    truth = tiny_run().ground_truth
    return [r for r in _rows() if truth.actors[r["actor"]].actor_class == cls]


def test_events_follow_the_access_event_schema_in_time_order() -> None:
    run = tiny_run()
    assert run.events is not None
    assert run.events.schema == ARROW_SCHEMA
    assert run.count == run.events.num_rows > 5000
    times = run.events.column("ts").to_pylist()
    assert times == sorted(times)
    assert TINY.start <= times[0] and times[-1] < TINY.end
    assert len(set(run.events.column("request_id").to_pylist())) == run.count
    # they read back as AccessEvents
    assert from_arrow(run.events.slice(0, 50))[0].request_id == run.events["request_id"][0].as_py()


def test_routes_are_photoshares_and_stories_are_not_in_the_api() -> None:
    rows = _rows()
    assert {r["route"] for r in rows if r["route"] is not None} <= PHOTOSHARE_ROUTES
    unrouted = [r for r in rows if r["route"] is None]
    assert unrouted, "the scope abuser asks for stories through the API"
    for row in unrouted:
        assert row["path"].startswith("/api/v1/stories/")
        assert (row["status"], row["owner_ids"], row["actor_client"]) == (404, [], None)


def test_anonymous_events_never_carry_location() -> None:
    anonymous = [r for r in _rows() if r["audience"] == "anonymous"]
    assert len(anonymous) > 100
    assert not any("location" in r["data_classes"] for r in anonymous)
    logged_in = [r for r in _rows() if r["audience"] in ("authenticated", "follower")]
    assert any("location" in r["data_classes"] for r in logged_in)


def test_refusals_disclose_nothing() -> None:
    for row in _rows():
        if row["status"] in (401, 403, 404) and row["route"] not in (
            "/u/{username}/stories",
            "/u/{username}/followers",
            "/u/{username}/following",
        ):
            assert (row["owner_ids"], row["data_classes"]) == ([], []), row
    places = "/explore/locations/{venue_id:int}"
    anonymous_places = [r for r in _rows() if r["route"] == places and r["actor_account"] is None]
    assert all(r["status"] == 401 for r in anonymous_places)


def test_the_ip_and_net_are_pseudonyms_under_the_scenario_key() -> None:
    from harvestguard.pseudonym import Pseudonymiser
    from harvestguard.simulate.engine import scenario_key

    simulation = tiny_simulation()
    first = next(intent for actor in simulation.actors for intent in actor.intents())
    pseudonymiser = Pseudonymiser(scenario_key(TINY.with_seed(SEED)))
    assert first.identity.ip == pseudonymiser.ip(first.identity.address)
    assert first.identity.net == pseudonymiser.net(first.identity.address)
    assert first.identity.address not in first.identity.ip


def test_a_seed_gives_the_same_events_and_another_seed_other_parameters() -> None:
    again = run_event_mode(TINY.with_seed(SEED), max_events=3000)
    first = tiny_run()
    assert first.events is not None and again.events is not None
    assert again.events.equals(first.events.slice(0, 3000))
    other = run_event_mode(TINY.with_seed(SEED + 1), max_events=10)
    for actor_id, actor in first.ground_truth.actors.items():
        if actor.adversary:
            assert other.ground_truth.actors[actor_id].parameters != actor.parameters


def test_benign_people_stay_in_their_social_neighbourhood() -> None:
    simulation = tiny_simulation()
    world = simulation.world
    within = total = 0
    for row in _by_class("person"):
        if row["route"] != "/u/{username}" or row["actor_account"] is None:
            continue
        viewer, owner = int(row["actor_account"]), int(row["object_id"])
        first = world.following[viewer]
        second = set().union(*(world.following[f] for f in first)) if first else set()
        total += 1
        within += owner == viewer or owner in first or owner in second
    assert total > 100
    assert within / total >= 0.8


def test_people_sleep_at_night() -> None:
    import random

    from harvestguard.simulate.actors.base import next_session

    rng = random.Random(3)
    now, starts = 0.0, []
    for _ in range(5000):
        now = next_session(rng, now, 4.0, utc_offset_hours=2)
        starts.append(now)
    days = starts[-1] / 86400
    assert 3.0 < len(starts) / days < 5.0  # the rate asked for, on average
    local = Counter(int((t / 3600 + 2) % 24) for t in starts)
    night = sum(local[h] for h in range(1, 6)) / 5
    day = sum(local[h] for h in range(11, 22)) / 11
    assert day > 4 * night


def test_every_kind_of_benign_actor_is_there() -> None:
    truth = tiny_run().ground_truth
    benign = {a.actor_class for a in truth.actors.values() if not a.adversary}
    assert benign == {"person", "power_user", "partner_app", "search_crawler"}


def test_shared_nat_addresses_carry_many_people() -> None:
    truth = tiny_run().ground_truth
    people_per_ip: dict[str, set[str]] = defaultdict(set)
    for record in truth.keys:
        if record.kind == "ip" and truth.actors[record.actor_id].actor_class == "person":
            people_per_ip[record.value].add(record.actor_id)
    assert max(len(people) for people in people_per_ip.values()) >= 5
    assert truth.shared_keys()


def test_the_enumerator_spreads_over_many_networks_with_few_requests_each() -> None:
    rows = _by_class("profile_enumerator")
    per_net = Counter(r["net"] for r in rows)
    assert len(per_net) >= 50
    assert max(per_net.values()) <= max(10, 0.02 * len(rows))
    assert {r["actor_account"] for r in rows} == {None}


def test_the_archiver_fetches_stories_within_minutes_of_posting() -> None:
    simulation = tiny_simulation()
    truth = tiny_run().ground_truth
    rows = [r for r in _by_class("story_archiver") if r["route"] == "/stories/{story_id:int}"]
    assert rows
    delays = []
    for row in rows:
        story = simulation.world.stories[int(row["object_id"])]
        delays.append(row["ts"].timestamp() - story.created_at)
    limit = max(
        a.parameters["fetch_delay_minutes"]
        for a in truth.actors.values()
        if a.actor_class == "story_archiver"
    )
    assert all(0 <= delay <= float(limit) * 60 + 1 for delay in delays)
    assert all("ephemeral" in r["data_classes"] for r in rows if r["status"] == 200)


def test_the_fresh_account_rush_views_its_drawn_number_of_strangers() -> None:
    truth = tiny_run().ground_truth
    [actor] = [a for a in truth.actors.values() if a.actor_class == "fresh_account_rush"]
    rows = _by_class("fresh_account_rush")
    views = Counter(r["actor_account"] for r in rows if r["route"] == "/u/{username}")
    accounts = int(actor.parameters["accounts"])
    assert len(views) <= accounts
    wanted = int(actor.parameters["views_per_account"])
    # an account signing up near the end of the run is cut off by it
    assert max(views.values()) >= wanted * 0.9 or len(views) < accounts
    signups = [r for r in rows if r["route"] == "/signup"]
    assert signups and all(r["method"] == "POST" for r in signups)


def test_low_and_slow_keeps_every_address_under_a_single_actor_limit() -> None:
    truth = tiny_run().ground_truth
    [actor] = [a for a in truth.actors.values() if a.actor_class == "low_and_slow"]
    rows = _by_class("low_and_slow")
    per_ip = Counter(r["ip"] for r in rows)
    interval = float(actor.parameters["minutes_between_requests_per_ip"])
    hours = TINY.duration.total_seconds() / 3600
    expected = hours * 60 / interval
    assert len(per_ip) >= int(actor.parameters["ips"]) * 0.9
    mean = sum(per_ip.values()) / len(per_ip)
    assert 0.4 * expected <= mean <= 2.5 * expected


def test_the_scope_abuser_gets_refusals_at_its_drawn_share() -> None:
    truth = tiny_run().ground_truth
    [actor] = [a for a in truth.actors.values() if a.actor_class == "scope_abuser"]
    rows = [r for r in _by_class("scope_abuser") if r["route"] != "/oauth/token"]
    refused = sum(r["status"] in (403, 404) for r in rows) / len(rows)
    share = float(actor.parameters["error_share"])
    assert 0.3 * share <= refused <= share + 0.15
    assert any(r["status"] == 403 for r in rows)


def test_the_geofence_harvester_watches_one_city_and_collects_whoever_posted_there() -> None:
    simulation = tiny_simulation()
    truth = tiny_run().ground_truth
    [actor] = [a for a in truth.actors.values() if a.actor_class == "geofence_harvester"]
    rows = _by_class("geofence_harvester")
    venues = {
        int(r["object_id"]) for r in rows if r["route"] == "/explore/locations/{venue_id:int}"
    }
    assert {simulation.world.venues[v].city for v in venues} == {actor.parameters["city"]}
    assert any(r["actor_client"] for r in rows) and any(r["actor_account"] for r in rows)
    profiles = {r["object_id"] for r in rows if r["route"] == "/u/{username}"}
    assert len(profiles) >= 3
    assert actor.first_harvest_at is not None
    assert actor.first_harvest_at == min(r["ts"] for r in rows if r["route"] != "/oauth/token")


def test_ground_truth_keys_cover_every_event(tmp_path: Path) -> None:
    run = tiny_run()
    assert run.events is not None and run.labels is not None
    truth = run.ground_truth
    keys = {(k.kind, k.value, k.actor_id) for k in truth.keys}
    for row, actor in zip(
        run.events.slice(0, 2000).to_pylist(), run.labels.to_pylist(), strict=False
    ):
        assert ("ip", row["ip"], actor) in keys
        if row["actor_account"]:
            assert ("account", row["actor_account"], actor) in keys
    truth.write(tmp_path / "truth.json")
    assert GroundTruth.read(tmp_path / "truth.json") == truth
    assert sum(a.events for a in truth.actors.values()) == run.count


@pytest.mark.parametrize("kind", ["parquet", "duckdb"])
def test_events_are_written_where_the_guard_writes_them(tmp_path: Path, kind: str) -> None:
    target = tmp_path / ("events" if kind == "parquet" else "events.duckdb")
    result = run_event_mode(
        TINY, output=f"{kind}:{target}", truth_dir=tmp_path / "truth", max_events=4000
    )
    stored = read_parquet(target) if kind == "parquet" else read_duckdb(target)
    assert stored.num_rows == result.count == 4000
    labels = pq.read_table(tmp_path / "truth" / "labels.parquet")
    assert set(labels.column("request_id").to_pylist()) == set(
        stored.column("request_id").to_pylist()
    )
    assert GroundTruth.read(tmp_path / "truth" / "ground_truth.json").actors


def test_an_unknown_output_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown event sink URL"):
        run_event_mode(TINY, output="s3://bucket/events", max_events=10)
