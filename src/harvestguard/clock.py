"""The guard's clock: real time, or time running faster for a simulation and its demo.

Detectors judge behaviour over minutes and hours (windows, horizons, inter-arrival times). When
the simulator drives real HTTP ``speed`` times faster than life, the guard must see the same
accelerated time, or every benign visitor would look ``speed`` times too busy. A ``ScaledClock``
maps real time to the simulation's: ``origin + (real - origin) * speed``. Everything that stamps
or expires (events, decisions, the enforcement loop) asks one clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def seconds(self, real_seconds: float) -> float:
        """How many seconds of this clock pass in ``real_seconds`` of real time."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def seconds(self, real_seconds: float) -> float:
        return real_seconds


@dataclass(frozen=True, slots=True)
class ScaledClock:
    """Time ``speed`` times faster than real time from ``origin`` (POSIX seconds) on."""

    origin: float
    speed: float

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("the clock's speed must be positive")

    def now(self) -> datetime:
        real = time.time()
        return datetime.fromtimestamp(self.origin + (real - self.origin) * self.speed, UTC)

    def seconds(self, real_seconds: float) -> float:
        return real_seconds * self.speed


SYSTEM_CLOCK = SystemClock()


def clock_from_settings(speed: float | None, origin: float | None) -> Clock:
    """The system clock, unless a speed other than 1 is set (``HARVESTGUARD_TIME_SPEED`` and
    ``HARVESTGUARD_TIME_ORIGIN``, for simulations only)."""
    if speed is None or speed == 1.0:
        return SYSTEM_CLOCK
    return ScaledClock(origin=time.time() if origin is None else origin, speed=speed)
