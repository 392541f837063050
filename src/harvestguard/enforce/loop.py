"""Live enforcement: events in, incremental detection, decisions and cases out, every few seconds.

The loop is a sink (``submit`` never blocks: a deque append) placed beside the event sink, and a
background thread that, every ``interval`` real seconds, hands what arrived to the incremental
detector. When a detector fires, the flagged entities are brought to their cases (opened or
updated with the new evidence) and to the ladder, whose decisions reach the decision table at
once (and through Redis every other instance); every decision is written to the case's audit
log. A step that fails is logged and retried with the next batch: the events stay in the
detector's state, so nothing is lost for the next evaluation.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harvestguard.clock import SYSTEM_CLOCK, Clock
from harvestguard.detect.context import Context
from harvestguard.detect.findings import Entity
from harvestguard.detect.incremental import IncrementalDetector
from harvestguard.enforce.cases import CaseStore
from harvestguard.enforce.ladder import LADDER, Ladder
from harvestguard.enforce.records import DecisionRecord
from harvestguard.events import AccessEvent, to_arrow

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class LoopStats:
    """What the loop has done so far (the demo's live view reads it)."""

    events: int = 0
    steps: int = 0
    failures: int = 0
    flagged: set[str] = field(default_factory=set)  # case ids of entities flagged
    decisions: int = 0
    last_step_seconds: float = 0.0
    busy_seconds: float = 0.0  # all steps together: how much of the run detection took
    slowest_step_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "steps": self.steps,
            "failures": self.failures,
            "flagged": sorted(self.flagged),
            "decisions": self.decisions,
            "last_step_seconds": round(self.last_step_seconds, 3),
            "busy_seconds": round(self.busy_seconds, 3),
            "slowest_step_seconds": round(self.slowest_step_seconds, 3),
        }


class EnforcementLoop:
    def __init__(
        self,
        detector: IncrementalDetector,
        ladder: Ladder,
        *,
        cases: CaseStore | None = None,
        clock: Clock = SYSTEM_CLOCK,
        context: Callable[[], Context] | None = None,
        interval: float = 2.0,
        on_decisions: Callable[[Entity, list[DecisionRecord]], None] | None = None,
        status_path: Path | None = None,
    ) -> None:
        """``context``, when given, is called before each evaluation: the platform's tables
        change while it runs (accounts sign up, stories are posted). ``status_path``: a JSON
        file rewritten after each step with ``stats`` (what a demo or a monitor reads)."""
        if interval <= 0:
            raise ValueError("the loop's interval must be positive")
        self.detector = detector
        self.ladder = ladder
        self.cases = cases
        self.clock = clock
        self.context = context
        self.interval = interval
        self.on_decisions = on_decisions
        self.status_path = status_path
        self.stats = LoopStats()
        self._queue: deque[AccessEvent] = deque()
        self._lock = threading.Lock()  # one step at a time: the thread, or a caller's flush
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, event: AccessEvent) -> None:
        self._queue.append(event)

    def step(self) -> list[DecisionRecord]:
        """Detects on what arrived since the last step and acts on it; returns the decisions."""
        with self._lock:
            started = time.perf_counter()
            events = [self._queue.popleft() for _ in range(len(self._queue))]
            if not events:
                return []
            self.stats.events += len(events)
            self.stats.steps += 1
            if self.context is not None:
                self.detector.refresh_context(self.context())
            try:
                fired = self.detector.add(to_arrow(events))
            except Exception:
                self._queue.extendleft(reversed(events))  # retried with the next step
                raise
            written: list[DecisionRecord] = []
            if fired:
                for entity in self.detector.entities().flagged:
                    written += self._act(entity)
            took = time.perf_counter() - started
            self.stats.last_step_seconds = took
            self.stats.busy_seconds += took
            self.stats.slowest_step_seconds = max(self.stats.slowest_step_seconds, took)
            self._write_status()
            return written

    def _act(self, entity: Entity) -> list[DecisionRecord]:
        now = self.clock.now()
        case_id = None
        if self.cases is not None:
            case_id = self.cases.open_or_update(entity, now).id
            self.stats.flagged.add(case_id)
        else:
            self.stats.flagged.add(entity.id)
        records = self.ladder.decide(entity, now, case_id=case_id)
        if not records:
            return []
        self.stats.decisions += len(records)
        if self.cases is not None and case_id is not None:
            first = records[0]
            self.cases.record_action(
                case_id,
                first.level.name.lower() + (" (shadow)" if first.shadow else ""),
                LADDER,
                first.reason,
                {
                    "keys": [list(r.key) for r in records],
                    "expires_at": None
                    if first.expires_at is None
                    else first.expires_at.isoformat(),
                },
                now,
            )
        if self.on_decisions is not None:
            self.on_decisions(entity, records)
        return records

    def _write_status(self) -> None:
        if self.status_path is None:
            return
        data = {**self.stats.to_dict(), "at": self.clock.now().isoformat()}
        partial = self.status_path.with_suffix(".tmp")
        partial.write_text(json.dumps(data))
        os.replace(partial, self.status_path)  # readers never see half a file

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="harvestguard-enforce", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops the thread after a last step over what is still queued."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._safe_step()

    def close(self) -> None:
        """Stops (with a last step), then closes the detector's engine and the case store."""
        self.stop()
        self.detector.close()
        if self.cases is not None:
            self.cases.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._safe_step()

    def _safe_step(self) -> None:
        try:
            self.step()
        except Exception:
            # the events are in the detector's state or still queued; the next step retries
            self.stats.failures += 1
            logger.exception("enforcement step failed")
