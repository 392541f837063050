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
from harvestguard.attribute.coordinates import (
    RAW_WIDTH,
    bases_of,
    mark_coordinate,
    matches,
    probes,
    read_coordinate,
)
from harvestguard.attribute.evaluation import reencode, synthetic_photo
from harvestguard.attribute.ordering import in_actor_order, mark_order
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


@given(latitudes)
def test_a_full_coordinate_moves_less_than_its_noise_floor(value: float) -> None:
    marked = mark_coordinate(value, value, longitude=False, actor_key=KEY_A)
    assert abs(marked - value) < RAW_WIDTH  # under 1.1 m
    assert marked != mark_coordinate(value, value, longitude=False, actor_key=KEY_B)


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
