"""EnforcingSink: a tee in front of the guard's sink that lets the limits see every event.

The middleware submits each event after the response has gone; this sink queues it for a worker
thread that counts it against the limits (which may talk to Redis) and passes it on to the
wrapped sink at once, so the request path never waits on the network.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Protocol

from harvestguard.enforce.limits import LimitEnforcer
from harvestguard.events import AccessEvent

logger = logging.getLogger(__name__)

DEFAULT_QUEUE = 100_000


class Sink(Protocol):
    def submit(self, event: AccessEvent) -> None: ...


class EnforcingSink:
    def __init__(
        self,
        sink: Sink,
        limits: LimitEnforcer,
        *,
        queue_size: int = DEFAULT_QUEUE,
        workers: int = 1,
    ) -> None:
        """``workers``: counting threads; with Redis counters each waits on the network most of
        the time, so several keep up with more traffic (the counts are atomic in Redis)."""
        if workers < 1:
            raise ValueError("an EnforcingSink needs at least one worker")
        self.sink = sink
        self.limits = limits
        self._queue: queue.Queue[AccessEvent | None] = queue.Queue(maxsize=queue_size)
        self.dropped = 0  # observations skipped because the worker fell behind (events are not)
        self.errors = 0
        self._error_logged = False
        self._workers = [
            threading.Thread(target=self._run, name=f"harvestguard-limits-{n}", daemon=True)
            for n in range(workers)
        ]
        for worker in self._workers:
            worker.start()

    def submit(self, event: AccessEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
        self.sink.submit(event)

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until every queued event has been counted, then flushes the wrapped sink."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        flush = getattr(self.sink, "flush", None)
        if flush is None:
            return True
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return bool(flush(timeout=left))

    def close(self) -> None:
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout=30)
        self.limits.close()
        close = getattr(self.sink, "close", None)
        if close is not None:
            close()

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                self.limits.observe(event)
                self._error_logged = False
            except Exception:
                self.errors += 1
                if not self._error_logged:
                    # once per run of failures (Redis down), not once per event
                    logger.exception("the limits could not count an event")
                    self._error_logged = True
            finally:
                self._queue.task_done()


class Tee:
    """Hands each event to several sinks in turn (the live detection loop, then the limits and
    the event store); one sink's failure is logged and does not keep the event from the others."""

    def __init__(self, *sinks: Sink) -> None:
        self.sinks = sinks

    def submit(self, event: AccessEvent) -> None:
        for sink in self.sinks:
            try:
                sink.submit(event)
            except Exception:
                logger.exception("a sink refused event %s", event.request_id)
