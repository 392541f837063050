"""Ground truth: which actor every key and every event belongs to, and which actors are adversaries.

Keys are taken from the events themselves (never declared by the actors), so they are exactly what
a detector can see: (kind, value) with kind one of ``KEY_KINDS``. A key used by several actors (a
carrier NAT address, a common user agent) has one row per actor: shared keys are explicit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

# event column -> key kind; the same names as harvestguard.actor.ActorKeys
KEY_COLUMNS: dict[str, str] = {
    "actor_account": "account",
    "actor_client": "client",
    "session": "session",
    "ip": "ip",
    "net": "net",
    "ua": "ua",
    "fingerprint": "fingerprint",
}
KEY_KINDS: tuple[str, ...] = tuple(KEY_COLUMNS.values())

ActorKey = tuple[str, str]  # (kind, value)


@dataclass(frozen=True, slots=True)
class ActorRecord:
    actor_id: str
    actor_class: str
    adversary: bool
    events: int
    first_harvest_at: datetime | None  # adversaries only: their first harvesting request
    parameters: dict[str, float | str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    kind: str
    value: str
    actor_id: str
    events: int
    first_seen: datetime
    last_seen: datetime


@dataclass(slots=True)
class GroundTruth:
    actors: dict[str, ActorRecord]
    keys: list[KeyRecord]
    scenario: dict[str, Any] = field(default_factory=dict)
    _by_key: dict[ActorKey, list[KeyRecord]] | None = field(default=None, repr=False, compare=False)

    def actors_of(self, key: ActorKey) -> list[KeyRecord]:
        """Every actor that used this key, with how often and when."""
        if self._by_key is None:
            index: dict[ActorKey, list[KeyRecord]] = {}
            for record in self.keys:
                index.setdefault((record.kind, record.value), []).append(record)
            self._by_key = index
        return self._by_key.get(key, [])

    def keys_of(self, actor_id: str) -> set[ActorKey]:
        return {(r.kind, r.value) for r in self.keys if r.actor_id == actor_id}

    def shared_keys(self) -> set[ActorKey]:
        """Keys used by more than one actor."""
        counts: dict[ActorKey, int] = {}
        for record in self.keys:
            key = (record.kind, record.value)
            counts[key] = counts.get(key, 0) + 1
        return {key for key, count in counts.items() if count > 1}

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "actors": [
                {
                    "actor_id": a.actor_id,
                    "actor_class": a.actor_class,
                    "adversary": a.adversary,
                    "events": a.events,
                    "first_harvest_at": _iso(a.first_harvest_at),
                    "parameters": a.parameters,
                }
                for a in self.actors.values()
            ],
            "keys": [
                {
                    "kind": k.kind,
                    "value": k.value,
                    "actor_id": k.actor_id,
                    "events": k.events,
                    "first_seen": _iso(k.first_seen),
                    "last_seen": _iso(k.last_seen),
                }
                for k in self.keys
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroundTruth:
        actors = {
            a["actor_id"]: ActorRecord(
                actor_id=a["actor_id"],
                actor_class=a["actor_class"],
                adversary=bool(a["adversary"]),
                events=int(a["events"]),
                first_harvest_at=_parse(a.get("first_harvest_at")),
                parameters=dict(a.get("parameters", {})),
            )
            for a in data["actors"]
        }
        keys = [
            KeyRecord(
                k["kind"],
                k["value"],
                k["actor_id"],
                int(k["events"]),
                _required(k["first_seen"]),
                _required(k["last_seen"]),
            )
            for k in data["keys"]
        ]
        return cls(actors, keys, dict(data.get("scenario", {})))

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()))

    @classmethod
    def read(cls, path: str | Path) -> GroundTruth:
        return cls.from_dict(json.loads(Path(path).read_text()))


class KeyCounter:
    """Accumulates (kind, value, actor) -> events, first and last seen, batch by batch."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str, int], list[int]] = {}

    def add(self, batch: pa.RecordBatch, actors: pa.Int32Array) -> None:
        table = pa.table({"ts": batch.column("ts").cast(pa.int64()), "actor": actors})
        for column, kind in KEY_COLUMNS.items():
            grouped = (
                table.append_column("value", batch.column(column))
                .filter(pc.is_valid(batch.column(column)))
                .group_by(["value", "actor"])
                .aggregate([("ts", "count"), ("ts", "min"), ("ts", "max")])
            )
            rows = zip(
                grouped.column("value").to_pylist(),
                grouped.column("actor").to_pylist(),
                grouped.column("ts_count").to_pylist(),
                grouped.column("ts_min").to_pylist(),
                grouped.column("ts_max").to_pylist(),
                strict=True,
            )
            for value, actor, count, first, last in rows:
                assert value is not None and actor is not None
                assert count is not None and first is not None and last is not None
                row = self._rows.get((kind, value, actor))
                if row is None:
                    self._rows[(kind, value, actor)] = [count, first, last]
                else:
                    row[0] += count
                    row[1] = min(row[1], first)
                    row[2] = max(row[2], last)

    def records(self, actor_ids: Iterable[str]) -> list[KeyRecord]:
        ids = list(actor_ids)
        return [
            KeyRecord(kind, value, ids[actor], count, _from_us(first), _from_us(last))
            for (kind, value, actor), (count, first, last) in sorted(self._rows.items())
        ]


def _from_us(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1e6, UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parse(value: object) -> datetime | None:
    return None if value is None else _required(value)


def _required(value: object) -> datetime:
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
