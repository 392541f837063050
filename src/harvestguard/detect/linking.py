"""Linking keys into entities: a union-find over links that carry evidence.

Keys are (kind, value) for account, client, session, ip, net and fingerprint. Every event has one
principal (``events.actor_kind/actor_key``: the partner app, else the account, else the address).
Keys carrying findings are *flagged*. The rules, applied to every key k seen with a flagged key's
principals:

1. **Ownership.** If one principal sent at least ``owner_share`` of k's events, k belongs to it
   (its session, its address, its device) and is linked to it.
2. **Shared by suspects.** If k is an address, a network prefix or a session and flagged principals sent at least
   ``flagged_share`` of its events, those flagged principals are linked together through k (a proxy address used by 17 fresh
   accounts; the data-centre address of a partner app and its accounts).
   **A partner app's house.** A partner app and the accounts that authorised it (the
   ``authorisations`` context table) and send from one of the app's network prefixes are linked
   as soon as one of them is flagged, whatever their shares; a flagged app also takes in the
   other flagged principals on that prefix. An app's API calls come from its own servers, where
   nobody browses: an account that granted the app its data and browses from there is the
   app's own (the 2019 partner's accounts and its app, caught one by one by different
   detectors, are one adversary, stopped together rather than each when it is caught). A
   stranger on that network who did not authorise the app is never pulled in.
3. **Acted together.** Keys a detector reports in one ``link_group`` are linked (the hundreds of
   addresses of one enumeration sweep, a chain of neighbour links, so that two sweeps walking at
   the same time stay two; a partner app and the accounts fetching what it was refused). The
   entity's reasons say it once per detector, however many groups it took.
4. **Created together.** Flagged accounts that one detector fired on, that were created within
   ``cohort_minutes`` of each other (the ``accounts`` context table) and at least
   ``cohort_min_age_hours`` before that detector first fired on them, are linked: a batch of sock
   puppets made in one sitting and left to age, each on its own addresses. Accounts made during
   an attack (a fresh-account rush) are linked by where they send from, rules 1-3; two rushes
   in the same hour stay two adversaries. Both conditions are needed: accounts
   created in the same minutes are common on a busy platform, and one detector firing on two
   strangers is chance; both at once is a cohort.

A shared key never pulls an unflagged principal into an entity: behind a carrier NAT address
used by 200 people, one flagged account does not merge the other 199 (rule 2 fails, rule 1 fails),
and two flagged accounts that merely share the NAT are not merged either unless they make up
``flagged_share`` of its traffic. An entity's *acting keys* are its members that nobody outside it
used (at least ``exclusive_share`` of their events are the entity's): only those may be acted on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa

from harvestguard.detect.engines import Engine
from harvestguard.detect.findings import ActorKey, Finding

# keys through which flagged principals may be linked (rule 2): where they send from. Header
# fingerprints are left out: one browser build on one language is shared by strangers.
NETWORK_KINDS = frozenset({"ip", "net", "session"})
KEY_COLUMNS = {
    "account": "actor_account",
    "client": "actor_client",
    "session": "session",
    "ip": "ip",
    "net": "net",
    "fingerprint": "fingerprint",
}


@dataclass(slots=True)
class LinkedGroup:
    members: set[ActorKey]
    keys: set[ActorKey]
    links: list[str] = field(default_factory=list)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[ActorKey, ActorKey] = {}

    def find(self, key: ActorKey) -> ActorKey:
        self.parent.setdefault(key, key)
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: ActorKey, b: ActorKey) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass(frozen=True, slots=True)
class EntityLinker:
    owner_share: float = 0.9
    flagged_share: float = 0.5
    exclusive_share: float = 0.99
    cohort_minutes: float = 15.0
    cohort_min_age_hours: float = 24.0

    def link(self, engine: Engine, findings: Iterable[Finding]) -> list[LinkedGroup]:
        findings = list(findings)
        flagged = {f.key for f in findings}
        principals, total = _tally(self._usage(engine, flagged))
        operated = self._authorised(
            engine, {p for key, users in principals.items() if key[0] == "net" for p in users}
        )
        houses = _houses(principals, flagged, operated)
        staff = {member for house in houses for member in house} - flagged
        if staff:  # where the app's unflagged accounts send from, too
            principals, total = _tally(self._usage(engine, flagged | staff))
        sets = _UnionFind()
        reasons: dict[ActorKey, list[str]] = defaultdict(list)
        for key in flagged:
            sets.find(key)
        for key, users in principals.items():
            owner, owned = max(users.items(), key=lambda item: (item[1], item[0]))
            if owner != key and owned >= self.owner_share * total[key]:
                sets.union(key, owner)
            suspects = [p for p in users if p in flagged]
            if (
                key[0] in NETWORK_KINDS
                and len(suspects) > 1
                and (sum(users[p] for p in suspects) >= self.flagged_share * total[key])
            ):
                for other in suspects[1:]:
                    sets.union(suspects[0], other)
                sets.union(key, suspects[0])
                reasons[suspects[0]].append(f"{len(suspects)} flagged principals share {key[0]}")
        for house in houses:
            for member in house:
                sets.union(house[0], member)
            reasons[house[0]].append(
                f"partner app and {len(house) - 1} accounts or addresses send from its "
                f"network, {sum(p in flagged for p in house)} of them flagged"
            )
        members = {member for house in houses for member in house}
        for key, users in principals.items():
            # an address of the app's network that only the app's house used by name: its
            # anonymous requests (the house's accounts logged out by a ban) are the house's too
            named = sorted(p for p in users if p != key)
            if key[0] == "ip" and named and all(p in members for p in named):
                sets.union(key, named[0])
        acted_together: dict[tuple[str, str], list[ActorKey]] = defaultdict(list)
        for finding in findings:
            for label in finding.link_groups:
                acted_together[(finding.detector, label)].append(finding.key)
        together: dict[str, list[tuple[str, list[ActorKey]]]] = defaultdict(list)
        for (detector, label), keys in acted_together.items():
            for key in keys[1:]:
                sets.union(keys[0], key)
            if len(set(keys)) > 1:
                together[detector].append((label, keys))
        for detector, cohort in self._created_together(engine, findings):
            for key in cohort[1:]:
                sets.union(cohort[0], key)
            reasons[cohort[0]].append(
                f"{len(cohort)} accounts created within {self.cohort_minutes:g} min "
                f"of each other, all flagged by {detector}"
            )
        components: dict[ActorKey, LinkedGroup] = {}
        for key in set(sets.parent) | flagged:
            root = sets.find(key)
            components.setdefault(root, LinkedGroup(set(), set())).members.add(key)
        for key, why in reasons.items():
            components[sets.find(key)].links.extend(why)
        for detector, groups in together.items():
            for root, reason in _acted_together_reasons(detector, groups, sets).items():
                components[root].links.append(reason)
        result = []
        for component in components.values():
            if not component.members & flagged:
                continue
            for key in component.members:
                users = principals.get(key, {key: 1})
                inside = sum(n for p, n in users.items() if p in component.members)
                if inside >= self.exclusive_share * sum(users.values()):
                    component.keys.add(key)
            component.links = sorted(set(component.links))
            result.append(component)
        return result

    def _authorised(self, engine: Engine, principals: set[ActorKey]) -> set[tuple[str, str]]:
        """(client, account) for the partner apps among ``principals`` and the accounts that
        authorised them (the ``authorisations`` context table; empty when not given)."""
        apps = sorted(value for kind, value in principals if kind == "client")
        if not apps or not engine.has_table("authorisations"):
            return set()
        engine.load_table("_apps", pa.table({"client": pa.array(apps, pa.string())}))
        table = engine.query(
            "SELECT DISTINCT client, account FROM authorisations "
            "WHERE client IN (SELECT client FROM _apps)"
        )
        return {(str(row["client"]), str(row["account"])) for row in table.to_pylist()}

    def _created_together(
        self, engine: Engine, findings: list[Finding]
    ) -> list[tuple[str, list[ActorKey]]]:
        """Per detector, the runs of its flagged accounts whose creation times are each within
        ``cohort_minutes`` of the previous one (a chain, so a sign-up session of an hour is one
        cohort when its accounts were made minutes apart)."""
        accounts: dict[str, set[str]] = defaultdict(set)
        fired: dict[tuple[str, str], float] = {}
        for finding in findings:
            if finding.key[0] == "account":
                accounts[finding.detector].add(finding.key[1])
                fired[(finding.detector, finding.key[1])] = finding.first_fired_at.timestamp()
        wanted = sorted(set().union(*accounts.values())) if accounts else []
        if not wanted:
            return []
        engine.load_table("_accounts", pa.table({"account": pa.array(wanted, pa.string())}))
        created = {
            str(row["account"]): float(row["created_at"])
            for row in engine.query(
                "SELECT account, min(created_at) AS created_at FROM accounts "
                "WHERE account IN (SELECT account FROM _accounts) AND created_at IS NOT NULL "
                "GROUP BY account"
            ).to_pylist()
        }
        gap, age = self.cohort_minutes * 60, self.cohort_min_age_hours * 3600
        cohorts = []
        for detector, members in sorted(accounts.items()):
            timed = sorted(
                (created[a], a)
                for a in members
                if a in created and fired[(detector, a)] - created[a] >= age
            )
            run: list[ActorKey] = []
            last = None
            for at, account in timed:
                if last is not None and at - last > gap:
                    if len(run) > 1:
                        cohorts.append((detector, run))
                    run = []
                run.append(("account", account))
                last = at
            if len(run) > 1:
                cohorts.append((detector, run))
        return cohorts

    def _usage(
        self, engine: Engine, flagged: set[ActorKey]
    ) -> list[tuple[str, str, str, str, int]]:
        """(kind, key, principal kind, principal key, events) for every key used by a principal
        that used a flagged key."""
        if not flagged:
            return []
        kinds, values = zip(*sorted(flagged), strict=True)
        engine.load_table(
            "_flagged",
            pa.table({"kind": pa.array(kinds, pa.string()), "key": pa.array(values, pa.string())}),
        )

        def any_key(table: str) -> str:
            return " OR ".join(
                f"{column} IN (SELECT key FROM {table} WHERE kind = '{kind}')"
                for kind, column in KEY_COLUMNS.items()
            )

        def unpivot(where: str) -> str:
            return " UNION ALL ".join(
                f"SELECT '{kind}' AS kind, {column} AS key, actor_kind, actor_key "
                f"FROM events WHERE {column} IS NOT NULL AND ({where})"
                for kind, column in KEY_COLUMNS.items()
            )

        # three narrowing passes instead of grouping every key of every event
        suspects = engine.query(
            f"SELECT DISTINCT actor_kind, actor_key FROM events WHERE {any_key('_flagged')}"
        )
        engine.load_table("_suspects", suspects)
        relevant = engine.query(
            "SELECT DISTINCT kind, key FROM ("
            + unpivot("(actor_kind, actor_key) IN (SELECT actor_kind, actor_key FROM _suspects)")
            + ") keyed"
        )
        engine.load_table("_relevant", relevant)
        usage = " UNION ALL ".join(
            f"SELECT '{kind}' AS kind, {column} AS key, actor_kind, actor_key FROM events "
            f"WHERE {column} IN (SELECT key FROM _relevant WHERE kind = '{kind}')"
            for kind, column in KEY_COLUMNS.items()
        )
        table = engine.query(
            "SELECT kind, key, actor_kind, actor_key, count(*) AS n FROM ("
            + usage
            + ") keyed GROUP BY kind, key, actor_kind, actor_key"
        )
        return [
            (
                str(row["kind"]),
                str(row["key"]),
                str(row["actor_kind"]),
                str(row["actor_key"]),
                int(row["n"]),
            )
            for row in table.to_pylist()
        ]


def _acted_together_reasons(
    detector: str, groups: list[tuple[str, list[ActorKey]]], sets: _UnionFind
) -> dict[ActorKey, str]:
    """One reason per entity and detector: the keys it linked, and through how many groups (a
    sweep's addresses are linked pair by pair, hundreds of labels that say the same thing)."""
    labels: dict[ActorKey, list[str]] = defaultdict(list)
    keys: dict[ActorKey, set[ActorKey]] = defaultdict(set)
    for label, members in groups:
        root = sets.find(members[0])
        labels[root].append(label)
        keys[root].update(members)
    reasons = {}
    for root, named in labels.items():
        how = named[0] if len(named) == 1 else f"{len(named)} links"
        reasons[root] = f"{len(keys[root])} keys acted together ({detector}: {how})"
    return reasons


def _tally(
    usage: list[tuple[str, str, str, str, int]],
) -> tuple[dict[ActorKey, dict[ActorKey, int]], dict[ActorKey, int]]:
    """Per key, the events each principal sent with it, and its events in all."""
    total: dict[ActorKey, int] = defaultdict(int)
    principals: dict[ActorKey, dict[ActorKey, int]] = defaultdict(dict)
    for kind, value, p_kind, p_value, count in usage:
        total[(kind, value)] += count
        principals[(kind, value)][(p_kind, p_value)] = count
    return principals, total


def _houses(
    principals: dict[ActorKey, dict[ActorKey, int]],
    flagged: set[ActorKey],
    operated: set[tuple[str, str]],
) -> list[list[ActorKey]]:
    """Per partner app on a network prefix with a flagged member: the app first, then the
    accounts there that authorised it and, when the app is flagged, the other flagged
    principals there (rule 2, a partner app's house)."""
    houses = []
    for key, users in principals.items():
        if key[0] != "net":
            continue
        for app in sorted(p for p in users if p[0] == "client"):
            house = [app] + [p for p in users if p[0] == "account" and (app[1], p[1]) in operated]
            if app in flagged:  # and whatever else was caught on the app's servers
                house += [p for p in users if p in flagged and p not in house]
            if len(house) > 1 and any(p in flagged for p in house):
                houses.append(house)
    return houses
