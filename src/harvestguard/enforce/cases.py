"""Cases: one per enforced entity, holding its evidence and an append-only audit log of every
action taken (who, when, why). SQLite file by default, any SQLAlchemy URL (PostgreSQL) at scale.

A detected entity updates the case that shares the most of its keys (the oldest on a tie), else
opens a new one; detection rerun on the same events changes nothing and logs nothing. Analysts
``confirm``, ``dismiss``, ``escalate`` or ``lift`` a case, each with their name and a note;
``feedback()`` gives the confirmed and dismissed cases as labels for the evaluation.

The store has no method that changes or deletes an audit entry, and the database refuses to:
triggers on the audit table abort any UPDATE or DELETE (``case_schema``).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable, Mapping, Sized
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, Row, func, insert, select, tuple_, update
from sqlalchemy.engine import make_url

from harvestguard.enforce.case_models import (
    AuditEntry,
    Case,
    CaseStatus,
    Evidence,
    Outcome,
    Verdict,
)
from harvestguard.enforce.case_schema import audit, case_keys, cases, create_schema, make_engine

if TYPE_CHECKING:
    # detection's types only: importing harvestguard.detect loads the whole engine
    from harvestguard.detect.findings import ActorKey, Entity

DEFAULT_CASES_URL = "sqlite:///var/harvestguard/cases.db"
DETECTION = "detection"  # the ``by`` of what the detection engine does to a case

# status -> the verbs an analyst may apply to a case in that status
_ALLOWED: dict[CaseStatus, frozenset[str]] = {
    CaseStatus.OPEN: frozenset({"confirm", "dismiss", "escalate", "lift"}),
    CaseStatus.CONFIRMED: frozenset({"dismiss", "escalate", "lift"}),
    CaseStatus.ESCALATED: frozenset({"confirm", "dismiss", "lift"}),
    CaseStatus.DISMISSED: frozenset({"confirm", "escalate", "lift"}),
    CaseStatus.LIFTED: frozenset({"confirm", "dismiss", "escalate"}),
}


class CaseError(ValueError):
    """A case action that cannot be done: unknown case, wrong status, missing name or note."""


class DecisionWriter(Protocol):
    """What ``lift`` needs from a decision table: B's ``DecisionTable.lift`` fits."""

    def lift(self, key: ActorKey, by: str, reason: str) -> object: ...


