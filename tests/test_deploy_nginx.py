"""nginx from a generated configuration, as the current user, in front of two tiny upstreams:
round robin, and what the upstream is told about the client's address."""

from __future__ import annotations

import http.server
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harvestguard.deploy import NginxProxy, render_nginx_config


class _EchoForwardedFor(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = (self.headers.get("X-Forwarded-For") or "-").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def upstreams() -> Iterator[list[str]]:
    servers = [
        http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoForwardedFor) for _ in range(2)
    ]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield [f"127.0.0.1:{server.server_address[1]}" for server in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("pass_client", "told"), [(False, "127.0.0.1"), (True, "6.6.6.6, 127.0.0.1")]
)
def test_requests_alternate_and_the_client_cannot_name_its_address_by_default(
    tmp_path: Path, upstreams: list[str], pass_client: bool, told: str
) -> None:
    proxy = NginxProxy(tmp_path / "nginx", upstreams, pass_client_forwarded_for=pass_client)
    proxy.start()
    try:
        responses = [
            httpx.get(proxy.url + "/", headers={"X-Forwarded-For": "6.6.6.6"}) for _ in range(4)
        ]
    finally:
        proxy.stop()
    served = [r.headers["x-upstream"] for r in responses]
    assert set(served) == set(upstreams)
    assert all(one != next_one for one, next_one in itertools.pairwise(served))
    assert {r.text for r in responses} == {told}
    # the four, and the probe of start()
    assert proxy.access_log.read_text().count('"GET / HTTP/1.1" 200') == 5
    assert proxy.process is None


def test_a_configuration_needs_an_upstream_and_nginx_refuses_a_broken_one(
    tmp_path: Path, upstreams: list[str]
) -> None:
    with pytest.raises(ValueError, match="at least one upstream"):
        render_nginx_config(tmp_path, 8080, [])
    with pytest.raises(RuntimeError, match="refused its configuration"):
        NginxProxy(tmp_path / "nginx", ["not an address;"]).start()
