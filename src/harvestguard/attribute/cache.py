"""A bounded, thread-safe LRU of marked photos, by (actor, photo).

Marking a photo costs tens of milliseconds; an actor looking at a photo again (and a scraper does)
gets the bytes it was served before, which also keeps the mark the same.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

DEFAULT_BUDGET_BYTES = 64 * 1024 * 1024


class MarkedPhotoCache:
    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self.used_bytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, identity: str, photo: str) -> bytes | None:
        with self._lock:
            data = self._entries.get((identity, photo))
            if data is None:
                self.misses += 1
                return None
            self._entries.move_to_end((identity, photo))
            self.hits += 1
            return data

    def put(self, identity: str, photo: str, data: bytes) -> None:
        if len(data) > self.budget_bytes:
            return
        with self._lock:
            previous = self._entries.pop((identity, photo), None)
            if previous is not None:
                self.used_bytes -= len(previous)
            self._entries[identity, photo] = data
            self.used_bytes += len(data)
            while self.used_bytes > self.budget_bytes:
                _key, evicted = self._entries.popitem(last=False)
                self.used_bytes -= len(evicted)

    def __len__(self) -> int:
        return len(self._entries)
