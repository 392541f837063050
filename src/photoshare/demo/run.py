"""The demo: seed a world, serve photoshare behind the guard with live detection and enforcement,
drive people, partners and three adversaries at it over real HTTP, then tell what happened.

Every run starts from an empty data folder, so it tells the same story each time. The server is
a child process (uvicorn on a loopback port); this process plays the clients. Both run on one
accelerated clock (``HARVESTGUARD_TIME_SPEED``): the detectors judge hours of behaviour in the
minutes the demo lasts, and judge benign visitors at their real pace.
"""

from __future__ import annotations

import json
import math
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from harvestguard.enforce.cases import CaseStore
from harvestguard.enforce.incident import build_incident
from harvestguard.enforce.notices import Sender, build_notice
from harvestguard.simulate.live import LiveConfig, LiveReport, LiveResult, plan_live, run_live
from harvestguard.simulate.live_world import PartnerCredentials, ServerWorld
from harvestguard.sinks.parquet import read_events
from photoshare import migrate
from photoshare.canaries import export_canaries
from photoshare.db import make_engine, make_sessionmaker
from photoshare.demo.outcome import DemoOutcome, demo_outcome
from photoshare.demo.scenario import DEMO_SCENARIO, SECONDS, SPEED, STORIES_PER_DAY, USERS
from photoshare.live_setup import (
    account_lookup,
    register_simulated_accounts,
    register_simulated_apps,
)
from photoshare.manifest import export_manifest
from photoshare.partner_directory import partner_info
from photoshare.seed import SeedReport, seed_world
from photoshare.server_process import ServerProcess
from photoshare.settings import Settings

GUARD_DIR = "guard"
REPORT_DIR = "report"
ANALYST = "demo analyst"
LEGAL_CONTACT = "legal@photoshare.example"
LEAD_SECONDS = 8.0  # the server starts within this; the simulated day starts after it
SETTLE_SECONDS = 6.0  # after the traffic, for the last detection step to act


@dataclass(frozen=True, slots=True)
class DemoOptions:
    data_dir: Path = Path("var/demo")
    users: int = USERS
    speed: float = SPEED
    seconds: float = SECONDS
    seed: int = 1
    max_rate: float = 150.0

    def __post_init__(self) -> None:
        if self.users < 20 or self.speed <= 0 or self.seconds <= 0 or self.max_rate <= 0:
            raise ValueError("the demo needs at least 20 users and a positive speed, time, rate")


@dataclass(slots=True)
class DemoResult:
    options: DemoOptions
    seeded: SeedReport
    live: LiveResult
    outcome: DemoOutcome
    base_url: str
    artefacts: dict[str, Path] = field(default_factory=dict)


Stage = Callable[[str], None]
Progress = Callable[[LiveReport], None]


def run_demo(
    options: DemoOptions, *, stage: Stage | None = None, progress: Progress | None = None
) -> DemoResult:
    say = stage or (lambda _message: None)
    root = options.data_dir
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    settings = Settings(data_dir=root)
    settings.media_dir.mkdir()
    engine = make_engine(settings.url)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    say(f"Seeding {options.users} accounts, their posts, stories and follows")
    with sessions() as db:
        seeded = seed_world(db, settings.media_dir, users=options.users, seed=options.seed)
        manifest = export_manifest(db)
        export_canaries(db, settings.data_dir)
    key = secrets.token_hex(24)
    origin = math.ceil(time.time() + LEAD_SECONDS)
    plan = plan_live(
        DEMO_SCENARIO.with_seed(options.seed),
        ServerWorld.from_manifest(manifest),
        key=key.encode(),
        speed=options.speed,
        max_seconds=options.seconds,
        start=datetime.fromtimestamp(origin, UTC),
        stories_per_day=STORIES_PER_DAY,
    )
    with sessions() as db:
        partners = [
            PartnerCredentials(p.client_id, p.client_secret, p.name) for p in seeded.partners
        ] + register_simulated_apps(db, plan)
        register_simulated_accounts(db, plan, key.encode())
    env = {
        "HARVESTGUARD_TRUSTED_PROXIES": "127.0.0.1/32",
        "HARVESTGUARD_PSEUDONYM_KEY": key,
        "HARVESTGUARD_LIVE_DETECTION": "1",
        "HARVESTGUARD_TIME_SPEED": str(options.speed),
        "HARVESTGUARD_TIME_ORIGIN": str(origin),
    }
    say("Starting photoshare behind harvestguard on loopback")
    with ServerProcess(root, env) as server:
        time.sleep(max(0.0, origin - time.time()))
        say(f"Driving traffic at {server.base_url} ({options.speed:g}x real time)")
        live = run_live(
            plan,
            LiveConfig(
                base_url=server.base_url,
                password=seeded.password,
                key=key.encode(),
                credentials=tuple(partners),
                speed=options.speed,
                max_seconds=options.seconds,
                max_requests=50_000,
                max_concurrency=16,
                max_rate=options.max_rate,
            ),
            truth_dir=root / "truth",
            progress=progress,
            account_lookup=account_lookup(sessions),
        )
        say("Letting detection finish its last step")
        time.sleep(SETTLE_SECONDS)
        base_url = server.base_url
    say("Reading the guard's events and cases")
    guard = root / GUARD_DIR
    events = read_events(guard / "events")
    store = CaseStore(f"sqlite:///{guard / 'cases.db'}")
    try:
        cases = store.list()
        outcome = demo_outcome(live.ground_truth, live.labels, events, cases, store.audit())
        result = DemoResult(options, seeded, live, outcome, base_url)
        result.artefacts = _write_artefacts(store, sessions, guard, root / REPORT_DIR)
    finally:
        store.close()
        engine.dispose()
    return result


def _write_artefacts(
    store: CaseStore, sessions: sessionmaker[Session], guard: Path, out: Path
) -> dict[str, Path]:
    """The partner harvester's case (the riskiest case holding a partner app), confirmed by the
    demo's analyst, its cease-and-desist notice (HTML, PDF) and its incident report."""
    partner_cases = [c for c in store.list() if c.clients]
    if not partner_cases:
        return {}
    case = max(partner_cases, key=lambda c: (c.risk, c.evidence.records))
    case = store.confirm(
        case.id,
        ANALYST,
        "confirmed for the demonstration: the evidence shows "
        "a partner app collecting location and story data it was never granted",
    )
    with sessions() as db:
        partner = partner_info(db, case.clients[0])
    if partner is None:
        return {}
    out.mkdir(parents=True, exist_ok=True)
    case_path = out / f"case-{case.id}.json"
    case_path.write_text(
        json.dumps(
            {**case.to_dict(), "audit": [e.to_dict() for e in store.audit(case.id)]}, indent=2
        ),
        encoding="utf-8",
    )
    notice = build_notice(case, partner, Sender("photoshare", contact_email=LEGAL_CONTACT))
    notice_html, notice_pdf = notice.write(out)
    notice.record(store, ANALYST, notice_pdf)
    report = build_incident(case, f"parquet:{guard / 'events'}")
    incident = report.write(out)
    report.record(store, ANALYST, incident["pdf"])
    return {
        "case": case_path,
        "notice (HTML)": notice_html,
        "notice (PDF)": notice_pdf,
        "incident report (PDF)": incident["pdf"],
        "accounts to notify (CSV)": incident["csv"],
    }
