"""Who could have leaked: the actors of the guard's event store, named as marks name them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from harvestguard.canaries import Canary

# the precedence of identity.identity_of, in SQL
_IDENTITY_SQL = """
    CASE
        WHEN coalesce(actor_account, '') <> '' THEN 'account:' || actor_account
        WHEN coalesce(actor_client, '') <> '' THEN 'client:' || actor_client
        WHEN coalesce(net, '') <> '' THEN 'net:' || net
    END
"""


@dataclass(frozen=True, slots=True)
class Candidate:
    identity: str
    requests: int
    people: int  # distinct owners whose data the actor was served
    linked: tuple[str, ...] = ()  # other identities seen on the same sessions or networks


def candidates_from_events(events: pa.Table) -> list[Candidate]:
    """Every identity the events saw, with what it obtained, and the identities linked to it
    (an account and the prefixes it came from, identities sharing a session: one entity)."""
    with duckdb.connect() as db:
        db.register("events", events)
        db.execute(f"CREATE TEMP TABLE actors AS SELECT *, {_IDENTITY_SQL} AS identity FROM events")
        rows = db.execute(
            """
            SELECT identity, count(*),
                   count(DISTINCT owner) FILTER (WHERE owner IS NOT NULL)
            FROM (SELECT identity, unnest(CASE WHEN len(owner_ids) = 0 THEN [NULL]
                                              ELSE owner_ids END) AS owner
                  FROM actors WHERE identity IS NOT NULL)
            GROUP BY identity ORDER BY identity
            """
        ).fetchall()
        # an identity and the network prefixes it came from, or identities sharing a session;
        # not every pair of accounts behind one prefix (a campus NAT would make that quadratic)
        links = db.execute(
            """
            WITH seen AS (SELECT DISTINCT identity, net, session FROM actors
                          WHERE identity IS NOT NULL)
            SELECT DISTINCT a.identity, b.identity
            FROM seen a JOIN seen b ON a.net = b.net AND b.identity = 'net:' || b.net
            WHERE a.identity <> b.identity
            UNION
            SELECT DISTINCT a.identity, b.identity
            FROM seen a JOIN seen b ON a.session = b.session AND a.identity < b.identity
            """
        ).fetchall()
    linked: dict[str, set[str]] = {}
    for first, second in links:
        linked.setdefault(first, set()).add(second)
        linked.setdefault(second, set()).add(first)
    return [
        Candidate(identity, requests, people, tuple(sorted(linked.get(identity, ()))))
        for identity, requests, people in rows
    ]


def canary_readers(events: pa.Table, canaries: Sequence[Canary]) -> dict[str, set[str]]:
    """For each canary (by marker), the identities whose requests read it."""
    reads = [
        (canary.marker, resource, object_id)
        for canary in canaries
        for resource, object_id in canary.reads()
    ]
    if not reads or events.num_rows == 0:
        return {}
    wanted = pa.table(
        {
            "marker": [row[0] for row in reads],
            "resource": [row[1] for row in reads],
            "object_id": [row[2] for row in reads],
        }
    )
    with duckdb.connect() as db:
        db.register("events", events)
        db.register("wanted", wanted)
        rows = db.execute(
            f"""
            SELECT DISTINCT w.marker, {_IDENTITY_SQL}
            FROM events e JOIN wanted w ON e.resource = w.resource AND e.object_id = w.object_id
            WHERE e.status < 400
            """
        ).fetchall()
    readers: dict[str, set[str]] = {}
    for marker, identity in rows:
        if identity is not None:
            readers.setdefault(marker, set()).add(identity)
    return readers
