"""Scoring detection and enforcement on labelled traffic: metrics, a baseline, the harness."""

from harvestguard.evaluate.baseline import IpThresholdBaseline
from harvestguard.evaluate.harness import Detector, Evaluation, evaluate
from harvestguard.evaluate.metrics import (
    EnforcementAction,
    FlaggedEntity,
    Scores,
    actions_from_flags,
    attribute,
    score,
)

__all__ = [
    "Detector",
    "EnforcementAction",
    "Evaluation",
    "FlaggedEntity",
    "IpThresholdBaseline",
    "Scores",
    "actions_from_flags",
    "attribute",
    "evaluate",
    "score",
]
