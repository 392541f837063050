"""End to end on the simulator's `small` scenario, with a seed that was not used to calibrate
(calibration used 101..105): the engine beats the fail2ban-style baseline by a wide margin."""

from __future__ import annotations

from harvestguard.detect import DetectionEngine
from harvestguard.detect.evaluation import EngineWithContext
from harvestguard.evaluate import IpThresholdBaseline, evaluate
from harvestguard.simulate import preset

SEED = 23


def test_engine_beats_the_baseline_on_an_unseen_seed() -> None:
    scenario = preset("small")
    engine = evaluate(scenario, [SEED], EngineWithContext(DetectionEngine())).summary()
    baseline = evaluate(scenario, [SEED], IpThresholdBaseline(max_requests=100)).summary()
    overall = engine["overall"]
    assert overall["f1"] is not None and overall["f1"] >= 0.9
    assert overall["precision"] == 1.0
    assert (overall["benign_acted_on_share"] or 0.0) <= 0.001
    assert baseline["overall"]["f1"] is not None
    assert overall["f1"] >= baseline["overall"]["f1"] + 0.3
    for name in ("geofence_harvester", "profile_enumerator", "scope_abuser", "story_archiver"):
        assert engine[name]["recall"] == 1.0, name
    # sock puppets and rotating addresses are linked: one entity per adversary
    for name in ("low_and_slow", "story_archiver", "profile_enumerator"):
        assert engine[name]["entities_per_detected"] == 1.0, name
