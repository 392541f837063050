"""A small scenario and its run, shared by the simulator's tests (run once per session)."""

from __future__ import annotations

import functools

from harvestguard.simulate import RunResult, Scenario, run_event_mode
from harvestguard.simulate.engine import Simulation

TINY = Scenario.from_dict(
    {
        "preset": "small",
        "name": "tiny",
        "duration_hours": 8,
        "users": 400,
        "people": 150,
        "power_users": 8,
        "anonymous_visitors": 20,
        "venues": 40,
    }
)


SEED = 7


@functools.cache
def tiny_run() -> RunResult:
    return run_event_mode(TINY.with_seed(SEED))


def tiny_simulation() -> Simulation:
    """A fresh simulation of the same run: its world, actors and keys, before any event."""
    return Simulation(TINY.with_seed(SEED))
