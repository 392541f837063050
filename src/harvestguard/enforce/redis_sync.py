"""Sharing a DecisionTable between app instances through Redis.

Every record lives in one Redis hash (slot -> JSON); every write is also published on a channel.
Each instance runs one listener thread that applies the others' writes as they arrive (within
milliseconds) and re-reads the whole hash every ``resync_interval`` seconds, so a message missed
during a disconnection heals by itself. Writes made while Redis is down are applied locally at
once, kept, and written back when Redis answers again, before the table re-reads the hash.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any, cast

import redis

from harvestguard.enforce.records import DecisionRecord

if TYPE_CHECKING:
    from harvestguard.enforce.table import DecisionTable

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "harvestguard:decisions"
_SOCKET_TIMEOUT = 1.0
_POLL = 0.1  # seconds the listener waits for a message before checking the resync clock
_RETRY = 0.5  # seconds between reconnection attempts


class RedisDecisionSync:
    def __init__(
        self, url: str, *, prefix: str = DEFAULT_PREFIX, resync_interval: float = 2.0
    ) -> None:
        self._client: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=_SOCKET_TIMEOUT,
            socket_connect_timeout=_SOCKET_TIMEOUT,
            decode_responses=True,
        )
        self._hash = prefix
        self._channel = f"{prefix}:changes"
        self._resync_interval = resync_interval
        self._table: DecisionTable | None = None
        self._pending: dict[str, DecisionRecord | None] = {}  # slot -> record, None: deleted
        # slot -> (the record lifted, why): sent along, so that the others can undo its effects
        self._lifted: dict[str, tuple[DecisionRecord, str]] = {}
        self._origin = secrets.token_hex(8)  # this instance, to know its own messages
        self._pending_lock = threading.Lock()
        self._connected = False
        self._warned = False  # one warning per outage, not one per retry
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.messages = 0  # changes received from the channel
        self.resyncs = 0

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def flushed(self) -> bool:
        """Whether every local write has reached Redis."""
        with self._pending_lock:
            return not self._pending

    def attach(self, table: DecisionTable) -> None:
        self._table = table
        try:
            self._resync()  # synchronously, so a fresh instance starts with the shared state
        except redis.RedisError as error:
            self._disconnected(error)
        self._thread = threading.Thread(
            target=self._listen, name="harvestguard-decisions", daemon=True
        )
        self._thread.start()

    def write(self, record: DecisionRecord) -> None:
        self._send({record.slot: record}, {})

    def delete(self, records: list[DecisionRecord], reason: str) -> None:
        self._send({r.slot: None for r in records}, {r.slot: (r, reason) for r in records})

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._client.close()

    # writes

    def _send(
        self,
        changes: dict[str, DecisionRecord | None],
        lifted: dict[str, tuple[DecisionRecord, str]],
    ) -> None:
        with self._pending_lock:
            self._pending.update(changes)
            self._lifted.update(lifted)
        if self._connected:
            try:
                self._flush()
            except redis.RedisError as error:
                self._disconnected(error)

    def _flush(self) -> None:
        with self._pending_lock:
            changes = dict(self._pending)
            lifted = {slot: self._lifted[slot] for slot in changes if slot in self._lifted}
        if not changes:
            return
        rows = {slot: r.to_dict() for slot, r in changes.items() if r is not None}
        deletes = [slot for slot, r in changes.items() if r is None]
        pipe = self._client.pipeline(transaction=True)
        if rows:
            pipe.hset(self._hash, mapping={slot: json.dumps(row) for slot, row in rows.items()})
            pipe.publish(self._channel, json.dumps({"put": list(rows.values())}))
        if deletes:
            pipe.hdel(self._hash, *deletes)
            message = {
                "delete": deletes,
                "lifted": [
                    {"record": record.to_dict(), "reason": reason}
                    for record, reason in (lifted[slot] for slot in deletes if slot in lifted)
                ],
                "origin": self._origin,
            }
            pipe.publish(self._channel, json.dumps(message))
        pipe.execute()
        with self._pending_lock:
            for slot, record in changes.items():
                if self._pending.get(slot, record) is record:
                    self._pending.pop(slot, None)
                    self._lifted.pop(slot, None)

    # the listener

    def _listen(self) -> None:
        pubsub: Any = None
        last_resync = time.monotonic()
        while not self._stop.is_set():
            try:
                if pubsub is None:
                    pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                    pubsub.subscribe(self._channel)
                    # subscribed first, then re-read: nothing written in between is missed
                    self._resync()
                    last_resync = time.monotonic()
                message = pubsub.get_message(timeout=_POLL)
                if message is not None and message.get("type") == "message":
                    self._apply(message["data"])
                if time.monotonic() - last_resync >= self._resync_interval:
                    self._resync()
                    last_resync = time.monotonic()
            except (redis.RedisError, OSError) as error:
                self._disconnected(error)
                if pubsub is not None:
                    _close_quietly(pubsub)
                    pubsub = None
                self._stop.wait(_RETRY)
        if pubsub is not None:
            _close_quietly(pubsub)

    def _apply(self, data: str) -> None:
        table = self._table
        if table is None:
            return
        try:
            change = json.loads(data)
            puts = [DecisionRecord.from_dict(row) for row in change.get("put", ())]
            deletes = [str(slot) for slot in change.get("delete", ())]
            lifted = [
                (DecisionRecord.from_dict(item["record"]), str(item["reason"]))
                for item in change.get("lifted", ())
            ]
            elsewhere = change.get("origin") != self._origin
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a malformed decision change on %s", self._channel)
            return
        self.messages += 1
        for record in puts:
            table.apply_put(record)
        if deletes:
            table.apply_delete(deletes)
        if lifted and elsewhere:
            # from the message, not from memory: a resync may have dropped them here already
            table.lifted_elsewhere(lifted)

    def _resync(self) -> None:
        table = self._table
        if table is None:
            return
        self._flush()  # what was written while Redis was away goes first
        rows = cast(dict[str, str], self._client.hgetall(self._hash))
        records = []
        now = table.now()
        expired = []
        for slot, text in rows.items():
            try:
                record = DecisionRecord.from_dict(json.loads(text))
            except (ValueError, KeyError, TypeError):
                logger.warning("ignoring a malformed decision %r in %s", slot, self._hash)
                continue
            if record.active(now):
                records.append(record)
            else:
                expired.append(slot)
        if expired:
            self._client.hdel(self._hash, *expired)
        table.replace_all(records)
        self.resyncs += 1
        if self._warned:
            logger.warning("the decision store answers again; resynchronised")
            self._warned = False
        self._connected = True

    def _disconnected(self, error: Exception) -> None:
        if not self._warned:
            logger.warning("the decision store is unreachable (%s); answering from memory", error)
            self._warned = True
        self._connected = False


def _close_quietly(pubsub: Any) -> None:
    with contextlib.suppress(redis.RedisError, OSError):
        pubsub.close()
