"""The detectors ``harvestguard eval`` can score: the detection engine (default) or the baseline."""

from __future__ import annotations

import enum

from harvestguard.detect.detection import DetectionEngine
from harvestguard.evaluate.baseline import IpThresholdBaseline
from harvestguard.evaluate.harness import Detector


class EvalDetector(enum.StrEnum):
    ENGINE = "engine"
    BASELINE = "baseline"


def eval_detector(choice: EvalDetector, threshold: int, window_minutes: int) -> Detector:
    """The engine with its shipped detectors and calibrated weights, or the per-IP baseline
    (``threshold`` requests per ``window_minutes``)."""
    if choice is EvalDetector.BASELINE:
        return IpThresholdBaseline(max_requests=threshold, window_minutes=window_minutes)
    return DetectionEngine()
