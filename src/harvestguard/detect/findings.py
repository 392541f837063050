"""What detection reports: findings (one detector about one key), entities (linked keys and their
findings, risk and evidence), and the report of one run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harvestguard.evaluate.metrics import FlaggedEntity

ActorKey = tuple[str, str]  # (kind, value), the kinds of harvestguard.simulate.groundtruth


@dataclass(frozen=True, slots=True)
class Finding:
    """One detector about one key: when it first fired, its strongest window and evidence."""

    detector: str
    title: str
    severity: str
    tos_clause: str
    key: ActorKey
    first_fired_at: datetime
    window_start: datetime
    window_end: datetime
    score: float
    explanation: str
    evidence: dict[str, Any] = field(default_factory=dict)
    link_groups: tuple[str, ...] = ()
    # (window end, score) each time the score rose: what the risk was at any moment
    timeline: tuple[tuple[datetime, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "title": self.title,
            "severity": self.severity,
            "tos_clause": self.tos_clause,
            "key": list(self.key),
            "first_fired_at": self.first_fired_at.isoformat(),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "score": round(self.score, 4),
            "explanation": self.explanation,
            "evidence": {k: _plain(v) for k, v in self.evidence.items()},
        }


@dataclass(slots=True)
class Exposure:
    """What an entity obtained: requests, and personal records (distinct owner x data class)."""

    requests: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    owners: int = 0
    records: int = 0
    records_by_class: dict[str, int] = field(default_factory=dict)
    sample_request_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "first_seen": None if self.first_seen is None else self.first_seen.isoformat(),
            "last_seen": None if self.last_seen is None else self.last_seen.isoformat(),
            "owners": self.owners,
            "records": self.records,
            "records_by_class": dict(sorted(self.records_by_class.items())),
            "sample_request_ids": list(self.sample_request_ids),
        }


@dataclass(slots=True)
class Entity:
    """Keys linked into one actor. ``keys`` are the ones only it used (safe to act on);
    ``members`` also holds the keys it shared with others (evidence, never acted on)."""

    id: str
    keys: frozenset[ActorKey]
    members: frozenset[ActorKey]
    findings: list[Finding]
    links: list[str]
    risk: float
    detected_at: datetime | None
    allowlisted: str | None = None
    exposure: Exposure = field(default_factory=Exposure)

    @property
    def flagged(self) -> bool:
        return self.detected_at is not None and self.allowlisted is None and bool(self.keys)

    @property
    def detectors(self) -> list[str]:
        return sorted({f.detector for f in self.findings})

    def to_flagged_entity(self) -> FlaggedEntity:
        if self.detected_at is None:
            raise ValueError(f"entity {self.id} was not flagged")
        return FlaggedEntity(
            keys=self.keys,
            detected_at=self.detected_at,
            score=self.risk,
            reasons=tuple(f"{f.detector}: {f.explanation}" for f in self.findings),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "flagged": self.flagged,
            "allowlisted": self.allowlisted,
            "risk": round(self.risk, 4),
            "detected_at": None if self.detected_at is None else self.detected_at.isoformat(),
            "detectors": self.detectors,
            "keys": sorted(list(k) for k in self.keys),
            "shared_keys": sorted(list(k) for k in self.members - self.keys),
            "links": self.links,
            "exposure": self.exposure.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(slots=True)
class DetectionReport:
    findings: list[Finding]
    entities: list[Entity]
    notes: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[Entity]:
        return [e for e in self.entities if e.flagged]

    @property
    def allowlisted(self) -> list[Entity]:
        return [e for e in self.entities if e.allowlisted is not None]

    def flagged_entities(self) -> list[FlaggedEntity]:
        return [e.to_flagged_entity() for e in self.flagged]

    def to_dict(self) -> dict[str, Any]:
        return {
            "flagged": [e.to_dict() for e in self.flagged],
            "allowlisted": [e.to_dict() for e in self.allowlisted],
            "below_threshold": [
                e.to_dict() for e in self.entities if not e.flagged and e.allowlisted is None
            ],
            "notes": self.notes,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