class CaseStore:
    def __init__(self, url: str = DEFAULT_CASES_URL) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine = make_engine(url)
        create_schema(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- detection -> cases ------------------------------------------------------------------

    def open_or_update(
        self, entity: Entity, now: datetime | None = None, *, by: str = DETECTION
    ) -> Case:
        """The case of this entity, opened or brought up to date with its evidence."""
        if not entity.keys:
            raise CaseError(f"entity {entity.id} has no key that is safe to act on")
        now = _now(now)
        evidence = Evidence.from_entity(entity).to_dict()
        with self.engine.begin() as db:
            case_id = self._case_of(db, entity.keys)
            if case_id is None:
                case_id = f"C-{uuid.uuid4().hex[:10]}"
                db.execute(
                    insert(cases).values(
                        id=case_id,
                        status=CaseStatus.OPEN.value,
                        verdict=None,
                        entity_id=entity.id,
                        risk=round(entity.risk, 4),
                        detected_at=entity.detected_at,
                        opened_at=now,
                        updated_at=now,
                        evidence=evidence,
                    )
                )
                self._add_keys(db, case_id, entity.keys)
                _append(
                    db,
                    case_id,
                    now,
                    "opened",
                    by,
                    f"entity {entity.id} flagged with risk {entity.risk:.2f}",
                    {
                        "entity": entity.id,
                        "detectors": entity.detectors,
                        "records": entity.exposure.records,
                        "keys": sorted(list(k) for k in entity.keys),
                    },
                )
            else:
                self._update(db, case_id, entity, evidence, now, by)
            return self._load(db, case_id)

    def _case_of(self, db: Connection, keys: frozenset[ActorKey]) -> str | None:
        """The case sharing the most keys (the oldest on a tie), or None."""
        query = (
            select(case_keys.c.case_id)
            .join(cases, cases.c.id == case_keys.c.case_id)
            .where(tuple_(case_keys.c.kind, case_keys.c.value).in_(sorted(keys)))
            .group_by(case_keys.c.case_id, cases.c.opened_at)
            .order_by(func.count().desc(), cases.c.opened_at, case_keys.c.case_id)
            .limit(1)
        )
        found: str | None = db.execute(query).scalar_one_or_none()
        return found

    def _update(
        self,
        db: Connection,
        case_id: str,
        entity: Entity,
        evidence: dict[str, Any],
        now: datetime,
        by: str,
    ) -> None:
        row = db.execute(select(cases).where(cases.c.id == case_id)).one()
        known = self._keys(db, case_id)
        new_keys = entity.keys - known
        risk = round(entity.risk, 4)
        if row.evidence == evidence and not new_keys and row.risk == risk:
            return
        db.execute(
            update(cases)
            .where(cases.c.id == case_id)
            .values(
                entity_id=entity.id,
                risk=risk,
                detected_at=row.detected_at or entity.detected_at,
                updated_at=now,
                evidence=evidence,
            )
        )
        self._add_keys(db, case_id, new_keys)
        before = Evidence.from_dict(row.evidence)
        _append(
            db,
            case_id,
            now,
            "updated",
            by,
            f"new evidence from entity {entity.id}",
            {
                "entity": entity.id,
                "records": [before.records, entity.exposure.records],
                "risk": [row.risk, risk],
                "new_detectors": sorted(
                    set(entity.detectors) - {d.detector for d in before.detectors}
                ),
                "new_keys": sorted(list(k) for k in new_keys),
            },
        )

    # -- the audit log -----------------------------------------------------------------------

    def record_action(
        self,
        case_id: str,
        action: str,
        by: str,
        reason: str,
        details: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> AuditEntry:
        """Appends one entry to the case's audit log (a decision taken, a notice sent...)."""
        if not action.strip():
            raise CaseError("an audited action needs a name")
        _require_actor(by, reason)
        with self.engine.begin() as db:
            self._row(db, case_id)
            seq = _append(db, case_id, _now(now), action, by, reason, dict(details or {}))
            return _entry(db.execute(select(audit).where(audit.c.seq == seq)).one())

    def audit(self, case_id: str | None = None) -> builtins.list[AuditEntry]:
        """The audit log, oldest first: one case's, or every case's."""
        query = select(audit).order_by(audit.c.seq)
        if case_id is not None:
            query = query.where(audit.c.case_id == case_id)
        with self.engine.connect() as db:
            if case_id is not None:
                self._row(db, case_id)
            return [_entry(row) for row in db.execute(query)]

    # -- analyst verbs -----------------------------------------------------------------------

    def confirm(self, case_id: str, by: str, note: str, now: datetime | None = None) -> Case:
        """An analyst confirms the entity is harvesting: the verdict the evaluation learns."""
        return self._transition(case_id, "confirm", CaseStatus.CONFIRMED, by, note, now)

    def dismiss(self, case_id: str, by: str, note: str, now: datetime | None = None) -> Case:
        """An analyst finds the entity benign (a false positive)."""
        return self._transition(case_id, "dismiss", CaseStatus.DISMISSED, by, note, now)

    def escalate(self, case_id: str, by: str, note: str, now: datetime | None = None) -> Case:
        """Hands the case on (legal, the data-protection officer); the verdict is unchanged."""
        return self._transition(case_id, "escalate", CaseStatus.ESCALATED, by, note, now)

    def lift(
        self,
        case_id: str,
        by: str,
        note: str,
        decisions: DecisionWriter | None = None,
        now: datetime | None = None,
    ) -> Case:
        """Lifts the enforcement of a case: each of its keys is lifted in ``decisions`` when
        given; the verdict is unchanged (a confirmed harvester can be let back in)."""
        _require_actor(by, note)
        details: dict[str, Any] = {}
        if decisions is not None:
            case = self.get(case_id)
            if "lift" not in _ALLOWED[case.status]:
                raise CaseError(f"case {case_id} is {case.status.value}: it cannot be lifted")
            removed = 0
            for key in sorted(case.keys):
                result = decisions.lift(key, by, note)
                removed += len(result) if isinstance(result, Sized) else 0
            details = {"keys_lifted": len(case.keys), "decisions_removed": removed}
        return self._transition(case_id, "lift", CaseStatus.LIFTED, by, note, now, details)

    def _transition(
        self,
        case_id: str,
        verb: str,
        status: CaseStatus,
        by: str,
        note: str,
        now: datetime | None,
        details: dict[str, Any] | None = None,
    ) -> Case:
        _require_actor(by, note)
        moment = _now(now)
        with self.engine.begin() as db:
            row = self._row(db, case_id)
            current = CaseStatus(row.status)
            if verb not in _ALLOWED[current]:
                raise CaseError(f"case {case_id} is {current.value}: it cannot be {status.value}")
            values: dict[str, Any] = {"status": status.value, "updated_at": moment}
            if status is CaseStatus.CONFIRMED:
                values["verdict"] = Verdict.CONFIRMED.value
            elif status is CaseStatus.DISMISSED:
                values["verdict"] = Verdict.DISMISSED.value
            db.execute(update(cases).where(cases.c.id == case_id).values(**values))
            _append(
                db,
                case_id,
                moment,
                status.value,
                by,
                note,
                {"from": current.value, **(details or {})},
            )
            return self._load(db, case_id)

    # -- reading -----------------------------------------------------------------------------

    def get(self, case_id: str) -> Case:
        with self.engine.connect() as db:
            return self._load(db, case_id)

    def list(self, status: CaseStatus | str | None = None) -> builtins.list[Case]:
        """Cases, most recently updated first; only those in ``status`` when given."""
        query = select(cases.c.id).order_by(cases.c.updated_at.desc(), cases.c.id)
        if status is not None:
            query = query.where(cases.c.status == CaseStatus(status).value)
        with self.engine.connect() as db:
            return [self._load(db, case_id) for case_id in db.execute(query).scalars()]

    def find(self, key: ActorKey) -> builtins.list[Case]:
        """The cases holding this key."""
        query = select(case_keys.c.case_id).where(
            case_keys.c.kind == key[0], case_keys.c.value == key[1]
        )
        with self.engine.connect() as db:
            return [self._load(db, case_id) for case_id in db.execute(query).scalars()]

    def feedback(self) -> builtins.list[Outcome]:
        """The analysts' verdicts, one per judged case: its keys labelled confirmed (an
        adversary) or dismissed (benign), with who decided, when and why."""
        outcomes: builtins.list[Outcome] = []
        with self.engine.connect() as db:
            judged = db.execute(
                select(cases.c.id, cases.c.verdict)
                .where(cases.c.verdict.is_not(None))
                .order_by(cases.c.id)
            ).all()
            for case_id, verdict in judged:
                last = db.execute(
                    select(audit)
                    .where(audit.c.case_id == case_id, audit.c.action == verdict)
                    .order_by(audit.c.seq.desc())
                    .limit(1)
                ).one()
                outcomes.append(
                    Outcome(
                        case_id=case_id,
                        keys=self._keys(db, case_id),
                        verdict=Verdict(verdict),
                        by=last.by,
                        at=last.at,
                        note=last.reason,
                    )
                )
        return outcomes

    def _row(self, db: Connection, case_id: str) -> Row[Any]:
        row = db.execute(select(cases).where(cases.c.id == case_id)).one_or_none()
        if row is None:
            raise CaseError(f"no case {case_id!r}")
        return row

    def _keys(self, db: Connection, case_id: str) -> frozenset[ActorKey]:
        rows = db.execute(
            select(case_keys.c.kind, case_keys.c.value).where(case_keys.c.case_id == case_id)
        )
        return frozenset((kind, value) for kind, value in rows)

    def _add_keys(self, db: Connection, case_id: str, keys: Iterable[ActorKey]) -> None:
        rows = [{"case_id": case_id, "kind": kind, "value": value} for kind, value in keys]
        if rows:
            db.execute(insert(case_keys), rows)

    def _load(self, db: Connection, case_id: str) -> Case:
        row = self._row(db, case_id)
        return Case(
            id=row.id,
            status=CaseStatus(row.status),
            verdict=None if row.verdict is None else Verdict(row.verdict),
            entity_id=row.entity_id,
            keys=self._keys(db, case_id),
            risk=row.risk,
            detected_at=row.detected_at,
            opened_at=row.opened_at,
            updated_at=row.updated_at,
            evidence=Evidence.from_dict(row.evidence),
        )


def _append(
    db: Connection,
    case_id: str,
    at: datetime,
    action: str,
    by: str,
    reason: str,
    details: dict[str, Any],
) -> int:
    result = db.execute(
        insert(audit).values(
            case_id=case_id, at=at, action=action, by=by, reason=reason, details=details
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        case_id=row.case_id,
        at=row.at,
        action=row.action,
        by=row.by,
        reason=row.reason,
        details=dict(row.details),
    )


def _require_actor(by: str, note: str) -> None:
    if not by.strip():
        raise CaseError("every case action needs the name of who takes it")
    if not note.strip():
        raise CaseError("every case action needs a note saying why")


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise CaseError("case times must be timezone-aware")
    return now.astimezone(UTC)
