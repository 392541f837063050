"""JsonLinesSink: one JSON object per line, for shipping events to tools that read text.

Every batch is flushed and fsynced before ``write`` returns; a batch that fails half-way is cut
back off the file, so the file holds whole batches only. One process writes a given file.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from harvestguard.events import AccessEvent


class JsonLinesSink:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lock = threading.Lock()

    def write(self, events: Sequence[AccessEvent]) -> None:
        if not events:
            return
        data = "".join(
            json.dumps(event.to_json_dict(), separators=(",", ":")) + "\n" for event in events
        ).encode()
        with self._lock:
            start = os.fstat(self._fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
                os.fsync(self._fd)
            except BaseException:
                os.ftruncate(self._fd, start)
                raise

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def read_events(path: str | Path) -> list[AccessEvent]:
    """The events of a JSON lines file; a last line cut short by a crash is left out."""
    with Path(path).open("rb") as handle:
        lines = handle.read().split(b"\n")
    # after the last newline comes either nothing or a line whose write never finished
    return [AccessEvent.from_dict(json.loads(line)) for line in lines[:-1] if line]
