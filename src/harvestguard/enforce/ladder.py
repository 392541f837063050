"""The escalation ladder: what to do about a flagged entity, and how to undo it.

allow -> throttle -> challenge -> block -> ban. An entity starts on the rung its risk earns and
climbs one rung each time it offends again after being acted on (its activity goes on more than
``escalate_after`` past the last decision); past offences are remembered per key for ``memory``, so an actor that comes back
with some of the same keys under a new entity id still climbs. A ban covers every key of the
entity that is safe to act on, disables its accounts and revokes its partner app through the
platform; its addresses and networks are blocked for ``network_ban`` only, since addresses change
hands. In shadow mode the same records are written with ``shadow=True`` (counted, never enforced)
and the platform is left alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from harvestguard.detect.findings import Entity
from harvestguard.enforce.levels import Level
from harvestguard.enforce.platform import NoPlatformActions, PlatformActions
from harvestguard.enforce.records import ACTIONABLE_KINDS, DecisionRecord
from harvestguard.enforce.table import DecisionTable
from harvestguard.simulate.groundtruth import ActorKey

NETWORK_KINDS = frozenset({"ip", "net"})
# What the ladder acts on by itself. Not fingerprints: a header fingerprint (browser build and
# language) that only the harvester had used when it was flagged is soon used by strangers too
# (seen in the demo: two people blocked for their browser). Analysts may still decide on one.
LADDER_KINDS = frozenset(ACTIONABLE_KINDS) - {"fingerprint"}
LADDER = "ladder"


def _default_durations() -> dict[Level, timedelta]:
    return {
        Level.THROTTLE: timedelta(minutes=15),
        Level.CHALLENGE: timedelta(hours=2),
        Level.BLOCK: timedelta(days=1),
        Level.BAN: timedelta(days=30),
    }


@dataclass(frozen=True, slots=True)
class LadderSettings:
    durations: Mapping[Level, timedelta] = field(default_factory=_default_durations)
    network_ban: timedelta = timedelta(days=7)  # longest hold on an ip or net key
    challenge_risk: float = 0.7  # below: throttle first
    block_risk: float = 0.85
    ban_risk: float = 0.95
    memory: timedelta = timedelta(days=30)  # how long an offence counts toward the next one
    # activity this long after a decision is a new offence; sooner, it is the same one still
    # being reported (the requests it refused, a detection window that has not moved on)
    escalate_after: timedelta = timedelta(minutes=1)
    # an entity seen in fewer requests is left to linking, not acted on by itself: a request or
    # two that fell inside a sweep (a search crawler's, in two CI demo runs) stop nothing if they
    # were the sweep's, and refuse a stranger if they were not; a sweep's own addresses are
    # linked to it
    min_requests: int = 3

    def __post_init__(self) -> None:
        missing = [
            lvl.name.lower() for lvl in Level if lvl != Level.ALLOW and lvl not in self.durations
        ]
        if missing:
            raise ValueError(f"ladder durations missing for {', '.join(missing)}")
        if not 0 <= self.challenge_risk <= self.block_risk <= self.ban_risk <= 1:
            raise ValueError("ladder risks must rise: challenge <= block <= ban, within 0..1")

    def start(self, risk: float) -> Level:
        if risk >= self.ban_risk:
            return Level.BAN
        if risk >= self.block_risk:
            return Level.BLOCK
        if risk >= self.challenge_risk:
            return Level.CHALLENGE
        return Level.THROTTLE


@dataclass(frozen=True, slots=True)
class _Offence:
    level: Level
    at: datetime


class Ladder:
    def __init__(
        self,
        table: DecisionTable,
        platform: PlatformActions | None = None,
        settings: LadderSettings | None = None,
        *,
        shadow: bool = False,
    ) -> None:
        self.table = table
        self.platform: PlatformActions = platform or NoPlatformActions()
        self.settings = settings or LadderSettings()
        self.shadow = shadow
        self._history: dict[ActorKey, _Offence] = {}
        self._lock = threading.Lock()
        table.on_lift_elsewhere(self._undo)

    def propose(self, entity: Entity, now: datetime) -> list[DecisionRecord]:
        """The records ``decide`` would write, without writing them."""
        keys = self._targets(entity)
        if not keys or 0 < entity.exposure.requests < self.settings.min_requests:
            return []  # (no requests counted: an entity built without its exposure)
        level = self.settings.start(entity.risk)
        previous = self._previous(keys, now)
        if previous is not None:
            offended_again = _last_activity(entity) > previous.at + self.settings.escalate_after
            if offended_again:
                level = max(level, Level(min(previous.level + 1, Level.BAN)))
            elif level <= previous.level:
                # The same offence, already acted on; but keys linked to the entity since (a
                # puppet account flagged a step later) join it on the rung it stands on now,
                # not when it next offends: until then they would go on collecting.
                level = previous.level
                keys = {key for key in keys if not self._covered(key, level, now)}
                if not keys:
                    return []
        reason = _reason(entity, level)
        return [self._record(key, level, reason, entity.id, now) for key in sorted(keys)]

    def decide(
        self, entity: Entity, now: datetime, case_id: str | None = None
    ) -> list[DecisionRecord]:
        """Decides about a flagged entity and applies it: records into the table and, on a ban,
        the platform's actions. Returns the records written (none for an entity not flagged,
        allow-listed, or already acted on for this offence)."""
        with self._lock:
            records = self.propose(entity, now)
            if case_id is not None:
                records = [_with_case(r, case_id) for r in records]
            for record in records:
                self.table.put(record)
                self._history[record.key] = _Offence(record.level, now)
        if records and records[0].level == Level.BAN and not self.shadow:
            for record in records:
                self._platform(record, restore=False)
        return records

    def ban(
        self,
        keys: Iterable[ActorKey],
        by: str,
        reason: str,
        now: datetime,
        *,
        entity_id: str | None = None,
        case_id: str | None = None,
    ) -> list[DecisionRecord]:
        """An analyst's ban: the keys the ladder acts on, banned for as long as the ladder bans
        (network keys for ``network_ban``), the platform's accounts disabled and partner apps
        revoked. Returns the records written."""
        if not by.strip() or not reason.strip():
            raise ValueError("a ban names who bans and why")
        with self._lock:
            records = [
                replace(
                    self._record(key, Level.BAN, reason, entity_id, now), by=by, case_id=case_id
                )
                for key in sorted(set(keys))
                if key[0] in LADDER_KINDS
            ]
            for record in records:
                self.table.put(record)
                self._history[record.key] = _Offence(record.level, now)
        if not self.shadow:
            for record in records:
                self._platform(record, restore=False)
        return records

    def lift(self, entity_id: str, by: str, reason: str) -> list[DecisionRecord]:
        """An analyst reverses every decision about an entity: its records go, its accounts and
        partner app come back, and its past offences are forgotten."""
        return self._undo(self.table.lift_entity(entity_id, by, reason), reason)

    def lift_key(self, key: ActorKey, by: str, reason: str) -> list[DecisionRecord]:
        return self._undo(self.table.lift(key, by, reason), reason)

    def _undo(self, lifted: list[DecisionRecord], reason: str) -> list[DecisionRecord]:
        with self._lock:
            for record in lifted:
                self._history.pop(record.key, None)
        for record in lifted:
            if record.level == Level.BAN and not record.shadow:
                self._platform(record, restore=True, reason=reason)
        return lifted

    def _targets(self, entity: Entity) -> set[ActorKey]:
        if not entity.flagged:
            return set()
        allowed = {
            key
            for key in entity.keys
            if any(r.level == Level.ALLOW and not r.shadow for r in self.table.records_for(key))
        }
        return {key for key in entity.keys if key[0] in LADDER_KINDS and key not in allowed}

    def _previous(self, keys: set[ActorKey], now: datetime) -> _Offence | None:
        horizon = now - self.settings.memory
        offences = [o for k in keys if (o := self._history.get(k)) is not None and o.at > horizon]
        if not offences:
            return None
        return max(offences, key=lambda o: (o.level, o.at))

    def _covered(self, key: ActorKey, level: Level, now: datetime) -> bool:
        """Whether the key already has an offence at ``level`` or above within the memory."""
        offence = self._history.get(key)
        return (
            offence is not None
            and offence.level >= level
            and offence.at > now - self.settings.memory
        )

    def _record(
        self, key: ActorKey, level: Level, reason: str, entity_id: str | None, now: datetime
    ) -> DecisionRecord:
        duration = self.settings.durations[level]
        if key[0] in NETWORK_KINDS:
            duration = min(duration, self.settings.network_ban)
        return DecisionRecord(
            key=key,
            level=level,
            reason=reason,
            by=LADDER,
            created_at=now,
            expires_at=now + duration,
            entity_id=entity_id,
            shadow=self.shadow,
        )

    def _platform(self, record: DecisionRecord, *, restore: bool, reason: str = "") -> None:
        kind, value = record.key
        why = reason or record.reason
        platform = self.platform
        if kind == "account":
            if restore:
                platform.restore_account(value, why)
            else:
                platform.disable_account(value, why)
        elif kind == "client":
            if restore:
                platform.restore_client(value, why)
            else:
                platform.revoke_client(value, why)


def _last_activity(entity: Entity) -> datetime:
    last_seen = entity.exposure.last_seen
    if last_seen is not None:
        return last_seen
    assert entity.detected_at is not None  # only flagged entities get here
    return entity.detected_at


def _reason(entity: Entity, level: Level) -> str:
    detectors = ", ".join(entity.detectors) or "detection"
    return f"{level.name.lower()}: entity {entity.id} (risk {entity.risk:.2f}; {detectors})"


def _with_case(record: DecisionRecord, case_id: str) -> DecisionRecord:
    return replace(record, case_id=case_id)
