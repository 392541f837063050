"""Watermark keys and marks: secret, rotatable, deterministic, harmless, and readable back."""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from harvestguard.attribute import Watermarker, WatermarkKeyError, WatermarkKeys
from harvestguard.attribute import image as watermark
from harvestguard.attribute.attribution import readings
from harvestguard.attribute.coordinates import (
    bases_of,
    mark_coordinate,
    matches,
    probes,
    read_coordinate,
)
from harvestguard.attribute.evaluation import reencode, synthetic_photo
from harvestguard.attribute.evidence import (
    MAX_GRID_UNITS,
    Units,
    grid_units,
    outcomes,
    record_units,
    unit_kinds,
)
from harvestguard.attribute.leak import Record
from harvestguard.attribute.likelihood import log_likelihood_ratio_read_as, threshold
from harvestguard.attribute.ordering import in_actor_order, mark_order
from harvestguard.attribute.parity import accepts, grid_point
from harvestguard.policy.geohash import snap

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))


def test_keys_are_created_private_reloaded_and_rotated(tmp_path: Path) -> None:
    keys = WatermarkKeys.load(tmp_path)
    assert os.stat(keys.path).st_mode & 0o777 == 0o600
    first = keys.current
    assert WatermarkKeys.load(tmp_path).current == first
    second = keys.rotate()
    again = WatermarkKeys.load(tmp_path)
    assert again.current == second != first
    assert [key.key_id for key in again.all] == [second.key_id, first.key_id]
    # the identity is not in the mark key, and a key change changes every mark
    assert first.actor_key("account:1") != second.actor_key("account:1")
    assert first.actor_key("account:1") != first.actor_key("account:2")
    assert b"account:1" not in first.actor_key("account:1")
    assert "account" not in again.path.read_text()


def test_a_key_file_others_can_read_or_a_broken_one_is_refused(tmp_path: Path) -> None:
    keys = WatermarkKeys.load(tmp_path)
    keys.path.chmod(0o644)
    with pytest.raises(WatermarkKeyError, match="chmod 600"):
        WatermarkKeys.load(tmp_path)
    keys.path.chmod(0o600)
    keys.path.write_text(json.dumps({"current": "nope", "keys": []}))
    with pytest.raises(WatermarkKeyError, match="current key"):
        WatermarkKeys.load(tmp_path)
    with pytest.raises(WatermarkKeyError, match="no watermark keys"):
        WatermarkKeys.load(tmp_path / "elsewhere", create=False)


latitudes = st.floats(min_value=-89.9, max_value=89.9, allow_nan=False)


@given(latitudes, st.integers(min_value=1, max_value=9), st.booleans())
def test_a_coarsened_coordinate_stays_in_its_cell(value: float, precision: int, lon: bool) -> None:
    served = snap(value, precision, longitude=lon)
    assert served is not None
    marked = mark_coordinate(value, served, longitude=lon, actor_key=KEY_A)
    # the same cell: nothing finer than the policy's precision is revealed, nothing else moved
    assert snap(marked, precision, longitude=lon) == served
    assert mark_coordinate(value, served, longitude=lon, actor_key=KEY_A) == marked


def _roundings(value: float) -> list[str]:
    """The ways a leak writes a value: as served, to 6, 5 or 4 decimals, and 6 then 4."""
    return [
        repr(value),
        f"{value:.6f}",
        f"{value:.5f}",
        f"{value:.4f}",
        f"{float(f'{value:.6f}'):.4f}",
    ]


@given(st.floats(min_value=-179.9, max_value=179.9, allow_nan=False), st.booleans())
def test_a_full_coordinate_moves_a_few_metres_and_its_grid_mark_survives_rounding(
    value: float, lon: bool
) -> None:
    if not lon:
        value /= 2
    marked = mark_coordinate(value, value, longitude=lon, actor_key=KEY_A)
    assert abs(marked - value) <= 7e-5 + 1e-9  # 7.8 m of latitude at most
    assert marked == mark_coordinate(value, value, longitude=lon, actor_key=KEY_A)
    axis = "lon" if lon else "lat"
    for text in _roundings(marked):
        reading = read_coordinate(text)
        assert reading is not None
        point = grid_point(reading.value, reading.tolerance, longitude=lon)
        assert point is not None and accepts(KEY_A, axis, point.point), text
    # the sub-precision mark is still there, below the grid point
    assert _check(repr(marked), KEY_A, longitude=lon)[0]
    assert not _check(repr(marked), KEY_B, longitude=lon)[0]
    assert grid_point(float(f"{marked:.3f}"), 5e-4, longitude=lon) is None  # 3 decimals: gone


