"""Leak attribution: per-actor watermarks in what is served, and ``harvestguard attribute``.

docs/attribution.md describes the marks, the keys and the statistical test.
"""

from harvestguard.attribute.identity import identity_of, mark_identity
from harvestguard.attribute.keys import WatermarkKey, WatermarkKeyError, WatermarkKeys
from harvestguard.attribute.serve import Watermarker, watermarker_for

__all__ = [
    "WatermarkKey",
    "WatermarkKeyError",
    "WatermarkKeys",
    "Watermarker",
    "identity_of",
    "mark_identity",
    "watermarker_for",
]
