"""Forged client addresses and rotated headers, through the real middleware over photoshare.

The guard keys rate and data limits on the client address (and its network, account, session,
app). A client may write any proxy header it likes: from an untrusted peer no header moves the
address the guard sees; behind a trusted proxy only the right-most untrusted hop counts. Headers a
client controls (User-Agent, Accept-Language, Accept, a device id, any extra header) change its
fingerprint but never the count it has run up against a limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from harvestguard.enforce.limits_file import default_limits
from harvestguard.events import AccessEvent, from_arrow
from harvestguard.pseudonym import Pseudonymiser
from harvestguard.sinks.parquet import read_events
from photoshare import accounts
from photoshare.app import create_app
from photoshare.deps import SESSION_COOKIE
from photoshare.models import User
from photoshare.settings import Settings
from tests.factories import World

KEY = "xff-test-pseudonym-key-0123456789"
PSEUDONYMS = Pseudonymiser(KEY.encode())
PEOPLE = tuple(f"person{n}" for n in range(8))
LIMITS = """\
version: 1
limits:
  - name: requests-per-ip
    per: ip
    rate: 6/minute
  - name: profiles-per-anonymous-ip
    per: ip
    resource: profile
    audience: anonymous
    count: owners
    rate: 3/hour
  - name: profiles-per-account
    per: account
    resource: profile
    count: owners
    rate: 3/hour
