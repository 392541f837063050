"""Entity risk: a noisy-OR of calibrated detector scores.

Each detector d has a weight w_d, the precision of its findings measured on calibration seeds of
the simulator (``harvestguard.detect.calibrate``; never the evaluation seeds): the probability
that a key it fires on belongs to an adversary. A finding with score s in [0, 1] contributes
w_d * s, and an entity's risk is ``1 - prod(1 - w_d * s_d)`` over its detectors, taking each
detector's strongest score so far. Independent weak signals add up; one weak signal stays weak.
Detectors without a calibrated weight (a user's) get one from their severity.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from harvestguard.detect.findings import Finding

CALIBRATION_FILE = Path(__file__).parent / "calibration.json"
SEVERITY_WEIGHTS = {"low": 0.3, "medium": 0.6, "high": 0.85, "critical": 0.95}
FLAG_THRESHOLD = 0.5


def load_weights(path: Path = CALIBRATION_FILE) -> dict[str, float]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {str(k): float(v) for k, v in data.get("weights", {}).items()}


def weight_of(finding: Finding, weights: Mapping[str, float]) -> float:
    return weights.get(finding.detector, SEVERITY_WEIGHTS[finding.severity])


def noisy_or(contributions: Iterable[float]) -> float:
    remaining = 1.0
    for value in contributions:
        remaining *= 1.0 - min(1.0, max(0.0, value))
    return 1.0 - remaining


def risk_over_time(
    findings: Iterable[Finding], weights: Mapping[str, float], threshold: float = FLAG_THRESHOLD
) -> tuple[float, datetime | None]:
    """The final risk, and the first moment it reached ``threshold`` (None if it never did)."""
    steps = sorted(
        (moment, finding.detector, score * weight_of(finding, weights))
        for finding in findings
        for moment, score in finding.timeline
    )
    best: dict[str, float] = {}
    crossed: datetime | None = None
    for moment, detector, contribution in steps:
        best[detector] = max(best.get(detector, 0.0), contribution)
        if crossed is None and noisy_or(best.values()) >= threshold:
            crossed = moment
    return noisy_or(best.values()), crossed
