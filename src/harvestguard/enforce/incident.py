"""The incident report for the data-protection officer: which members' data a case's entity
obtained, of which classes, over what period; whether the breach likely meets a notification
threshold; and the list of affected accounts to notify (CSV, JSON). HTML and PDF.

Affected members come from the events themselves, not from the case's counts: every event in
the period that carries one of the case's keys in its key column (``KEY_COLUMNS``: an account
key matches ``actor_account``, a client key ``actor_client``...), and the owners it disclosed.
User-agent keys are never used (thousands share one), and the entity's own accounts are not
victims. The notification rule is ``NotificationRule``; docs/enforcement.md explains it.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from harvestguard.enforce.case_models import Case, CaseStatus
from harvestguard.enforce.cases import CaseError, CaseStore
from harvestguard.enforce.render import html_to_pdf, render_html
from harvestguard.events import ARROW_SCHEMA
from harvestguard.simulate.groundtruth import KEY_COLUMNS, ActorKey
from harvestguard.sinks import parse_sink_url, read_store
from harvestguard.sinks.parquet import PARTITION_PREFIX, scan_sql

# key kind -> the event column holding it
KEY_KIND_COLUMNS = {kind: column for column, kind in KEY_COLUMNS.items()}
# a user agent alone is shared by thousands: it never selects events
UNSAFE_KINDS = frozenset({"ua"})
AUTHORITY_DEADLINE = timedelta(hours=72)


@dataclass(frozen=True, slots=True)
class AffectedAccount:
    account_id: str
    data_classes: tuple[str, ...]
    requests: int  # requests of the entity that disclosed this member's data
    first_seen: datetime
    last_seen: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "data_classes": list(self.data_classes),
            "requests": self.requests,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Assessment:
    level: str  # "unlikely to result in a risk" | "risk" | "high risk"
    notify_authority: bool
    notify_individuals: bool
    authority_deadline: datetime | None
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "notify_authority": self.notify_authority,
            "notify_individuals": self.notify_individuals,
            "authority_deadline": None
            if self.authority_deadline is None
            else self.authority_deadline.isoformat(),
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class NotificationRule:
    """A breach-notification threshold after GDPR articles 33 and 34.

    - Risk (notify the supervisory authority within 72 hours of becoming aware): at least
      ``authority_min_accounts`` members had data of a ``risk_classes`` class taken (data that
      locates, contacts or maps a person), or at least ``authority_min_any`` members had any
      personal data taken.
    - High risk (also notify the members themselves, without undue delay): at least
      ``high_risk_min_accounts`` members had both their location and their stories taken (where
      they are and what they meant to disappear: stalking and profiling), or their contact
      details; or at least ``high_risk_min_located`` members had their location taken.
    - Otherwise the breach is unlikely to result in a risk: it is documented, not notified.
    """

    risk_classes: frozenset[str] = frozenset({"location", "ephemeral", "contact", "social_graph"})
    authority_min_accounts: int = 1
    authority_min_any: int = 100
    high_risk_min_accounts: int = 10
    high_risk_min_located: int = 1000

    def assess(self, accounts: Iterable[AffectedAccount], aware_at: datetime) -> Assessment:
        accounts = list(accounts)
        risky = sum(1 for a in accounts if self.risk_classes & set(a.data_classes))
        tracked = sum(1 for a in accounts if {"location", "ephemeral"} <= set(a.data_classes))
        contacted = sum(1 for a in accounts if "contact" in a.data_classes)
        located = sum(1 for a in accounts if "location" in a.data_classes)
        reasons: list[str] = []
        if tracked >= self.high_risk_min_accounts:
            reasons.append(f"{tracked} members had both their location and their stories taken")
        if contacted >= self.high_risk_min_accounts:
            reasons.append(f"{contacted} members had their contact details taken")
        if located >= self.high_risk_min_located:
            reasons.append(f"{located} members had their location taken")
        high = bool(reasons)
        if not high:
            if risky >= self.authority_min_accounts:
                classes = ", ".join(sorted(self.risk_classes))
                reasons.append(f"{risky} members had data of a risk class ({classes}) taken")
            if len(accounts) >= self.authority_min_any:
                reasons.append(f"{len(accounts)} members had personal data taken")
        notify = bool(reasons)
        if not notify:
            reasons.append(
                f"{len(accounts)} members had only data of low-risk classes taken, below "
                f"{self.authority_min_any} members"
            )
        return Assessment(
            level="high risk" if high else "risk" if notify else "unlikely to result in a risk",
            notify_authority=notify,
            notify_individuals=high,
            authority_deadline=aware_at + AUTHORITY_DEADLINE if notify else None,
            reasons=tuple(reasons),
        )


@dataclass(frozen=True, slots=True)
class IncidentReport:
    case: Case
    generated_at: datetime
    aware_at: datetime
    period_start: datetime
    period_end: datetime
    keys: frozenset[ActorKey]
    accounts: tuple[AffectedAccount, ...]
    assessment: Assessment
    accounts_by_class: dict[str, int] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        return f"{self.case.id}/incident"

    def html(self) -> str:
        return render_html(
            "incident.html",
            report=self,
            case=self.case,
            assessment=self.assessment,
            reference=self.reference,
            key_kinds=sorted(Counter(kind for kind, _ in self.case.keys).items()),
        )

    def pdf(self) -> bytes:
        return html_to_pdf(self.html())

    def csv(self) -> str:
        """The affected accounts, one a line, for the notification mailing."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["account_id", "data_classes", "requests", "first_seen", "last_seen"])
        for account in self.accounts:
            writer.writerow(
                [
                    account.account_id,
                    ";".join(account.data_classes),
                    account.requests,
                    account.first_seen.isoformat(),
                    account.last_seen.isoformat(),
                ]
            )
        return buffer.getvalue()

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case.id,
            "generated_at": self.generated_at.isoformat(),
            "aware_at": self.aware_at.isoformat(),
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "keys": sorted(list(k) for k in self.keys),
            "affected_accounts": len(self.accounts),
            "accounts_by_class": dict(self.accounts_by_class),
            "assessment": self.assessment.to_dict(),
            "accounts": [a.to_dict() for a in self.accounts],
        }

    def record(self, store: CaseStore, by: str, pdf: Path) -> None:
        """Enters the report, made by ``by``, in its case's audit log."""
        store.record_action(
            self.case.id,
            "incident",
            by,
            f"incident report: {self.assessment.level}",
            {
                "affected_accounts": len(self.accounts),
                "notify_authority": self.assessment.notify_authority,
                "notify_individuals": self.assessment.notify_individuals,
                "pdf": str(pdf),
            },
        )

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Writes incident-CASE.{html,pdf,json} and affected-CASE.csv into ``directory``."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        paths = {
            "html": target / f"incident-{self.case.id}.html",
            "pdf": target / f"incident-{self.case.id}.pdf",
            "json": target / f"incident-{self.case.id}.json",
            "csv": target / f"affected-{self.case.id}.csv",
        }
        paths["html"].write_text(self.html(), encoding="utf-8")
        paths["pdf"].write_bytes(self.pdf())
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        paths["csv"].write_text(self.csv(), encoding="utf-8")
        return paths


