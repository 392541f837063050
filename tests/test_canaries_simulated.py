"""Canaries in a simulated run: no benign actor reads one; sweeps and enumerations do, and
canary_access names exactly those adversaries."""

from __future__ import annotations

import functools
from collections import defaultdict

from harvestguard.detect import DetectionEngine, load_detectors
from harvestguard.detect.context import context_from_world
from harvestguard.simulate import RunResult, run_event_mode
from harvestguard.simulate.canaries import plant_canaries
from harvestguard.simulate.generate import generate_world
from harvestguard.simulate.manifest import world_from_manifest, world_to_manifest
from tests.simulate_helpers import SEED, TINY

SCENARIO = TINY.with_seed(SEED)
# the adversaries whose way of working reaches a canary: a walk of every username or post id,
# a sweep of a city's venues, following popular accounts to save their stories
SWEEPERS = {"profile_enumerator", "geofence_harvester", "story_archiver"}


@functools.cache
def _run() -> RunResult:
    world = generate_world(SCENARIO)
    plant_canaries(world, seed=SCENARIO.seed, start=SCENARIO.start.timestamp(),
                   end=SCENARIO.end.timestamp())  # fmt: skip
    return run_event_mode(SCENARIO, world=world)


def _canary_reads(result: RunResult) -> dict[str, list[int]]:
    """actor id -> statuses of its requests for a canary object (page, API object or photo)."""
    assert result.events is not None and result.labels is not None and result.world is not None
    table = context_from_world(result.world)["canaries"]
    canaries = set(zip(table["resource"].to_pylist(), table["object_id"].to_pylist(), strict=True))
    events = result.events
    reads: dict[str, list[int]] = defaultdict(list)
    for resource, object_id, status, actor in zip(
        events["resource"].to_pylist(),
        events["object_id"].to_pylist(),
        events["status"].to_pylist(),
        result.labels.to_pylist(),
        strict=True,
    ):
        if (resource, object_id) in canaries:
            reads[actor].append(status)
    return reads


def test_canaries_sit_where_no_link_leads() -> None:
    world = _run().world
    assert world is not None
    kinds = {kind for kind, _ in world.canaries}
    assert kinds == {"account", "post", "story", "venue"}
    accounts = {object_id for kind, object_id in world.canaries if kind == "account"}
    venues = {object_id for kind, object_id in world.canaries if kind == "venue"}
    people = set(range(1, SCENARIO.users + 1))  # the generated accounts, no adversary's own
    assert people and not people & accounts
    for person in people:  # no person follows a canary, none is followed by one
        assert not world.following[person] & accounts
        assert not world.followers[person] & accounts
    for city in world.venues_by_city:
        assert not set(world.listed_venues(city)) & venues
        assert set(world.venues_by_city[city]) & venues  # but a sweep of the city meets one
    canary_names = {world.users[a].username for a in accounts}
    for name in canary_names:
        assert name in world.sorted_usernames()  # an alphabetical walk meets it
        assert name not in world.usernames_starting(name[:2], 10_000)  # a search does not


def test_no_benign_actor_reads_a_canary_and_the_sweepers_do() -> None:
    result = _run()
    truth = result.ground_truth
    reads = _canary_reads(result)
    benign = [actor for actor in reads if not truth.actors[actor].adversary]
    assert benign == []
    benign_actors = [a for a in truth.actors.values() if not a.adversary]
    assert len(benign_actors) > 150  # people, power users, visitors, partners, a crawler
    successful = {
        truth.actors[a].actor_class for a, statuses in reads.items() if min(statuses) < 400
    }
    assert successful >= SWEEPERS


def test_canary_access_fires_on_the_sweepers_and_on_no_benign_actor() -> None:
    result = _run()
    assert result.events is not None and result.world is not None
    engine = DetectionEngine([spec for spec in load_detectors() if spec.id == "canary_access"])
    report = engine.run(result.events, context_from_world(result.world))
    findings = [f for f in report.findings if f.detector == "canary_access"]
    assert findings
    truth = result.ground_truth
    named: set[str] = set()
    for finding in findings:
        actors = {record.actor_id for record in truth.actors_of(finding.key)}
        assert actors, finding.key
        assert all(truth.actors[actor].adversary for actor in actors), (finding.key, actors)
        named |= {truth.actors[actor].actor_class for actor in actors}
        assert finding.evidence["canaries"] >= 1
        assert str(finding.evidence["first_label"]).startswith("canary ")
    assert named >= SWEEPERS


def test_the_world_manifest_keeps_the_canaries() -> None:
    world = _run().world
    assert world is not None
    again = world_from_manifest(world_to_manifest(world))
    assert again.canaries == world.canaries
    assert again.people() == world.people()
