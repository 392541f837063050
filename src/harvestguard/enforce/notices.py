"""Cease-and-desist notices to partner apps, from a confirmed case: the partner's registered name
and contact, the clauses violated, the evidence, and the demands (stop, delete everything
collected including stories, certify the deletion by a date). HTML and PDF.

The platform knows its partners, harvestguard does not: the caller passes a ``PartnerInfo``
(photoshare's comes from ``photoshare.partner_directory``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from harvestguard.enforce.case_models import Case, Verdict
from harvestguard.enforce.cases import CaseError, CaseStore
from harvestguard.enforce.render import html_to_pdf, render_html

DEFAULT_DEADLINE_DAYS = 14


@dataclass(frozen=True, slots=True)
class PartnerInfo:
    """A partner app as the platform registered it."""

    client_id: str
    name: str
    contact_email: str
    purpose: str = ""


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sends the notice, and where the certificate of deletion goes."""

    platform: str
    signatory: str = "Trust and Safety"
    contact_email: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    case: Case
    partner: PartnerInfo
    sender: Sender
    issued_at: datetime
    certify_by: date
    html: str

    @property
    def reference(self) -> str:
        return _reference(self.case, self.partner)

    def pdf(self) -> bytes:
        return html_to_pdf(self.html)

    def write(self, directory: str | Path) -> tuple[Path, Path]:
        """Writes ``notice-CASE.html`` and ``notice-CASE.pdf`` into ``directory``."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        html_path = target / f"notice-{self.case.id}.html"
        pdf_path = target / f"notice-{self.case.id}.pdf"
        html_path.write_text(self.html, encoding="utf-8")
        pdf_path.write_bytes(self.pdf())
        return html_path, pdf_path

    def record(self, store: CaseStore, by: str, pdf: Path) -> None:
        """Enters the notice, sent by ``by``, in its case's audit log."""
        store.record_action(
            self.case.id,
            "notice",
            by,
            f"cease-and-desist notice to {self.partner.name}",
            self.to_dict() | {"pdf": str(pdf)},
        )

    def to_dict(self) -> dict[str, Any]:
        """What the audit log keeps about a notice sent."""
        return {
            "reference": self.reference,
            "partner": self.partner.name,
            "client_id": self.partner.client_id,
            "contact_email": self.partner.contact_email,
            "issued_at": self.issued_at.isoformat(),
            "certify_by": self.certify_by.isoformat(),
            "clauses": list(self.case.evidence.clauses),
        }


def build_notice(
    case: Case,
    partner: PartnerInfo,
    sender: Sender,
    *,
    issued_at: datetime | None = None,
    deadline_days: int = DEFAULT_DEADLINE_DAYS,
) -> Notice:
    """The notice for a confirmed case involving ``partner``'s app; CaseError otherwise."""
    if case.verdict is not Verdict.CONFIRMED:
        raise CaseError(
            f"case {case.id} is not confirmed: an analyst confirms it before a notice is sent"
        )
    if partner.client_id not in case.clients:
        involved = ", ".join(case.clients) or "no partner app"
        raise CaseError(
            f"case {case.id} does not involve partner app {partner.client_id} (it holds {involved})"
        )
    if deadline_days < 1:
        raise ValueError("the deletion deadline is at least one day after the notice")
    issued = datetime.now(UTC) if issued_at is None else issued_at
    if issued.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    issued = issued.astimezone(UTC)
    certify_by = issued.date() + timedelta(days=deadline_days)
    html = render_html(
        "notice.html",
        case=case,
        partner=partner,
        sender=sender,
        evidence=case.evidence,
        accounts=sum(1 for kind, _ in case.keys if kind == "account"),
        issued_at=issued,
        certify_by=certify_by,
        reference=_reference(case, partner),
    )
    return Notice(case, partner, sender, issued, certify_by, html)


def _reference(case: Case, partner: PartnerInfo) -> str:
    return f"{case.id}/{partner.client_id}"