def affected_accounts(
    events: str | pa.Table,
    keys: Iterable[ActorKey],
    start: datetime,
    end: datetime,
) -> list[AffectedAccount]:
    """Members whose data reached events carrying one of ``keys`` between ``start`` and ``end``
    (inclusive), ordered by account id. ``events`` is a store URL or an events table."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("the incident period must be timezone-aware")
    usable = sorted(
        (kind, value)
        for kind, value in keys
        if kind in KEY_KIND_COLUMNS and kind not in UNSAFE_KINDS
    )
    if not usable:
        raise ValueError("no key to select events by (user agents alone are never used)")
    own = [value for kind, value in usable if kind == "account"]
    matches = " OR ".join(
        f"{KEY_KIND_COLUMNS[kind]} IN (SELECT value FROM _keys WHERE kind = '{kind}')"
        for kind in sorted({kind for kind, _ in usable})
    )
    with duckdb.connect() as db:
        # partitions are UTC days: compare dates in UTC
        db.execute("SET TimeZone = 'UTC'")
        db.register(
            "_keys",
            pa.table(
                {
                    "kind": pa.array([k for k, _ in usable], pa.string()),
                    "value": pa.array([v for _, v in usable], pa.string()),
                }
            ),
        )
        source, day_filter = _source(db, events)
        rows = db.execute(
            f"""
            WITH hits AS (
                SELECT ts, owner_ids, data_classes FROM {source}
                WHERE ts BETWEEN $start AND $end {day_filter} AND ({matches})
                  AND len(owner_ids) > 0
            ),
            owners AS (SELECT unnest(owner_ids) AS owner, ts, data_classes FROM hits)
            SELECT owner, count(*) AS requests, min(ts) AS first_seen, max(ts) AS last_seen,
                   list_sort(list_distinct(flatten(list(data_classes)))) AS classes
            FROM owners
            WHERE NOT list_contains($own, owner)
            GROUP BY owner ORDER BY owner
            """,
            {"start": start, "end": end, "own": own},
        ).fetchall()
    return [
        AffectedAccount(
            account_id=owner,
            data_classes=tuple(classes),
            requests=requests,
            first_seen=first.astimezone(UTC),
            last_seen=last.astimezone(UTC),
        )
        for owner, requests, first, last, classes in rows
    ]


def build_incident(
    case: Case,
    events: str | pa.Table,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    aware_at: datetime | None = None,
    generated_at: datetime | None = None,
    rule: NotificationRule | None = None,
) -> IncidentReport:
    """The incident report of a case over its evidence's period (or ``start``..``end``).
    ``aware_at`` (when the platform became aware, default: the case's opening) starts the
    72-hour clock of the authority notification."""
    if case.status is CaseStatus.DISMISSED:
        raise CaseError(f"case {case.id} was dismissed: there is no incident to report")
    start = start or case.evidence.first_seen
    end = end or case.evidence.last_seen
    if start is None or end is None:
        raise CaseError(f"case {case.id} has no period: give its start and end")
    if end < start:
        raise ValueError("the incident period ends before it starts")
    accounts = affected_accounts(events, case.keys, start, end)
    aware = aware_at or case.opened_at
    by_class: dict[str, int] = {}
    for account in accounts:
        for name in account.data_classes:
            by_class[name] = by_class.get(name, 0) + 1
    return IncidentReport(
        case=case,
        generated_at=(generated_at or datetime.now(UTC)).astimezone(UTC),
        aware_at=aware.astimezone(UTC),
        period_start=start.astimezone(UTC),
        period_end=end.astimezone(UTC),
        keys=frozenset(k for k in case.keys if k[0] not in UNSAFE_KINDS),
        accounts=tuple(accounts),
        assessment=(rule or NotificationRule()).assess(accounts, aware),
        accounts_by_class=dict(sorted(by_class.items())),
    )


def _source(db: duckdb.DuckDBPyConnection, events: str | pa.Table) -> tuple[str, str]:
    """A FROM clause over the events, and a filter skipping whole days when the store has them."""
    if isinstance(events, pa.Table):
        db.register("_events", events)
        return "_events", ""
    kind, path = parse_sink_url(events)
    if kind == "parquet":
        if not path.is_dir():
            raise FileNotFoundError(f"no event store at {path}")
        if not any(path.glob(f"{PARTITION_PREFIX}*/*.parquet")):
            db.register("_events", ARROW_SCHEMA.empty_table())
            return "_events", ""
        return scan_sql(path), "AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)"
    db.register("_events", read_store(events))
    return "_events", ""
