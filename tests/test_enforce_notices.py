"""Cease-and-desist notices: the content checked against the case, in the HTML and in the text
read back from the PDF; the refusals; the partner directory of photoshare; the packaging."""

from __future__ import annotations

import fnmatch
import io
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy.orm import Session

from harvestguard.enforce.case_models import Case
from harvestguard.enforce.cases import CaseError, CaseStore
from harvestguard.enforce.notices import PartnerInfo, Sender, build_notice
from harvestguard.enforce.render import DATA_CLASS_LABELS
from photoshare.partner_directory import partner_info
from tests.case_helpers import client_of, harvester, simulated
from tests.factories import World

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
ISSUED = datetime(2025, 6, 3, 9, 30, tzinfo=UTC)
SENDER = Sender("photoshare", "Dana Reyes, Trust and Safety", "legal@photoshare.example")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CaseStore]:
    cases = CaseStore(f"sqlite:///{tmp_path / 'cases.db'}")
    yield cases
    cases.close()


@pytest.fixture
def confirmed(store: CaseStore) -> Case:
    case = store.open_or_update(harvester(simulated().report), NOW)
    return store.confirm(case.id, "alice", "venue sweep through proxy accounts", NOW)


def _partner(case: Case) -> PartnerInfo:
    return PartnerInfo(
        client_id=case.clients[0],
        name="Locatrix Marketing Ltd",
        contact_email="counsel@locatrix.example",
        purpose="footfall analytics for venues",
    )


def _flat(text: str) -> str:
    return " ".join(text.split())


def _expected(case: Case, partner: PartnerInfo) -> list[str]:
    """What the notice must say, straight from the case."""
    evidence = case.evidence
    assert evidence.first_seen is not None and evidence.last_seen is not None
    return [
        partner.name,
        partner.contact_email,
        partner.client_id,
        partner.purpose,
        *(f"Clause {clause}" for clause in evidence.clauses),
        f"made {evidence.requests:,} requests",
        f"obtained {evidence.records:,} personal records of {evidence.owners:,} members",
        f"{evidence.first_seen:%Y-%m-%d %H:%M} UTC",
        f"{evidence.last_seen:%Y-%m-%d %H:%M} UTC",
        *(
            f"{DATA_CLASS_LABELS[name]} {count:,}"
            for name, count in evidence.records_by_class.items()
        ),
        *evidence.sample_request_ids,
        *(detector.title for detector in evidence.detectors),
        "Stop immediately all collection",
        "including every copy of members' stories",
        "Certify in writing that the deletion is complete",
        "by 2025-06-17, to legal@photoshare.example",
        f"Reference {case.id}/{partner.client_id}",
    ]


def test_the_notice_states_the_case(confirmed: Case) -> None:
    partner = _partner(confirmed)
    notice = build_notice(confirmed, partner, SENDER, issued_at=ISSUED, deadline_days=14)
    assert notice.certify_by == date(2025, 6, 17)
    text = _flat(_strip_tags(notice.html))
    for expected in _expected(confirmed, partner):
        assert expected in text, expected
    # the evidence is the harvester's: location and stories among what it took
    assert {"location", "ephemeral"} <= set(confirmed.evidence.records_by_class)
    assert notice.to_dict()["clauses"] == list(confirmed.evidence.clauses)


def test_the_pdf_says_the_same(confirmed: Case, tmp_path: Path) -> None:
    partner = _partner(confirmed)
    notice = build_notice(confirmed, partner, SENDER, issued_at=ISSUED)
    html_path, pdf_path = notice.write(tmp_path / "out")
    assert html_path.read_text(encoding="utf-8") == notice.html
    data = pdf_path.read_bytes()
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    text = _flat(" ".join(page.extract_text() for page in reader.pages))
    for expected in _expected(confirmed, partner):
        assert expected in text, expected


def test_the_partner_name_is_escaped(confirmed: Case) -> None:
    partner = PartnerInfo(confirmed.clients[0], "<script>alert(1)</script> & Co", "a@b.example")
    html = build_notice(confirmed, partner, SENDER, issued_at=ISSUED).html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html


def test_a_notice_needs_a_confirmed_case_of_that_partner(store: CaseStore) -> None:
    case = store.open_or_update(harvester(simulated().report), NOW)
    partner = _partner(case)
    with pytest.raises(CaseError, match="not confirmed"):
        build_notice(case, partner, SENDER)
    confirmed = store.confirm(case.id, "alice", "harvesting")
    stranger = PartnerInfo("app-not-in-case", "Someone Else", "x@y.example")
    with pytest.raises(CaseError, match="does not involve partner app app-not-in-case"):
        build_notice(confirmed, stranger, SENDER)
    with pytest.raises(ValueError, match="at least one day"):
        build_notice(confirmed, partner, SENDER, deadline_days=0)
    with pytest.raises(ValueError, match="timezone"):
        build_notice(confirmed, partner, SENDER, issued_at=datetime(2025, 6, 3))
    dismissed = store.dismiss(case.id, "bob", "second look: benign")
    with pytest.raises(CaseError, match="not confirmed"):
        build_notice(dismissed, partner, SENDER)


def test_photoshare_gives_the_registered_partner(
    world: World, db: Session, store: CaseStore
) -> None:
    entity = harvester(simulated().report)
    app, _ = world.partner_app(name="Locatrix Marketing Ltd", scopes="profile:basic")
    app.client_id = client_of(entity)  # the simulated harvester's app, registered here
    db.commit()

    info = partner_info(db, client_of(entity))
    assert info == PartnerInfo(
        client_id=client_of(entity),
        name="Locatrix Marketing Ltd",
        contact_email="legal@acme.example",
        purpose="analytics for business accounts",
    )
    assert partner_info(db, "app-unknown") is None

    case = store.confirm(store.open_or_update(entity, NOW).id, "alice", "harvesting")
    text = _flat(_strip_tags(build_notice(case, info, SENDER, issued_at=ISSUED).html))
    assert "To Locatrix Marketing Ltd <legal@acme.example>" in text


def test_the_templates_ship_with_the_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["harvestguard"]
    package = ROOT / "src" / "harvestguard"
    templates = sorted((package / "enforce" / "templates").iterdir())
    assert {t.name for t in templates} >= {"_base.html", "notice.html", "incident.html"}
    for template in templates:
        relative = template.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative


def _strip_tags(html: str) -> str:
    """The text of the HTML as a reader sees it."""
    from html.parser import HTMLParser

    parts: list[str] = []

    class _Text(HTMLParser):
        def handle_data(self, data: str) -> None:
            parts.append(data)

    parser = _Text()
    parser.feed(html.split("<body>", 1)[1])
    return " ".join(parts)


def test_rendering_a_pdf_leaves_pillow_refusing_truncated_images() -> None:
    # WeasyPrint switches this on for the whole process when imported; photoshare's upload
    # check relies on it staying off
    from PIL import ImageFile

    from harvestguard.enforce.render import html_to_pdf

    assert html_to_pdf("<p>notice</p>").startswith(b"%PDF")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
