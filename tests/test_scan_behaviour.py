"""Bots are found by behaviour, whatever User-Agent they send; verified crawlers by address."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from harvestguard.ingest import load_crawlers, load_route_map
from harvestguard.scan import Scanner, ScanOptions, address_verdicts
from tests.scan_helpers import CHROME, GOOGLEBOT, START, line, reader, scraper, write


def _verdicts(path: Path, **options: object) -> dict[str, str]:
    scanner = Scanner(ScanOptions(crawlers=load_crawlers(), **options))  # type: ignore[arg-type]
    with scanner.run([str(path)]) as result:
        return {v.address: v.status for v in address_verdicts(result, scanner)}


def test_a_scraper_faking_a_browser_is_flagged_and_people_are_not(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    people = [reader(f"198.51.100.{n}", START) for n in range(1, 9)]
    write(str(log), *people, scraper("203.0.113.7", START, ua=CHROME))
    for hide in (False, True):
        verdicts = _verdicts(log, hide_ua=hide)
        assert verdicts.get("203.0.113.7") == "flagged"
        assert not any(a.startswith("198.51.100.") for a in verdicts)


def test_googlebot_claims_are_checked_by_address(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    real = scraper("66.249.66.1", START, ua=GOOGLEBOT)  # in Google's published crawler range
    impostor = scraper("203.0.113.9", START, ua=GOOGLEBOT)
    write(str(log), real, impostor, reader("198.51.100.1", START))
    verdicts = _verdicts(log)
    assert verdicts["66.249.66.1"] == "verified crawler"
    assert verdicts["203.0.113.9"] == "flagged"


def test_hidden_user_agent_never_reaches_the_events(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    write(str(log), scraper("203.0.113.7", START))
    scanner = Scanner(ScanOptions(hide_ua=True))
    with scanner.run([str(log)]) as result:
        assert isinstance(result.events, pa.Table)  # small: kept in memory
        events = result.events
        assert events.column("ua").null_count == events.num_rows
        assert events.column("channel").unique().to_pylist() == ["log"]
        # addresses are pseudonymised in the events; the real ones stay in memory only
        assert "203.0.113.7" not in events.column("ip").to_pylist()
        assert set(result.addresses.values()) == {"203.0.113.7"}


def test_large_scans_spill_to_disk_with_the_same_verdicts(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    write(
        str(log),
        *[reader(f"198.51.100.{n}", START) for n in range(1, 6)],
        scraper("203.0.113.7", START),
    )
    in_memory = Scanner(ScanOptions())
    spilling = Scanner(ScanOptions())
    spilling.spill_rows = 50
    with in_memory.run([str(log)]) as kept, spilling.run([str(log)]) as spilled:
        assert isinstance(kept.events, pa.Table) and isinstance(spilled.events, Path)
        assert pq.read_table(spilled.events).num_rows == kept.events.num_rows
        expected = [
            (v.address, v.status, round(v.risk, 6)) for v in address_verdicts(kept, in_memory)
        ]
        found = [
            (v.address, v.status, round(v.risk, 6)) for v in address_verdicts(spilled, spilling)
        ]
        assert found == expected and expected[0][:2] == ("203.0.113.7", "flagged")
    assert not spilled.events.exists()  # the scan's folder is gone once closed


def test_the_platform_detectors_apply_to_logs_through_a_route_map(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    people = [reader(f"198.51.100.{n}", START) for n in range(1, 9)]
    write(str(log), *people, scraper("203.0.113.7", START, pages=300))
    scanner = Scanner(ScanOptions(route_map=load_route_map("photoshare"), hide_ua=True))
    with scanner.run([str(log)]) as result:
        verdict = next(v for v in address_verdicts(result, scanner) if v.address == "203.0.113.7")
    # the shipped enumeration detector sees the alphabetical sweep over /u/{username}
    assert "enumeration" in verdict.detectors
    assert verdict.status == "flagged"


def test_a_declared_scanning_tool_is_flagged_on_its_user_agent_alone(tmp_path: Path) -> None:
    """Three requests, each well within what a person does, from clients that name a scanner
    (in any letter case, anywhere in the User-Agent); a browsing person with a similar
    User-Agent is not; with the User-Agent hidden the detector is silent."""
    log = tmp_path / "access.log"
    tools = {
        "203.0.113.7": "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000003)",
        "203.0.113.8": "sqlmap/1.7.2#stable (https://sqlmap.org)",
        "203.0.113.9": "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
    }
    probes = [
        [line(ip, START + timedelta(minutes=n), f"/page-{n}", ua=ua) for n in range(3)]
        for ip, ua in tools.items()
    ]
    people = [reader("198.51.100.1", START), [line("198.51.100.2", START, "/", ua="Nuke/1.0")]]
    write(str(log), *probes, *people)
    scanner = Scanner(ScanOptions())
    with scanner.run([str(log)]) as result:
        verdicts = {v.address: v for v in address_verdicts(result, scanner)}
    assert {a for a, v in verdicts.items() if v.status == "flagged"} == set(tools)
    assert verdicts["203.0.113.7"].detectors == ["log_declared_tool"]
    assert "nikto" in verdicts["203.0.113.7"].reasons()[0]
    assert "nmap scripting engine" in verdicts["203.0.113.9"].reasons()[0]
    assert _verdicts(log, hide_ua=True) == {}
