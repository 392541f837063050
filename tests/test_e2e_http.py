"""photoshare served by a real uvicorn process on loopback, used by a real HTTP client.

A person signs up, posts a photo, views it, follows someone; a partner app gets a token and reads
what its scopes allow. Everything goes over a socket, through the guard, as in production.
"""

from __future__ import annotations

import io
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image

from harvestguard.sinks.parquet import read_events
from photoshare.app import create_app
from photoshare.settings import Settings
from tests.factories import PASSWORD, World


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    """A seeded data dir served by `photoshare serve`."""
    data_dir = tmp_path / "data"
    app = create_app(Settings(data_dir=data_dir, guard=False))  # only to build the world
    with app.state.sessionmaker() as db:
        world = World(db=db, media_dir=data_dir / "media")
        business = world.user("cafe_bica", business=True)
        world.post(business, caption="pastel de nata, fresh")
        partner, secret = world.partner_app("Lisbon Insights", scopes="profile:basic media:read")
        world.authorise(partner, business)
        client_id = partner.client_id
        business_id = business.id
    app.state.engine.dispose()
    port = _free_port()
    log = tmp_path / "server.log"
    command = Path(sys.executable).parent / "photoshare"  # the installed console script
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [command, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data_dir],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    served = Served(f"http://127.0.0.1:{port}", process, data_dir, client_id, secret, business_id)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                status = httpx.get(f"{served.base}/robots.txt", timeout=1).status_code
                served.requests += 1
                if status == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            process.kill()
            raise AssertionError(f"server did not start: {log.read_text()}")
        yield served
    finally:
        if process.poll() is None:
            served.stop()


@dataclass
class Served:
    base: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    client_id: str
    secret: str
    business_id: int
    requests: int = 0  # every request the server answered, to count its events against

    def count(self, _response: httpx.Response) -> None:
        self.requests += 1

    def stop(self) -> None:
        """A graceful stop: the guard writes what it still holds before the process ends."""
        self.process.terminate()
        self.process.wait(timeout=20)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "form without a CSRF token"
    return match.group(1)


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_a_person_and_a_partner_use_the_platform_over_http(server: Served) -> None:
    hooks = {"response": [server.count]}
    with httpx.Client(
        base_url=server.base, follow_redirects=True, timeout=10, event_hooks=hooks
    ) as browser:
        form = browser.get("/signup")
        signed_up = browser.post(
            "/signup",
            data={
                "csrf_token": _csrf(form.text),
                "username": "rita_lx",
                "email": "rita@example.org",
                "password": PASSWORD,
            },
        )
        assert signed_up.status_code == 200
        assert "rita_lx" in browser.get("/u/rita_lx").text

        new_post = browser.get("/new/post")
        posted = browser.post(
            "/new/post",
            data={"csrf_token": _csrf(new_post.text), "caption": "first light over the Tagus"},
            files={"image": ("tagus.jpg", _jpeg(), "image/jpeg")},
        )
        assert posted.status_code == 200
        post_url = re.search(r'href="(/p/\d+)"', browser.get("/u/rita_lx").text)
        assert post_url, "the new post is linked from the profile"
        assert "first light over the Tagus" in browser.get(post_url.group(1)).text

        profile = browser.get("/u/cafe_bica")
        followed = browser.post("/u/cafe_bica/follow", data={"csrf_token": _csrf(profile.text)})
        assert followed.status_code == 200
        assert "rita_lx" in browser.get("/u/cafe_bica/followers").text

        browser.post("/logout", data={"csrf_token": _csrf(browser.get("/").text)})
        assert browser.get("/u/cafe_bica/followers").status_code in (401, 403)

    with httpx.Client(base_url=server.base, timeout=10, event_hooks=hooks) as partner:
        token = partner.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(server.client_id, server.secret),
        )
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        user = partner.get("/api/v1/users/by-username/cafe_bica", headers=headers)
        assert user.status_code == 200
        assert user.json()["username"] == "cafe_bica"
        assert "email" not in user.json()  # contact:read was not granted
        media = partner.get(f"/api/v1/users/{user.json()['id']}/media", headers=headers).json()
        assert [item["caption"] for item in media["items"]] == ["pastel de nata, fresh"]
        # rita never authorised this app: for the partner she does not exist
        assert partner.get("/api/v1/users/by-username/rita_lx", headers=headers).status_code == 404

    server.stop()
    events = read_events(server.data_dir / "guard" / "events").to_pylist()
    assert len(events) == server.requests, "one event per request, none lost"
    assert len({event["request_id"] for event in events}) == len(events)
    partner_reads = [e for e in events if e["route"] == "/api/v1/users/by-username/{username}"]
    assert [e["status"] for e in partner_reads] == [200, 404]
    assert partner_reads[0]["actor_client"] == server.client_id
    assert partner_reads[0]["channel"] == "api"
    assert partner_reads[0]["owner_ids"] == [str(server.business_id)]
    assert "identity" in partner_reads[0]["data_classes"]
    assert partner_reads[1]["owner_ids"] == []  # a 404 disclosed nothing
    rita_pages = [e for e in events if e["path"] == "/u/rita_lx" and e["actor_account"]]
    assert rita_pages and all(e["audience"] == "owner" for e in rita_pages)
    anonymous = [e for e in events if e["actor_account"] is None and e["channel"] == "web"]
    assert anonymous and not any("location" in e["data_classes"] for e in anonymous)
    assert all(e["ip"] and "127.0.0.1" not in e["ip"] for e in events)  # pseudonymised
