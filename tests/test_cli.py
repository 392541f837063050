"""The photoshare command line, run the way a shell runs it (typer's CliRunner)."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from harvestguard.canaries import CanaryKind
from photoshare import cli
from photoshare.canaries import canary_ids
from photoshare.db import make_engine, make_sessionmaker
from photoshare.models import PartnerApp, Story, User
from photoshare.security import verify_password
from photoshare.seed import SEED_PASSWORD

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """--data-dir decides where the database is; a DATABASE_URL of the environment would win."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("PHOTOSHARE_INSECURE_COOKIES", raising=False)


def _run(*args: str) -> Result:
    return runner.invoke(cli.app, list(args), env={"COLUMNS": "200"})


# the accounts of people: the seed plants canary accounts beside them (docs/canaries.md)
_PEOPLE = select(func.count(User.id)).where(User.id.not_in(canary_ids(CanaryKind.ACCOUNT)))


def _query(data_dir: Path, statement: Any) -> Any:
    engine = make_engine(f"sqlite:///{data_dir / 'photoshare.db'}")
    try:
        with make_sessionmaker(engine)() as db:
            return db.scalar(statement)
    finally:
        engine.dispose()


def test_seed_fills_an_empty_database_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "world"
    result = _run("seed", "--users", "15", "--seed", "3", "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    assert "15 (" in result.output and "Lumen Analytics" in result.output
    assert SEED_PASSWORD in result.output
    assert _query(data_dir, _PEOPLE) == 15

    again = _run("seed", "--users", "15", "--data-dir", str(data_dir))
    assert again.exit_code == 1
    assert "already has accounts" in again.output
    assert _query(data_dir, _PEOPLE) == 15


def test_seed_refuses_a_world_without_accounts(tmp_path: Path) -> None:
    result = _run("seed", "--users", "0", "--data-dir", str(tmp_path))
    assert result.exit_code == 2


def test_partner_register_prints_the_secret_once(tmp_path: Path) -> None:
    result = _run(
        "partner",
        "register",
        "--name",
        "Acme Insights",
        "--purpose",
        "engagement reports",
        "--contact",
        "legal@acme.example",
        "--scope",
        "profile:basic",
        "--scope",
        "media:read",
        "--data-dir",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    client_id = re.search(r"client id:\s+(\S+)", result.output)
    secret = re.search(r"client secret:\s+(\S+)", result.output)
    assert client_id and secret
    app = _query(tmp_path, select(PartnerApp).where(PartnerApp.client_id == client_id.group(1)))
    assert app.name == "Acme Insights"
    assert app.scope_set == {"profile:basic", "media:read"}
    assert verify_password(app.client_secret_hash, secret.group(1))
    assert secret.group(1) not in app.client_secret_hash


def test_partner_register_refuses_unknown_scopes(tmp_path: Path) -> None:
    result = _run(
        "partner",
        "register",
        "--name",
        "Grabby",
        "--purpose",
        "everything",
        "--contact",
        "x@grabby.example",
        "--scope",
        "stories:read",
        "--data-dir",
        str(tmp_path),
    )
    assert result.exit_code == 2
    assert "stories:read" in result.output
    assert not (tmp_path / "photoshare.db").exists()


def test_demo_seeds_once_and_prints_accounts_and_credentials(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    first = _run("demo", "--no-serve", "--users", "25", "--data-dir", str(data_dir))
    assert first.exit_code == 0, first.output
    assert f"password: {SEED_PASSWORD}" in first.output
    for kind in ("public", "private", "business"):
        assert kind in first.output
    client_ids = re.findall(r"client id:\s+(\S+)", first.output)
    assert len(client_ids) == 2
    credentials = data_dir / cli.CREDENTIALS_FILE
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert [p["client_id"] for p in json.loads(credentials.read_text())["partners"]] == client_ids

    second = _run("demo", "--no-serve", "--data-dir", str(data_dir))
    assert second.exit_code == 0, second.output
    assert "Using the demo world" in second.output
    assert re.findall(r"client id:\s+(\S+)", second.output) == client_ids
    assert _query(data_dir, _PEOPLE) == 25


def test_purge_deletes_the_expired_stories_of_a_seeded_world(tmp_path: Path) -> None:
    assert _run("seed", "--users", "30", "--data-dir", str(tmp_path)).exit_code == 0
    stories = _query(tmp_path, select(func.count(Story.id)))

    first = _run("purge", "--data-dir", str(tmp_path))
    assert first.exit_code == 0, first.output
    purged = int(re.search(r"Purged (\d+) expired", first.output).group(1))  # type: ignore[union-attr]
    assert purged > 0
    assert _query(tmp_path, select(func.count(Story.id))) == stories - purged
    assert "Purged 0 expired stories" in _run("purge", "--data-dir", str(tmp_path)).output


@pytest.mark.parametrize(
    ("host", "secure"),
    [
        ("127.0.0.1", False),
        ("localhost", False),
        ("::1", False),
        ("0.0.0.0", True),
        ("10.1.2.3", True),
    ],
)
def test_cookies_are_secure_unless_served_on_loopback(
    tmp_path: Path, host: str, secure: bool
) -> None:
    assert cli.serving_settings(tmp_path, host).secure_cookies is secure


def test_serve_runs_uvicorn_on_loopback_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: dict[str, Any] = {}

    def fake_run(app: FastAPI, *, host: str, port: int, proxy_headers: bool) -> None:
        served.update(app=app, host=host, port=port, proxy_headers=proxy_headers)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    result = _run("serve", "--data-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"]) == ("127.0.0.1", 8000)
    assert served["proxy_headers"] is False  # only the guard decides whom to believe
    app: FastAPI = served["app"]
    if app.state.guard_sink is not None:
        app.state.guard_sink.close()  # the app's lifespan, which would close it, never ran
    assert app.state.settings.data_dir == tmp_path
    assert app.state.settings.secure_cookies is False
