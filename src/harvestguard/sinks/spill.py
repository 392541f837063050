"""The spill: an append-only, checksummed log of the events the sink could not take yet.

A record is one line: the CRC-32 of its JSON payload in 8 hex digits, a space, the payload. A
record torn by a crash (cut short, or bytes that do not match their checksum) is detected,
skipped and counted, never mis-parsed. The log is a directory of numbered segments, replayed
oldest first; a segment is deleted only after the sink has stored its events.

One process owns a spill directory at a time (an exclusive lock on ``.lock``), so start-up
replay never races a live writer of the same segments.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from harvestguard.events import AccessEvent
from harvestguard.sinks.files import fsync_directory

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".spill"
LOCK_NAME = ".lock"


class SpillDirectoryInUse(RuntimeError):
    """Another BufferedSink, in this process or another, owns the spill directory."""


def encode_record(event: AccessEvent) -> bytes:
    payload = json.dumps(event.to_json_dict(), separators=(",", ":")).encode()
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def decode_segment(data: bytes) -> tuple[list[AccessEvent], int]:
    """The intact events of a segment, and how many torn records were skipped."""
    events: list[AccessEvent] = []
    torn = 0
    lines = data.split(b"\n")
    # the piece after the last newline is empty, or a record whose write never finished
    if lines[-1]:
        torn += 1
    for line in lines[:-1]:
        event = _decode_record(line)
        if event is None:
            torn += 1
        else:
            events.append(event)
    return events, torn


def _decode_record(line: bytes) -> AccessEvent | None:
    checksum, space, payload = line[:8], line[8:9], line[9:]
    try:
        if space != b" " or int(checksum, 16) != zlib.crc32(payload):
            return None
        return AccessEvent.from_dict(json.loads(payload))
    except ValueError:
        return None


class SpillLog:
    def __init__(self, directory: str | Path, *, segment_records: int) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise SpillDirectoryInUse(f"spill directory {self.directory} is in use") from None
        self._segment_records = segment_records
        self._lock = threading.Lock()
        # sealed segments, oldest first, with the number of records each holds
        self._sealed: dict[Path, int] = {}
        for path in sorted(self.directory.glob(f"*{SEGMENT_SUFFIX}")):
            if path.stem.isdigit():
                data = path.read_bytes()
                self._sealed[path] = data.count(b"\n") + (not data.endswith(b"\n") and bool(data))
        self._next_number = max((int(path.stem) for path in self._sealed), default=0) + 1
        self._active: BinaryIO | None = None
        self._active_path: Path | None = None
        self._active_records = 0
        self._unsynced = False
        self._closed = False

    @property
    def pending(self) -> int:
        """Records on disk not yet replayed, torn ones included."""
        with self._lock:
            return sum(self._sealed.values()) + self._active_records

    def append(self, events: Sequence[AccessEvent], *, sync: bool) -> None:
        """Adds events to the log.

        With ``sync=False`` they survive a crash of this process at once, and a power cut after
        the next ``sync``.
        """
        data = b"".join(encode_record(event) for event in events)
        with self._lock:
            if self._closed:
                raise RuntimeError(f"spill log {self.directory} is closed")
            if self._active_records and self._active_records + len(events) > self._segment_records:
                self._seal()
            if self._active is None:
                self._active_path = self.directory / f"{self._next_number:012d}{SEGMENT_SUFFIX}"
                self._next_number += 1
                self._active = self._active_path.open("ab")
            self._active.write(data)
            self._active.flush()
            self._active_records += len(events)
            self._unsynced = True
            if sync:
                self._sync()

    def sync(self) -> None:
        with self._lock:
            self._sync()

    def segments(self) -> list[Path]:
        """Every segment with records, oldest first; the one being appended to is sealed."""
        with self._lock:
            if self._active_records:
                self._seal()
            return list(self._sealed)

    def read(self, segment: Path) -> tuple[list[AccessEvent], int]:
        return decode_segment(segment.read_bytes())

    def remove(self, segment: Path) -> None:
        with self._lock:
            # forgotten even if the unlink fails: replaying it again would store it twice
            del self._sealed[segment]
            try:
                segment.unlink()
                fsync_directory(self.directory)
            except OSError:
                log.exception("replayed spill segment %s could not be removed; delete it", segment)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._active is not None:
                self._seal()
            os.close(self._lock_fd)

    def _sync(self) -> None:
        if self._active is not None and self._unsynced:
            os.fsync(self._active.fileno())
            self._unsynced = False

    def _seal(self) -> None:
        assert self._active is not None and self._active_path is not None
        self._sync()
        self._active.close()
        if self._active_records:
            self._sealed[self._active_path] = self._active_records
        else:
            self._active_path.unlink()
        self._active = None
        self._active_path = None
        self._active_records = 0
