"""Incremental (live) mode: event batches arrive every few seconds; findings come back as soon as
a detector fires.

The state is the engine's own tables: the ``events`` and ``event_owners`` of the retained period
(``retain_hours``, at least every detector's horizon), appended to batch by batch and trimmed at
the back. Every ``evaluate_every_seconds`` of event time the detectors run over that state and
the findings that are new, or whose score rose, are returned. Since a detector's rows for a
window only depend on events up to that window's end (and within its horizon), running them on
the retained state gives the same findings as a batch run over the same events: ``report()``
after the last batch equals ``DetectionEngine.run`` on all of them (tests/test_detect_modes.py).
While the stream flows, a finding is returned once the window it fired in has closed.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from harvestguard.detect.context import Context
from harvestguard.detect.detection import DetectionEngine, fold_findings, missing_context_notes
from harvestguard.detect.engines import open_engine
from harvestguard.detect.findings import DetectionReport, Finding


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
        self.given = detection.load_context(self.engine, context)
        self.notes = missing_context_notes(detection.detectors, self.given)
        self.retain_seconds = retain_hours * 3600
        self.every = evaluate_every_seconds
        self.watermark: float | None = None
        self._evaluated_at: float | None = None
        self._scores: dict[tuple[str, tuple[str, str]], float] = {}
        self._rows: dict[str, list[dict[str, object]]] = {}

    def add(self, batch: pa.Table) -> list[Finding]:
        """Takes a batch of events (AccessEvent schema); returns new or strengthened findings
        when an evaluation was due."""
        if batch.num_rows == 0:
            return []
        self.engine.append_events(batch)
        latest = pc.max(batch.column("ts")).as_py().timestamp()
        self.watermark = latest if self.watermark is None else max(self.watermark, latest)
        if self._evaluated_at is not None and self.watermark - self._evaluated_at < self.every:
            return []
        return self.evaluate()

    def evaluate(self) -> list[Finding]:
        if self.watermark is None:
            return []
        self._evaluated_at = self.watermark
        self.engine.evict_before(self.watermark - self.retain_seconds)
        self._rows = self.detection.run_detectors(self.engine, self.given)
        specs = {spec.id: spec for spec in self.detection.detectors}
        changed = []
        for detector_id, rows in self._rows.items():
            # a window still open may yet change its mind; findings are emitted when it closes
            closed = [row for row in rows if float(str(row["window_end"])) <= self.watermark]
            for finding in fold_findings(specs[detector_id], closed):
                key = (finding.detector, finding.key)
                if finding.score > self._scores.get(key, -1.0):
                    self._scores[key] = finding.score
                    changed.append(finding)
        return changed

    def report(self) -> DetectionReport:
        """Entities, risk and evidence from the retained state, after a final evaluation."""
        self.evaluate()
        return self.detection.report(self.engine, self._rows, list(self.notes))

    def close(self) -> None:
        self.engine.close()
