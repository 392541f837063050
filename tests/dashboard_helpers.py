"""A guard's data dir as a real deployment leaves it, for the dashboard's tests.

The simulator's `tiny` scenario (event mode), moved to end now, is replayed through the live
enforcement loop the way the middleware would meet it: each slice of traffic is checked against
the decision table first (a refused request discloses nothing and is recorded with its
decision), then submitted to the loop, which detects, opens cases and climbs the ladder into a
real Redis. What lands in the data dir is what a guard writes: the events store, the case store
with its audit log, the status file, and the decisions in Redis.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
from playwright.sync_api import Browser, sync_playwright
from pytest import TempPathFactory

from harvestguard.actor import ActorKeys
from harvestguard.dashboard.accounts import AccountStore, Role, default_accounts_url
from harvestguard.detect import DetectionEngine
from harvestguard.detect.context import context_from_world
from harvestguard.detect.incremental import IncrementalDetector
from harvestguard.enforce.cases import CaseStore
from harvestguard.enforce.ladder import Ladder
from harvestguard.enforce.loop import EnforcementLoop
from harvestguard.enforce.setup import STATUS_FILE
from harvestguard.enforce.table import DecisionTable
from harvestguard.events import AccessEvent, Decision, from_arrow, to_arrow
from harvestguard.simulate import run_event_mode
from harvestguard.simulate.groundtruth import GroundTruth
from tests.case_helpers import write_store
from tests.redis_helpers import RedisServer
from tests.simulate_helpers import SEED, TINY
from tests.test_detect_modes import _slices

STEP_SECONDS = 1800  # of simulated time between the loop's steps
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class GuardData:
    data_dir: Path
    redis_url: str
    truth: GroundTruth
    harvester_client: str  # the geo-fence harvester's partner app
    harvester_partner: str  # the name its operator registered
    harvester_case: str
    events: int


class _EventClock:
    """The guard's time during the replay: the latest event handed to the loop."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def now(self) -> datetime:
        return self.at

    def seconds(self, real_seconds: float) -> float:
        return real_seconds


def _enforced(event: AccessEvent, table: DecisionTable) -> AccessEvent:
    """The event as the middleware records it under the table's verdict."""
    keys = ActorKeys(
        account=event.actor_account,
        client=event.actor_client,
        session=event.session,
        ip=event.ip,
        net=event.net,
        fingerprint=event.fingerprint,
    )
    decision = Decision(table.check(keys).decision)
    if decision == Decision.ALLOW:
        return event
    status = 429 if decision == Decision.THROTTLE else 403
    return dataclasses.replace(
        event, decision=decision.value, status=status, bytes=0, owner_ids=[], data_classes=[]
    )


def build_guard_data(data_dir: Path, redis_url: str) -> GuardData:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    scenario = dataclasses.replace(TINY.with_seed(SEED), start=end - TINY.duration)
    run = run_event_mode(scenario, keep=True)
    assert run.events is not None and run.world is not None
    context = context_from_world(run.world)
    clock = _EventClock(scenario.start)
    table = DecisionTable.from_url(redis_url, clock=clock.now, stale_after=timedelta(days=1))
    cases = CaseStore(f"sqlite:///{data_dir / 'cases.db'}")
    loop = EnforcementLoop(
        IncrementalDetector(DetectionEngine(), context, evaluate_every_seconds=STEP_SECONDS),
        Ladder(table),
        cases=cases,
        clock=clock,
        context=lambda: context,
        status_path=data_dir / STATUS_FILE,
    )
    recorded = []
    try:
        for piece in _slices(run.events, STEP_SECONDS):
            if piece.num_rows == 0:
                continue
            clock.at = pc.min(piece.column("ts")).as_py()
            events = [_enforced(event, table) for event in from_arrow(piece)]
            recorded += events
            for event in events:
                loop.submit(event)
            clock.at = pc.max(piece.column("ts")).as_py()
            loop.step()
    finally:
        loop.close()
        table.close()
    write_store(to_arrow(recorded), data_dir / "events")
    client = next(
        record.value
        for record in run.ground_truth.keys
        if record.kind == "client" and record.actor_id.startswith("geofence_harvester")
    )
    store = CaseStore(f"sqlite:///{data_dir / 'cases.db'}")
    try:
        found = store.find(("client", client))
    finally:
        store.close()
    assert len(found) == 1, found
    assert json.loads((data_dir / STATUS_FILE).read_text())["steps"] > 0
    return GuardData(
        data_dir=data_dir,
        redis_url=redis_url,
        truth=run.ground_truth,
        harvester_client=client,
        harvester_partner=run.world.apps[client].name,
        harvester_case=found[0].id,
        events=len(recorded),
    )


_BUILT: dict[str, GuardData] = {}


def shared_guard_data(tmp_path_factory: TempPathFactory) -> GuardData:
    """One guard data dir and its own redis-server for the whole test session (the dashboard's
    test modules share it; a module that changes cases works on a copy)."""
    if "data" not in _BUILT:
        root = tmp_path_factory.mktemp("dashboard-guard")
        server = RedisServer(root / "redis").start()
        atexit.register(server.stop)
        _BUILT["data"] = build_guard_data(root / "guard", server.url)
    return _BUILT["data"]


def copy_data_dir(data: GuardData, target: Path) -> Path:
    """A copy of the data dir (events, cases, status) that a test may change freely."""
    shutil.copytree(data.data_dir, target)
    return target


def add_users(data_dir: Path, password: str = PASSWORD) -> None:
    """One account per role, named after it."""
    store = AccountStore(default_accounts_url(data_dir))
    try:
        existing = {user.username for user, _ in store.users()}
        for role in Role:
            if role.label not in existing:
                store.add(role.label, password, role, by="tests")
    finally:
        store.close()


CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright's own browser download fails here


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, through Playwright (make test installs it)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()
