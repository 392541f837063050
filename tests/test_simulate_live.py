"""Live mode against a real photoshare + guard: uvicorn in a subprocess on a loopback port.

The server trusts 127.0.0.1 as its reverse proxy and shares the runner's pseudonym key, as
docs/simulator.md says it must. Two runs share one server: a short one capped at a few requests,
then the main one; what the guard recorded is read after the server has stopped and flushed.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from harvestguard.cli import app as harvestguard_cli
from harvestguard.pseudonym import Pseudonymiser
from harvestguard.simulate import Scenario
from harvestguard.simulate.actors.harvesters import StoryArchiver
from harvestguard.simulate.actors.scrapers import LowAndSlow
from harvestguard.simulate.groundtruth import KEY_COLUMNS, GroundTruth
from harvestguard.simulate.live import (
    LiveConfig,
    LiveResult,
    plan_live,
    run_live,
)
from harvestguard.simulate.live_http import NotLoopbackError, require_loopback
from harvestguard.simulate.live_world import LivePlan, PartnerCredentials, ServerWorld
from harvestguard.sinks.parquet import read_events
from photoshare.app import create_app
from photoshare.live_setup import account_lookup, register_simulated_apps
from photoshare.manifest import export_manifest
from photoshare.models import Story, User
from photoshare.seed import seed_world
from photoshare.server_process import ServerProcess
from photoshare.settings import Settings

KEY = "live-test-pseudonym-key-0123456789"
SPEED = 120.0
CAP = 40
# every log-in costs the server an argon2 hash: fewer adversary accounts leave time for browsing
SCENARIO = Scenario.from_dict(
    {
        "preset": "small",
        "parameters": {
            "low_and_slow": {"ips": [6, 10], "accounts": [3, 5]},
            "story_archiver": {"puppets": [2, 3]},
            "fresh_account_rush": {"accounts": [2, 4]},
            "geofence_harvester": {"accounts": [2, 3]},
        },
    }
)


@dataclass
class LiveRun:
    plan: LivePlan
    first: LiveResult  # the capped run
    result: LiveResult  # the main run
    events: list[dict[str, object]]
    probes: int  # requests made to see the server up, outside both runs
    settings: Settings

    def labelled(self) -> list[tuple[dict[str, object], str]]:
        """The main run's events with the actor that sent each (by the request id it sent)."""
        labels = self.result.labels.to_pydict()
        actor_of = dict(zip(labels["request_id"], labels["actor_id"], strict=True))
        return [
            (e, actor_of[str(e["request_id"])]) for e in self.events if e["request_id"] in actor_of
        ]

    @contextlib.contextmanager
    def database(self) -> Iterator[Session]:
        app = create_app(Settings(data_dir=self.settings.data_dir, guard=False))
        with app.state.sessionmaker() as db:
            yield db
        app.state.engine.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    root = tmp_path_factory.mktemp("live")
    settings = Settings(data_dir=root / "data", guard=False)
    app = create_app(settings)
    with app.state.sessionmaker() as db:
        seeded = seed_world(db, settings.media_dir, users=60, seed=3)
        manifest = export_manifest(db)
    app.state.engine.dispose()
    server_world = ServerWorld.from_manifest(manifest)
    # people post stories during the run (a lively evening: 24 a day each); the archiver saves them
    plan = plan_live(
        SCENARIO,
        server_world,
        key=KEY.encode(),
        speed=SPEED,
        max_seconds=20,
        stories_per_day=24.0,
    )
    partners = [PartnerCredentials(s.client_id, s.client_secret, s.name) for s in seeded.partners]
    with app.state.sessionmaker() as db:
        partners += register_simulated_apps(db, plan)
    lookup = account_lookup(app.state.sessionmaker)
    env = {"HARVESTGUARD_TRUSTED_PROXIES": "127.0.0.1/32", "HARVESTGUARD_PSEUDONYM_KEY": KEY}
    with ServerProcess(settings.data_dir, env, log=root / "server.log") as server:
        config = LiveConfig(
            base_url=server.base_url,
            password=seeded.password,
            key=KEY.encode(),
            credentials=tuple(partners),
            speed=SPEED,
            max_seconds=20,
            max_requests=3000,
            max_concurrency=16,
            max_rate=300,
        )
        capped_plan = plan_live(
            SCENARIO.with_seed(7),
            server_world,
            key=KEY.encode(),
            speed=SPEED,
            max_seconds=5,
            stories_per_day=0.0,
        )
        capped = dataclasses.replace(config, max_requests=CAP, max_seconds=5)
        first = run_live(capped_plan, capped, account_lookup=lookup)
        result = run_live(plan, config, truth_dir=root / "truth", account_lookup=lookup)
        probes = server.probes
    app.state.engine.dispose()
    events = read_events(settings.data_dir / "guard" / "events").to_pylist()
    return LiveRun(plan, first, result, events, probes, settings)


