"""Calibrating the risk weights on simulator seeds that are not the evaluation seeds.

    .venv/bin/python -m harvestguard.detect.calibrate --preset small --seeds 101,102,103,104,105

For each seed the scenario runs twice through the detectors, without context tables (what the
evaluation sees) and with the context a simulated world supplies; every finding is attributed
to the actor that made most events with its key. A detector's weight is its precision with a
Laplace prior, (true + 1) / (true + false + 2): the probability that a key it fires on is an
adversary's. The weights and the counts behind them go to ``calibration.json`` next to this
module, which ``risk.load_weights`` reads.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harvestguard.detect.context import context_from_world
from harvestguard.detect.detection import DetectionEngine
from harvestguard.detect.risk import CALIBRATION_FILE
from harvestguard.evaluate.metrics import FlaggedEntity, attribute
from harvestguard.simulate.generate import generate_world
from harvestguard.simulate.run import run_event_mode
from harvestguard.simulate.scenario import Scenario, preset


def calibrate(scenarios: Sequence[Scenario]) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    engine = DetectionEngine(weights={})
    for scenario in scenarios:
        world = generate_world(scenario)
        run = run_event_mode(scenario, world=world, keep=True)
        assert run.events is not None
        for context in (None, context_from_world(world)):
            report = engine.run(run.events, context)
            for finding in report.findings:
                actor = attribute(
                    FlaggedEntity(frozenset({finding.key}), finding.first_fired_at),
                    run.ground_truth,
                )
                hit = actor is not None and run.ground_truth.actors[actor].adversary
                tally = counts.setdefault(finding.detector, {"true": 0, "false": 0})
                tally["true" if hit else "false"] += 1
    weights = {
        detector: round((c["true"] + 1) / (c["true"] + c["false"] + 2), 4)
        for detector, c in sorted(counts.items())
    }
    return {
        "scenarios": [{"name": s.name, "seed": s.seed} for s in scenarios],
        "counts": dict(sorted(counts.items())),
        "weights": weights,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Calibrate the detectors' risk weights.")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--seeds", default="101,102,103,104,105")
    parser.add_argument("--output", type=Path, default=CALIBRATION_FILE)
    args = parser.parse_args(argv)
    base = preset(args.preset)
    scenarios = [base.with_seed(int(seed)) for seed in args.seeds.split(",")]
    result = calibrate(scenarios)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["weights"], indent=2))


if __name__ == "__main__":
    main()
