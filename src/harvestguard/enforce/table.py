"""The decision table: what enforcement says about every actor key, answered in O(1) from memory.

The middleware asks ``check`` on every request: one dict lookup per key the request carries, each
key holding at most one record per level, so the cost does not grow with the table. Writers
(the ladder, the limits, analysts) replace a key's entries copy-on-write under a lock; readers
never lock. With a shared backend (Redis, ``harvestguard.enforce.redis_sync``) every write also
goes to the backend, and the backend's listener applies the other instances' writes here.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, Protocol

from harvestguard.actor import ActorKeys
from harvestguard.decisions import ALLOW, Verdict
from harvestguard.enforce.levels import Level
from harvestguard.enforce.records import DecisionRecord
from harvestguard.simulate.groundtruth import ActorKey

Clock = Callable[[], datetime]
# told of records another instance (or the command line) lifted: (records, reason)
LiftListener = Callable[[list[DecisionRecord], str], object]
DEFAULT_STALE_AFTER = timedelta(seconds=30)
_PURGE_EVERY = 256  # writes between sweeps of expired records


def utcnow() -> datetime:
    return datetime.now(UTC)


class DecisionStoreUnavailable(RuntimeError):
    """The shared store has not been reachable for too long to trust what memory holds."""


class DecisionBackend(Protocol):
    """Where a table shares its records with the other instances (see redis_sync.py)."""

    def attach(self, table: DecisionTable) -> None: ...

    def write(self, record: DecisionRecord) -> None: ...

    def delete(self, records: list[DecisionRecord], reason: str) -> None: ...

    def close(self) -> None: ...


class _Entry(NamedTuple):
    level: int
    expires: float  # POSIX seconds; inf: until lifted
    shadow: bool
    record: DecisionRecord
    verdict: Verdict  # what check answers (a throttle's Retry-After is filled in per request)


_ALLOW = int(Level.ALLOW)
_THROTTLE = int(Level.THROTTLE)


class DecisionTable:
    """An in-process table, optionally shared through a backend.

    ``clock`` is injectable so that tests move time instead of sleeping. ``stale_after``: with a
    backend, how long after its last successful sync the table still answers from memory; past it
    ``check`` raises and the middleware fails open or closed as configured.
    """

    def __init__(
        self,
        *,
        clock: Clock = utcnow,
        backend: DecisionBackend | None = None,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
    ) -> None:
        self._clock = clock
        # POSIX seconds of the clock; the system clock's without building a datetime
        self._timestamp: Callable[[], float] = (
            time.time if clock is utcnow else (lambda: clock().timestamp())
        )
        self._lock = threading.Lock()
        self._records: dict[str, DecisionRecord] = {}
        self._index: dict[ActorKey, tuple[_Entry, ...]] = {}
        self._writes = 0
        self._backend = backend
        self._stale_after = stale_after.total_seconds()
        self._synced_at: float | None = None
        self.shadow_hits: Counter[str] = Counter()  # slot -> requests a shadow record matched
        self._lift_listeners: list[LiftListener] = []
        if backend is not None:
            backend.attach(self)

    @classmethod
    def from_url(
        cls,
        url: str | None,
        *,
        clock: Clock = utcnow,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
        resync_interval: float = 2.0,
    ) -> DecisionTable:
        """In-process when ``url`` is empty; shared through Redis for ``redis://`` URLs."""
        if not url:
            return cls(clock=clock)
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"unsupported decision store {url!r}: expected redis://host:port/db")
        from harvestguard.enforce.redis_sync import RedisDecisionSync

        backend = RedisDecisionSync(url, resync_interval=resync_interval)
        return cls(clock=clock, backend=backend, stale_after=stale_after)

    # the hot path

    def check(self, keys: ActorKeys) -> Verdict:
        # Written for speed (it runs on every request): no enum or datetime on the common path.
        index = self._index
        if self._backend is None:
            if not index:
                return ALLOW
            now = None
        else:
            now = self._timestamp()
            synced = self._synced_at
            if synced is None or now - synced > self._stale_after:
                raise DecisionStoreUnavailable("the shared decision store has been unreachable")
            if not index:
                return ALLOW
        best: _Entry | None = None
        for kind, value in (
            ("account", keys.account),
            ("client", keys.client),
            ("session", keys.session),
            ("ip", keys.ip),
            ("net", keys.net),
            ("fingerprint", keys.fingerprint),
        ):
            if value is None:
                continue
            entries = index.get((kind, value))
            if not entries:
                continue
            if now is None:
                now = self._timestamp()
            for entry in entries:
                if entry.expires <= now:
                    continue
                if entry.shadow:
                    self.shadow_hits[entry.record.slot] += 1
                    continue
                if entry.level == _ALLOW:
                    return ALLOW  # an allow-listed key wins over everything
                if best is None or entry.level > best.level:
                    best = entry
        if best is None or now is None:
            return ALLOW
        if best.level != _THROTTLE or best.expires == math.inf:
            return best.verdict
        retry_after = max(1, math.ceil(best.expires - now))
        return Verdict(best.verdict.decision, retry_after=retry_after, reason=best.verdict.reason)

    # writers

    def put(self, record: DecisionRecord) -> None:
        """Adds or replaces the key's record of that level (and mode)."""
        self._apply_put(record)
        if self._backend is not None:
            self._backend.write(record)

    def allow(
        self, key: ActorKey, by: str, reason: str, expires_at: datetime | None = None
    ) -> DecisionRecord:
        """Allow-lists a key (a verified partner, a crawler): it wins over every other record."""
        record = DecisionRecord(key, Level.ALLOW, reason, by, self._clock(), expires_at)
        self.put(record)
        return record

    def lift(self, key: ActorKey, by: str, reason: str) -> list[DecisionRecord]:
        """Removes every record of the key, allow-listing included; returns what was removed."""
        return self._remove([r for r in self._index_records(key)], by, reason)

    def lift_entity(self, entity_id: str, by: str, reason: str) -> list[DecisionRecord]:
        """Removes every record made about an entity, on all its keys."""
        return self._remove(
            [r for r in self._records.values() if r.entity_id == entity_id], by, reason
        )

    def active(self, now: datetime | None = None) -> list[DecisionRecord]:
        """Every unexpired record, shadow ones included, strongest first."""
        moment = now or self._clock()
        self.purge(moment)
        records = [r for r in list(self._records.values()) if r.active(moment)]
        return sorted(records, key=lambda r: (-r.level, r.key, r.shadow))

    def records_for(self, key: ActorKey) -> list[DecisionRecord]:
        moment = self._clock()
        return [r for r in self._index_records(key) if r.active(moment)]

    def purge(self, now: datetime | None = None) -> int:
        """Drops expired records from memory (the backend's copies expire on their own)."""
        moment = now or self._clock()
        with self._lock:
            expired = [slot for slot, r in self._records.items() if not r.active(moment)]
            for slot in expired:
                self._drop_locked(slot)
        return len(expired)

    def now(self) -> datetime:
        return self._clock()

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()

    @property
    def shared(self) -> bool:
        return self._backend is not None

    @property
    def backend(self) -> DecisionBackend | None:
        return self._backend

    # what the backend calls

    def apply_put(self, record: DecisionRecord) -> None:
        """A record written by another instance (or re-read from the backend)."""
        self._apply_put(record)

    def apply_delete(self, slots: Iterable[str]) -> list[DecisionRecord]:
        """Drops records by slot; returns those this table still held."""
        with self._lock:
            return [r for slot in slots if (r := self._drop_locked(slot)) is not None]

    def on_lift_elsewhere(self, listener: LiftListener) -> None:
        """Calls ``listener`` with the records another instance lifted, once they are gone here
        (the ladder restores the platform's accounts this way, whoever lifted the ban)."""
        self._lift_listeners.append(listener)

    def lifted_elsewhere(self, lifted: list[tuple[DecisionRecord, str]]) -> None:
        """Records another instance lifted, each with its reason: the listeners undo them here."""
        for listener in self._lift_listeners:
            for record, reason in lifted:
                listener([record], reason)

    def replace_all(self, records: Iterable[DecisionRecord]) -> None:
        """The backend's full state, after a (re)connection or as the periodic resync."""
        fresh = {record.slot: record for record in records}
        index: dict[ActorKey, list[_Entry]] = {}
        for record in fresh.values():
            index.setdefault(record.key, []).append(_entry(record))
        with self._lock:
            self._records = fresh
            self._index = {key: tuple(entries) for key, entries in index.items()}
        self.mark_synced()

    def mark_synced(self) -> None:
        self._synced_at = self._timestamp()

    # internals

    def _apply_put(self, record: DecisionRecord) -> None:
        with self._lock:
            slot = record.slot
            self._records[slot] = record
            kept = tuple(e for e in self._index.get(record.key, ()) if e.record.slot != slot)
            self._index[record.key] = (*kept, _entry(record))
            self._writes += 1
            sweep = self._writes % _PURGE_EVERY == 0
        if sweep:
            self.purge()

    def _index_records(self, key: ActorKey) -> list[DecisionRecord]:
        return [entry.record for entry in self._index.get(key, ())]

    def _remove(self, records: list[DecisionRecord], by: str, reason: str) -> list[DecisionRecord]:
        if not by or not reason:
            raise ValueError("a lift names who lifts and why")
        self.apply_delete([record.slot for record in records])
        if self._backend is not None and records:
            self._backend.delete(records, f"{reason} ({by})")
        return records

    def _drop_locked(self, slot: str) -> DecisionRecord | None:
        record = self._records.pop(slot, None)
        if record is None:
            return None
        kept = tuple(e for e in self._index.get(record.key, ()) if e.record.slot != slot)
        if kept:
            self._index[record.key] = kept
        else:
            self._index.pop(record.key, None)
        return record


def _entry(record: DecisionRecord) -> _Entry:
    expires = math.inf if record.expires_at is None else record.expires_at.timestamp()
    verdict = Verdict(record.level.decision, reason=record.reason)
    return _Entry(int(record.level), expires, record.shadow, record, verdict)