def test_every_refused_grid_point_has_two_accepted_neighbours() -> None:
    rng = random.Random(4)
    for _ in range(50):
        key = rng.randbytes(32)
        start = rng.randrange(-1_800_000, 1_800_000)
        accepted = [accepts(key, "lat", point) for point in range(start, start + 200)]
        for left, middle, right in zip(accepted, accepted[1:], accepted[2:], strict=False):
            assert middle or (left and right)
        assert 0.45 < sum(accepted) / len(accepted) < 0.65  # half, and the runs' first points


def test_grid_marks_of_strangers_match_by_their_stated_chance() -> None:
    """A leak rounded to 4 decimals: its source matches every grid unit, any other actor about
    half (the chance the test assumes), and a run's first point is never counted."""
    rng = random.Random(8)
    source = rng.randbytes(32)
    places = [(rng.uniform(-60, 60), rng.uniform(-170, 170)) for _ in range(300)]
    records = [
        Record(
            line,
            {
                "lat": f"{mark_coordinate(lat, lat, longitude=False, actor_key=source):.4f}",
                "lon": f"{mark_coordinate(lon, lon, longitude=True, actor_key=source):.4f}",
            },
        )
        for line, (lat, lon) in enumerate(places, start=2)
    ]
    units = grid_units(records)
    assert len(units) == MAX_GRID_UNITS
    assert all(point % 10 for unit in units for point in unit.points)
    assert all(outcomes(Units([], [], [], units), source, None).matched)
    hits = total = 0
    for _ in range(300):
        outcome = outcomes(Units([], [], [], units), rng.randbytes(32), None)
        assert set(outcome.chance) == {0.5}
        hits += sum(outcome.matched)
        total += len(outcome.matched)
    assert abs(hits / total - 0.5) < 4 * math.sqrt(0.25 / total)


def test_the_naming_threshold_holds_for_actors_the_leak_was_not_served_to() -> None:
    """The null distribution on real units (coordinates and grid, rounded to 4 and to 6
    decimals): a stranger's log LR reaches t with chance at most e^-t (Ville's inequality), so
    log(candidates / alpha) names a stranger with chance at most alpha."""
    rng = random.Random(9)
    ratios = []
    for leak in range(12):
        outsider = rng.randbytes(32)
        decimals = (4, 6)[leak % 2]
        rows = []
        for line in range(2, 62):
            lat, lon = rng.uniform(40, 41), rng.uniform(2, 3)
            served_lat, served_lon = lat, lon
            if leak % 3 == 0:  # coarsened data, as a logged-in account sees it
                served_lat = snap(lat, 5, longitude=False) or lat
                served_lon = snap(lon, 5, longitude=True) or lon
            lat = mark_coordinate(lat, served_lat, longitude=False, actor_key=outsider)
            lon = mark_coordinate(lon, served_lon, longitude=True, actor_key=outsider)
            rows.append(Record(line, {"lat": f"{lat:.{decimals}f}", "lon": f"{lon:.{decimals}f}"}))
        units = record_units(rows, (5,))
        chosen = readings(unit_kinds(units))
        for _ in range(250):
            outcome = outcomes(units, rng.randbytes(32), None)
            ratios.append(log_likelihood_ratio_read_as(outcome.matched, outcome.chance, chosen)[0])
    tested = len(ratios)
    for t in (1.0, 2.0, 3.0):
        beyond = sum(ratio >= t for ratio in ratios)
        assert beyond <= tested * math.exp(-t) + 3 * math.sqrt(tested * math.exp(-t)), t
    assert max(ratios) < threshold(len(ratios))


def _check(text: str, key: bytes, *, longitude: bool = False) -> tuple[bool, float]:
    reading = read_coordinate(text)
    assert reading is not None
    found, chance = probes(reading, bases_of(reading, (5,), longitude=longitude))
    return matches(found, key), chance


