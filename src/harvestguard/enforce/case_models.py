"""What a case holds: the evidence taken from a detected entity, the case itself, its audit
entries and the analysts' verdicts fed back to the evaluation. Plain dataclasses, JSON-safe."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # detection's types only: importing harvestguard.detect loads the whole engine
    from harvestguard.detect.findings import ActorKey, Entity, Finding


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    ESCALATED = "escalated"
    LIFTED = "lifted"


class Verdict(enum.StrEnum):
    """An analyst's label of a case: the feedback the evaluation can learn from."""

    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


@dataclass(frozen=True, slots=True)
class DetectorEvidence:
    """One detector's part of the evidence: on how many keys it fired, over which windows, and
    the evidence of its strongest finding."""

    detector: str
    title: str
    severity: str
    tos_clause: str
    keys: int
    first_fired_at: datetime
    window_start: datetime
    window_end: datetime
    score: float
    explanation: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_findings(cls, findings: list[Finding]) -> DetectorEvidence:
        strongest = max(findings, key=lambda f: (f.score, f.window_end))
        return cls(
            detector=strongest.detector,
            title=strongest.title,
            severity=strongest.severity,
            tos_clause=strongest.tos_clause,
            keys=len({f.key for f in findings}),
            first_fired_at=min(f.first_fired_at for f in findings),
            window_start=min(f.window_start for f in findings),
            window_end=max(f.window_end for f in findings),
            score=round(strongest.score, 4),
            explanation=strongest.explanation,
            evidence={k: json_safe(v) for k, v in strongest.evidence.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "title": self.title,
            "severity": self.severity,
            "tos_clause": self.tos_clause,
            "keys": self.keys,
            "first_fired_at": self.first_fired_at.isoformat(),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "score": self.score,
            "explanation": self.explanation,
            "evidence": self.evidence,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DetectorEvidence:
        return cls(
            detector=data["detector"],
            title=data["title"],
            severity=data["severity"],
            tos_clause=data["tos_clause"],
            keys=int(data["keys"]),
            first_fired_at=_moment(data["first_fired_at"]),
            window_start=_moment(data["window_start"]),
            window_end=_moment(data["window_end"]),
            score=float(data["score"]),
            explanation=data["explanation"],
            evidence=dict(data.get("evidence", {})),
        )


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything a case shows about what an entity did and obtained."""

    detectors: tuple[DetectorEvidence, ...]
    requests: int
    owners: int
    records: int
    records_by_class: dict[str, int]
    first_seen: datetime | None
    last_seen: datetime | None
    sample_request_ids: tuple[str, ...]
    links: tuple[str, ...] = ()
    shared_keys: frozenset[ActorKey] = frozenset()

    @property
    def clauses(self) -> tuple[str, ...]:
        """The terms-of-service clauses violated, each once, in clause order."""
        return tuple(sorted({d.tos_clause for d in self.detectors}))

    @classmethod
    def from_entity(cls, entity: Entity) -> Evidence:
        by_detector: dict[str, list[Finding]] = {}
        for finding in entity.findings:
            by_detector.setdefault(finding.detector, []).append(finding)
        exposure = entity.exposure
        return cls(
            detectors=tuple(
                DetectorEvidence.from_findings(found) for _, found in sorted(by_detector.items())
            ),
            requests=exposure.requests,
            owners=exposure.owners,
            records=exposure.records,
            records_by_class=dict(sorted(exposure.records_by_class.items())),
            first_seen=exposure.first_seen,
            last_seen=exposure.last_seen,
            sample_request_ids=tuple(exposure.sample_request_ids),
            links=tuple(entity.links),
            shared_keys=entity.members - entity.keys,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "detectors": [d.to_dict() for d in self.detectors],
            "clauses": list(self.clauses),
            "requests": self.requests,
            "owners": self.owners,
            "records": self.records,
            "records_by_class": dict(self.records_by_class),
            "first_seen": None if self.first_seen is None else self.first_seen.isoformat(),
            "last_seen": None if self.last_seen is None else self.last_seen.isoformat(),
            "sample_request_ids": list(self.sample_request_ids),
            "links": list(self.links),
            "shared_keys": sorted(list(k) for k in self.shared_keys),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evidence:
        return cls(
            detectors=tuple(DetectorEvidence.from_dict(d) for d in data["detectors"]),
            requests=int(data["requests"]),
            owners=int(data["owners"]),
            records=int(data["records"]),
            records_by_class={str(k): int(v) for k, v in data["records_by_class"].items()},
            first_seen=_optional_moment(data.get("first_seen")),
            last_seen=_optional_moment(data.get("last_seen")),
            sample_request_ids=tuple(data.get("sample_request_ids", ())),
            links=tuple(data.get("links", ())),
            shared_keys=frozenset((str(k), str(v)) for k, v in data.get("shared_keys", ())),
        )


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    status: CaseStatus
    verdict: Verdict | None
    entity_id: str
    keys: frozenset[ActorKey]
    risk: float
    detected_at: datetime | None
    opened_at: datetime
    updated_at: datetime
    evidence: Evidence

    @property
    def clients(self) -> tuple[str, ...]:
        """The partner apps (client ids) among the case's keys."""
        return tuple(sorted(value for kind, value in self.keys if kind == "client"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "verdict": None if self.verdict is None else self.verdict.value,
            "entity_id": self.entity_id,
            "keys": sorted(list(k) for k in self.keys),
            "risk": self.risk,
            "detected_at": None if self.detected_at is None else self.detected_at.isoformat(),
            "opened_at": self.opened_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "evidence": self.evidence.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One action on a case: who did what, when and why. Never changed once written."""

    seq: int
    case_id: str
    at: datetime
    action: str
    by: str
    reason: str
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "case_id": self.case_id,
            "at": self.at.isoformat(),
            "action": self.action,
            "by": self.by,
            "reason": self.reason,
            "details": self.details,
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """An analyst's verdict on a case, as a label over the keys the case acted on."""

    case_id: str
    keys: frozenset[ActorKey]
    verdict: Verdict
    by: str
    at: datetime
    note: str

    @property
    def adversary(self) -> bool:
        return self.verdict is Verdict.CONFIRMED

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "keys": sorted(list(k) for k in self.keys),
            "verdict": self.verdict.value,
            "adversary": self.adversary,
            "by": self.by,
            "at": self.at.isoformat(),
            "note": self.note,
        }


def json_safe(value: Any) -> Any:
    """Detector evidence as JSON: DuckDB gives Decimals for sums, datetimes for windows."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    return value


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _optional_moment(text: str | None) -> datetime | None:
    return None if text is None else _moment(text)
