"""The evaluation at a small size: simulated leaks from one of 200 actors, damaged, and from none.

The full size (1,000 actors, leaks of 50, 200 and 5,000 records) is benchmarks/bench_attribute.py.
"""

from __future__ import annotations

import random

import pytest

from harvestguard.attribute.evaluation import (
    ACCOUNT,
    RECORD_SCENARIOS,
    World,
    build_world,
    image_trial,
    record_trial,
    synthetic_photo,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("keys"), actors=200, posts=6000, seed=11)


@pytest.mark.parametrize("scenario", RECORD_SCENARIOS)
def test_record_leaks(world: World, scenario: str) -> None:
    rng = random.Random(scenario)
    for size in (50, 200):
        trials = [record_trial(world, size, scenario, rng) for _ in range(4)]
        assert not any(trial.false_named for trial in trials), (size, trials)
        if scenario.startswith("no source"):
            assert not any(trial.named for trial in trials)
        elif scenario == "coordinates rounded to 4 decimals":
            # full-precision marks do not survive rounding to 11 m; coarsened ones do
            for trial in trials:
                if world.audiences[trial.truth[0]] == ACCOUNT:
                    assert trial.right_first, trial
        else:
            assert all(trial.right_first for trial in trials), (size, trials)
    if scenario == "two sources mixed":
        both = record_trial(world, 400, scenario, rng)
        assert set(both.named) == set(both.truth)


def test_image_leaks_after_resizing_and_reencoding(world: World) -> None:
    rng = random.Random(2)
    photos = [synthetic_photo(rng, 480, 360) for _ in range(6)]
    marked = [image_trial(world, photos, 4, rng) for _ in range(2)]
    assert all(trial.right_first for trial in marked), marked
    clean = image_trial(world, photos, 4, rng, source=False)
    assert not clean.named