"""
GENEROUS = "version: 1\nlimits:\n  - {name: requests-per-ip, per: ip, rate: 1000/minute}\n"
Headers = Sequence[tuple[str, str]]
AppFactory = Callable[..., FastAPI]


@pytest.fixture
def guarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppFactory]:
    """photoshare behind the guard with the limits above, trusting the given proxies."""
    made: list[TestClient] = []

    def factory(trusted: str = "", header: str = "", limits: str = LIMITS) -> FastAPI:
        (tmp_path / "limits.yaml").write_text(limits)
        monkeypatch.setenv("HARVESTGUARD_LIMITS", str(tmp_path / "limits.yaml"))
        monkeypatch.setenv("HARVESTGUARD_PSEUDONYM_KEY", KEY)
        monkeypatch.setenv("HARVESTGUARD_TRUSTED_PROXIES", trusted)
        monkeypatch.setenv("HARVESTGUARD_PROXY_HEADER", header)
        app = create_app(Settings(data_dir=tmp_path / "ps", secret_key="s"))
        with app.state.sessionmaker() as db:
            world = World(db=db, media_dir=app.state.settings.media_dir)
            for name in PEOPLE:
                world.user(name)
        lifespan = TestClient(app)
        lifespan.__enter__()  # the guard is closed, its events written, when the test ends
        made.append(lifespan)
        return app

    yield factory
    for client in made:
        client.__exit__(None, None, None)


def browser(app: FastAPI, peer: str) -> closing[TestClient]:
    """A client whose TCP peer address, as the server sees it, is ``peer``; closing it leaves
    the app running (``with TestClient`` would run the app's shutdown)."""
    return closing(TestClient(app, base_url="https://testserver", client=(peer, 50000)))


def recorded(app: FastAPI) -> list[AccessEvent]:
    assert app.state.guard_sink.flush(timeout=10)
    events = from_arrow(read_events(app.state.settings.data_dir / "guard" / "events"))
    return sorted(events, key=lambda event: event.ts)


def served(client: TestClient, app: FastAPI, path: str, headers: Headers = ()) -> int:
    """One request, its event counted against the limits before the next one goes."""
    status = client.get(path, headers=list(headers)).status_code
    assert app.state.guard_sink.flush(timeout=10)
    return status


def seen_as(app: FastAPI, peer: str, headers: Headers) -> str | None:
    """The client address (pseudonym) the guard recorded for one request."""
    before = len(recorded(app))
    with browser(app, peer) as client:
        assert client.get("/robots.txt", headers=list(headers)).status_code == 200
    events = recorded(app)
    assert len(events) == before + 1
    return events[-1].ip


FORGERIES: list[Headers] = [
    [("X-Forwarded-For", "198.51.100.1")],
    [("X-Forwarded-For", "10.0.0.1")],  # claims to come from a trusted proxy itself
    [("X-Forwarded-For", "198.51.100.2, 10.0.0.1")],
    [("X-Forwarded-For", "198.51.100.3"), ("X-Forwarded-For", "10.0.0.4")],
    [("Forwarded", "for=198.51.100.5;proto=https")],
    [("Forwarded", 'for="[2001:db8::6]:443"')],
    [("X-Real-IP", "198.51.100.7")],
    [("True-Client-IP", "198.51.100.8"), ("CF-Connecting-IP", "198.51.100.9")],
    [("X-Client-IP", "198.51.100.10"), ("X-Forwarded-For", "unknown")],
    [("X-Forwarded-For", "203.0.113.99, 198.51.100.11, ::ffff:10.0.0.1")],
]


@pytest.mark.parametrize("header", ["x-forwarded-for", "forwarded"])
def test_no_proxy_header_from_an_untrusted_peer_moves_the_client_address(
    guarded: AppFactory, header: str
) -> None:
    app = guarded(trusted="10.0.0.0/8", header=header, limits=GENEROUS)
    peer = "203.0.113.9"
    addresses = {seen_as(app, peer, forged) for forged in FORGERIES}
    assert addresses == {PSEUDONYMS.ip(peer)}
    assert {event.net for event in recorded(app)} == {PSEUDONYMS.net(peer)}


def test_forging_a_new_address_on_every_request_does_not_reset_the_rate_limit(
    guarded: AppFactory,
) -> None:
    app = guarded(trusted="10.0.0.0/8")
    with browser(app, "203.0.113.9") as client:
        statuses = [served(client, app, "/robots.txt", forged) for forged in FORGERIES]
    # 6 a minute: the seventh request goes over (and is served), the eighth is refused
    assert statuses == [200] * 7 + [429] * 3
    assert app.state.guard_limits.exceeded == {"requests-per-ip": 1}


BEHIND_THE_PROXY: list[tuple[Headers, str]] = [
    ([("X-Forwarded-For", "198.51.100.7")], "198.51.100.7"),
    ([("X-Forwarded-For", "6.6.6.6, 198.51.100.7")], "198.51.100.7"),  # the client wrote 6.6.6.6
    ([("X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.0.0.3")], "198.51.100.7"),  # two proxies
    ([("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "198.51.100.7")], "198.51.100.7"),
    ([("X-Forwarded-For", "not-an-address, 198.51.100.7:4711")], "198.51.100.7"),
    ([("X-Forwarded-For", "10.9.9.9, [2001:db8::7]:443")], "2001:db8::7"),
    ([("X-Forwarded-For", "::ffff:198.51.100.7")], "198.51.100.7"),
    # the header the proxy does not write is the client's own: ignored
    ([("Forwarded", "for=6.6.6.6"), ("X-Real-IP", "6.6.6.6")], "10.0.0.2"),
]


@pytest.mark.parametrize(("headers", "client"), BEHIND_THE_PROXY)
def test_behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client(
    guarded: AppFactory, headers: Headers, client: str
) -> None:
    app = guarded(trusted="10.0.0.0/8")
    assert seen_as(app, "10.0.0.2", headers) == PSEUDONYMS.ip(client)


def test_with_forwarded_configured_the_x_forwarded_for_header_is_the_clients(
    guarded: AppFactory,
) -> None:
    app = guarded(trusted="10.0.0.0/8, 2001:db8:ffff::/48", header="forwarded")
    forwarded = 'for=6.6.6.6, for="[2001:db8::5]:443";proto=https, for="[2001:db8:ffff::1]"'
    assert seen_as(app, "10.0.0.2", [("Forwarded", forwarded)]) == PSEUDONYMS.ip("2001:db8::5")
    only_xff = [("X-Forwarded-For", "198.51.100.7")]
    assert seen_as(app, "10.0.0.2", only_xff) == PSEUDONYMS.ip("10.0.0.2")


def test_clients_behind_one_proxy_are_limited_each_on_their_own(guarded: AppFactory) -> None:
    app = guarded(trusted="10.0.0.0/8")
    with browser(app, "10.0.0.2") as proxy:
        first = [
            served(proxy, app, "/robots.txt", [("X-Forwarded-For", f"6.6.6.{n}, 198.51.100.7")])
            for n in range(8)
        ]
        other = served(proxy, app, "/robots.txt", [("X-Forwarded-For", "198.51.100.8")])
    assert first == [200] * 7 + [429]  # rotating what the client prepends changes nothing
    assert other == 200  # another client behind the same proxy is not its neighbour's limit


def _rotations(n: int) -> list[Headers]:
    """A different face on every request: browser, languages, accept, device id, extra headers."""
    agents = ("Mozilla/5.0 (X11; Linux) Firefox/{}", "curl/8.{}", "Mozilla/5.0 Safari/{}", "")
    faces: list[Headers] = []
    for i in range(n):
        face = [
            ("User-Agent", agents[i % len(agents)].format(100 + i)),
            ("Accept-Language", ("de-DE", "fr-FR,fr;q=0.8", "en", "ja")[i % 4]),
            ("Accept", ("text/html", "*/*", "application/json")[i % 3]),
            ("X-Device-Fingerprint", f"device-{i:04d}-rotating"),
        ]
        face += [(f"X-Noise-{j}", str(i)) for j in range(i % 3)]
        faces.append(face)
    return faces


def test_rotating_headers_does_not_reset_an_anonymous_data_limit(guarded: AppFactory) -> None:
    app = guarded()
    with browser(app, "203.0.113.20") as steady, browser(app, "203.0.113.30") as rotating:
        steady_statuses = [served(steady, app, f"/u/{name}") for name in PEOPLE[:6]]
        faces = _rotations(6)
        rotating_statuses = [
            served(rotating, app, f"/u/{name}", face)
            for name, face in zip(PEOPLE[:6], faces, strict=True)
        ]
    # 3 people an hour: the fourth is served (it is what goes over), the fifth refused
    assert steady_statuses == [200] * 4 + [429] * 2
    assert rotating_statuses == steady_statuses
    rotated = [e for e in recorded(app) if e.ip == PSEUDONYMS.ip("203.0.113.30")]
    assert len({event.fingerprint for event in rotated}) == 6  # the faces did change
    assert len({event.ua for event in rotated}) == 6


def test_rotating_addresses_sessions_and_headers_does_not_reset_an_account_limit(
    guarded: AppFactory,
) -> None:
    app = guarded()
    with app.state.sessionmaker() as db:
        world = World(db=db, media_dir=app.state.settings.media_dir)
        harvester = world.user("harvester")
        statuses = []
        for n, (name, face) in enumerate(zip(PEOPLE[:6], _rotations(6), strict=True)):
            # a new address, a new login and a new face for every profile
            token = accounts.start_session(db, db.get_one(User, harvester.id), timedelta(hours=1))
            with browser(app, f"198.51.{n}.{n + 10}") as client:
                client.cookies.set(SESSION_COOKIE, token)
                statuses.append(served(client, app, f"/u/{name}", face))
    assert statuses == [200] * 4 + [429] * 2
    assert app.state.guard_limits.exceeded == {"profiles-per-account": 1}


def test_every_shipped_address_limit_also_holds_for_the_whole_network() -> None:
    """A client owns many addresses of its network (an IPv6 /64, a NAT pool): each limit per
    address in the shipped file has a twin per network counting the same things, higher."""
    rules = default_limits().rules
    by_net = {
        (rule.resources, rule.audiences, rule.data_classes, rule.channels, rule.count): rule
        for rule in rules
        if rule.per == "net"
    }
    per_ip = [rule for rule in rules if rule.per == "ip"]
    assert per_ip
    for rule in per_ip:
        twin = by_net.get(
            (rule.resources, rule.audiences, rule.data_classes, rule.channels, rule.count)
        )
        assert twin is not None, f"{rule.name} has no per-network twin"
        assert twin.rate.get_expiry() == rule.rate.get_expiry()
        assert twin.rate.amount > rule.rate.amount


NETWORK_LIMITS = """\
version: 1
limits:
  - name: profiles-per-anonymous-ip
    per: ip
    resource: profile
    audience: anonymous
    count: owners
    rate: 3/hour
  - name: profiles-per-anonymous-net
    per: net
    resource: profile
    audience: anonymous
    count: owners
    rate: 4/hour
"""


@pytest.mark.parametrize("network", ["2001:db8:42:7::{}", "198.51.100.{}"])
def test_a_new_address_of_the_same_network_for_every_request_does_not_reset_a_data_limit(
    guarded: AppFactory, network: str
) -> None:
    app = guarded(limits=NETWORK_LIMITS)
    statuses = []
    for n, name in enumerate(PEOPLE[:7]):
        with browser(app, network.format(n + 1)) as client:
            statuses.append(served(client, app, f"/u/{name}"))
    # no single address goes over 3, but the network goes over 4 at the fifth person
    assert statuses == [200] * 5 + [429] * 2
    assert app.state.guard_limits.exceeded == {"profiles-per-anonymous-net": 1}
