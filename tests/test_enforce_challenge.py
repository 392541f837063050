"""The challenge: proof-of-work verification (good, bad, tampered, someone else's, replayed,
expired), the pass it earns, and photoshare showing the page instead of the data to a challenged
client, anonymous or logged in."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from harvestguard.actor import ActorKeys, device_fingerprint
from harvestguard.enforce.challenge import (
    CHALLENGE_PATH,
    PASS_COOKIE,
    SOLVE_SECONDS,
    ChallengeApp,
    Outcome,
    RedisUsedChallenges,
    leading_zero_bits,
    solve,
)
from harvestguard.enforce.levels import Level
from harvestguard.enforce.records import DecisionRecord
from harvestguard.enforce.table import DecisionTable
from harvestguard.sinks.parquet import read_events
from photoshare.app import create_app
from photoshare.settings import Settings
from tests.factories import World
from tests.partner_helpers import bearer, token_for
from tests.redis_helpers import free_port
from tests.web_helpers import login_form

KEY = "challenge-test-pseudonym-key"
DEVICE = "device-0123456789"
VISITOR = ActorKeys(ip="ip-1", fingerprint="fp-1")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def challenge(clock: Clock) -> ChallengeApp:
    return ChallengeApp(b"s" * 32, bits=8, pass_seconds=600, clock=clock)


def test_leading_zero_bits() -> None:
    assert leading_zero_bits(b"\x00\x00\xff") == 16
    assert leading_zero_bits(b"\x00\x1f") == 11
    assert leading_zero_bits(b"\x80") == 0
    assert leading_zero_bits(b"\x00" * 4) == 32


def test_a_solved_challenge_verifies_once(challenge: ChallengeApp) -> None:
    token = challenge.issue(VISITOR)
    counter = solve(token, 8)
    digest = hashlib.sha256(f"{token}:{counter}".encode()).digest()
    assert leading_zero_bits(digest) >= 8
    assert challenge.verify(token, counter, VISITOR) == Outcome.OK
    assert challenge.verify(token, counter, VISITOR) == Outcome.REPLAYED


def test_an_unsolved_or_malformed_answer_is_refused(challenge: ChallengeApp) -> None:
    token = challenge.issue(VISITOR)
    wrong = next(
        str(n)
        for n in range(10_000)
        if leading_zero_bits(hashlib.sha256(f"{token}:{n}".encode()).digest()) < 8
    )
    assert challenge.verify(token, wrong, VISITOR) == Outcome.NOT_SOLVED
    assert challenge.verify(token, "-1", VISITOR) == Outcome.NOT_SOLVED
    assert challenge.verify(token, "9" * 40, VISITOR) == Outcome.NOT_SOLVED
    # the right answer still works: a failed try does not burn the challenge
    assert challenge.verify(token, solve(token, 8), VISITOR) == Outcome.OK


def test_a_tampered_or_foreign_challenge_is_refused(challenge: ChallengeApp) -> None:
    token = challenge.issue(VISITOR)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert challenge.verify(tampered, solve(tampered, 8), VISITOR) == Outcome.BAD_SIGNATURE
    other = ChallengeApp(b"t" * 32, bits=8).issue(VISITOR)
    assert challenge.verify(other, solve(other, 8), VISITOR) == Outcome.BAD_SIGNATURE
    # solved elsewhere and handed over: bound to the address and device it was issued to
    moved = ActorKeys(ip="ip-2", fingerprint="fp-1")
    assert challenge.verify(token, solve(token, 8), moved) == Outcome.OTHER_CLIENT


def test_an_old_challenge_is_refused(challenge: ChallengeApp, clock: Clock) -> None:
    token = challenge.issue(VISITOR)
    counter = solve(token, 8)
    clock.now += SOLVE_SECONDS + 1
    assert challenge.verify(token, counter, VISITOR) == Outcome.EXPIRED


def test_the_pass_admits_its_client_until_it_expires(challenge: ChallengeApp, clock: Clock) -> None:
    scope = {"headers": [(b"cookie", f"{PASS_COOKIE}={challenge.grant(VISITOR)}".encode())]}
    assert challenge.admits(scope, VISITOR, identity=False)
    assert not challenge.admits(scope, ActorKeys(ip="ip-9", fingerprint="fp-1"), identity=False)
    assert not challenge.admits({"headers": []}, VISITOR, identity=False)
    # a pass does not clear a challenge of the account itself
    logged_in = ActorKeys(account="5", session="s", ip="ip-1", fingerprint="fp-1")
    assert not challenge.admits(scope, logged_in, identity=True)
    clock.now += 601
    assert not challenge.admits(scope, VISITOR, identity=False)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        ChallengeApp(b"short")


# photoshare, through the guard


@pytest.fixture
def guarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FastAPI, World]]:
    monkeypatch.setenv("HARVESTGUARD_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("HARVESTGUARD_CHALLENGE_BITS", "8")
    app = create_app(Settings(data_dir=tmp_path / "ps", secret_key="s"))
    with app.state.sessionmaker() as db:
        yield app, World(db=db, media_dir=app.state.settings.media_dir)


def _challenge(table: DecisionTable, key: tuple[str, str]) -> None:
    now = datetime.now(UTC)
    table.put(DecisionRecord(key, Level.CHALLENGE, "test", "tester", now, now + timedelta(hours=1)))


def _field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} field"
    return match.group(1)


def test_an_anonymous_client_gets_the_work_page_then_the_data(
    guarded: tuple[FastAPI, World],
) -> None:
    app, world = guarded
    world.user("ana", bio="a secret garden")
    fingerprint = device_fingerprint(DEVICE, KEY.encode())
    assert fingerprint is not None
    _challenge(app.state.guard_decisions, ("fingerprint", fingerprint))
    headers = {"X-Device-Fingerprint": DEVICE}
    with TestClient(app, base_url="https://testserver", headers=headers) as client:
        page = client.get("/u/ana")
        assert page.status_code == 403
        assert "Checking your browser" in page.text and "crypto.subtle" in page.text
        assert "secret garden" not in page.text
        token = _field(page.text, "token")
        assert _field(page.text, "next") == "/u/ana"
        answer = {"token": token, "counter": solve(token, 8), "next": "/u/ana"}
        solved = client.post(CHALLENGE_PATH, data=answer, follow_redirects=False)
        assert solved.status_code == 303
        assert solved.headers["location"] == "/u/ana"
        assert PASS_COOKIE in client.cookies
        assert "secret garden" in client.get("/u/ana").text
        # the same answer again is refused, and an open redirect is never offered
        replayed = client.post(CHALLENGE_PATH, data=answer, follow_redirects=False)
        assert replayed.status_code == 403
        evil = client.post(
            CHALLENGE_PATH,
            data={
                **answer,
                "token": (t := client_token(client)),
                "counter": solve(t, 8),
                "next": "//evil.example/",
            },
            follow_redirects=False,
        )
        assert evil.headers["location"] == "/"
    assert app.state.guard.challenge.results == {"ok": 2, "already used": 1}
    stored = read_events(app.state.settings.data_dir / "guard" / "events").to_pylist()
    events = sorted(stored, key=lambda e: e["ts"])
    first, *_ = [e for e in events if e["path"] == "/u/ana"]
    assert (first["decision"], first["status"], first["owner_ids"]) == ("challenge", 403, [])
    served = [e for e in events if e["path"] == "/u/ana" and e["status"] == 200]
    assert served and all(e["decision"] == "allow" for e in served)
    answers = [e["decision"] for e in events if e["path"] == CHALLENGE_PATH]
    assert answers == ["challenge"] * 3


def client_token(client: TestClient) -> str:
    """A fresh challenge, as a client without its pass would get it."""
    cookies = dict(client.cookies)
    client.cookies.clear()
    token = _field(client.get("/u/ana").text, "token")
    for name, value in cookies.items():
        client.cookies.set(name, value)
    return token


def test_a_challenged_account_is_asked_to_log_in_again(guarded: tuple[FastAPI, World]) -> None:
    app, world = guarded
    user = world.user("bruno", bio="bruno's diary")
    with TestClient(app, base_url="https://testserver") as client:
        assert client.post("/login", data=login_form(client, "bruno")).status_code == 200
        _challenge(app.state.guard_decisions, ("account", str(user.id)))
        page = client.get("/u/bruno")
        assert page.status_code == 403
        assert "Please log in again" in page.text and "diary" not in page.text
        assert 'href="/login?next=/u/bruno"' in page.text
        assert "ps_session" not in client.cookies  # the page ended the session in the browser
        relogin = client.post("/login", data={**login_form(client, "bruno"), "next": "/u/bruno"})
        assert relogin.status_code == 200
        assert "diary" in relogin.text  # the profile, after a new login


def test_used_challenges_are_shared_through_redis(redis_url: str) -> None:
    secret = b"r" * 32
    a = ChallengeApp(secret, bits=8, used=RedisUsedChallenges(redis_url))
    b = ChallengeApp(secret, bits=8, used=RedisUsedChallenges(redis_url))
    token = a.issue(VISITOR)
    counter = solve(token, 8)
    assert a.verify(token, counter, VISITOR) == Outcome.OK
    assert b.verify(token, counter, VISITOR) == Outcome.REPLAYED  # solved once, anywhere


def test_used_challenges_fall_back_to_memory_without_redis() -> None:
    used = RedisUsedChallenges(f"redis://127.0.0.1:{free_port()}/0")
    assert used.first_use("n-1", 60) is True
    assert used.first_use("n-1", 60) is False


def test_a_challenged_partner_app_gets_a_plain_refusal_on_the_api(
    guarded: tuple[FastAPI, World],
) -> None:
    app, world = guarded
    partner, secret = world.partner_app("Scraper Co")
    with TestClient(app, base_url="https://testserver") as client:
        token = token_for(client, partner, secret)
        _challenge(app.state.guard_decisions, ("client", partner.client_id))
        refused = client.get("/api/v1/me", headers=bearer(token))
    # an API client cannot run the page's script: it is told, not shown a page
    assert (refused.status_code, refused.json()) == (403, {"detail": "verification required"})
