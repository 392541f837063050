"""Realistic entities for the case, notice and incident tests: the simulator's `small` scenario on
an evaluation seed, run once per test process, and the real detection engine over it."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from harvestguard.detect import DetectionEngine, DetectionReport, Entity
from harvestguard.simulate import GroundTruth, preset, run_event_mode

SEED = 23


@dataclass(frozen=True)
class Simulated:
    events: pa.Table
    truth: GroundTruth
    report: DetectionReport


@functools.cache
def simulated() -> Simulated:
    run = run_event_mode(preset("small").with_seed(SEED), keep=True)
    assert run.events is not None
    return Simulated(run.events, run.ground_truth, DetectionEngine().run(run.events))


def harvester(report: DetectionReport) -> Entity:
    """The geo-fence harvester: the flagged entity of a partner app sweeping venues."""
    found = [
        entity
        for entity in report.flagged
        if any(kind == "client" for kind, _ in entity.keys) and "geo_sweep" in entity.detectors
    ]
    assert len(found) == 1, [e.to_dict()["keys"] for e in found]
    return found[0]


def client_of(entity: Entity) -> str:
    clients = sorted(value for kind, value in entity.keys if kind == "client")
    assert len(clients) == 1
    return clients[0]


def write_store(events: pa.Table, root: Path) -> str:
    """The events as a ParquetSink store (a folder per UTC day); its sink URL."""
    days = pc.strftime(events["ts"], format="%Y-%m-%d", locale="C")
    for day in pc.unique(days):
        folder = root / f"date={day}"
        folder.mkdir(parents=True)
        pq.write_table(events.filter(pc.equal(days, day)), folder / "part-0.parquet")
    return f"parquet:{root}"
