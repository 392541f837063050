"""Marks in the digits of a coordinate that carry no information about the place.

A coordinate is served either at full precision or coarsened to the centre of its geohash cell
(``harvestguard.policy.redact``). Each has a noise floor below which its digits say nothing:
- full precision: a coordinate names a place (a venue), not a person's fix; below ``RAW_DECIMALS``
  decimals (1.1 m) it says nothing more, and the mark moves it by less than 0.55 m from the
  5-decimal point it was placed on; that point is chosen by the grid mark of ``parity.py``, which
  survives rounding to 4 decimals, where this one does not;
- coarsened: the audience may know the cell and nothing finer, so every point of the cell is as
  true as its centre; the mark moves the value off the centre to a keyed point of the same cell.
The mark is a keyed function of the actor and the value's base (the rounded value or the cell),
not of the place's true position, so it reveals nothing finer than the policy allows, and the
same actor sees the same value on every visit. The mark can be checked from the value alone: a
leak needs no ids for its coordinates to speak.
"""

from __future__ import annotations

import hashlib
import math
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from harvestguard.attribute.parity import place
from harvestguard.policy.geohash import MAX_PRECISION, snap

RAW_DECIMALS = 5
RAW_WIDTH = 10.0**-RAW_DECIMALS
RAW_LEVELS = 100_000  # marks in steps of 1e-10 degree below that
CELL_LEVELS = 1 << 20
_LATITUDE, _LONGITUDE = "lat", "lon"


class Base(NamedTuple):
    """Where a coordinate's mark lives: its unmarked value and the width it may move within."""

    label: str  # what the mark is keyed on
    centre: float
    width: float
    levels: int


def raw_base(value: float, *, longitude: bool) -> Base:
    rounded = round(value, RAW_DECIMALS) + 0.0  # + 0.0: -0.0 is written "-0.00000", one label
    axis = _LONGITUDE if longitude else _LATITUDE
    return Base(f"{axis}|raw|{rounded:.{RAW_DECIMALS}f}", rounded, RAW_WIDTH, RAW_LEVELS)


def _cell(precision: int, *, longitude: bool) -> tuple[float, float]:
    """The lower bound of the axis and the width of a geohash cell along it (policy/geohash.py)."""
    bits = (5 * precision + 1) // 2 if longitude else (5 * precision) // 2
    low = -180.0 if longitude else -90.0
    return low, -2 * low / (1 << bits)


def cell_base(value: float, precision: int, *, longitude: bool) -> Base | None:
    centre = snap(value, precision, longitude=longitude)
    if centre is None:
        return None
    low, width = _cell(precision, longitude=longitude)
    index = round((centre - low) / width - 0.5)
    axis = _LONGITUDE if longitude else _LATITUDE
    return Base(f"{axis}|p{precision}|{index}", centre, width, CELL_LEVELS)


def _level(actor_key: bytes, base: Base) -> int:
    # the same computation as ``matches``, which inlines it for speed
    digest = hashlib.blake2b(base.label.encode(), key=actor_key, digest_size=8).digest()
    return int.from_bytes(digest, "big") % base.levels


def marked_value(base: Base, actor_key: bytes) -> float:
    """The actor's point of the base: strictly inside it, within half its width of the centre."""
    offset = ((_level(actor_key, base) + 0.5) / base.levels - 0.5) * base.width
    return base.centre + offset


def mark_coordinate(original: float, served: float, *, longitude: bool, actor_key: bytes) -> float:
    """The served value with the actor's marks: coarsened values move within their cell; full
    values move to one of the actor's 4-decimal grid points (``parity.py``) and are marked below
    the stored precision."""
    if served == original:
        on_grid = place(served, actor_key, longitude=longitude)
        return marked_value(raw_base(on_grid, longitude=longitude), actor_key)
    for precision in range(1, MAX_PRECISION + 1):
        if snap(original, precision, longitude=longitude) == served:
            base = cell_base(served, precision, longitude=longitude)
            if base is not None:
                return marked_value(base, actor_key)
    return served  # not a coarsening this module knows: left as the policy made it


class Reading(NamedTuple):
    """One coordinate found in a leak: its value and how finely the leak wrote it."""

    value: float
    tolerance: float  # half a unit of the last digit written


def read_coordinate(text: str) -> Reading | None:
    """A coordinate written in a leak, or None when the text is not one."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    value = float(number)
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    # a value written with all the digits of a float is exact to half an ulp
    digits = -exponent if exponent < 0 else 0
    tolerance = 0.5 * 10.0**-digits if digits < 15 else 0.0
    tolerance = max(tolerance, math.ulp(value) * 4)
    if not -180.0 <= value <= 180.0:
        return None
    return Reading(value, tolerance)


class Check(NamedTuple):
    label: str  # the unit the evidence is about: one base of one axis
    matched: bool
    chance: float  # probability of a match for an actor the value was not served to


def bases_of(reading: Reading, precisions: tuple[int, ...], *, longitude: bool) -> list[Base]:
    """Every base the value could have been marked in: full precision, or a cell of one of the
    precisions the policy coarsens to; a base whose mark the leak's rounding erased is left out."""
    candidates: list[Base | None] = [raw_base(reading.value, longitude=longitude)]
    candidates += [
        cell_base(reading.value, precision, longitude=longitude) for precision in precisions
    ]
    return [
        base for base in candidates if base is not None and 2 * reading.tolerance < base.width / 4
    ]


class Probe(NamedTuple):
    """One base of a leaked value, ready to test candidates against: the value's position on the
    base's lattice of marks, and how far from it a mark still matches (both in lattice steps)."""

    label: bytes
    levels: int
    position: float
    reach: float


def probes(reading: Reading, bases: list[Base]) -> tuple[list[Probe], float]:
    """The probes of a value, and the chance that one of them matches for an actor the value was
    not marked for (the sum over bases: a union bound)."""
    found = []
    chance = 0.0
    for base in bases:
        step = base.width / base.levels
        position = (reading.value - base.centre) / step + base.levels / 2 - 0.5
        reach = reading.tolerance / step + 0.5
        found.append(Probe(base.label.encode(), base.levels, position, reach))
        # lattice points of another actor's marks that round to a value this close to ours
        chance += (2 * reading.tolerance / step + 2) / base.levels
    return found, min(1.0, chance)


def matches(unit_probes: list[Probe], actor_key: bytes) -> bool:
    """Whether the value is the actor's mark in one of its bases."""
    for probe in unit_probes:
        digest = hashlib.blake2b(probe.label, key=actor_key, digest_size=8).digest()
        if abs(int.from_bytes(digest, "big") % probe.levels - probe.position) <= probe.reach:
            return True
    return False