def test_every_answered_request_is_one_event_of_the_guard(live: LiveRun) -> None:
    answered = live.first.report.answered + live.result.report.answered
    assert live.result.report.answered > 200
    assert live.first.report.errors == Counter() and live.result.report.errors == Counter()
    assert len(live.events) == answered + live.probes
    sent_ids = set(live.result.labels.column("request_id").to_pylist())
    sent_ids |= set(live.first.labels.column("request_id").to_pylist())
    recorded = {str(e["request_id"]) for e in live.events}
    # the guard took the runner's X-Request-ID: it trusts the runner as its proxy
    assert sent_ids <= recorded and len(recorded - sent_ids) == live.probes


def test_the_caps_hold(live: LiveRun) -> None:
    assert live.first.report.sent <= CAP
    assert live.first.report.answered == live.first.report.sent
    report = live.result.report
    assert report.sent <= 3000
    # in-flight requests finish after the deadline; nothing new starts after it
    assert report.elapsed < 20 + 10
    assert 0 < report.virtual_seconds <= SPEED * 20
    assert sum(report.by_status.values()) == report.answered
    assert sum(report.by_actor_class.values()) == report.answered


def test_every_key_of_every_event_is_in_the_ground_truth_with_its_count(live: LiveRun) -> None:
    truth = live.result.ground_truth
    assert truth.keys and not live.result.report.unresolved_accounts
    counted: Counter[tuple[str, str, str]] = Counter()
    for event, actor in live.labelled():
        for column, kind in KEY_COLUMNS.items():
            if event[column] is not None:
                counted[(kind, str(event[column]), actor)] += 1
    expected = {(k.kind, k.value, k.actor_id): k.events for k in truth.keys}
    assert dict(counted) == expected
    events_per_actor = Counter(actor for _, actor in live.labelled())
    assert {a: r.events for a, r in truth.actors.items() if r.events} == dict(events_per_actor)


def test_the_ground_truth_is_written_next_to_the_report(live: LiveRun) -> None:
    directory = live.settings.data_dir.parent / "truth"
    assert GroundTruth.read(directory / "ground_truth.json").keys == live.result.ground_truth.keys
    labels = pq.read_table(directory / "labels.parquet")
    assert labels.num_rows == live.result.report.answered
    report = (directory / "live_report.json").read_text()
    assert '"requests_answered"' in report and '"by_actor_class"' in report


def test_adversaries_events_are_attributable_to_them(live: LiveRun) -> None:
    pseudonyms = Pseudonymiser(KEY.encode())
    truth = live.result.ground_truth
    adversaries = {a for a, record in truth.actors.items() if record.adversary and record.events}
    assert len(adversaries) >= 2
    low = next(a for a in live.plan.actors if isinstance(a, LowAndSlow))
    addresses = {pseudonyms.ip(ident.address) for ident in low.identities}
    names = {live.plan.username(ident.user_id) for ident in low.identities if ident.user_id}
    with live.database() as db:
        ids = {str(uid) for uid in db.scalars(select(User.id).where(User.username.in_(names)))}
    seen = [event for event, actor in live.labelled() if actor == low.actor_id]
    assert seen
    assert {event["ip"] for event in seen} <= addresses
    logged_in = {event["actor_account"] for event in seen} - {None}
    assert logged_in and logged_in <= ids
    for actor in adversaries:
        keys = truth.keys_of(actor)
        benign = {(k.kind, k.value) for k in truth.keys if not truth.actors[k.actor_id].adversary}
        own = {key for key in keys if key[0] in ("account", "ip", "session", "client")}
        assert own and not own & benign, actor


