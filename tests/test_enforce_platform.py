"""photoshare's platform actions on a real SQLite database, driven by the ladder: a ban disables the
entity's accounts (their sessions end) and revokes its partner app (its tokens are deleted); an
analyst's lift brings both back."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from harvestguard.actor import ActorKeys
from harvestguard.enforce.ladder import Ladder
from harvestguard.enforce.levels import Level
from harvestguard.enforce.table import DecisionTable
from harvestguard.events import Decision
from photoshare.app import create_app
from photoshare.guard_actions import PhotoshareActions
from photoshare.models import PartnerApp, PartnerToken, User, WebSession
from photoshare.settings import Settings
from tests.enforce_helpers import entity
from tests.factories import World
from tests.partner_helpers import bearer, token_for
from tests.web_helpers import act_as, login_form


def _tokens(db: Session, app_id: int) -> int:
    return db.scalar(select(func.count()).where(PartnerToken.app_id == app_id)) or 0


def test_a_ban_disables_the_accounts_and_revokes_the_partner_app_and_a_lift_restores_them(
    app: FastAPI, client: TestClient, world: World, db: Session
) -> None:
    puppet = world.user("puppet_one")
    bystander = world.user("bystander")
    partner, secret = world.partner_app("Harvest Analytics")
    token = token_for(client, partner, secret)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    act_as(client, db, puppet)
    assert client.get("/").status_code == 200

    table: DecisionTable = app.state.guard_decisions
    ladder = Ladder(table, PhotoshareActions(app.state.sessionmaker))
    now = datetime.now(UTC)
    banned = entity(
        {("account", str(puppet.id)), ("client", partner.client_id)},
        risk=0.99,
        entity_id="harvest-ring",
        last_seen=now,
    )
    records = ladder.decide(banned, now)
    assert {r.level for r in records} == {Level.BAN}

    db.expire_all()
    assert db.get(User, puppet.id).disabled  # type: ignore[union-attr]
    assert not db.get(User, bystander.id).disabled  # type: ignore[union-attr]
    assert db.scalar(select(func.count()).where(WebSession.user_id == puppet.id)) == 0
    assert db.get(PartnerApp, partner.id).revoked  # type: ignore[union-attr]
    assert _tokens(db, partner.id) == 0
    # the platform refuses them, and the guard refuses them at the door as well
    client.cookies.clear()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code in (401, 403)
    refused = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(partner.client_id, secret)
    )
    assert refused.status_code in (401, 403)
    assert client.post("/login", data=login_form(client, "puppet_one")).status_code in (401, 403)
    assert table.check(ActorKeys(client=partner.client_id)).decision == Decision.BLOCK

    lifted = ladder.lift("harvest-ring", by="analyst rita", reason="the partner's appeal upheld")
    assert {r.key for r in lifted} == banned.keys
    db.expire_all()
    assert not db.get(User, puppet.id).disabled  # type: ignore[union-attr]
    assert not db.get(PartnerApp, partner.id).revoked  # type: ignore[union-attr]
    fresh = token_for(client, partner, secret)  # old tokens stay gone; new ones work
    assert client.get("/api/v1/me", headers=bearer(fresh)).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    client.cookies.clear()
    assert client.post("/login", data=login_form(client, "puppet_one")).status_code == 200


def test_actions_on_unknown_or_unchanged_ids_change_nothing(app: FastAPI, world: World) -> None:
    actions = PhotoshareActions(app.state.sessionmaker)
    user = world.user("someone")
    assert actions.disable_account("999999", "no such user") is False
    assert actions.disable_account("not-a-number", "bad id") is False
    assert actions.restore_account(str(user.id), "not disabled") is False
    assert actions.disable_account(str(user.id), "first") is True
    assert actions.disable_account(str(user.id), "again") is False
    assert actions.revoke_client("unknown-client", "none") is False
    assert actions.restore_client("unknown-client", "none") is False


def test_shadow_bans_leave_the_platform_alone(app: FastAPI, world: World, db: Session) -> None:
    user = world.user("watched")
    ladder = Ladder(DecisionTable(), PhotoshareActions(app.state.sessionmaker), shadow=True)
    now = datetime.now(UTC)
    ladder.decide(entity({("account", str(user.id))}, risk=0.99, last_seen=now), now)
    db.expire_all()
    assert not db.get(User, user.id).disabled  # type: ignore[union-attr]


def test_a_ban_lifted_from_another_process_restores_the_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    monkeypatch.setenv("HARVESTGUARD_REDIS_URL", redis_url)
    app = create_app(Settings(data_dir=tmp_path / "ps", secret_key="s"))
    sessions = app.state.sessionmaker
    with sessions() as db:
        world = World(db=db, media_dir=app.state.settings.media_dir)
        puppet = world.user("puppet_two")
        partner, _ = world.partner_app("Story Archive")
    now = datetime.now(UTC)
    keys = {("account", str(puppet.id)), ("client", partner.client_id)}
    try:
        app.state.guard.ladder.decide(entity(keys, risk=0.99, entity_id="ring", last_seen=now), now)
        assert _disabled(sessions, puppet.id, partner.id) == (True, True)
        analyst = DecisionTable.from_url(redis_url)  # e.g. `harvestguard decisions lift`
        try:
            for key in keys:
                analyst.lift(key, by="rita", reason="appeal upheld")
        finally:
            analyst.close()
        deadline = time.monotonic() + 10
        while _disabled(sessions, puppet.id, partner.id) != (False, False):
            assert time.monotonic() < deadline, "the app did not restore the banned actors"
            time.sleep(0.02)
        assert app.state.guard_decisions.active() == []
    finally:
        app.state.guard.close()


def _disabled(sessions: sessionmaker[Session], user_id: int, app_id: int) -> tuple[bool, bool]:
    with sessions() as db:
        user, partner = db.get(User, user_id), db.get(PartnerApp, app_id)
        assert user is not None and partner is not None
        return user.disabled, partner.revoked