def test_marks_are_read_back_from_the_written_value_alone() -> None:
    served = snap(52.5163, 5, longitude=False)
    assert served is not None
    marked = mark_coordinate(52.5163, served, longitude=False, actor_key=KEY_A)
    matched, chance = _check(repr(marked), KEY_A)
    assert matched and chance < 1e-4
    assert not _check(repr(marked), KEY_B)[0]
    # rounded to 4 decimals the mark still speaks, with a larger chance of a false match
    matched, chance = _check(f"{marked:.4f}", KEY_A)
    assert matched and 1e-4 < chance < 0.01
    # rounded to 2 decimals (1 km) it is near worthless; to 1 decimal nothing is left of it
    assert _check(f"{marked:.2f}", KEY_A)[1] > 0.2
    assert _check(f"{marked:.1f}", KEY_A) == (False, 0.0)


def test_chance_is_what_strangers_actually_match() -> None:
    rng = random.Random(3)
    hits = trials = 0
    expected = 0.0
    for _ in range(4000):
        value = rng.uniform(-60, 60)
        served = snap(value, 5, longitude=False)
        assert served is not None
        key = rng.randbytes(32)
        text = f"{mark_coordinate(value, served, longitude=False, actor_key=key):.4f}"
        matched, chance = _check(text, rng.randbytes(32))
        hits += matched
        expected += chance
        trials += 1
    # the stated chance is an upper bound of the real one (a union bound), and not a loose one
    assert hits <= expected + 3 * math.sqrt(expected)
    assert expected / trials < 0.01


def test_only_equally_ranked_items_change_places() -> None:
    items = [(1, "a"), (1, "b"), (1, "c"), (2, "d"), (3, "e"), (3, "f")]
    ordered_a = mark_order(items, rank=lambda i: i[0], object_id=lambda i: i[1], actor_key=KEY_A)
    assert [rank for rank, _ in ordered_a] == [1, 1, 1, 2, 3, 3]
    assert sorted(ordered_a) == items
    for first, second in itertools.pairwise(ordered_a):
        if first[0] == second[0]:
            assert in_actor_order(first[1], second[1], KEY_A)
    orders = {
        tuple(mark_order(items, rank=lambda i: i[0], object_id=lambda i: i[1], actor_key=k))
        for k in (bytes([n]) * 32 for n in range(12))
    }
    assert len(orders) > 1


def test_the_image_mark_is_invisible_and_survives_resizing_and_jpeg() -> None:
    photo = synthetic_photo(random.Random(5))
    marked = watermark.embed(photo, KEY_A)
    before = np.asarray(Image.open(io.BytesIO(photo)).convert("L"), dtype=float)
    after = np.asarray(Image.open(io.BytesIO(marked)).convert("L"), dtype=float)
    psnr = 10 * math.log10(255**2 / float(np.mean((before - after) ** 2)))
    assert psnr > 38  # well past what the eye tells apart
    assert Image.open(io.BytesIO(marked)).format == "JPEG"
    patterns = np.stack([watermark.pattern(key).ravel() for key in (KEY_A, KEY_B)])
    damaged = reencode(marked, 0.4, 65)
    scores = watermark.scores(damaged, patterns)
    assert scores is not None
    assert scores[0] > 4.0 > abs(scores[1])
    original = watermark.scores(Image.open(io.BytesIO(photo)), patterns)
    assert original is not None and max(abs(original)) < 4.0


def test_a_tiny_image_is_served_unmarked() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 20, 30)).save(buffer, "PNG")
    assert watermark.embed(buffer.getvalue(), KEY_A) == buffer.getvalue()


def test_photos_are_cached_per_actor_within_a_budget(tmp_path: Path) -> None:
    marker = Watermarker(WatermarkKeys.load(tmp_path), cache_bytes=200_000)
    photo = synthetic_photo(random.Random(2))
    for_a = marker.mark_photo("account:1", "p1", photo)
    assert marker.mark_photo("account:1", "p1", photo) is for_a  # the cached bytes
    assert marker.mark_photo("account:2", "p1", photo) != for_a
    for n in range(10):
        marker.mark_photo(f"account:{n + 3}", "p1", photo)
    assert marker.photos.used_bytes <= 200_000 and len(marker.photos) < 12
    # a file that is no image is served as stored rather than failing the request
    assert marker.mark_photo("account:1", "broken", b"not an image") == b"not an image"
