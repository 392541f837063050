"""GuardMiddleware around a tiny Starlette app: events, enforcement, client addresses, failure."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from harvestguard import context
from harvestguard.actor import ActorKeys
from harvestguard.config import GuardConfig, parse_networks
from harvestguard.decisions import DecisionStore, Verdict
from harvestguard.events import AccessEvent, Decision
from harvestguard.middleware import VERDICT_SCOPE_KEY, GuardMiddleware
from harvestguard.pseudonym import Pseudonymiser
from harvestguard.sinks import BufferedSink, DuckDBSink, JsonLinesSink

KEY = b"k" * 32
PEER = "203.0.113.9"


@dataclass
class Store:
    """Says ``verdict`` to the actors ``applies`` picks, allow to everyone else."""

    verdict: Verdict
    applies: Callable[[ActorKeys], bool] = lambda keys: True
    seen: list[ActorKeys] = field(default_factory=list)

    def check(self, keys: ActorKeys) -> Verdict:
        self.seen.append(keys)
        return self.verdict if self.applies(keys) else Verdict(Decision.ALLOW)


class BrokenStore:
    def check(self, keys: ActorKeys) -> Verdict:
        raise ConnectionError("decision store unreachable")


@dataclass
class Harness:
    config: GuardConfig
    sink: BufferedSink
    events_path: Path
    served: list[str] = field(default_factory=list)

    def events(self) -> list[AccessEvent]:
        assert self.sink.flush(timeout=10)
        if not self.events_path.exists():
            return []
        lines = self.events_path.read_text().splitlines()
        return [AccessEvent.from_dict(json.loads(line)) for line in lines]

    def only_event(self) -> AccessEvent:
        events = self.events()
        assert len(events) == 1, events
        return events[0]

    def app(
        self,
        store: DecisionStore | None = None,
        challenge: Callable[[Scope, Receive, Send], Any] | None = None,
        **config_changes: Any,
    ) -> Starlette:
        config = dataclasses.replace(self.config, **config_changes)
        served = self.served

        async def profile(request: Request) -> Response:
            served.append(request.url.path)
            ctx = context.current()
            assert ctx is not None
            ctx.claim("profile", request.path_params["username"], "anonymous")
            ctx.record_disclosure("7", {"identity", "photo"})
            return PlainTextResponse("profile of " + request.path_params["username"])

        async def me(request: Request) -> Response:
            served.append(request.url.path)
            context.annotate(actor_account="42", session="s-42")
            ctx = context.current()
            assert ctx is not None
            ctx.record_disclosure("42", {"contact"})
            return JSONResponse({"email": "me@example.org"})

        async def boom(request: Request) -> Response:
            served.append(request.url.path)
            raise RuntimeError("the handler failed")

        async def items(request: Request) -> Response:
            served.append(request.url.path)
            return JSONResponse({"items": [1, 2, 3]})

        async def asset(request: Request) -> Response:
            served.append(request.url.path)
            return PlainTextResponse("body{}", media_type="text/css")

        async def echo(websocket: WebSocket) -> None:
            await websocket.accept()
            await websocket.send_text(await websocket.receive_text())
            await websocket.close()

        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            served.append("startup")
            yield
            served.append("shutdown")

        nested = Starlette(routes=[Route("/items/{item_id:int}", items)])
        return Starlette(
            routes=[
                Route("/u/{username}", profile),
                Route("/me", me),
                Route("/boom", boom),
                Route("/api/items", items),
                Route("/static/site.css", asset),
                WebSocketRoute("/ws", echo),
                Mount("/shop", app=nested),
            ],
            middleware=[
                Middleware(
                    GuardMiddleware,
                    config=config,
                    sink=self.sink,
                    decisions=store,
                    challenge=challenge,
                )
            ],
            lifespan=lifespan,
        )


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    config = GuardConfig(
        pseudonym_key=KEY,
        sink_url=f"jsonl:{tmp_path / 'events.jsonl'}",
        spill_dir=tmp_path / "spill",
        trusted_proxies=parse_networks(["10.0.0.0/8", "fd00::/8"]),
    )
    sink = BufferedSink(JsonLinesSink(tmp_path / "events.jsonl"), tmp_path / "spill")
    yield Harness(config=config, sink=sink, events_path=tmp_path / "events.jsonl")
    sink.close()


def client_for(app: Starlette, peer: str = PEER, **kwargs: Any) -> TestClient:
    return TestClient(app, base_url="https://testserver", client=(peer, 51000), **kwargs)


def pseudonym(address: str) -> str:
    return Pseudonymiser(KEY).ip(address)


def test_a_request_is_recorded_once_with_what_it_disclosed(harness: Harness) -> None:
    with client_for(harness.app()) as client:
        response = client.get("/u/alice?utm=x", headers={"User-Agent": "Mozilla/5.0 " + "x" * 900})
    assert response.status_code == 200
    event = harness.only_event()
    assert event.request_id == response.headers["x-request-id"]
    assert event.channel == "web"
    assert event.method == "GET"
    assert event.route == "/u/{username}"
    assert event.path == "/u/alice"
    assert event.status == 200
    assert event.bytes == len(response.content)
    assert event.resource == "profile"
    assert event.object_id == "alice"
    assert event.audience == "anonymous"
    assert event.owner_ids == ["7"]
    assert event.data_classes == ["identity", "photo"]
    assert event.decision == "allow"
    assert event.ua is not None and len(event.ua) == harness.config.ua_max_length
    assert event.ip == pseudonym(PEER)
    assert event.duration_ms > 0


def test_non_http_scopes_pass_through_unrecorded(harness: Harness) -> None:
    with client_for(harness.app()) as client, client.websocket_connect("/ws") as websocket:
        websocket.send_text("hello")
        assert websocket.receive_text() == "hello"
    assert harness.served == ["startup", "shutdown"]
    assert harness.events() == []


def test_not_found_is_recorded_without_a_route(harness: Harness) -> None:
    with client_for(harness.app()) as client:
        assert client.get("/nowhere").status_code == 404
    event = harness.only_event()
    assert (event.status, event.route, event.path) == (404, None, "/nowhere")
    assert event.owner_ids == [] and event.data_classes == []


def test_a_failing_handler_is_recorded_as_500_and_the_error_propagates(harness: Harness) -> None:
    with client_for(harness.app()) as client, pytest.raises(RuntimeError, match="handler failed"):
        client.get("/boom")
    event = harness.only_event()
    assert (event.status, event.route, event.decision) == (500, "/boom", "allow")


def test_a_failing_app_wrapped_directly_is_recorded_as_500(harness: Harness) -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("no response at all")

    guarded = GuardMiddleware(broken, config=harness.config, sink=harness.sink)
    client = client_for(guarded)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no response"):
        client.get("/anything")
    assert harness.only_event().status == 500


def test_mounted_routes_are_recorded_with_the_mount_prefix(harness: Harness) -> None:
    with client_for(harness.app()) as client:
        assert client.get("/shop/items/5").status_code == 200
    assert harness.only_event().route == "/shop/items/{item_id:int}"


def test_api_prefix_sets_the_api_channel(harness: Harness) -> None:
    with client_for(harness.app()) as client:
        client.get("/api/items")
        client.get("/u/bob")
    channels = {event.path: (event.channel, event.resource) for event in harness.events()}
    assert channels == {"/api/items": ("api", "api"), "/u/bob": ("web", "profile")}


def test_blocked_actor_gets_403_and_the_app_is_not_called(harness: Harness) -> None:
    store = Store(Verdict(Decision.BLOCK, reason="scraper"))
    with client_for(harness.app(store)) as client:
        response = client.get("/u/alice")
    assert response.status_code == 403
    assert "scraper" not in response.text
    assert "/u/alice" not in harness.served
    event = harness.only_event()
    assert (event.status, event.decision, event.route) == (403, "block", None)
    assert event.owner_ids == [] and event.data_classes == []
    assert store.seen[0].ip == pseudonym(PEER)


def test_throttled_actor_gets_429_with_retry_after(harness: Harness) -> None:
    with client_for(harness.app(Store(Verdict(Decision.THROTTLE, retry_after=17)))) as client:
        response = client.get("/api/items")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "17"
    assert response.json() == {"detail": "too many requests; retry later"}
    assert "/api/items" not in harness.served
    event = harness.only_event()
    assert (event.status, event.decision, event.bytes) == (429, "throttle", len(response.content))


def test_throttle_without_a_delay_still_says_when_to_retry(harness: Harness) -> None:
    with client_for(harness.app(Store(Verdict(Decision.THROTTLE)))) as client:
        response = client.get("/u/alice")
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0


def test_challenged_actor_gets_403_by_default(harness: Harness) -> None:
    with client_for(harness.app(Store(Verdict(Decision.CHALLENGE)))) as client:
        response = client.get("/u/alice")
    assert response.status_code == 403
    event = harness.only_event()
    assert (event.status, event.decision) == (403, "challenge")


def test_challenged_actor_gets_the_apps_challenge(harness: Harness) -> None:
    async def challenge(scope: Scope, receive: Receive, send: Send) -> None:
        verdict = scope[VERDICT_SCOPE_KEY]
        page = PlainTextResponse(f"prove you are human ({verdict.decision})", status_code=401)
        await page(scope, receive, send)

    app = harness.app(Store(Verdict(Decision.CHALLENGE)), challenge=challenge)
    with client_for(app) as client:
        response = client.get("/u/alice")
    assert (response.status_code, response.text) == (401, "prove you are human (challenge)")
    assert "/u/alice" not in harness.served
    event = harness.only_event()
    assert (event.status, event.decision) == (401, "challenge")


def test_an_account_identified_by_the_app_is_refused_before_its_data_leaves(
    harness: Harness,
) -> None:
    store = Store(Verdict(Decision.BLOCK), applies=lambda keys: keys.account == "42")
    with client_for(harness.app(store)) as client:
        response = client.get("/me")
        other = client.get("/u/carol")
    assert response.status_code == 403
    assert "me@example.org" not in response.text
    assert other.status_code == 200
    blocked = harness.events()[0]
    assert (blocked.actor_account, blocked.session, blocked.decision) == ("42", "s-42", "block")
    assert (blocked.status, blocked.bytes) == (403, len(response.content))
    assert blocked.data_classes == [] and blocked.owner_ids == []
    assert [keys.account for keys in store.seen] == [None, "42", None]


def test_exempt_paths_are_served_to_blocked_actors_and_still_recorded(harness: Harness) -> None:
    with client_for(harness.app(Store(Verdict(Decision.BLOCK)))) as client:
        assert client.get("/static/site.css").status_code == 200
        assert client.get("/u/alice").status_code == 403
    decisions = [(event.path, event.decision) for event in harness.events()]
    assert decisions == [("/static/site.css", "allow"), ("/u/alice", "block")]


def test_enforcement_fails_open_when_the_store_raises(harness: Harness) -> None:
    app = harness.app(BrokenStore())
    with client_for(app) as client:
        assert client.get("/u/alice").status_code == 200
        assert client.get("/me").status_code == 200
    guard = app.middleware_stack
    while not isinstance(guard, GuardMiddleware):
        guard = guard.app  # type: ignore[union-attr]
    assert guard.decision_errors == 3  # the early check twice, and the late one for /me
    assert [event.decision for event in harness.events()] == ["allow", "allow"]


def test_enforcement_fails_closed_when_configured(harness: Harness) -> None:
    with client_for(harness.app(BrokenStore(), fail_open=False)) as client:
        response = client.get("/u/alice")
    assert response.status_code == 503
    assert "retry-after" in response.headers
    assert harness.served == ["startup", "shutdown"]
    assert harness.only_event().decision == "block"


def test_forwarded_for_from_an_untrusted_peer_is_ignored(harness: Harness) -> None:
    with client_for(harness.app()) as client:
        client.get("/u/a", headers={"X-Forwarded-For": "198.51.100.7"})
        client.get("/u/a", headers={"Forwarded": "for=198.51.100.7"})
    assert {event.ip for event in harness.events()} == {pseudonym(PEER)}


def test_forwarded_for_from_a_trusted_proxy_is_walked_right_to_left(harness: Harness) -> None:
    # the client forged the leftmost hop; the proxies 10.0.0.5 and 10.0.0.2 are ours
    chain = "1.1.1.1, 198.51.100.7, 10.0.0.5"
    with client_for(harness.app(), peer="10.0.0.2") as client:
        client.get("/u/a", headers={"X-Forwarded-For": chain})
        client.get("/u/a", headers={"X-Forwarded-For": "198.51.100.7, garbage"})
    first, malformed = harness.events()
    assert first.ip == pseudonym("198.51.100.7")
    assert malformed.ip == pseudonym("10.0.0.2")


def test_the_forwarded_header_when_configured(harness: Harness) -> None:
    app = harness.app(proxy_header="forwarded")
    with client_for(app, peer="fd00::1") as client:
        client.get(
            "/u/a",
            headers={"Forwarded": 'for="[2001:db8:cafe::17]:4711";proto=https, for=10.1.2.3'},
        )
        client.get("/u/a", headers={"X-Forwarded-For": "198.51.100.7"})
    forwarded, ignored = harness.events()
    assert forwarded.ip == pseudonym("2001:db8:cafe::17")
    assert ignored.ip == pseudonym("fd00::1")


def test_ipv6_clients_share_a_network_by_their_64_prefix(harness: Harness) -> None:
    app = harness.app()
    for peer in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:3::1"):
        with client_for(app, peer=peer) as client:
            client.get("/u/a")
    one, same_net, other_net = harness.events()
    assert one.ip != same_net.ip
    assert one.net == same_net.net != other_net.net


def test_no_raw_address_is_ever_recorded(harness: Harness) -> None:
    app = harness.app()
    for peer in ("192.0.2.44", "2001:db8::44", "::ffff:192.0.2.45"):
        with client_for(app, peer=peer) as client:
            client.get("/u/a")
    stored = harness.events_path.read_text()
    for raw in ("192.0.2.44", "2001:db8::44", "192.0.2.45", "192.0.2.0"):
        assert raw not in stored
    ips = [event.ip for event in harness.events()]
    assert ips[2] == pseudonym("192.0.2.45")


def test_an_unparseable_peer_has_no_address(harness: Harness) -> None:
    with client_for(harness.app(), peer="testclient") as client:
        client.get("/u/a")
    event = harness.only_event()
    assert event.ip is None and event.net is None


def test_request_ids_are_taken_only_from_trusted_proxies_and_only_when_sane(
    harness: Harness,
) -> None:
    app = harness.app()
    sane = {"X-Request-ID": "edge-4f2a9c01"}
    with client_for(app, peer="10.0.0.2") as proxy:
        from_proxy = proxy.get("/u/a", headers=sane)
        too_long = proxy.get("/u/a", headers={"X-Request-ID": "a" * 200})
        odd = proxy.get("/u/a", headers={"X-Request-ID": "x'; drop table"})
    with client_for(app) as direct:
        forged = direct.get("/u/a", headers=sane)
    assert from_proxy.headers["x-request-id"] == "edge-4f2a9c01"
    for response in (too_long, forged, odd):
        assert len(response.headers["x-request-id"]) == 32
    assert [event.request_id for event in harness.events()] == [
        response.headers["x-request-id"] for response in (from_proxy, too_long, odd, forged)
    ]


def test_fingerprints_are_keyed_hashes_of_the_device_id_or_the_headers(harness: Harness) -> None:
    browser = {"User-Agent": "Firefox/128.0", "Accept-Language": "de-DE", "Accept": "text/html"}
    with client_for(harness.app()) as client:
        client.get("/u/a", headers={**browser, "X-Device-Fingerprint": "device-0001-abcdef"})
        client.get("/u/a", headers={**browser, "X-Device-Fingerprint": "device-0001-abcdef"})
        client.get("/u/a", headers={**browser, "X-Device-Fingerprint": "<script>"})
        client.get("/u/a", headers={**browser, "User-Agent": "Firefox/129.0"})
        client.get("/u/a", headers={**browser, "Accept-Language": "en-US"})
    device, again, bad_device, upgraded, other_language = (
        event.fingerprint for event in harness.events()
    )
    assert device == again and device is not None and device.startswith("dev:")
    assert "device-0001" not in device
    assert bad_device == upgraded  # a browser update keeps the header fingerprint
    assert bad_device is not None and bad_device.startswith("hdr:")
    assert other_language != upgraded


def test_events_reach_a_duckdb_sink(tmp_path: Path, harness: Harness) -> None:
    sink = BufferedSink(DuckDBSink(tmp_path / "events.duckdb"), tmp_path / "duck-spill")
    app = Starlette(
        routes=[Route("/", lambda request: PlainTextResponse("hi"))],
        middleware=[Middleware(GuardMiddleware, config=harness.config, sink=sink)],
    )
    with client_for(app) as client:
        ids = [client.get("/").headers["x-request-id"] for _ in range(3)]
    sink.close()
    with duckdb.connect(str(tmp_path / "events.duckdb"), read_only=True) as connection:
        rows = connection.sql("SELECT request_id, status, route FROM events").fetchall()
    assert sorted(rows) == sorted((request_id, 200, "/") for request_id in ids)


def test_bytes_count_what_was_sent(harness: Harness) -> None:
    with client_for(harness.app()) as client:
        head = client.head("/u/alice")
    assert int(head.headers["content-length"]) > 0
    assert harness.only_event().bytes == 0


def test_a_file_the_server_sends_itself_counts_its_declared_length(
    harness: Harness,
) -> None:
    async def file_app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"image/jpeg"), (b"Content-Length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.pathsend", "path": "/srv/media/a.jpg"})

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(dict(message))

    guarded = GuardMiddleware(file_app, config=harness.config, sink=harness.sink)
    scope = {"type": "http", "method": "GET", "path": "/media/a.jpg", "headers": []}
    asyncio.run(guarded(scope, receive, send))
    assert [message["type"] for message in sent][-1] == "http.response.pathsend"
    event = harness.only_event()
    assert (event.status, event.bytes, event.ip) == (200, 4096, None)
