"""The grid mark of full-precision coordinates: it survives rounding to 4 decimals (11 m).

The sub-precision mark of ``coordinates.py`` lives below 1.1 m, and a leak written with 4
decimals has lost it. This mark lives in the 4th decimal itself. Along each axis, the points of
the 4-decimal grid are grouped in runs of ``REGION`` (a 3-decimal cell, 110 m of latitude); in
each run, a keyed bit of the actor says whether its even or its odd points are the actor's (the
run's first point is everyone's, so that no two neighbouring points are both refused). A served
value is moved to the nearest 5-decimal point that rounds to one of the actor's grid points, at
least ``MARGIN`` steps of 1e-5 inside it so that rounding to 6 or 5 decimals first changes
nothing; the sub-precision mark then goes below that point as before. Every refused grid point has
both neighbours accepted, so the 5-decimal point is at most 6.5e-5 degree from the value, and
with the sub-precision mark the served value at most 7e-5 (7.8 m of latitude, less of
longitude), 2 m on average: a venue's coordinate, not a person's fix, moved within the venue.

In a leak, a coordinate written with 4 decimals or more shows its grid point; for an actor the
data was not served to, it lies on the actor's side of the run with chance 1/2 (a fair keyed
coin, whatever the value), except on a run's first point, which says nothing. A run is one unit:
the values of a leak in the same run share one keyed bit.
"""

from __future__ import annotations

import hashlib
import math
from typing import NamedTuple

GRID_DECIMALS = 4
REGION = 10  # grid points per run: one 3-decimal cell
MARGIN = 1  # steps of 1e-5 kept clear of a grid point's rounding boundary
_FINE_PER_GRID = 10  # 5-decimal steps per 4-decimal step
CHANCE = 0.5
_LIMITS = {"lat": 90.0, "lon": 180.0}


def _bit(actor_key: bytes, axis: str, run: int) -> int:
    digest = hashlib.blake2b(
        f"{axis}|{run}".encode(), key=actor_key, digest_size=8, person=b"hg-wm-grid"
    ).digest()
    return digest[-1] & 1


def accepts(actor_key: bytes, axis: str, point: int) -> bool:
    """Whether the 4-decimal grid point ``point`` (the value times 10^4) is one of the actor's."""
    run, position = divmod(point, REGION)
    return position == 0 or position % 2 == _bit(actor_key, axis, run)


def place(value: float, actor_key: bytes, *, longitude: bool) -> float:
    """The 5-decimal value nearest ``value`` that rounds, to 4 decimals, to one of the actor's
    grid points, at least MARGIN steps inside it."""
    axis = "lon" if longitude else "lat"
    fine = round(value * 10**5)
    point = math.floor((fine + _FINE_PER_GRID // 2) / _FINE_PER_GRID)
    offset = fine - point * _FINE_PER_GRID  # -5 .. 4
    reach = _FINE_PER_GRID // 2 - MARGIN
    if accepts(actor_key, axis, point):
        fine = point * _FINE_PER_GRID + max(-reach, min(reach, offset))
    elif offset >= 0:  # both neighbours are accepted: go to the one on the value's side
        fine = (point + 1) * _FINE_PER_GRID - reach
    else:
        fine = (point - 1) * _FINE_PER_GRID + reach
    placed = fine / 10**5
    return placed if abs(placed) <= _LIMITS[axis] else value


class GridReading(NamedTuple):
    """A leaked coordinate's grid point, when it was written with 4 decimals or more."""

    axis: str
    point: int

    @property
    def run(self) -> int:
        return self.point // REGION

    @property
    def informative(self) -> bool:
        return self.point % REGION != 0


def grid_point(value: float, tolerance: float, *, longitude: bool) -> GridReading | None:
    """The grid point a leaked value shows (``tolerance``: half a unit of its last digit), or
    None when it was written with fewer than 4 decimals."""
    if tolerance > 0.5 * 10.0**-GRID_DECIMALS * (1 + 1e-9):
        return None
    return GridReading("lon" if longitude else "lat", round(value * 10**GRID_DECIMALS))
