"""Batch and incremental mode give the same findings and entities on the same events."""

from __future__ import annotations

import bisect
from pathlib import Path

import pyarrow as pa
import pytest

from harvestguard.detect import DetectionEngine, DetectionReport, load_detectors
from harvestguard.detect.incremental import IncrementalDetector
from tests.detect_helpers import table, view
from tests.simulate_helpers import tiny_run


def _summary(report: DetectionReport) -> tuple[set[tuple[object, ...]], set[tuple[object, ...]]]:
    findings: set[tuple[object, ...]] = {
        (f.detector, f.key, f.first_fired_at, round(f.score, 9)) for f in report.findings
    }
    entities: set[tuple[object, ...]] = {
        (e.keys, e.detected_at, round(e.risk, 9)) for e in report.flagged
    }
    return findings, entities


def _slices(events: pa.Table, seconds: float) -> list[pa.Table]:
    """Consecutive pieces of ``seconds`` of traffic each, as a live feed would deliver them."""
    moments = [int(m) for m in events.column("ts").cast(pa.int64()).to_pylist() if m is not None]
    step = int(seconds * 1_000_000)
    slices, position, edge = [], 0, moments[0]
    while position < events.num_rows:
        edge += step
        end = bisect.bisect_left(moments, edge, lo=position)
        slices.append(events.slice(position, end - position))
        position = end
    return slices


def test_incremental_equals_batch_on_a_simulated_run() -> None:
    events = tiny_run().events
    assert events is not None
    engine = DetectionEngine()
    batch = engine.run(events)
    assert batch.flagged, "the scenario has adversaries the engine finds"
    live = IncrementalDetector(engine, evaluate_every_seconds=1800)
    emitted = []
    for piece in _slices(events, 300):
        emitted += live.add(piece)
    final = live.report()
    live.close()
    assert _summary(final) == _summary(batch)
    # findings came out while the traffic was still flowing, not only at the end
    assert {(f.detector, f.key) for f in emitted} <= {(f.detector, f.key) for f in batch.findings}
    assert len({(f.detector, f.key) for f in emitted}) >= len(batch.findings) // 2


def test_incremental_refuses_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="retain_hours"):
        IncrementalDetector(DetectionEngine(), retain_hours=0)


def test_batch_over_a_time_range_only_sees_that_range() -> None:
    events = tiny_run().events
    assert events is not None
    engine = DetectionEngine()
    start = events.column("ts")[0].as_py()
    report = engine.run(events, start=start, end=start)
    assert report.findings == [] and report.entities == []


WINDOWED = """\
-- ---
-- id: {id}
-- title: Many views in ten minutes
-- severity: medium
-- tos_clause: "4.3 No excessive requests"
-- monotone: {monotone}
-- explanation: "{{views}} views"
-- ---
SELECT actor_kind, actor_key, floor(epoch_s / 600) * 600 AS window_start,
       (floor(epoch_s / 600) + 1) * 600 AS window_end, 1.0 AS score, count(*) AS views
FROM events GROUP BY actor_kind, actor_key, floor(epoch_s / 600) HAVING count(*) >= 5
"""


@pytest.mark.parametrize("monotone", [True, False])
def test_a_monotone_detector_is_acted_on_before_its_window_closes(
    tmp_path: Path, monotone: bool
) -> None:
    """Five views cross the threshold early in a ten-minute window: a count that more events
    cannot take back goes out at once; any other finding waits for the window to close."""
    detector = f"views_{str(monotone).lower()}"
    (tmp_path / f"{detector}.sql").write_text(
        WINDOWED.format(id=detector, monotone=str(monotone).lower())
    )
    live = IncrementalDetector(
        DetectionEngine(load_detectors([tmp_path], builtin=False)), evaluate_every_seconds=0
    )
    try:
        early = live.add(table(view(60 + s, s, account="busy") for s in range(5)))
        late = live.add(table([view(700, 99, account="calm")]))
    finally:
        live.close()
    assert [(f.detector, f.key) for f in early] == (
        [(detector, ("account", "busy"))] if monotone else []
    )
    assert [(f.detector, f.key) for f in early + late] == [(detector, ("account", "busy"))]
