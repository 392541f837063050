"""``DetectionEngine``: detectors over events, findings linked into entities, risk, evidence.

The pipeline of one run, in order: load events and context into an engine; run every detector
whose required context tables are present (the others are skipped with a note); fold each
detector's rows into findings; link the keys into entities; score each entity's risk over time;
label allow-listed entities; gather each entity's exposure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from harvestguard.detect.context import CONTEXT_SCHEMAS, Context, check_context
from harvestguard.detect.engines import Engine, EventSource, open_engine
from harvestguard.detect.evidence import allowlisted, exposures
from harvestguard.detect.findings import DetectionReport, Entity, Exposure, Finding
from harvestguard.detect.linking import EntityLinker
from harvestguard.detect.registry import load_detectors
from harvestguard.detect.risk import FLAG_THRESHOLD, load_weights, risk_over_time
from harvestguard.detect.spec import OUTPUT_COLUMNS, DetectorError, DetectorSpec
from harvestguard.evaluate.metrics import FlaggedEntity

Row = dict[str, Any]
Parameters = Mapping[str, Mapping[str, object]]


class DetectionEngine:
    """Runs detectors and builds entities. Also a detector for ``harvestguard.evaluate``:
    calling it with an Arrow table of events returns the flagged entities."""

    name = "detection engine (SQL detectors, entity linking, noisy-OR risk)"

    def __init__(
        self,
        detectors: Sequence[DetectorSpec] | None = None,
        *,
        detector_dirs: Iterable[Path | str] = (),
        parameters: Parameters | None = None,
        engine: str = "duckdb",
        threshold: float = FLAG_THRESHOLD,
        weights: Mapping[str, float] | None = None,
        linker: EntityLinker | None = None,
    ) -> None:
        self.detectors = list(detectors) if detectors is not None else []
        if detectors is None or detector_dirs:
            self.detectors += load_detectors(detector_dirs, builtin=detectors is None)
        ids = {spec.id for spec in self.detectors}
        self.parameters = dict(parameters or {})
        for detector_id, values in self.parameters.items():
            if detector_id not in ids:
                raise ValueError(f"parameters given for unknown detector {detector_id!r}")
            spec = next(s for s in self.detectors if s.id == detector_id)
            spec.render(values)  # validates names and types now, not mid-run
        self.engine_name = engine
        open_engine(engine).close()  # an unknown engine fails here
        self.threshold = threshold
        self.weights = dict(weights) if weights is not None else load_weights()
        self.linker = linker or EntityLinker()

    def __call__(self, events: pa.Table) -> list[FlaggedEntity]:
        return self.run(events).flagged_entities()

    def run(
        self,
        events: EventSource,
        context: Context | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> DetectionReport:
        """Batch mode over ``events`` (an Arrow table or a Parquet folder), optionally only
        those in [start, end)."""
        engine = open_engine(self.engine_name)
        try:
            engine.load_events(
                events,
                start=None if start is None else start.timestamp(),
                end=None if end is None else end.timestamp(),
            )
            given = self.load_context(engine, context)
            notes = missing_context_notes(self.detectors, given)
            rows = self.run_detectors(engine, given)
            return self.report(engine, rows, notes)
        finally:
            engine.close()

    def load_context(self, engine: Engine, context: Context | None) -> frozenset[str]:
        """Loads the given context tables (and empty ones for the rest, so that detectors that
        merely use a table still run); returns the names of the tables given."""
        tables = check_context(context or {})
        for name, schema in CONTEXT_SCHEMAS.items():
            engine.load_table(name, tables.get(name, schema.empty_table()))
        return frozenset(tables)

    def run_detectors(self, engine: Engine, given: frozenset[str]) -> dict[str, list[Row]]:
        """Every runnable detector's rows; a detector that needs a context table that was not
        given is skipped (``missing_context_notes`` says so)."""
        return {
            spec.id: run_detector(engine, spec, self.parameters.get(spec.id))
            for spec in self.detectors
            if all(name in given for name in spec.needs)
        }

    def report(
        self, engine: Engine, rows: Mapping[str, list[Row]], notes: list[str]
    ) -> DetectionReport:
        specs = {spec.id: spec for spec in self.detectors}
        findings = [
            finding
            for detector_id, detector_rows in rows.items()
            for finding in fold_findings(specs[detector_id], detector_rows)
        ]
        groups = self.linker.link(engine, findings)
        by_key: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        for finding in findings:
            by_key[finding.key].append(finding)
        entities: list[Entity] = []
        for number, group in enumerate(sorted(groups, key=lambda g: min(g.members)), start=1):
            mine = [f for key in sorted(group.members) for f in by_key.get(key, [])]
            risk, crossed = risk_over_time(mine, self.weights, self.threshold)
            entities.append(
                Entity(
                    id=f"E{number}",
                    keys=frozenset(group.keys),
                    members=frozenset(group.members),
                    findings=sorted(mine, key=lambda f: (f.first_fired_at, f.detector)),
                    links=group.links,
                    risk=risk,
                    detected_at=crossed,
                )
            )
        labels = allowlisted(engine, _principals(entities, lambda entity: True))
        for entity in entities:
            entity.allowlisted = labels.get(entity.id)
        # exposure is gathered for what is reported with evidence: flagged and allow-listed
        found = exposures(
            engine, _principals(entities, lambda e: e.flagged or e.allowlisted is not None)
        )
        for entity in entities:
            entity.exposure = found.get(entity.id, Exposure())
        entities.sort(key=lambda e: (not e.flagged, -e.risk, e.id))
        return DetectionReport(findings=findings, entities=entities, notes=notes)


def _principals(
    entities: Iterable[Entity], wanted: Callable[[Entity], bool]
) -> list[tuple[str, tuple[str, str]]]:
    """(entity id, key) for the keys of the wanted entities that are principals of events."""
    return [
        (entity.id, key)
        for entity in entities
        if wanted(entity)
        for key in entity.members
        if key in entity.keys or key[0] in ("account", "client")
    ]


def run_detector(
    engine: Engine, spec: DetectorSpec, overrides: Mapping[str, object] | None = None
) -> list[Row]:
    """One detector's rows on the engine's ``events``; DetectorError if it fails or lacks an
    output column."""
    sql = spec.render(overrides)
    try:
        table = engine.query(sql)
    except Exception as error:  # the engine's own error type differs per engine
        raise DetectorError(spec.path, 1, f"the query failed: {error}") from error
    lacking = [c for c in OUTPUT_COLUMNS if c not in table.column_names]
    if lacking:
        raise DetectorError(spec.path, 1, f"the query returns no {', '.join(lacking)}")
    rows: list[Row] = table.to_pylist()
    return rows


def missing_context_notes(detectors: Iterable[DetectorSpec], given: frozenset[str]) -> list[str]:
    """A note for each context table that some detector reads but was not given, and for each
    detector skipped because a table it needs is missing."""
    detectors = list(detectors)
    wanted = {name for spec in detectors for name in (*spec.needs, *spec.uses)}
    notes = [
        f"context table {name} not given" for name in CONTEXT_SCHEMAS if name in wanted - given
    ]
    for spec in detectors:
        absent = [name for name in spec.needs if name not in given]
        if absent:
            notes.append(f"detector {spec.id} skipped: needs {', '.join(absent)}")
    return notes


def fold_findings(spec: DetectorSpec, rows: Sequence[Row]) -> list[Finding]:
    """One finding per key: first window it fired in, strongest window, score over time."""
    per_key: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        score = row["score"]
        if score is None or not 0.0 <= float(score) <= 1.0:
            raise DetectorError(spec.path, 1, f"score {score!r} is not in [0, 1]")
        if row["actor_kind"] is None or row["actor_key"] is None:
            continue
        per_key[(str(row["actor_kind"]), str(row["actor_key"]))].append(row)
    findings = []
    for key, key_rows in sorted(per_key.items()):
        # rows tied on window and score (a capped score, two browser builds) are ordered by their
        # evidence, so that the strongest row does not depend on the order the engine returned
        key_rows.sort(key=lambda r: (float(r["window_end"]), -float(r["score"]), _tiebreak(r)))
        timeline: list[tuple[datetime, float]] = []
        for row in key_rows:
            if not timeline or float(row["score"]) > timeline[-1][1]:
                timeline.append((_moment(row["window_end"]), float(row["score"])))
        strongest = max(key_rows, key=lambda r: (float(r["score"]), -float(r["window_end"])))
        evidence = {
            name: value
            for name, value in strongest.items()
            if name not in (*OUTPUT_COLUMNS, "link_group")
        }
        shown = {
            **evidence,
            "window_start": _moment(strongest["window_start"]).isoformat(),
            "window_end": _moment(strongest["window_end"]).isoformat(),
        }
        findings.append(
            Finding(
                detector=spec.id,
                title=spec.title,
                severity=spec.severity,
                tos_clause=spec.tos_clause,
                key=key,
                first_fired_at=timeline[0][0],
                window_start=_moment(strongest["window_start"]),
                window_end=_moment(strongest["window_end"]),
                score=float(strongest["score"]),
                explanation=spec.explain(shown).strip(),
                evidence=evidence,
                link_groups=tuple(
                    sorted({str(r["link_group"]) for r in key_rows if r.get("link_group")})
                ),
                timeline=tuple(timeline),
            )
        )
    return findings


def _tiebreak(row: Row) -> tuple[str, ...]:
    return tuple(f"{name}={row[name]!r}" for name in sorted(row))


def _moment(value: object) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromtimestamp(float(str(value)), UTC)
