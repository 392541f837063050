"""The secret watermark keys: created on first use, rotatable, old ones kept for attribution.

The key file (``watermark-keys.json`` in the guard's data directory, mode 0600) holds every key
ever used, each with an id. Data is marked with the current key; a leak is checked against all of
them, since it may have been collected before the last rotation. Without a key, a mark is a
pseudo-random number: it says nothing about who was served.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

KEY_FILE_NAME = "watermark-keys.json"
KEY_BYTES = 32


class WatermarkKeyError(Exception):
    """The key file is unreadable, malformed or readable by others."""


@dataclass(frozen=True, slots=True)
class WatermarkKey:
    key_id: str
    secret: bytes
    created: str  # ISO time, UTC

    def actor_key(self, identity: str) -> bytes:
        """The key of one actor's marks: a keyed BLAKE2b (a MAC) of the identity under the secret."""
        return hashlib.blake2b(
            identity.encode(), key=self.secret, digest_size=32, person=b"hg-wm-actor"
        ).digest()


def _new_key() -> WatermarkKey:
    secret = secrets.token_bytes(KEY_BYTES)
    return WatermarkKey(
        secrets.token_hex(4), secret, datetime.now(UTC).isoformat(timespec="seconds")
    )


class WatermarkKeys:
    """Every watermark key of a data directory; ``current`` marks, all of them attribute."""

    def __init__(self, path: Path, keys: list[WatermarkKey], current: str) -> None:
        self.path = path
        self._keys = keys
        self._current = current
        self._lock = threading.Lock()

    @classmethod
    def load(cls, data_dir: Path, *, create: bool = True) -> WatermarkKeys:
        """The keys of ``data_dir``; the first key is created when there is none and ``create``."""
        path = data_dir / KEY_FILE_NAME
        if not path.exists():
            if not create:
                raise WatermarkKeyError(f"no watermark keys in {data_dir} ({KEY_FILE_NAME})")
            data_dir.mkdir(parents=True, exist_ok=True)
            key = _new_key()
            keys = cls(path, [key], key.key_id)
            try:
                keys._write(exclusive=True)
            except FileExistsError:  # another process created it first: use theirs
                return cls.load(data_dir, create=False)
            return keys
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise WatermarkKeyError(
                f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
            )
        try:
            document = json.loads(path.read_text())
            loaded = [
                WatermarkKey(str(item["id"]), bytes.fromhex(item["secret"]), str(item["created"]))
                for item in document["keys"]
            ]
            current = str(document["current"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise WatermarkKeyError(f"{path}: not a watermark key file ({error})") from error
        if not loaded or current not in {key.key_id for key in loaded}:
            raise WatermarkKeyError(f"{path}: the current key {current!r} is not in the file")
        if any(len(key.secret) < 16 for key in loaded):
            raise WatermarkKeyError(f"{path}: a key is shorter than 16 bytes")
        return cls(path, loaded, current)

    @property
    def current(self) -> WatermarkKey:
        return next(key for key in self._keys if key.key_id == self._current)

    @property
    def all(self) -> tuple[WatermarkKey, ...]:
        """Every key, newest first."""
        return tuple(reversed(self._keys))

    def rotate(self) -> WatermarkKey:
        """A new current key; the old ones stay for attributing older leaks."""
        with self._lock:
            key = _new_key()
            self._keys.append(key)
            self._current = key.key_id
            self._write(exclusive=False)
            return key

    def _write(self, *, exclusive: bool) -> None:
        document = {
            "current": self._current,
            "keys": [
                {"id": key.key_id, "secret": key.secret.hex(), "created": key.created}
                for key in self._keys
            ],
        }
        text = json.dumps(document, indent=2) + "\n"
        if exclusive:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            return
        # a rotation replaces the file atomically, never leaving a half-written key file
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(temp, self.path)
