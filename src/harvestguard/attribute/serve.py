"""The serving side: what an app calls to mark what it hands out (``Watermarker``)."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image

from harvestguard.attribute import image
from harvestguard.attribute.cache import DEFAULT_BUDGET_BYTES, MarkedPhotoCache
from harvestguard.attribute.coordinates import mark_coordinate
from harvestguard.attribute.keys import WatermarkKeys
from harvestguard.attribute.ordering import mark_order
from harvestguard.policy.model import Policy

Item = TypeVar("Item")
logger = logging.getLogger(__name__)
_ACTOR_KEYS_CACHED = 65536


class Watermarker:
    """Marks coordinates, orderings and photos for one actor identity with the current key."""

    def __init__(self, keys: WatermarkKeys, *, cache_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.keys = keys
        self.photos = MarkedPhotoCache(cache_bytes)
        self._actor_key = functools.lru_cache(maxsize=_ACTOR_KEYS_CACHED)(self._derive)

    def _derive(self, key_id: str, identity: str) -> bytes:
        return next(key for key in self.keys.all if key.key_id == key_id).actor_key(identity)

    def actor_key(self, identity: str) -> bytes:
        return self._actor_key(self.keys.current.key_id, identity)

    def mark_disclosure(
        self,
        identity: str,
        policy: Policy,
        resource: str,
        original: Mapping[str, Any],
        data: dict[str, Any],
    ) -> dict[str, Any]:
        """``data`` (what ``redact`` let out of ``original``) with its coordinates marked."""
        spec = policy.resources.get(resource)
        if spec is None:
            return data
        actor_key = self.actor_key(identity)
        for name, field in spec.fields.items():
            value = data.get(name)
            source = original.get(name)
            if field.axis is None or not isinstance(value, float | int) or isinstance(value, bool):
                continue
            if not isinstance(source, float | int) or isinstance(source, bool):
                continue
            data[name] = mark_coordinate(
                float(source),
                float(value),
                longitude=field.axis == "longitude",
                actor_key=actor_key,
            )
        return data

    def mark_listing(
        self,
        identity: str,
        items: Sequence[Item],
        *,
        rank: Callable[[Item], Hashable],
        object_id: Callable[[Item], str],
    ) -> list[Item]:
        """``items`` with the runs of equal ``rank`` in the actor's order."""
        return mark_order(items, rank=rank, object_id=object_id, actor_key=self.actor_key(identity))

    def mark_photo(self, identity: str, photo: str, data: bytes) -> bytes:
        """The photo ``photo`` (its bytes: ``data``) as served to ``identity``, cached."""
        key_id = self.keys.current.key_id
        cached = self.photos.get(identity, f"{key_id}|{photo}")
        if cached is not None:
            return cached
        try:
            marked = image.embed(data, self.actor_key(identity))
        except (OSError, ValueError, Image.DecompressionBombError):
            # a photo the mark cannot be added to is still the owner's to show: served as stored
            logger.warning("photo %s served unmarked: it could not be decoded", photo)
            return data
        self.photos.put(identity, f"{key_id}|{photo}", marked)
        return marked


_watermarkers: dict[Path, Watermarker] = {}
_lock = threading.Lock()


def watermarker_for(data_dir: Path) -> Watermarker:
    """The process's watermarker of ``data_dir`` (its keys created there on first use)."""
    path = data_dir.resolve()
    with _lock:
        found = _watermarkers.get(path)
        if found is None:
            found = _watermarkers[path] = Watermarker(WatermarkKeys.load(path))
        return found
