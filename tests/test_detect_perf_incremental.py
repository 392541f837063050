"""Incremental mode recomputes only what can have changed: a detector that declares what its rows
start afresh at is re-run over the events since then, and the rows it keeps are at every
evaluation those of a full run over everything seen so far."""

from __future__ import annotations

import bisect
import itertools
from pathlib import Path

import pyarrow as pa
import pytest

from harvestguard.detect import DetectionEngine, DetectorError, parse_detector
from harvestguard.detect.context import CONTEXT_SCHEMAS
from harvestguard.detect.incremental import IncrementalDetector, reset_period
from tests.simulate_helpers import tiny_run

# shorter horizons and windows than the defaults, so that the eight-hour run spans several of
# them and the recomputation is really narrowed; bars lowered so that the detectors fire
PARAMETERS: dict[str, dict[str, object]] = {
    "breadth": {"horizon_hours": 1, "min_strangers": 20, "min_share_strangers": 5},
    "data_limit": {
        "horizon_hours": 2,
        "limit_identity": 30,
        "limit_location": 10,
        "limit_photo": 30,
        "limit_ephemeral": 5,
        "limit_social_graph": 10,
        "limit_contact": 3,
    },
    "partner_scope_abuse": {"horizon_hours": 1},
    "volume_peer": {"min_z": 2.0, "min_requests": 20},
    "timing_regularity": {"window_minutes": 30, "min_requests": 5, "max_cv": 0.6},
    "enumeration": {"min_items": 5, "min_own_share": 0.2},
    # the two look-back detectors that became horizon-bound (their browser builds and the people
    # shown on location pages are taken from the same horizon)
    "geo_sweep": {"horizon_hours": 1, "min_venues": 1, "min_polls_per_venue": 1.0},
    "puppet_cohort": {
        "horizon_hours": 2,
        "min_strangers": 3,
        "min_stranger_share": 0.5,
        "min_cohort": 2,
    },
}


def _slices(events: pa.Table, seconds: float) -> list[pa.Table]:
    moments = [int(m or 0) for m in events.column("ts").cast(pa.int64()).to_pylist()]
    step = int(seconds * 1_000_000)
    cuts = [0]
    while cuts[-1] < events.num_rows:
        edge = (moments[cuts[-1]] // step + 1) * step
        cuts.append(bisect.bisect_left(moments, edge, lo=cuts[-1]))
    return [events.slice(a, b - a) for a, b in itertools.pairwise(cuts)]


def _normal(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return sorted(
        (
            tuple(
                (name, round(value, 9) if isinstance(value, float) else value)
                for name, value in sorted(row.items())
            )
            for row in rows
        ),
        key=repr,
    )


def test_each_evaluation_keeps_the_rows_of_a_full_run() -> None:
    events = tiny_run().events
    assert events is not None
    engine = DetectionEngine(parameters=PARAMETERS)
    live = IncrementalDetector(engine, evaluate_every_seconds=3600)
    narrowed: list[float | None] = []
    restrict = live.engine.restrict

    def recording(since: float | None) -> None:
        narrowed.append(since)
        restrict(since)

    live.engine.restrict = recording  # type: ignore[method-assign]
    evaluations = 0
    fired = set()
    for piece in _slices(events, 300):
        before = live._evaluated_at
        live.add(piece)
        if live._evaluated_at == before:
            continue
        evaluations += 1
        # what a full run over the same retained events gives, detector by detector
        full = engine.run_detectors(live.engine, live.given)
        assert set(full) == set(live._rows)
        for detector_id, rows in full.items():
            assert _normal(live._rows[detector_id]) == _normal(rows), detector_id
            if rows:
                fired.add(detector_id)
    assert evaluations >= 6
    first = events.column("ts")[0].as_py().timestamp()
    # the recomputation was narrowed to recent events, not run over everything each time
    assert sum(1 for since in narrowed if since is not None and since > first) >= evaluations
    # and the comparison was not between empty results
    assert {"breadth", "data_limit", "volume_peer", "timing_regularity"} <= fired
    assert {"geo_sweep", "puppet_cohort"} <= fired
    live.close()


def test_the_period_is_the_common_multiple_of_the_windows() -> None:
    specs = {spec.id: spec for spec in DetectionEngine().detectors}
    assert reset_period(specs["breadth"]) == 24 * 3600
    assert reset_period(specs["volume_peer"]) == 600
    assert reset_period(specs["volume_peer"], {"window_minutes": 7}) == 420
    assert reset_period(specs["enumeration"]) == 86400
    # a 7-minute window and a 24-hour horizon start together only every week
    assert reset_period(specs["breadth"], {"window_minutes": 7}) == 7 * 86400
    assert reset_period(specs["story_harvest"]) is None  # depends on any earlier fetch
    assert reset_period(specs["puppet_cohort"]) == reset_period(specs["geo_sweep"]) == 86400


HEADER = """-- ---
-- id: many_views
-- title: Many views
-- severity: medium
-- tos_clause: "4.3"
-- resets: {resets}
-- parameters:
--   {parameter}: {{type: int, default: 10, min: 1}}
-- explanation: "{{views}} views"
-- ---
SELECT actor_kind, actor_key, 0 AS window_start, 1 AS window_end, 1.0 AS score FROM events
"""


@pytest.mark.parametrize(
    ("resets", "parameter"),
    [("weekly", "window_minutes"), ("horizon", "window_minutes"), ("window", "horizon_hours")],
)
def test_a_reset_without_its_period_is_refused(resets: str, parameter: str) -> None:
    with pytest.raises(DetectorError, match="resets is window"):
        parse_detector(HEADER.format(resets=resets, parameter=parameter), Path("bad.sql"))


def test_a_declared_reset_parses() -> None:
    spec = parse_detector(HEADER.format(resets="window", parameter="window_minutes"))
    assert spec.resets == "window" and reset_period(spec) == 600


def test_new_context_tables_rerun_the_detectors_that_read_them() -> None:
    events = tiny_run().events
    assert events is not None
    live = IncrementalDetector(DetectionEngine(), evaluate_every_seconds=3600)
    pieces = _slices(events, 1800)
    for piece in pieces[: len(pieces) // 2]:
        live.add(piece)
    assert "canary_access" not in live._rows  # it needs the canaries table
    kept = dict(live._rows)
    live.refresh_context({})  # the same (empty) context: nothing is reloaded or rerun
    assert live._rows == kept
    read = next(
        row
        for row in events.slice(0, events.num_rows // 4).to_pylist()
        if row["object_id"] and row["resource"] == "profile" and row["status"] == 200
    )
    canaries = pa.table(
        {"resource": ["profile"], "object_id": [read["object_id"]], "label": ["canary 1"]}
    )
    live.refresh_context({"canaries": canaries})
    assert live._rows == kept  # no other detector reads the canaries: none starts over
    stories = CONTEXT_SCHEMAS["stories"].empty_table()
    live.refresh_context({"canaries": canaries, "stories": stories})
    assert set(kept) - set(live._rows) == {"story_harvest"}  # the one that reads stories
    for piece in pieces[len(pieces) // 2 :]:
        live.add(piece)
    report = live.report()
    live.close()
    found = [f for f in report.findings if f.detector == "canary_access"]
    assert found and found[0].evidence["first_label"] == "canary 1"
    assert not any("canary_access skipped" in note for note in report.notes)
