"""Incremental (live) mode: event batches arrive every few seconds; findings come back as soon as
a detector fires.

The state is the engine's own tables: the events and event owners of the retained period
(``retain_hours``), appended to at each evaluation (batches wait in memory until then) and
trimmed at the back, plus every detector's rows so far. Every ``evaluate_every_seconds`` of event
time the detectors run and the findings that are new, or whose score rose, are returned.

Each evaluation touches only what can have changed. A detector that declares what its rows
start afresh at (``resets: window``, ``horizon`` or ``day`` in its header) has rows that depend
only on events since the last such boundary: it is run over the events since the boundary
before the oldest new event (``events`` and ``event_owners`` narrowed by the engine), and its
rows that end after that boundary are replaced; the older ones cannot change. A detector
without the declaration is run over everything retained, as a batch run would. So the rows kept
are at every evaluation those of a batch run over the events so far, and ``report()`` after the
last batch equals ``DetectionEngine.run`` on all of them (tests/test_detect_modes.py,
tests/test_detect_perf_incremental.py). While the stream flows, a finding is returned once the
window it fired in has closed, or at once for a detector that declares ``monotone`` (a canary
read, a count past its threshold: more events cannot take it back).
"""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.compute as pc

from harvestguard.detect.context import Context, check_context
from harvestguard.detect.detection import (
    DetectionEngine,
    Row,
    fold_findings,
    missing_context_notes,
    run_detector,
)
from harvestguard.detect.engines import open_engine
from harvestguard.detect.findings import DetectionReport, Finding
from harvestguard.detect.spec import DetectorSpec

DAY_SECONDS = 86400
# the parameters that align a detector's windows, and their unit in seconds
PERIOD_PARAMETERS = {"window_minutes": 60, "bucket_minutes": 60, "horizon_hours": 3600}


def reset_period(spec: DetectorSpec, overrides: dict[str, object] | None = None) -> int | None:
    """Seconds between the moments at which all of the detector's windows, buckets and horizons
    start afresh together (their least common multiple), or None when it does not declare
    ``resets`` (its rows may depend on any event retained)."""
    if spec.resets is None:
        return None
    values: dict[str, object] = {name: p.default for name, p in spec.parameters.items()}
    for name, value in (overrides or {}).items():
        values[name] = spec.parameters[name].check(value)
    periods = [DAY_SECONDS] if spec.resets == "day" else []
    for name, unit in PERIOD_PARAMETERS.items():
        value = values.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value * unit
            if seconds <= 0 or seconds != int(seconds):
                return None  # not on whole seconds: no common boundary worth computing
            periods.append(int(seconds))
    return math.lcm(*periods) if periods else None


