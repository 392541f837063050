"""Marks in the order of items the platform ranks equally.

When a list puts several items on the same rank (the same time, the same score), any order among
them is as true as any other; the actor's order is a keyed sort of their ids. In a leak, two
records of equal rank that kept the served order say, for each candidate, whether their order is
its order: one bit, right by chance half the time.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

Item = TypeVar("Item")


def _position(actor_key: bytes, object_id: str) -> bytes:
    # keyed on the id alone: a leaked record seldom says which kind of object it was
    return hashlib.blake2b(
        object_id.encode(), key=actor_key, digest_size=8, person=b"hg-wm-order"
    ).digest()


def mark_order(
    items: Sequence[Item],
    *,
    rank: Callable[[Item], Hashable],
    object_id: Callable[[Item], str],
    actor_key: bytes,
) -> list[Item]:
    """``items`` (already in the platform's order) with every run of equal rank in the actor's
    order; items of different ranks never move past each other."""
    ordered: list[Item] = []
    for _rank, run in itertools.groupby(items, key=rank):
        group = list(run)
        if len(group) > 1:
            group.sort(key=lambda item: _position(actor_key, object_id(item)))
        ordered.extend(group)
    return ordered


def in_actor_order(first: str, second: str, actor_key: bytes) -> bool:
    """Whether ``first`` before ``second`` is the order the actor was served them in."""
    return _position(actor_key, first) < _position(actor_key, second)
