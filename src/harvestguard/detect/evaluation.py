"""The detectors ``harvestguard eval`` can score: the detection engine (default) or the baseline."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pyarrow as pa

from harvestguard.detect.context import context_from_world
from harvestguard.detect.detection import DetectionEngine
from harvestguard.evaluate.baseline import IpThresholdBaseline
from harvestguard.evaluate.harness import Detector
from harvestguard.evaluate.metrics import FlaggedEntity
from harvestguard.simulate.world import World


class EvalDetector(enum.StrEnum):
    ENGINE = "engine"
    BASELINE = "baseline"


@dataclass(slots=True)
class EngineWithContext:
    """The engine as a platform runs it: with the context tables its world supplies (follows,
    accounts, stories, posts, venues, partner apps), so the detectors that need them run too."""

    engine: DetectionEngine

    @property
    def name(self) -> str:
        return self.engine.name

    def __call__(self, events: pa.Table, world: World) -> list[FlaggedEntity]:
        return self.engine.run(events, context_from_world(world)).flagged_entities()


def eval_detector(choice: EvalDetector, threshold: int, window_minutes: int) -> Detector:
    """The engine with its shipped detectors and calibrated weights, or the per-IP baseline
    (``threshold`` requests per ``window_minutes``)."""
    if choice is EvalDetector.BASELINE:
        return IpThresholdBaseline(max_requests=threshold, window_minutes=window_minutes)
    return EngineWithContext(DetectionEngine())
