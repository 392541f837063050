"""What an analyst does to a case from the dashboard, through the same functions as the command
line (``harvestguard case ...``): the case store's verbs, the ladder's ban, the notice and the
incident report, each written to the case's append-only audit log under the analyst's name.

Decisions need a decision table the guard follows: the shared one in Redis
(``HARVESTGUARD_REDIS_URL``), or the app's own table when the dashboard is mounted in the app's
process. Without one, a ban or the lifting of decisions is refused; the case verbs still work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harvestguard.enforce.case_models import Case
from harvestguard.enforce.cases import CaseError, CaseStore
from harvestguard.enforce.incident import IncidentReport, build_incident
from harvestguard.enforce.ladder import Ladder
from harvestguard.enforce.notices import Notice, PartnerInfo, Sender, build_notice
from harvestguard.enforce.records import DecisionRecord
from harvestguard.simulate.groundtruth import ActorKey

VERBS = ("confirm", "dismiss", "escalate")


class NoDecisionStore(CaseError):
    """The dashboard reaches no decision table the guard follows."""


@dataclass
class _LadderLift:
    """``CaseStore.lift`` lifts through this: the ladder also restores the platform's accounts
    and partner apps a ban disabled."""

    ladder: Ladder

    def lift(self, key: ActorKey, by: str, reason: str) -> list[DecisionRecord]:
        return self.ladder.lift_key(key, by, reason)


class CaseActions:
    def __init__(self, cases: CaseStore, ladder: Ladder | None, reports_dir: Path) -> None:
        self.cases = cases
        self.ladder = ladder
        self.reports_dir = reports_dir

    def verb(self, case_id: str, verb: str, by: str, note: str) -> Case:
        if verb not in VERBS:
            raise CaseError(f"unknown action {verb!r}")
        action = {
            "confirm": self.cases.confirm,
            "dismiss": self.cases.dismiss,
            "escalate": self.cases.escalate,
        }[verb]
        return action(case_id, by, note)

    def ban(self, case_id: str, by: str, note: str) -> list[DecisionRecord]:
        """Bans every key of the case the ladder acts on; audited as ``ban``."""
        ladder = self._ladder()
        case = self.cases.get(case_id)
        if not note.strip():
            raise CaseError("every case action needs a note saying why")
        now = datetime.now(UTC)
        records = ladder.ban(case.keys, by, note, now, entity_id=case.entity_id, case_id=case.id)
        if not records:
            raise CaseError(f"case {case_id} holds no key a ban can act on")
        first = records[0]
        self.cases.record_action(
            case_id,
            "ban" + (" (shadow)" if first.shadow else ""),
            by,
            note,
            {
                "keys": [list(r.key) for r in records],
                "expires_at": None if first.expires_at is None else first.expires_at.isoformat(),
            },
            now,
        )
        return records

    def lift(self, case_id: str, by: str, note: str) -> Case:
        """Lifts the case and every decision on its keys (``CaseStore.lift``)."""
        return self.cases.lift(case_id, by, note, decisions=_LadderLift(self._ladder()))

    def notice(self, case_id: str, partner: PartnerInfo, sender: Sender, by: str) -> Notice:
        """The cease-and-desist notice of a confirmed case, written beside the other reports."""
        notice = build_notice(self.cases.get(case_id), partner, sender)
        _, pdf_path = notice.write(self.reports_dir)
        notice.record(self.cases, by, pdf_path)
        return notice

    def incident(self, case_id: str, events_url: str, by: str) -> tuple[IncidentReport, Path]:
        """The incident report of a case; returns it with the path of its PDF."""
        report = build_incident(self.cases.get(case_id), events_url)
        paths = report.write(self.reports_dir)
        report.record(self.cases, by, paths["pdf"])
        return report, paths["pdf"]

    def _ladder(self) -> Ladder:
        if self.ladder is None:
            raise NoDecisionStore(
                "no decision store the guard follows: set HARVESTGUARD_REDIS_URL, or mount the "
                "dashboard in the app's process with its decision table"
            )
        return self.ladder
