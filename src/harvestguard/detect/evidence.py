"""Evidence queries about entities: what they obtained, and whether they are allow-listed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa

from harvestguard.detect.engines import Engine
from harvestguard.detect.findings import ActorKey, Exposure
from harvestguard.events import DataClass

SAMPLE_EVENTS = 5
# an allow-listed key must be on this share of a principal's events for the principal to be
ALLOWLIST_SHARE = 0.9
ALLOWLIST_COLUMNS = {
    "account": "actor_account",
    "client": "actor_client",
    "ip": "ip",
    "net": "net",
    "ua": "ua",
    "fingerprint": "fingerprint",
}


def _load_members(engine: Engine, members: Sequence[tuple[str, ActorKey]]) -> None:
    engine.load_table(
        "_members",
        pa.table(
            {
                "entity": pa.array([m[0] for m in members], pa.string()),
                "actor_kind": pa.array([m[1][0] for m in members], pa.string()),
                "actor_key": pa.array([m[1][1] for m in members], pa.string()),
            }
        ),
    )


def exposures(engine: Engine, members: Sequence[tuple[str, ActorKey]]) -> dict[str, Exposure]:
    """Per entity id: its requests, time span, sample request ids and the personal records
    (distinct owner x data class) its principals received."""
    if not members:
        return {}
    _load_members(engine, members)
    found: dict[str, Exposure] = {}
    summary = engine.query(
        """
        WITH mine AS (
            SELECT m.entity, e.request_id, e.epoch_s, e.ts, len(e.owner_ids) AS owners
            FROM events e
            JOIN _members m ON m.actor_kind = e.actor_kind AND m.actor_key = e.actor_key
        ),
        samples AS (
            SELECT entity, request_id,
                   row_number() OVER (PARTITION BY entity ORDER BY epoch_s, request_id) AS n
            FROM mine WHERE owners > 0
        )
        SELECT m.entity, count(*) AS requests, min(m.ts) AS first_seen, max(m.ts) AS last_seen,
               (SELECT string_agg(s.request_id, ' ' ORDER BY s.n) FROM samples s
                WHERE s.entity = m.entity AND s.n <= 5) AS samples
        FROM mine m GROUP BY m.entity
        """
    ).to_pylist()
    for row in summary:
        found[row["entity"]] = Exposure(
            requests=row["requests"],
            first_seen=_utc(row["first_seen"]),
            last_seen=_utc(row["last_seen"]),
            sample_request_ids=tuple((row["samples"] or "").split()),
        )
    # one pass: per entity and owner, which data classes it received; then per entity
    received = ", ".join(
        f"max(CASE WHEN o.has_{c.value} THEN 1 ELSE 0 END) AS {c.value}" for c in DataClass
    )
    counted = ", ".join(f"sum({c.value}) AS {c.value}" for c in DataClass)
    records = engine.query(
        f"""
        WITH pairs AS (
            SELECT m.entity, o.owner, {received}
            FROM event_owners o
            JOIN _members m ON m.actor_kind = o.actor_kind AND m.actor_key = o.actor_key
            GROUP BY m.entity, o.owner
        )
        SELECT entity, count(owner) AS owners, {counted} FROM pairs GROUP BY entity
        """
    ).to_pylist()
    for row in records:
        exposure = found.setdefault(row["entity"], Exposure())
        for data_class in DataClass:
            if row[data_class.value]:
                exposure.records_by_class[data_class.value] = int(row[data_class.value])
                exposure.records += int(row[data_class.value])
        exposure.owners = int(row["owners"])
    return found


def allowlisted(engine: Engine, members: Sequence[tuple[str, ActorKey]]) -> dict[str, str]:
    """Per entity id: the allow-list label of its principals, when most of a principal's events
    carry an allow-listed key (a verified crawler's address range, a partner's client id)."""
    if not members or not engine.has_table("allowlist"):
        return {}
    if not engine.query("SELECT count(*) AS n FROM allowlist").column("n")[0].as_py():
        return {}  # nothing is allow-listed: spares a pass over the events
    _load_members(engine, members)
    matches = " OR ".join(
        f"(a.kind = '{kind}' AND a.key = e.{column})" for kind, column in ALLOWLIST_COLUMNS.items()
    )
    rows = engine.query(
        f"""
        WITH mine AS (
            SELECT m.entity, e.request_id,
                   (SELECT min(a.label) FROM allowlist a WHERE {matches}) AS label
            FROM events e
            JOIN _members m ON m.actor_kind = e.actor_kind AND m.actor_key = e.actor_key
        )
        SELECT entity, min(label) AS label,
               count(label) * 1.0 / count(*) AS share
        FROM mine GROUP BY entity
        """
    ).to_pylist()
    return {r["entity"]: r["label"] for r in rows if r["label"] and r["share"] >= ALLOWLIST_SHARE}


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)
