"""The dashboard in a real browser: Debian's Chromium driven by Playwright against
`harvestguard serve` (uvicorn, loopback, a free port) over a real guard's data dir and Redis.
An analyst logs in, sees the overview's charts drawn, opens the geo-fence harvester's case,
confirms and bans it, downloads the notice and logs out; a visitor and a viewer are refused.
The screenshots in docs/img/ come from here."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize
from pypdf import PdfReader

from harvestguard.enforce.cases import CaseStore
from harvestguard.enforce.levels import Level
from harvestguard.enforce.table import DecisionTable
from tests.dashboard_helpers import PASSWORD, GuardData, add_users, chromium, shared_guard_data
from tests.redis_helpers import free_port

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "img"
VIEWPORT: ViewportSize = {"width": 1360, "height": 900}


@dataclass(frozen=True)
class Served:
    url: str
    guard: GuardData


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    guard = shared_guard_data(tmp_path_factory)
    add_users(guard.data_dir)
    port = free_port()
    env = os.environ | {
        "HARVESTGUARD_DATA_DIR": str(guard.data_dir),
        "HARVESTGUARD_REDIS_URL": guard.redis_url,
    }
    log = (guard.data_dir.parent / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "harvestguard"),
            "serve",
            "--port",
            str(port),
            "--refresh",
            "2",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "the dashboard did not start: "
                    + (guard.data_dir.parent / "serve.log").read_text()
                )
            time.sleep(0.2)
        yield Served(url, guard)
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def log_in(page: Page, served: Served, username: str) -> None:
    page.goto(f"{served.url}/")
    assert "/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{served.url}/")


def assert_drawn(page: Page, *charts: str) -> None:
    """Each chart was drawn by Plotly with at least one trace holding marks."""
    for name in charts:
        selector = f"#chart-{name}"
        page.wait_for_selector(f"{selector}[data-drawn='1']", timeout=20_000)
        marks = page.locator(
            f"{selector} .main-svg .trace path, {selector} .main-svg .trace .point"
        ).count()
        assert marks > 0, f"chart {name} has no marks"


def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"dashboard-{name}.png"), full_page=full_page)


def _case_audit(served: Served) -> list[tuple[str, str]]:
    store = CaseStore(f"sqlite:///{served.guard.data_dir / 'cases.db'}")
    try:
        return [(e.action, e.by) for e in store.audit(served.guard.harvester_case)]
    finally:
        store.close()


def _decisions_on(served: Served, key: tuple[str, str]) -> list[tuple[Level, str]]:
    table = DecisionTable.from_url(served.guard.redis_url)
    try:
        return [(r.level, r.by) for r in table.records_for(key)]
    finally:
        table.close()


def test_an_analyst_bans_the_harvester_and_sends_the_notice(page: Page, served: Served) -> None:
    guard = served.guard
    client_key = ("client", guard.harvester_client)
    log_in(page, served, "analyst")
    assert_drawn(page, "traffic", "refusals", "riskiest", "records", "disclosed")
    first = page.get_attribute("#overview", "data-updated")
    page.wait_for_function(  # the overview redraws itself (every 2 s here)
        "(first) => document.querySelector('#overview').dataset.updated !== first",
        arg=first,
        timeout=20_000,
    )
    assert page.get_attribute("#overview", "data-error") is None
    screenshot(page, "overview", full_page=True)

    page.click(f"a[href='/cases/{guard.harvester_case}']")
    page.wait_for_url(f"{served.url}/cases/{guard.harvester_case}")
    assert_drawn(page, "graph", "timeline", "affected")
    assert page.locator("#chart-graph .trace .point").count() >= 3
    screenshot(page, "case")

    page.fill("form[action$='/confirm'] input[name=note]", "sweeps venues for ad profiles")
    page.click("#action-confirm")
    assert page.inner_text("#case-status") == "confirmed"

    assert (Level.BAN, "analyst") not in _decisions_on(served, client_key)
    page.fill("form[action$='/ban'] input[name=note]", "confirmed harvester")
    page.click("#action-ban")
    assert page.inner_text(".done") == "Entity banned."
    assert (Level.BAN, "analyst") in _decisions_on(served, client_key)
    assert "analyst" in page.inner_text("#decisions")
    assert ("ban", "analyst") in _case_audit(served)

    page.fill("input[name=partner_name]", guard.harvester_partner)
    page.fill("input[name=partner_email]", "legal@vista.example")
    with page.expect_download() as download:
        page.click("#notice-1")
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert guard.harvester_partner in text and guard.harvester_client in text
    assert _case_audit(served)[-1] == ("notice", "analyst")

    page.goto(f"{served.url}/detectors")
    assert_drawn(page, "detectors")
    screenshot(page, "detectors")
    page.goto(f"{served.url}/policy")
    assert page.locator("table.policy").count() >= 3
    screenshot(page, "policy")

    page.click("#logout")
    page.wait_for_url(f"{served.url}/login")
    page.goto(f"{served.url}/cases/{guard.harvester_case}")
    assert "/login" in page.url


def test_a_visitor_and_a_viewer_are_refused(page: Page, served: Served) -> None:
    guard = served.guard
    page.goto(f"{served.url}/cases/{guard.harvester_case}")
    assert "/login" in page.url
    assert guard.harvester_client not in page.content()
    data = page.request.get(f"{served.url}/api/overview")
    assert data.status == 401

    log_in(page, served, "viewer")
    page.goto(f"{served.url}/cases/{guard.harvester_case}")
    assert page.locator("#action-ban").count() == 0
    token = page.locator("form.logout input[name=csrf_token]").get_attribute("value")
    assert token  # the viewer's own, valid token: the refusal is the role's
    before = _case_audit(served)
    response = page.request.post(
        f"{served.url}/cases/{guard.harvester_case}/lift",
        form={"note": "let them back", "csrf_token": token},
    )
    assert response.status == 403
    assert _case_audit(served) == before
