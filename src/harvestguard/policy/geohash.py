"""Coarsening a coordinate to the centre of its geohash cell.

A geohash of P characters encodes 5P bits that alternate longitude, latitude, longitude, ...,
each bit halving the interval of its axis. Longitude therefore gets ceil(5P/2) bits and latitude
floor(5P/2), and the cell of a coordinate along one axis does not depend on the other axis. So each
field can be snapped on its own, to an equal-width grid, without encoding the geohash string, and
without a geohash dependency for ten lines of arithmetic.
"""

from __future__ import annotations

MAX_PRECISION = 12


def _grid(precision: int, *, longitude: bool) -> tuple[float, float, int]:
    bits = (5 * precision + 1) // 2 if longitude else (5 * precision) // 2
    low, high = (-180.0, 180.0) if longitude else (-90.0, 90.0)
    return low, (high - low) / (1 << bits), 1 << bits


# (precision, longitude) -> (lower bound of the axis, width of one cell, number of cells); widths
# are exact binary fractions of the axis span, which is what makes the boundary checks below exact.
_GRIDS = {
    (precision, longitude): _grid(precision, longitude=longitude)
    for precision in range(1, MAX_PRECISION + 1)
    for longitude in (False, True)
}


def snap(value: object, precision: int, *, longitude: bool) -> float | None:
    """The centre of the geohash cell of ``value`` along its axis; None for anything else.

    A value that is not a coordinate of the axis (a string, a bool, NaN, out of range) comes out as
    None rather than unchanged: a policy that coarsens must never pass on a finer value.
    """
    low, width, cells = _GRIDS[precision, longitude]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not low <= value <= -low:  # also false for NaN
        return None
    index = min(int((value - low) / width), cells - 1)
    # The division can round across a cell boundary; geohash bisection compares exactly, and the
    # boundaries low + k*width are exact floats, so one step of correction gives its answer.
    if value < low + index * width:
        index -= 1
    elif index + 1 < cells and value >= low + (index + 1) * width:
        index += 1
    return low + (index + 0.5) * width
