"""The reader thread of a scan: order kept, errors raised in the caller, early stop clean."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from harvestguard.scan.scanner import prefetched


def test_items_arrive_in_order() -> None:
    assert list(prefetched(iter(range(50)), depth=2)) == list(range(50))


def test_an_error_of_the_reader_reaches_the_caller() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in prefetched(failing()):
            got.append(item)
    assert got == [1]


def test_stopping_early_stops_the_thread() -> None:
    def endless() -> Iterator[int]:
        n = 0
        while True:
            n += 1
            yield n

    stream = prefetched(endless(), depth=1)
    assert next(stream) == 1
    stream.close()
    assert not any(t.name == "harvestguard-scan-reader" for t in threading.enumerate())
