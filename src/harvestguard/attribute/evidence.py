"""The units of evidence a leak holds, and whether each is a given actor's mark.

A unit is something the leak shows once that a mark could be in: one coordinate value of one
place, one run of the 4-decimal grid along one axis (``parity.py``), one pair of equally ranked
records in the order served, one image. Units are chosen so
that, for an actor the data was not served to, they are independent and match by the stated
chance; that is what makes the likelihood ratio of ``likelihood.py`` a valid test.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from harvestguard.attribute import image
from harvestguard.attribute.coordinates import (
    Probe,
    Reading,
    bases_of,
    matches,
    probes,
    read_coordinate,
)
from harvestguard.attribute.leak import Leak, Record
from harvestguard.attribute.ordering import in_actor_order
from harvestguard.attribute.parity import CHANCE as GRID_CHANCE
from harvestguard.attribute.parity import GridReading, accepts, grid_point

MAX_UNITS = 48  # of each kind; a few dozen matching marks already settle the verdict
# a grid unit is one bit (chance 1/2) where a coordinate unit is a dozen: more of them are read
MAX_GRID_UNITS = 96
LATITUDE_NAMES = frozenset({"lat", "latitude"})
LONGITUDE_NAMES = frozenset({"lon", "lng", "long", "longitude"})
ID_NAMES = frozenset({"id"})
RANK_NAMES = ("created_at", "taken_at", "timestamp")
_Unit = TypeVar("_Unit")
IMAGE_MATCH_Z = 4.0  # a pattern this far above the others is a match
IMAGE_CHANCE = 0.5 * math.erfc(IMAGE_MATCH_Z / math.sqrt(2))  # standard normal tail


@dataclass(frozen=True, slots=True)
class CoordinateUnit:
    label: str
    reading: Reading
    probes: list[Probe]
    chance: float
    lines: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class GridUnit:
    """The grid points a leak shows in one run of one axis: they share the actor's keyed bit."""

    axis: str
    run: int
    points: tuple[int, ...]
    lines: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class OrderUnit:
    first: str
    second: str
    lines: tuple[int, int]


@dataclass(frozen=True, slots=True)
class ImageUnit:
    name: str
    residual: NDArray[np.float64]


@dataclass(slots=True)
class Units:
    coordinates: list[CoordinateUnit]
    orders: list[OrderUnit]
    images: list[ImageUnit]
    grids: list[GridUnit] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.coordinates) + len(self.grids) + len(self.orders) + len(self.images)


def _column(record: Record, names: frozenset[str]) -> str | None:
    for name, value in record.fields.items():
        if name.lower().rsplit(".", 1)[-1] in names:
            return value
    return None


def _sample(units: dict[str, _Unit], most: int = MAX_UNITS) -> list[_Unit]:
    """At most ``most``, chosen by a hash of their label: the same leak, the same units."""
    labels = sorted(units, key=lambda label: hashlib.blake2b(label.encode()).digest())
    return [units[label] for label in labels[:most]]


def coordinate_units(
    records: Sequence[Record], precisions: tuple[int, ...]
) -> list[CoordinateUnit]:
    """One unit per axis and place: the same value on many records is one mark, seen many times.

    Values are grouped by their first four decimals (11 m), the most precise writing kept: two
    writings of one served value are one unit, not two correlated ones.
    """
    found: dict[str, CoordinateUnit] = {}
    for record, axis, reading in _coordinates(records):
        label = f"{axis}|{reading.value:.4f}"
        known = found.get(label)
        if known is not None and known.reading.tolerance <= reading.tolerance:
            found[label] = CoordinateUnit(
                label, known.reading, known.probes, known.chance, (*known.lines, record.line)
            )
            continue
        unit_probes, chance = probes(
            reading, bases_of(reading, precisions, longitude=axis == "lon")
        )
        lines = (record.line,) if known is None else (*known.lines, record.line)
        found[label] = CoordinateUnit(label, reading, unit_probes, chance, lines)
    return _sample({label: unit for label, unit in found.items() if unit.probes})


def grid_units(records: Sequence[Record]) -> list[GridUnit]:
    """One unit per axis and run of the 4-decimal grid (``parity.py``) with a value written to 4
    decimals or more; a run's first point is everyone's and says nothing, so it is left out."""
    found: dict[tuple[str, int], tuple[set[int], list[int]]] = {}
    for record, axis, reading in _coordinates(records):
        point: GridReading | None = grid_point(
            reading.value, reading.tolerance, longitude=axis == "lon"
        )
        if point is None or not point.informative:
            continue
        points, lines = found.setdefault((axis, point.run), (set(), []))
        points.add(point.point)
        lines.append(record.line)
    units = {
        f"{axis}|{run}": GridUnit(axis, run, tuple(sorted(points)), tuple(lines))
        for (axis, run), (points, lines) in found.items()
    }
    return _sample(units, MAX_GRID_UNITS)


def _coordinates(records: Sequence[Record]) -> Iterator[tuple[Record, str, Reading]]:
    """Each record's latitude and longitude that read as coordinates, with their axis."""
    for record in records:
        for axis, names in (("lat", LATITUDE_NAMES), ("lon", LONGITUDE_NAMES)):
            text = _column(record, names)
            reading = None if text is None else read_coordinate(text)
            if reading is not None:
                yield record, axis, reading


