"""BufferedSink: takes events from the request path without ever blocking it, and loses none.

``submit`` appends to a bounded in-memory queue; when the queue is full the event goes straight to
the spill log on disk. A background thread writes the queue to the sink in batches. When the sink
fails, the batch goes to the spill log and the thread retries with exponential backoff; once the
sink takes writes again the spill is replayed, oldest first, each segment deleted only after the
sink has stored it. A spill left by a previous process is replayed at start-up.

Exactly once, with one exception: if the process dies between the sink storing a replayed segment
and the segment's deletion, that segment is replayed again at the next start.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harvestguard.events import AccessEvent
from harvestguard.sinks.base import Sink
from harvestguard.sinks.spill import SpillLog

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BufferStats:
    submitted: int  # events given to submit()
    written: int  # events the sink stored, replayed ones included
    spilled: int  # events appended to the spill log
    replayed: int  # events the sink stored from the spill log
    pending: int  # events queued, being written, or in the spill log
    failures: int  # failed sink writes
    torn: int  # spill records found torn or corrupt and skipped
    lost: int  # events neither the sink nor the spill log could take (the disk failed)


class BufferedSink:
    def __init__(
        self,
        sink: Sink,
        spill_dir: str | Path,
        *,
        batch_size: int = 20_000,
        flush_interval: float = 1.0,
        max_queue: int = 100_000,
        retry_initial: float = 0.1,
        retry_max: float = 30.0,
    ) -> None:
        if batch_size < 1 or max_queue < 1:
            raise ValueError("batch_size and max_queue must be positive")
        if flush_interval <= 0 or retry_initial <= 0 or retry_max < retry_initial:
            raise ValueError("flush_interval and retry delays must be positive")
        self._sink = sink
        self._spill = SpillLog(spill_dir, segment_records=batch_size)
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_queue = max_queue
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._backoff = retry_initial
        self._retry_at = 0.0  # monotonic time before which the sink is left alone
        self._queue: deque[AccessEvent] = deque()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._flush_waiters = 0
        self._closing = False
        self._closed = False
        self._close_lock = threading.Lock()
        self._submitted = 0  # guarded by _cond, which submit holds anyway
        self._counts = dict.fromkeys(
            ("written", "spilled", "replayed", "failures", "torn", "lost"), 0
        )
        self._counts_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="harvestguard-sink", daemon=True)
        self._thread.start()
        # the queue lives in memory: close at interpreter exit even if the app forgot to
        atexit.register(self.close)

    def submit(self, event: AccessEvent) -> None:
        """Accepts one event; never blocks on the sink and never raises."""
        try:
            with self._cond:
                self._submitted += 1
                if self._closed:
                    self._count("lost", 1)
                    log.error("event %s submitted after close: not stored", event.request_id)
                    return
                if not self._closing and len(self._queue) < self._max_queue:
                    self._queue.append(event)
                    if len(self._queue) == self._batch_size:
                        self._cond.notify_all()
                    return
            self._spill.append([event], sync=False)
            self._count("spilled", 1)
        except Exception:
            log.exception("event %s could not be spilled", event.request_id)
            self._count("lost", 1)

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until nothing is pending: every event so far is in the sink.

        Returns False if that did not happen within ``timeout`` seconds (the sink may be down;
        the events are then in the spill log). Under a steady stream from other threads the
        queue may never be empty, and flush waits for the timeout.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flush_waiters += 1
            self._cond.notify_all()
            try:
                while self._pending_locked():
                    if not self._thread.is_alive():
                        return False
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._cond.wait(self._flush_interval if remaining is None else remaining)
                return True
            finally:
                self._flush_waiters -= 1

    def close(self) -> None:
        """Writes or spills everything queued, then closes the sink; safe to call twice."""
        with self._close_lock:
            if self._closed:
                return
            with self._cond:
                self._closing = True
                self._retry_at = 0.0  # one last attempt, whatever the backoff said
                self._cond.notify_all()
            self._thread.join()
            with self._cond:
                self._closed = True
            try:
                self._sink.close()
            finally:
                self._spill.close()
                atexit.unregister(self.close)

    @property
    def stats(self) -> BufferStats:
        with self._cond:
            submitted = self._submitted
            pending = self._pending_locked()
        with self._counts_lock:
            return BufferStats(submitted=submitted, pending=pending, **self._counts)

    def _pending_locked(self) -> int:
        return len(self._queue) + self._in_flight + self._spill.pending

    def _count(self, name: str, n: int) -> None:
        with self._counts_lock:
            self._counts[name] += n

    def _run(self) -> None:
        while True:
            with self._cond:
                self._wait_for_work()
                batch = [
                    self._queue.popleft() for _ in range(min(len(self._queue), self._batch_size))
                ]
                self._in_flight = len(batch)
                finished = self._closing and not self._queue
            try:
                self._deliver(batch)
            except Exception:
                # neither the sink nor the spill log took the batch: keep it and try again,
                # unless the app is shutting down and there is nowhere left to put it
                if self._closing:
                    log.exception("%d events lost at close", len(batch))
                    self._count("lost", len(batch))
                else:
                    log.exception("%d events kept in memory; retrying", len(batch))
                    with self._cond:
                        self._queue.extendleft(reversed(batch))
                    time.sleep(self._backoff)
            with self._cond:
                self._in_flight = 0
                self._cond.notify_all()
            if finished:
                return

    def _wait_for_work(self) -> None:
        deadline = time.monotonic() + self._flush_interval
        while not self._closing and len(self._queue) < self._batch_size:
            now = time.monotonic()
            remaining = deadline - now
            if self._flush_waiters:
                # someone waits: go now, but do not hammer a sink that is backing off
                if self._queue:
                    return
                if self._spill.pending:
                    if self._retry_at <= now:
                        return
                    remaining = min(remaining, self._retry_at - now)
            if remaining <= 0:
                return
            self._cond.wait(remaining)

    def _deliver(self, batch: list[AccessEvent]) -> None:
        self._spill.sync()
        if self._spill.pending and not self._replay():
            self._spill_batch(batch)
            return
        if not batch:
            return
        if time.monotonic() < self._retry_at:
            self._spill_batch(batch)
            return
        try:
            self._sink.write(batch)
        except Exception as exc:
            self._failed(exc)
            self._spill_batch(batch)
            return
        self._recovered()
        self._count("written", len(batch))

    def _replay(self) -> bool:
        """Stores the spill log in the sink, oldest segment first; False if the sink failed."""
        if time.monotonic() < self._retry_at:
            return False
        for segment in self._spill.segments():
            events, torn = self._spill.read(segment)
            if events:
                try:
                    self._sink.write(events)
                except Exception as exc:
                    self._failed(exc)
                    return False
                self._recovered()
            self._spill.remove(segment)
            with self._counts_lock:
                self._counts["written"] += len(events)
                self._counts["replayed"] += len(events)
                self._counts["torn"] += torn
            if torn:
                log.warning("skipped %d torn records of spill segment %s", torn, segment)
        return True

    def _spill_batch(self, batch: Sequence[AccessEvent]) -> None:
        if batch:
            self._spill.append(batch, sync=True)
            self._count("spilled", len(batch))

    def _failed(self, exc: Exception) -> None:
        self._count("failures", 1)
        if self._backoff == self._retry_initial:
            log.warning("event sink failed (%s); spilling to %s", exc, self._spill.directory)
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self._retry_max)

    def _recovered(self) -> None:
        if self._backoff != self._retry_initial:
            log.warning("event sink recovered; replaying the spill")
        self._backoff = self._retry_initial
        self._retry_at = 0.0
