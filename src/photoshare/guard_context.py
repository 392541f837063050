"""What photoshare tells harvestguard's detectors about itself: the context tables.

Who follows whom, when accounts were created, which stories were posted when, where posts were
made, which partner apps hold which scopes. The detectors that need them (social breadth, story
freshness, accounts created together, partner scopes) use them; the rest run without. The tables
come from the same manifest the simulator reads (one export of the database, not two).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from harvestguard.detect.context import Context, context_from_world
from harvestguard.simulate.manifest import world_from_manifest
from photoshare.manifest import export_manifest


def platform_context(db: Session) -> Context:
    return context_from_world(world_from_manifest(export_manifest(db)))


def context_provider(
    sessions: sessionmaker[Session], *, min_interval: float = 5.0
) -> Callable[[], Context]:
    """A provider for the enforcement loop: the tables, rebuilt at most every ``min_interval``
    seconds (accounts sign up and stories appear while the platform runs)."""
    lock = threading.Lock()
    cached: list[tuple[float, Context]] = []

    def provide() -> Context:
        with lock:
            if cached and time.monotonic() - cached[0][0] < min_interval:
                return cached[0][1]
            with sessions() as db:
                tables = platform_context(db)
            cached[:] = [(time.monotonic(), tables)]
            return tables

    return provide
