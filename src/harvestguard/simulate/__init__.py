"""Labelled traffic: a synthetic world, benign and adversarial actors, events with ground truth.

``run_event_mode(scenario)`` generates AccessEvents on a virtual clock; docs/simulator.md
describes the actors, their parameters, the world manifest and the ground truth.
"""

from harvestguard.simulate.groundtruth import ActorRecord, GroundTruth, KeyRecord
from harvestguard.simulate.run import RunResult, run_event_mode
from harvestguard.simulate.scenario import PRESETS, Range, Scenario, ScenarioError, preset

__all__ = [
    "PRESETS",
    "ActorRecord",
    "GroundTruth",
    "KeyRecord",
    "Range",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "preset",
    "run_event_mode",
]
