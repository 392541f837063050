"""What a live run did: the report the progress bar reads, and the ground truth it writes.

The ground truth has the format of event mode's, with the keys the guard records, predicted from
what was sent: the pseudonyms of the forwarded address under the server's key, the fingerprint of
the headers, the session hash of the cookie or token, the account and the partner app. Accounts
the run signed up are named ``@username`` until the end, when the server's ids are looked up.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from harvestguard.pseudonym import Pseudonymiser
from harvestguard.simulate.groundtruth import ActorRecord, GroundTruth, KeyCounter
from harvestguard.simulate.intents import Identity
from harvestguard.simulate.live_http import guard_fingerprint
from harvestguard.simulate.live_world import LivePlan

UA_MAX_LENGTH = 256  # GuardConfig.ua_max_length
AccountLookup = Callable[[Sequence[str]], Mapping[str, int]]


@dataclass(slots=True)
class LiveReport:
    """What the run did, as it goes (the progress bar reads it) and at the end."""

    max_seconds: float
    max_requests: int
    sent: int = 0
    answered: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    by_actor_class: Counter[str] = field(default_factory=Counter)
    hosts: Counter[str] = field(default_factory=Counter)
    signed_up: list[str] = field(default_factory=list)
    unresolved_accounts: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    virtual_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.answered / self.elapsed if self.elapsed else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests_sent": self.sent,
            "requests_answered": self.answered,
            "errors": dict(self.errors),
            "skipped_intents": dict(self.skipped),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_actor_class": dict(sorted(self.by_actor_class.items())),
            "hosts": dict(self.hosts),
            "signed_up": self.signed_up,
            "unresolved_accounts": self.unresolved_accounts,
            "elapsed_seconds": round(self.elapsed, 3),
            "virtual_seconds": round(self.virtual_seconds, 1),
            "requests_per_second": round(self.rate, 1),
            "max_seconds": self.max_seconds,
            "max_requests": self.max_requests,
        }


@dataclass(slots=True)
class LiveResult:
    report: LiveReport
    ground_truth: GroundTruth
    labels: pa.Table  # request_id -> actor_id of every answered request

    def write(self, directory: str | Path) -> None:
        """ground_truth.json, labels.parquet and live_report.json, as event mode writes them."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        self.ground_truth.write(target / "ground_truth.json")
        pq.write_table(self.labels, target / "labels.parquet")
        (target / "live_report.json").write_text(json.dumps(self.report.to_dict(), indent=2))


class TruthRecorder:
    """The keys of every answered request, as the guard will record them, and by whom."""

    def __init__(self, plan: LivePlan, key: bytes) -> None:
        self.plan = plan
        self._key = key
        self._pseudonymiser = Pseudonymiser(key)
        self._address_keys: dict[str, tuple[str, str]] = {}
        self._fingerprints: dict[tuple[str, str, str | None], str] = {}
        self._rows: list[tuple[Any, ...]] = []
        self.first_harvest: dict[int, float] = {}
        self.answered_by_actor: Counter[int] = Counter()

    def record(
        self,
        index: int,
        ident: Identity,
        request_id: str,
        ts: float,
        account: str | None,
        client: str | None,
        session: str | None,
        language: str,
        device: str | None,
        *,
        harvest: bool,
    ) -> None:
        keys = self._address_keys.get(ident.address)
        if keys is None:
            keys = (self._pseudonymiser.ip(ident.address), self._pseudonymiser.net(ident.address))
            self._address_keys[ident.address] = keys
        ua = ident.ua[:UA_MAX_LENGTH]
        fingerprint = self._fingerprints.get((ua, language, device))
        if fingerprint is None:
            fingerprint = guard_fingerprint(ident.ua, language, device, self._key)
            self._fingerprints[(ua, language, device)] = fingerprint
        self._rows.append(
            (
                int(ts * 1_000_000),
                request_id,
                index,
                account,
                client,
                session,
                *keys,
                ua,
                fingerprint,
            )
        )
        self.answered_by_actor[index] += 1
        if harvest:
            self.first_harvest.setdefault(index, ts)

    def finish(
        self, report: LiveReport, scenario: dict[str, Any], lookup: AccountLookup | None
    ) -> LiveResult:
        accounts = self._resolve_accounts(report, lookup)
        plan = self.plan
        actor_ids = [actor.actor_id for actor in plan.actors]
        columns = list(zip(*self._rows, strict=True)) if self._rows else [()] * 10
        ts, request_ids, actors, account_refs, clients, sessions, ips, nets, uas, prints = columns
        strings = pa.string()
        batch = pa.RecordBatch.from_pydict(
            {
                "ts": pa.array(ts, pa.int64()),
                "actor_account": pa.array([accounts.get(a) for a in account_refs], strings),
                "actor_client": pa.array(clients, strings),
                "session": pa.array(sessions, strings),
                "ip": pa.array(ips, strings),
                "net": pa.array(nets, strings),
                "ua": pa.array(uas, strings),
                "fingerprint": pa.array(prints, strings),
            }
        )
        counter = KeyCounter()
        counter.add(batch, pa.array(actors, pa.int32()))
        records = {}
        for index, actor in enumerate(plan.actors):
            first = self.first_harvest.get(index)
            records[actor.actor_id] = ActorRecord(
                actor_id=actor.actor_id,
                actor_class=actor.actor_class,
                adversary=actor.adversary,
                events=self.answered_by_actor[index],
                first_harvest_at=None if first is None else datetime.fromtimestamp(first, UTC),
                parameters=dict(actor.parameters),
            )
        truth = GroundTruth(records, counter.records(actor_ids), scenario)
        labels = pa.table(
            {
                "request_id": pa.array(request_ids, strings),
                "actor_id": pa.array([actor_ids[i] for i in actors], strings),
            }
        )
        return LiveResult(report, truth, labels)

    def _resolve_accounts(
        self, report: LiveReport, lookup: AccountLookup | None
    ) -> dict[str | None, str]:
        """Account refs -> the ids the guard records; "@name" refs through ``lookup``."""
        refs = {ref for row in self._rows if (ref := row[3]) is not None}
        named = sorted(ref[1:] for ref in refs if ref.startswith("@"))
        found = dict(lookup(named)) if lookup and named else {}
        resolved: dict[str | None, str] = {ref: ref for ref in refs if not ref.startswith("@")}
        for name in named:
            if name in found:
                resolved["@" + name] = str(found[name])
        report.unresolved_accounts = [name for name in named if name not in found]
        return resolved
