"""What photoshare tells harvestguard's detectors about itself: the context tables.

Who follows whom, when accounts were created, which stories were posted when, where posts were
made, which partner apps hold which scopes, which objects are canaries. The detectors that need
them (social breadth, story freshness, accounts created together, partner scopes, canary reads)
use them; the rest run without. The tables come from the same manifest the simulator reads (one
export of the database, not two), the canaries straight from the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from harvestguard.canaries import canaries_table
from harvestguard.detect.context import Context, context_from_world
from harvestguard.simulate.manifest import world_from_manifest
from photoshare.canaries import canary_records
from photoshare.manifest import export_manifest


def platform_context(db: Session) -> Context:
    tables = context_from_world(world_from_manifest(export_manifest(db, include_disabled=True)))
    # The canaries straight from the database rather than the manifest: photoshare's media
    # events name a photo by its media id, which the manifest (keys only) does not carry.
    canaries = canary_records(db)
    if canaries:
        tables["canaries"] = canaries_table(canaries)
    return tables


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
