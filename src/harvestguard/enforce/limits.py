"""Rate limits and data limits, counted with the ``limits`` library, enforced through the table.

Each event the guard records is observed once (off the request path: ``EnforcingSink`` hands it to
a worker thread). For every rule it matches, the event costs one request, or as many distinct
owners as it disclosed that the key had not seen in the current window. When a key goes over, a
THROTTLE record for the rest of the window goes into the decision table, so the next request is
refused with 429 and Retry-After by the middleware's O(1) check.

Counters live in memory by default and in Redis when a URL is given, so that every instance counts
together. ``limits`` counts hits but not distinct values, so the distinct owners of a window are
tracked here: a set per key and window in memory, a Redis set with the window as its TTL.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta
from typing import Protocol

import redis
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from harvestguard.enforce.levels import Level
from harvestguard.enforce.limits_file import ENTITY, LimitRule, LimitsConfig
from harvestguard.enforce.records import DecisionRecord
from harvestguard.enforce.table import DecisionTable
from harvestguard.events import AccessEvent, Decision
from harvestguard.simulate.groundtruth import ActorKey

BY = "limits"
_EVENT_KEYS = (
    ("account", "actor_account"),
    ("client", "actor_client"),
    ("session", "session"),
    ("ip", "ip"),
    ("net", "net"),
    ("fingerprint", "fingerprint"),
)
_SWEEP_EVERY = 4096  # observations between sweeps of the in-memory distinct sets


class _SeenOwners(Protocol):
    def new_owners(self, rule: LimitRule, ident: str, owners: list[str]) -> int: ...

    def close(self) -> None: ...


class _MemorySeen:
    """Distinct owners per rule, key and fixed window, in this process."""

    def __init__(self) -> None:
        # (rule, key) -> (window seconds, window number, owners seen in it)
        self._sets: dict[tuple[str, str], tuple[int, int, set[str]]] = {}
        self._calls = 0

    def new_owners(self, rule: LimitRule, ident: str, owners: list[str]) -> int:
        window = rule.rate.get_expiry()
        bucket = int(time.time() // window)
        slot = (rule.name, ident)
        held = self._sets.get(slot)
        if held is None or held[1] != bucket:
            held = (window, bucket, set())
            self._sets[slot] = held
        seen = held[2]
        new = [owner for owner in set(owners) if owner not in seen]
        # past twice the limit the key is over it anyway: stop growing the set
        if len(seen) < 2 * rule.rate.amount:
            seen.update(new)
        self._calls += 1
        if self._calls % _SWEEP_EVERY == 0:
            now = time.time()
            self._sets = {k: v for k, v in self._sets.items() if v[1] == int(now // v[0])}
        return len(new)

    def close(self) -> None:
        self._sets.clear()


class _RedisSeen:
    """Distinct owners per rule, key and fixed window, in a Redis set shared by every instance."""

    def __init__(self, url: str, prefix: str = "harvestguard:limits:seen") -> None:
        self._client: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0
        )
        self._prefix = prefix

    def new_owners(self, rule: LimitRule, ident: str, owners: list[str]) -> int:
        window = rule.rate.get_expiry()
        bucket = int(time.time() // window)
        key = f"{self._prefix}:{rule.name}:{ident}:{bucket}"
        pipe = self._client.pipeline(transaction=False)
        pipe.sadd(key, *set(owners))
        pipe.expire(key, window, nx=True)
        added, _ = pipe.execute()
        return int(added)

    def close(self) -> None:
        self._client.close()


class LimitEnforcer:
    """Counts events against the rules; puts a THROTTLE record when a key goes over a limit."""

    def __init__(
        self,
        config: LimitsConfig,
        table: DecisionTable,
        *,
        storage_url: str | None = None,
        shadow: bool = False,
    ) -> None:
        self.config = config
        self.table = table
        self.shadow = shadow
        self.storage_url = storage_url or "memory://"
        self._storage = storage_from_string(self.storage_url)
        self._limiter = SlidingWindowCounterRateLimiter(self._storage)
        self._seen: _SeenOwners = (
            _MemorySeen() if self.storage_url.startswith("memory") else _RedisSeen(self.storage_url)
        )
        self._entity_of: dict[ActorKey, str] = {}
        self._entity_keys: dict[str, frozenset[ActorKey]] = {}
        self._throttled: dict[tuple[str, str], float] = {}  # (rule, ident) -> monotonic end
        self._lock = threading.Lock()
        self.exceeded: Counter[str] = Counter()  # rule name -> times a key went over it
        self.errors = 0

    def link(self, entity_id: str, keys: Iterable[ActorKey]) -> None:
        """Counts these keys together for the ``per: entity`` rules (detection linked them)."""
        with self._lock:
            self.unlink(entity_id)
            held = frozenset(k for k in keys if k[0] != "ua")
            self._entity_keys[entity_id] = held
            for key in held:
                self._entity_of[key] = entity_id

    def unlink(self, entity_id: str) -> None:
        for key in self._entity_keys.pop(entity_id, ()):
            if self._entity_of.get(key) == entity_id:
                del self._entity_of[key]

    def observe(self, event: AccessEvent) -> list[DecisionRecord]:
        """Counts one recorded request; returns the throttles it caused."""
        if event.decision != Decision.ALLOW:
            return []  # refused requests disclosed nothing and are enforced already
        keys = [(kind, value) for kind, name in _EVENT_KEYS if (value := getattr(event, name))]
        if self._exempt(keys):
            return []
        present = dict(keys)
        written: list[DecisionRecord] = []
        for rule in self.config.rules:
            if not rule.matches(event):
                continue
            if rule.per == ENTITY:
                ident = next((e for k in keys if (e := self._entity_of.get(k)) is not None), None)
            else:
                ident = present.get(rule.per)
            if ident is None or self._already_throttled(rule.name, ident):
                continue
            cost = (
                1
                if rule.count == "requests"
                else self._seen.new_owners(rule, ident, event.owner_ids)
            )
            if cost and not self._limiter.hit(rule.rate, rule.name, ident, cost=cost):
                written.extend(self._throttle(rule, ident))
        return written

    def remaining(self, rule_name: str, ident: str) -> int:
        """What the key has left of the rule in the current window."""
        rule = next(r for r in self.config.rules if r.name == rule_name)
        return self._limiter.get_window_stats(rule.rate, rule.name, ident).remaining

    def close(self) -> None:
        self._seen.close()

    def _exempt(self, keys: list[ActorKey]) -> bool:
        for kind, value in keys:
            if self.config.allowed(kind, value):
                return True
            if any(
                r.level == Level.ALLOW and not r.shadow
                for r in self.table.records_for((kind, value))
            ):
                return True
        return False

    def _already_throttled(self, rule: str, ident: str) -> bool:
        until = self._throttled.get((rule, ident))
        if until is None:
            return False
        if until > time.monotonic():
            return True
        del self._throttled[(rule, ident)]
        return False

    def _throttle(self, rule: LimitRule, ident: str) -> list[DecisionRecord]:
        stats = self._limiter.get_window_stats(rule.rate, rule.name, ident)
        seconds = max(1, math.ceil(stats.reset_time - time.time()))
        self._throttled[(rule.name, ident)] = time.monotonic() + seconds
        self.exceeded[rule.name] += 1
        if rule.per == ENTITY:
            targets = sorted(self._entity_keys.get(ident, ()))
        else:
            targets = [(rule.per, ident)]
        now = self.table.now()
        records = [
            DecisionRecord(
                key=key,
                level=Level.THROTTLE,
                reason=f"limit {rule.name} ({rule.text}, {rule.count}) exceeded",
                by=BY,
                created_at=now,
                expires_at=now + timedelta(seconds=seconds),
                entity_id=ident if rule.per == ENTITY else None,
                shadow=self.shadow,
            )
            for key in targets
        ]
        for record in records:
            self.table.put(record)
        return records