def test_sock_puppets_really_signed_up(live: LiveRun) -> None:
    archiver = next(a for a in live.plan.actors if isinstance(a, StoryArchiver))
    puppets = {live.plan.username(ident.user_id) for ident, _ in archiver.puppets if ident.user_id}
    signed_up = set(live.first.report.signed_up) | set(live.result.report.signed_up)
    with live.database() as db:
        existing = set(db.scalars(select(User.username).where(User.username.in_(puppets))))
    assert existing & signed_up
    signups = [
        event
        for event, actor in live.labelled()
        if event["route"] == "/signup" and event["method"] == "POST" and event["status"] == 303
    ]
    assert signups


def test_stories_fetched_were_live_on_the_server(live: LiveRun) -> None:
    fetched = [
        event
        for event, _ in live.labelled()
        if event["route"] == "/stories/{story_id:int}" and event["status"] == 200
    ]
    assert fetched
    with live.database() as db:
        expiry = dict(db.execute(select(Story.id, Story.expires_at)).all())
    for event in fetched:
        ts = event["ts"]
        assert isinstance(ts, datetime)
        assert expiry[int(str(event["object_id"]))] > ts.astimezone(UTC)


def test_planned_stories_are_posted_by_their_owners_and_saved_by_the_archiver(
    live: LiveRun,
) -> None:
    planned = live.plan.planned_stories
    assert planned, "the plan has stories posted during the run"
    labelled = live.labelled()
    uploads = [
        event
        for event, _ in labelled
        if event["route"] == "/new/story" and event["method"] == "POST" and event["status"] == 303
    ]
    assert uploads, "stories were posted through the upload form"
    with live.database() as db:
        owner_names = dict(db.execute(select(User.id, User.username)).all())
        posted = db.execute(select(Story.id, Story.owner_id, Story.created_at)).all()
    names = {live.plan.username(story.owner_id) for story in planned.values()}
    # each upload was sent logged in as the story's owner, and the story is the owner's
    for event in uploads:
        assert owner_names[int(str(event["actor_account"]))] in names
    owners_of = {sid: owner for sid, owner, _ in posted}
    start = live.plan.scenario.start
    new_ids = {sid for sid, _, created in posted if created >= start}
    assert len(new_ids) == len(uploads)  # one story per upload, the owner's (above)
    assert all(owner_names[owners_of[sid]] in names for sid in new_ids)
    archiver = {a.actor_id for a in live.plan.actors if isinstance(a, StoryArchiver)}
    saved = {
        int(str(event["object_id"]))
        for event, actor in labelled
        if actor in archiver
        and event["route"] == "/stories/{story_id:int}"
        and event["status"] == 200
    }
    # the archiver asked for them by the server's ids, which the runner learnt at upload time
    assert saved & new_ids, "the archiver saved stories posted during the run"
    assert all(sid in owners_of for sid in saved)


def test_partner_apps_got_tokens_and_called_the_api(live: LiveRun) -> None:
    api = [event for event, _ in live.labelled() if event["channel"] == "api"]
    tokens = [e for e in api if e["route"] == "/oauth/token" and e["status"] == 200]
    assert tokens and all(e["actor_client"] for e in tokens)
    assert any(e["route"] != "/oauth/token" and e["session"] for e in api)


def test_nothing_went_anywhere_but_loopback(live: LiveRun) -> None:
    for report in (live.first.report, live.result.report):
        assert report.hosts and set(report.hosts) == {"127.0.0.1"}
        assert sum(report.hosts.values()) == report.sent


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1:8000",
        "http://192.0.2.7",
        "https://example.com",
        "http://127.0.0.1.nip.io:8000",
        "ftp://127.0.0.1/",
        "http://[2001:db8::1]:8000",
        "not a url",
    ],
)
def test_a_base_url_off_this_machine_is_refused(url: str) -> None:
    with pytest.raises(NotLoopbackError):
        require_loopback(url)
    with pytest.raises(NotLoopbackError):
        LiveConfig(base_url=url, password="x", key=KEY.encode())


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://localhost:8000", "http://127.3.4.5", "http://[::1]:80"]
)
def test_loopback_base_urls_are_accepted(url: str) -> None:
    assert require_loopback(url).host


def test_the_command_refuses_a_remote_server(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"format": "harvestguard-world", "version": 1, "users": []}')
    result = CliRunner().invoke(
        harvestguard_cli,
        [
            "simulate", "live", "--base-url", "http://203.0.113.9:8000", "--manifest",
            str(manifest), "--password", "x", "--pseudonym-key", KEY, "--truth", str(tmp_path),
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "loopback" in result.output