class IncrementalDetector:
    def __init__(
        self,
        detection: DetectionEngine,
        context: Context | None = None,
        *,
        retain_hours: float = 48.0,
        evaluate_every_seconds: float = 300.0,
    ) -> None:
        if retain_hours <= 0 or evaluate_every_seconds < 0:
            raise ValueError("retain_hours must be positive and evaluate_every_seconds >= 0")
        self.detection = detection
        self.engine = open_engine(detection.engine_name)
        self._context = check_context(context or {})
        self.given = detection.load_context(self.engine, self._context)
        self.notes = missing_context_notes(detection.detectors, self.given)
        self.retain_seconds = retain_hours * 3600
        self.every = evaluate_every_seconds
        self.watermark: float | None = None
        self._evaluated_at: float | None = None
        self._scores: dict[tuple[str, tuple[str, str]], float] = {}
        self._rows: dict[str, list[Row]] = {}
        self._pending: list[pa.Table] = []
        self._pending_since: float | None = None  # the oldest event waiting
        self._reads = {spec.id: spec.context_read() for spec in detection.detectors}
        self._periods = {
            spec.id: reset_period(spec, dict(detection.parameters.get(spec.id) or {}))
            for spec in detection.detectors
        }

    def add(self, batch: pa.Table) -> list[Finding]:
        """Takes a batch of events (AccessEvent schema); returns new or strengthened findings
        when an evaluation was due."""
        if batch.num_rows == 0:
            return []
        times = pc.min_max(batch.column("ts"))
        earliest = times["min"].as_py().timestamp()
        latest = times["max"].as_py().timestamp()
        self._pending.append(batch)
        if self._pending_since is None or earliest < self._pending_since:
            self._pending_since = earliest
        self.watermark = latest if self.watermark is None else max(self.watermark, latest)
        if self._evaluated_at is not None and self.watermark - self._evaluated_at < self.every:
            return []
        return self.evaluate()

    def evaluate(self) -> list[Finding]:
        if self.watermark is None:
            return []
        oldest_new = self._flush()
        self._evaluated_at = self.watermark
        self._forget_before(self.watermark - self.retain_seconds, oldest_new)
        specs = {spec.id: spec for spec in self.detection.detectors}
        for spec in self.detection.detectors:
            if any(name not in self.given for name in spec.needs):
                continue
            if oldest_new is None and spec.id in self._rows:
                continue  # nothing new since the last evaluation
            since = self._since(spec.id, oldest_new)
            self.engine.restrict(since)
            rows = run_detector(self.engine, spec, self.detection.parameters.get(spec.id))
            if since is not None:
                kept = [row for row in self._rows[spec.id] if _end(row) <= since]
                rows = kept + [row for row in rows if _end(row) > since]
            self._rows[spec.id] = rows
        self.engine.restrict(None)
        changed = []
        for detector_id, rows in self._rows.items():
            # a window still open may yet change its mind, so findings are emitted when it
            # closes; a monotone detector's rows cannot be taken back, and go out at once
            spec = specs[detector_id]
            closed = rows if spec.monotone else [r for r in rows if _end(r) <= self.watermark]
            for finding in fold_findings(spec, closed):
                key = (finding.detector, finding.key)
                if finding.score > self._scores.get(key, -1.0):
                    self._scores[key] = finding.score
                    changed.append(finding)
        return changed

    def _since(self, detector_id: str, oldest_new: float | None) -> float | None:
        """Where a detector's rows may have changed: the start of its period holding the oldest
        new event; None (everything retained) for a detector without periods or never run."""
        period = self._periods[detector_id]
        if period is None or oldest_new is None or detector_id not in self._rows:
            return None
        return float(math.floor(oldest_new / period) * period)

    def _flush(self) -> float | None:
        """Moves the waiting batches into the engine; returns the time of the oldest of them."""
        if not self._pending:
            return None
        batch = pa.concat_tables(self._pending, promote_options="default")
        oldest = self._pending_since
        self._pending, self._pending_since = [], None
        self.engine.append_events(batch)
        return oldest

    def _forget_before(self, cutoff: float, oldest_new: float | None) -> None:
        """Evicts the events before ``cutoff``, but none that a detector is about to recompute
        from, and drops the rows of windows that ended before it."""
        for detector_id in self._rows:
            since = self._since(detector_id, oldest_new)
            if since is not None:
                cutoff = min(cutoff, since)
        self.engine.evict_before(cutoff)
        for detector_id, rows in self._rows.items():
            if self._periods[detector_id] is not None:
                self._rows[detector_id] = [row for row in rows if _end(row) > cutoff]

    def refresh_context(self, context: Context | None) -> None:
        """Takes new context tables (an updated allow-list, new canaries); when they differ from
        the ones loaded, they replace them, and the detectors that read a table that changed are
        rerun over everything retained at the next evaluation (their rows may depend on it).
        In a live platform stories and follows change every few seconds: only the detectors
        reading them start over, the rest stay incremental."""
        checked = check_context(context or {})
        changed = {
            name
            for name in checked.keys() | self._context.keys()
            if name not in checked
            or name not in self._context
            or not checked[name].equals(self._context[name])
        }
        if not changed:
            return
        self._context = checked
        self.given = self.detection.load_context(self.engine, checked)
        self.notes = missing_context_notes(self.detection.detectors, self.given)
        for spec in self.detection.detectors:
            if self._reads[spec.id] & changed:
                self._rows.pop(spec.id, None)  # rerun over everything retained
        self._evaluated_at = None  # evaluate with the next batch

    def entities(self) -> DetectionReport:
        """Entities, risk and evidence from the rows of the last evaluation (no new one)."""
        return self.detection.report(self.engine, self._rows, list(self.notes))

    def report(self) -> DetectionReport:
        """Entities, risk and evidence from the retained state, after a final evaluation."""
        self.evaluate()
        return self.detection.report(self.engine, self._rows, list(self.notes))

    def close(self) -> None:
        self.engine.close()


def _end(row: Row) -> float:
    return float(str(row["window_end"]))
