from __future__ import annotations

import json
from pathlib import Path

import pytest

from harvestguard.simulate.generate import generate_world
from harvestguard.simulate.manifest import (
    ManifestError,
    load_manifest,
    save_manifest,
    world_to_manifest,
)
from tests.simulate_helpers import TINY


def test_a_generated_world_is_the_same_for_a_seed_and_differs_across_seeds() -> None:
    first = world_to_manifest(generate_world(TINY))
    assert first == world_to_manifest(generate_world(TINY))
    assert first != world_to_manifest(generate_world(TINY.with_seed(TINY.seed + 1)))


def test_the_social_graph_is_heavy_tailed() -> None:
    world = generate_world(TINY)
    followers = sorted((len(f) for f in world.followers.values()), reverse=True)
    median = followers[len(followers) // 2]
    assert followers[0] >= 5 * max(1, median)
    # most follows stay within the follower's home city
    local = sum(
        world.users[a].city == world.users[b].city
        for a, followees in world.following.items()
        for b in followees
    )
    assert local / sum(len(f) for f in world.following.values()) > 0.5


def test_venues_cluster_in_their_city() -> None:
    world = generate_world(TINY)
    for venue in world.venues.values():
        city = world.cities[venue.city]
        assert abs(venue.lat - city.lat) < 0.3 and abs(venue.lon - city.lon) < 0.3


def test_a_world_survives_its_manifest(tmp_path: Path) -> None:
    world = generate_world(TINY)
    path = tmp_path / "world.json"
    save_manifest(world, path)
    loaded = load_manifest(path)
    assert world_to_manifest(loaded) == world_to_manifest(world)
    assert loaded.posts_of.keys() == world.posts_of.keys()


def test_a_minimal_manifest_loads() -> None:
    from harvestguard.simulate.manifest import world_from_manifest

    world = world_from_manifest(
        {
            "format": "harvestguard-world",
            "version": 1,
            "users": [
                {"id": 1, "username": "ada", "created_at": "2025-01-01T00:00:00"},
                {"id": 2, "username": "bob", "created_at": "2025-01-01T00:00:00+00:00"},
            ],
            "follows": [[1, 2]],
            "venues": [{"id": 9, "name": "Adlon", "city": "Berlin", "lat": 52.5, "lon": 13.4}],
            "posts": [{"id": 5, "owner_id": 2, "created_at": "2025-02-01T10:00:00", "venue_id": 9}],
        }
    )
    assert world.following[1] == {2}
    assert [post.id for post in world.posts_at[9].items] == [5]


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ({"format": "other", "version": 1, "users": []}, "not a harvestguard-world manifest"),
        (
            {"format": "harvestguard-world", "version": 1, "users": [{"id": 1}]},
            "bad manifest entry",
        ),
        (
            {
                "format": "harvestguard-world",
                "version": 1,
                "users": [{"id": 1, "username": "a", "created_at": "2025-01-01"}],
                "follows": [[1, 7]],
            },
            "unknown user",
        ),
        (
            {
                "format": "harvestguard-world",
                "version": 1,
                "users": [{"id": 1, "username": "a", "created_at": "2025-01-01"}],
                "posts": [{"id": 1, "owner_id": 3, "created_at": "2025-01-02"}],
            },
            "unknown owner",
        ),
    ],
)
def test_bad_manifests_are_refused(
    tmp_path: Path, manifest: dict[str, object], message: str
) -> None:
    path = tmp_path / "world.json"
    path.write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match=message):
        load_manifest(path)
