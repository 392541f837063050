"""Attacker-chosen strings are shown as text, never run: script and markup payloads planted in
the traffic (user agents, paths), in a detected entity's evidence and links, in a partner's
registered name and purpose, and in an analyst's note, through the dashboard (served to
Debian's Chromium, charts and all), the cease-and-desist notice and the incident report (their
HTML in Chromium, their PDF read back with pypdf). Each payload sets ``window.__pwned`` if it
ever runs; a control page without escaping proves the probe fires."""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from playwright.sync_api import Browser, Page, Route
from pypdf import PdfReader
from starlette.testclient import TestClient

from harvestguard.config import GuardConfig
from harvestguard.dashboard import DashboardOptions, create_dashboard
from harvestguard.dashboard.security import CSRF_FIELD
from harvestguard.enforce.case_models import Case
from harvestguard.enforce.cases import CaseStore
from harvestguard.enforce.incident import build_incident
from harvestguard.enforce.notices import PartnerInfo, Sender, build_notice
from tests.case_helpers import harvester, simulated, write_store
from tests.dashboard_helpers import PASSWORD, add_users, chromium

BASE = "https://testserver"
NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)

# each runs `window.__pwned = N` if a browser ever treats it as markup
PAYLOADS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=2">',
    '"><svg onload="window.__pwned=3">',
    '\'><iframe srcdoc="<script>parent.__pwned=4</script>"></iframe>',
    '<a href="javascript:window.__pwned=5" id="pwn">x</a><b>bold</b>',
    "</textarea></title><script>window.__pwned=6</script>",
]
MARKER = "hostile-"  # each payload travels with a marker, to find its text on the page


def _planted(index: int) -> str:
    return f"{MARKER}{index} {PAYLOADS[index % len(PAYLOADS)]}"


@dataclasses.dataclass(frozen=True)
class Planted:
    data_dir: Path
    case: Case
    events: pa.Table
    partner: PartnerInfo


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    """A guard data dir whose harvester case and traffic carry the payloads."""
    data_dir = tmp_path_factory.mktemp("hostile-guard")
    entity = harvester(simulated().report)
    findings = [
        dataclasses.replace(
            finding,
            evidence={
                **finding.evidence,
                "user_agent": _planted(0),
                "path": _planted(1),
                "username": _planted(2),
            },
        )
        for finding in entity.findings
    ]
    entity = dataclasses.replace(entity, findings=findings, links=[*entity.links, _planted(3)])
    store = CaseStore(f"sqlite:///{data_dir / 'cases.db'}")
    try:
        case = store.open_or_update(entity, NOW)
        case = store.confirm(case.id, "analyst", _planted(4), NOW)
    finally:
        store.close()
    events = simulated().events
    client = case.clients[0]
    mine = pc.equal(events["actor_client"], client)
    hostile = events.filter(mine).slice(0, 50)
    hostile = hostile.set_column(
        hostile.schema.get_field_index("ua"), "ua", pa.array([_planted(5)] * hostile.num_rows)
    )
    hostile = hostile.set_column(
        hostile.schema.get_field_index("path"),
        "path",
        pa.array([f"/u/{_planted(6)}"] * hostile.num_rows),
    )
    events = pa.concat_tables([events, hostile])
    write_store(events, data_dir / "events")
    add_users(data_dir)
    partner = PartnerInfo(
        client_id=client, name=_planted(7), contact_email="x@example.org", purpose=_planted(8)
    )
    return Planted(data_dir, case, events, partner)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _inert(page: Page) -> str:
    """The page's visible text, once checked that no payload ran."""
    page.wait_for_timeout(300)  # let onerror/onload handlers fire, if any were created
    assert page.evaluate("window.__pwned === undefined"), page.evaluate("window.__pwned")
    assert page.locator("#pwn").count() == 0  # no element an attacker's markup created
    text: str = page.inner_text("body")
    return text


def _shown(text: str, indexes: list[int]) -> None:
    """Each planted payload appears as the literal text it was."""
    flat = " ".join(text.split())
    for index in indexes:
        assert " ".join(_planted(index).split()) in flat, (index, flat[:2000])


def test_the_probe_fires_on_markup_that_is_not_escaped(browser: Browser) -> None:
    page = browser.new_page()
    try:
        page.set_content(f"<div>{PAYLOADS[1]}</div>")
        page.wait_for_timeout(300)
        assert page.evaluate("window.__pwned") == 2
    finally:
        page.close()


def test_notice_and_incident_report_show_payloads_as_text(
    planted: Planted, browser: Browser
) -> None:
    sender = Sender(platform=_planted(9), signatory="Trust and Safety")
    notice = build_notice(planted.case, planted.partner, sender, issued_at=NOW)
    incident = build_incident(planted.case, planted.events, generated_at=NOW)
    for html, indexes in ((notice.html, [7, 9]), (incident.html(), [])):
        assert "<script>window.__pwned" not in html
        page = browser.new_page()
        try:
            page.set_content(html)
            _shown(_inert(page), indexes)
        finally:
            page.close()
    pdf_text = " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(notice.pdf())).pages
    )
    for index in (7, 9):
        assert " ".join(_planted(index).split()) in pdf_text, pdf_text[:1500]


def _serve_from(client: TestClient, route: Route) -> None:
    """Chromium's requests answered by the dashboard in this process (its TestClient)."""
    request = route.request
    url = urlsplit(request.url)
    target = url.path + (f"?{url.query}" if url.query else "")
    response = client.request(
        request.method,
        target,
        content=request.post_data_buffer,
        headers={k: v for k, v in request.headers.items() if k.lower() == "content-type"},
    )
    route.fulfill(
        status=response.status_code, headers=dict(response.headers), body=response.content
    )


def test_dashboard_pages_show_payloads_as_text(planted: Planted, browser: Browser) -> None:
    config = GuardConfig.from_env(environ={"HARVESTGUARD_DATA_DIR": str(planted.data_dir)})
    app = create_dashboard(config, DashboardOptions(refresh_seconds=0))
    with TestClient(app, base_url=BASE, follow_redirects=True) as client:
        token = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', client.get("/login").text)
        assert token
        login = client.post(
            "/login",
            data={"username": "analyst", "password": PASSWORD, CSRF_FIELD: token.group(1)},
        )
        assert login.status_code == 200
        page = browser.new_page()
        try:
            page.route("**/*", lambda route: _serve_from(client, route))
            page.goto(f"{BASE}/cases/{planted.case.id}")
            page.wait_for_selector("#case-charts .js-plotly-plot", timeout=30_000)
            _shown(_inert(page), [0, 1, 2, 3, 4])
            for path in ("/", "/cases", "/access"):
                page.goto(f"{BASE}{path}")
                page.wait_for_load_state("networkidle")
                _inert(page)
        finally:
            page.close()
