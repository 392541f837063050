"""The interface every event sink implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from harvestguard.events import AccessEvent


class Sink(Protocol):
    """Durable storage for events. ``write`` stores the whole batch or raises; it may block."""

    def write(self, events: Sequence[AccessEvent]) -> None: ...

    def close(self) -> None: ...
