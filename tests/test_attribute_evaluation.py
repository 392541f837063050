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
        else:
            assert all(trial.right_first for trial in trials), (size, trials)
    if scenario == "two sources mixed":
        both = record_trial(world, 400, scenario, rng)
        assert set(both.named) == set(both.truth)


def test_leaks_rounded_to_11_m_name_partners_and_accounts_alike(world: World) -> None:
    """Rounded to 4 decimals, a partner's full coordinates keep only their grid mark, an
    account's coarsened ones their cell mark: both kinds of source are named from 50 records."""
    rng = random.Random(4)
    kinds: set[bool] = set()
    for _ in range(10):
        trial = record_trial(world, 50, "coordinates rounded to 4 decimals", rng)
        assert trial.right_first and not trial.false_named, trial
        kinds.add(world.audiences[trial.truth[0]] == ACCOUNT)
    assert kinds == {True, False}


def test_image_leaks_after_resizing_and_reencoding(world: World) -> None:
    rng = random.Random(2)
    photos = [synthetic_photo(rng, 480, 360) for _ in range(6)]
    marked = [image_trial(world, photos, 4, rng) for _ in range(2)]
    assert all(trial.right_first for trial in marked), marked
    clean = image_trial(world, photos, 4, rng, source=False)
    assert not clean.named
