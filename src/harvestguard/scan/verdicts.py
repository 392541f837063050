"""Per-address verdicts of a scan: what an operator bans, with the evidence for each address.

The engine reports entities (addresses linked by shared networks, acting together). A ban hits
one address, so each address is judged on its own findings too: it is **flagged** when its own
risk (the noisy-OR of its own findings, the engine's weights) crosses the threshold and it is
not a verified crawler; **linked** when it only belongs to a flagged entity (same /24, acting
together) without enough evidence of its own: shown, not banned unless asked; a **verified
crawler** is labelled and never banned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harvestguard.detect.findings import Finding
from harvestguard.detect.risk import risk_over_time
from harvestguard.scan.scanner import Scanner, ScanResult

FLAGGED, LINKED, CRAWLER = "flagged", "linked", "verified crawler"


@dataclass(slots=True)
class AddressVerdict:
    address: str
    pseudonym: str
    status: str  # flagged | linked | verified crawler
    risk: float  # the address's own risk
    entity: str
    entity_risk: float
    findings: list[Finding] = field(default_factory=list)
    label: str | None = None
    detected_at: datetime | None = None

    @property
    def detectors(self) -> list[str]:
        return sorted({f.detector for f in self.findings})

    def reasons(self) -> list[str]:
        return [f"{f.detector}: {f.explanation}" for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "status": self.status,
            "risk": round(self.risk, 4),
            "detected_at": None if self.detected_at is None else self.detected_at.isoformat(),
            "entity": self.entity,
            "entity_risk": round(self.entity_risk, 4),
            "label": self.label,
            "detectors": self.detectors,
            "reasons": self.reasons(),
            "findings": [f.to_dict() for f in self.findings],
        }


def address_verdicts(result: ScanResult, scanner: Scanner) -> list[AddressVerdict]:
    """Every address of a flagged or labelled entity, ranked: flagged first, by own risk."""
    detection = scanner.detection
    verdicts: list[AddressVerdict] = []
    for entity in result.report.entities:
        if not entity.flagged and entity.allowlisted is None:
            continue
        for kind, value in sorted(entity.members):
            if kind != "ip":
                continue
            own = [f for f in entity.findings if f.key == (kind, value)]
            risk, crossed = risk_over_time(own, detection.weights, detection.threshold)
            label = result.allowlist.get(value) or entity.allowlisted
            if label is not None:
                status = CRAWLER
            elif crossed is not None and (kind, value) in entity.keys:
                status = FLAGGED
            elif (kind, value) in entity.keys:
                status = LINKED
            else:
                continue  # shared with others: evidence about the entity, not about this address
            verdicts.append(
                AddressVerdict(
                    address=result.address_of(value),
                    pseudonym=value,
                    status=status,
                    risk=risk,
                    entity=entity.id,
                    entity_risk=entity.risk,
                    findings=own,
                    label=label,
                    detected_at=crossed,
                )
            )
    order = {FLAGGED: 0, LINKED: 1, CRAWLER: 2}
    verdicts.sort(key=lambda v: (order[v.status], -v.risk, v.address))
    return verdicts


def ban_addresses(verdicts: list[AddressVerdict], *, linked: bool = False) -> list[str]:
    wanted = {FLAGGED, LINKED} if linked else {FLAGGED}
    return sorted({v.address for v in verdicts if v.status in wanted}, key=_order)


def _order(text: str) -> tuple[int, str]:
    return (1 if ":" in text else 0, text)