def order_units(records: Sequence[Record]) -> list[OrderUnit]:
    """Disjoint pairs of consecutive records of equal rank: overlapping pairs would not be
    independent (a run of three is ascending with chance 1/6, not 1/4)."""
    pairs: dict[str, OrderUnit] = {}
    previous: tuple[str, str, int] | None = None
    for record in records:
        object_id = _column(record, ID_NAMES)
        rank = next((record.fields[name] for name in RANK_NAMES if name in record.fields), None)
        if not object_id or not rank:
            previous = None
            continue
        if previous is not None and previous[1] == rank and previous[0] != object_id:
            key = "|".join(sorted((previous[0], object_id)))
            pairs.setdefault(key, OrderUnit(previous[0], object_id, (previous[2], record.line)))
            previous = None
            continue
        previous = (object_id, rank, record.line)
    return _sample(pairs)


SAME_PICTURE_BITS = 8  # of the 64-bit average hash: copies of one photo differ by a few bits


def image_units(images: Sequence[tuple[str, Image.Image]]) -> list[ImageUnit]:
    """One unit per distinct picture: copies of one photo (resized, re-encoded) count once.
    Copies are told by an 8x8 average hash within a few bits of each other, not by an equal
    hash: a pixel near the mean flips its bit when the copy is re-encoded."""
    found: dict[str, ImageUnit] = {}
    hashes: list[np.ndarray] = []
    for name, picture in images:
        rest = image.residual(picture)
        if rest is None:
            continue
        thumb = np.asarray(picture.convert("L").resize((8, 8), Image.Resampling.BOX), float)
        bits = (thumb > thumb.mean()).ravel()
        if any(int(np.count_nonzero(bits != seen)) <= SAME_PICTURE_BITS for seen in hashes):
            continue
        hashes.append(bits)
        found["".join("1" if v else "0" for v in bits)] = ImageUnit(name, rest)
    return _sample(found)


def record_units(records: Sequence[Record], precisions: tuple[int, ...]) -> Units:
    """The units of a leak's records (no images)."""
    return Units(
        coordinate_units(records, precisions), order_units(records), [], grid_units(records)
    )


def units_of(leak: Leak, precisions: tuple[int, ...]) -> Units:
    units = record_units(leak.records, precisions)
    units.images = image_units([(str(path), picture) for path, picture in leak.images])
    return units


@dataclass(slots=True)
class Outcome:
    """How one candidate (under one key) fares on each unit: matched, and the chance of that."""

    matched: list[bool]
    chance: list[float]
    kinds: list[str]
    lines: list[tuple[int, ...]]


def unit_kinds(units: Units) -> list[str]:
    """The kind of every unit, in the order of ``outcomes``."""
    return (
        ["coordinate"] * len(units.coordinates)
        + ["grid"] * len(units.grids)
        + ["order"] * len(units.orders)
        + ["image"] * len(units.images)
    )


def outcomes(units: Units, actor_key: bytes, image_z: NDArray[np.float64] | None) -> Outcome:
    """``image_z``: this candidate's standardised score on each image unit."""
    result = Outcome([], [], [], [])
    for unit in units.coordinates:
        result.matched.append(matches(unit.probes, actor_key))
        result.chance.append(unit.chance)
        result.kinds.append("coordinate")
        result.lines.append(unit.lines)
    for grid in units.grids:
        # every value of the run on the actor's side; with two parities in one run, no actor's
        result.matched.append(all(accepts(actor_key, grid.axis, p) for p in grid.points))
        result.chance.append(GRID_CHANCE)
        result.kinds.append("grid")
        result.lines.append(grid.lines)
    for pair in units.orders:
        result.matched.append(in_actor_order(pair.first, pair.second, actor_key))
        result.chance.append(0.5)
        result.kinds.append("order")
        result.lines.append(pair.lines)
    if image_z is not None:
        for z in image_z:
            result.matched.append(bool(z > IMAGE_MATCH_Z))
            result.chance.append(IMAGE_CHANCE)
            result.kinds.append("image")
            result.lines.append(())
    return result


def image_scores(units: Units, actor_keys: Sequence[bytes]) -> NDArray[np.float64]:
    """Standardised image scores, candidates x images.

    Each image's scores are centred and scaled by the candidates' own spread (median, MAD; never
    narrower than the theoretical unit variance), so that cross-talk between patterns and the
    photo's content cannot pass for a match.
    """
    if not units.images or not actor_keys:
        return np.zeros((len(actor_keys), 0))
    patterns = np.stack([image.pattern(key).ravel() for key in actor_keys])
    residuals = np.stack([unit.residual.ravel() for unit in units.images], axis=1)
    norms = np.sqrt((residuals**2).sum(axis=0))
    norms[norms == 0] = 1.0
    z = patterns @ residuals / norms
    if len(actor_keys) >= 30:
        centre = np.median(z, axis=0)
        spread = np.maximum(1.0, 1.4826 * np.median(np.abs(z - centre), axis=0))
        z = (z - centre) / spread
    return np.asarray(z, dtype=np.float64)
