"""``evaluate``: run a scenario under several seeds, hand the events to a detector, score it.

A detector is any callable from the events (an Arrow table in the AccessEvent schema) and the
simulated platform (what a real platform would know: who follows whom, accounts, content) to
flagged entities. The guard is taken to block every key of an entity when it is flagged, unless an
``enforce`` callable says what it does instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

import pyarrow as pa

from harvestguard.evaluate.metrics import (
    EnforcementAction,
    FlaggedEntity,
    actions_from_flags,
    score,
)
from harvestguard.simulate.engine import Progress
from harvestguard.simulate.groundtruth import GroundTruth
from harvestguard.simulate.run import run_event_mode
from harvestguard.simulate.scenario import ADVERSARY_CLASSES, Scenario
from harvestguard.simulate.world import World

Detector = Callable[[pa.Table, World], Sequence[FlaggedEntity]]
Enforcer = Callable[[Sequence[FlaggedEntity]], Sequence[EnforcementAction]]


@dataclass(slots=True)
class Evaluation:
    scenario: str
    detector: str
    seeds: list[int]
    runs: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, float | None]]:
        """Per class and overall, each metric averaged over the seeds."""
        classes = sorted(
            {c for run in self.runs for c in run["per_class"]},
            key=lambda c: ADVERSARY_CLASSES.index(c) if c in ADVERSARY_CLASSES else 99,
        )
        rows: dict[str, dict[str, float | None]] = {}
        for name in [*classes, "overall"]:
            scores = [
                run["overall"] if name == "overall" else run["per_class"].get(name)
                for run in self.runs
            ]
            present = [s for s in scores if s is not None]
            rows[name] = {
                metric: _mean([s[metric] for s in present])
                for metric in (
                    "actors",
                    "precision",
                    "recall",
                    "f1",
                    "entities_per_detected",
                    "median_detection_seconds",
                    "max_records_disclosed",
                )
            }
        rows["overall"]["benign_acted_on_share"] = _mean(
            [run["benign_acted_on_share"] for run in self.runs]
        )
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "detector": self.detector,
            "seeds": self.seeds,
            "summary": self.summary(),
            "runs": self.runs,
        }

    def markdown(self) -> str:
        summary = self.summary()
        lines = [
            f"Scenario `{self.scenario}`, detector: {self.detector}; mean over seeds "
            f"{', '.join(map(str, self.seeds))}.",
            "",
            "| adversary class | actors | precision | recall | F1 | entities per adversary | median time to detection | records disclosed (max) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, row in summary.items():
            lines.append(
                f"| {name} | {_number(row['actors'], 1)} | {_number(row['precision'])} "
                f"| {_number(row['recall'])} | {_number(row['f1'])} "
                f"| {_number(row['entities_per_detected'], 2)} "
                f"| {duration_text(row['median_detection_seconds'])} "
                f"| {_number(row['max_records_disclosed'], 0)} |"
            )
        share = summary["overall"]["benign_acted_on_share"] or 0.0
        lines += ["", f"Benign actors wrongly acted on: {share:.2%}."]
        lines += ["", *self._caught_markdown()]
        return "\n".join(lines) + "\n"

    def _caught_markdown(self) -> list[str]:
        """Per detector, the flagged entities it fired on by class, summed over the seeds."""
        totals: dict[str, dict[str, int]] = {}
        for run in self.runs:
            for detector, per_class in run.get("caught_by_detector", {}).items():
                row = totals.setdefault(detector, {})
                for label, count in per_class.items():
                    row[label] = row.get(label, 0) + count
        if not totals:
            return []
        lines = [
            "Flagged entities each detector fired on, by the class of the actor they stand for "
            "(summed over the seeds):",
            "",
            "| detector | adversaries | benign or nobody |",
            "|---|---|---|",
        ]
        for detector, row in sorted(totals.items()):
            bad = ", ".join(f"{c} {n}" for c, n in row.items() if c in ADVERSARY_CLASSES)
            good = ", ".join(f"{c} {n}" for c, n in row.items() if c not in ADVERSARY_CLASSES)
            lines.append(f"| `{detector}` | {bad or '-'} | {good or '-'} |")
        return lines

    def write(self, directory: str | Path) -> tuple[Path, Path]:
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        json_path, markdown_path = target / "evaluation.json", target / "evaluation.md"
        json_path.write_text(json.dumps(self.to_dict(), indent=2))
        markdown_path.write_text(self.markdown())
        return json_path, markdown_path


def evaluate(
    scenario: Scenario,
    seeds: Sequence[int],
    detector: Detector,
    *,
    enforce: Enforcer | None = None,
    name: str | None = None,
    progress: Callable[[int], Progress] | None = None,
) -> Evaluation:
    """Scores ``detector`` on the scenario under each seed; ``progress(seed)`` may give a callback."""
    if not seeds:
        raise ValueError("evaluate needs at least one seed")
    label = name or getattr(detector, "name", None) or getattr(detector, "__name__", "detector")
    evaluation = Evaluation(scenario.name, str(label), list(seeds))
    for seed in seeds:
        run = run_event_mode(
            scenario.with_seed(seed),
            keep=True,
            progress=None if progress is None else progress(seed),
        )
        assert run.events is not None and run.labels is not None and run.world is not None
        flags = list(detector(run.events, run.world))
        actions = list(enforce(flags)) if enforce is not None else actions_from_flags(flags)
        scores = score(
            run.ground_truth,
            flags,
            actions=actions,
            events=run.events,
            labels=run.labels.to_pylist(),
        )
        caught = caught_by_detector(flags, scores.attribution, run.ground_truth)
        evaluation.runs.append(
            {"seed": seed, "events": run.count, **scores.to_dict(), "caught_by_detector": caught}
        )
    return evaluation


def caught_by_detector(
    flags: Sequence[FlaggedEntity], attribution: Sequence[str | None], truth: GroundTruth
) -> dict[str, dict[str, int]]:
    """Per detector (the part before ':' of each reason), how many flagged entities it fired on
    per class of the actor they stand for: an adversary class, a benign class, or "nobody"."""
    caught: dict[str, dict[str, int]] = {}
    for entity, actor_id in zip(flags, attribution, strict=True):
        label = "nobody" if actor_id is None else truth.actors[actor_id].actor_class
        for detector in {reason.partition(":")[0] for reason in entity.reasons}:
            per_class = caught.setdefault(detector, {})
            per_class[label] = per_class.get(label, 0) + 1
    return {detector: dict(sorted(c.items())) for detector, c in sorted(caught.items())}


def _mean(values: Sequence[Any]) -> float | None:
    numbers = [v for v in values if v is not None]
    return mean(numbers) if numbers else None


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "not detected"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
