"""A real Apache log (elastic/examples): with the User-Agent hidden from the detectors, the heavy
declared bots are still found by behaviour. Labels: ``DERIVED_ua_labels_by_ip.tsv`` (User-Agent
patterns; a lower bound of the truth). Figures and disagreements: docs/scan.md."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from harvestguard.ingest import load_crawlers
from harvestguard.scan import Scanner, ScanOptions, address_verdicts

DATA = Path(__file__).parents[2] / "shared" / "data" / "elastic-examples-apache_logs"
HEAVY_LINES = 20


def _labels() -> tuple[set[str], set[str]]:
    """(declared bots: most of their lines declare a bot, feed reader or no UA; the heavy ones)"""
    bots, heavy = set(), set()
    with (DATA / "DERIVED_ua_labels_by_ip.tsv").open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            lines = int(row["lines"])
            declared = sum(
                int(row[c])
                for c in (
                    "lines_crawler_user_agents_match",
                    "lines_extra_heuristic_match",
                    "lines_empty_ua",
                )
            )
            if declared and 2 * declared >= lines:
                bots.add(row["ip"])
                if lines >= HEAVY_LINES:
                    heavy.add(row["ip"])
    return bots, heavy


@pytest.fixture(scope="module")
def verdicts() -> dict[str, str]:
    if not DATA.is_dir():
        pytest.fail(f"the shared data is missing: {DATA} (CI copies ../shared next to the clone)")
    scanner = Scanner(ScanOptions(hide_ua=True, crawlers=load_crawlers()))
    with scanner.run([str(DATA / "apache_logs")]) as result:
        assert result.stats.parsed == 9999 and result.stats.malformed == 1  # one truncated line
        return {v.address: v.status for v in address_verdicts(result, scanner)}


def test_heavy_declared_bots_are_found_without_the_user_agent(verdicts: dict[str, str]) -> None:
    bots, heavy = _labels()
    found = {a for a, status in verdicts.items() if status in ("flagged", "verified crawler")}
    recall = len(found & heavy) / len(heavy)
    precision = len(found & bots) / len(found)
    assert len(heavy) == 17
    # measured: recall 12/17, precision 12/16 against the labels (docs/scan.md explains the
    # four "false" positives, bots with browser-like or unlisted User-Agents)
    assert recall >= 0.6, recall
    assert precision >= 0.6, precision


def test_googlebot_is_labelled_not_flagged(verdicts: dict[str, str]) -> None:
    assert verdicts["66.249.73.135"] == "verified crawler"
    assert all(status != "flagged" for a, status in verdicts.items() if a.startswith("66.249."))


def test_the_feed_pollers_are_found(verdicts: dict[str, str]) -> None:
    assert verdicts["46.105.14.53"] == "flagged"  # UniversalFeedParser, 364 polls
    assert verdicts["50.16.19.13"] == "flagged"  # Tiny Tiny RSS


@pytest.mark.parametrize("memory_limit", ["256MB", "8MB"])
def test_a_spilled_scan_in_little_memory_gives_the_same_verdicts(
    verdicts: dict[str, str], memory_limit: str
) -> None:
    """Events past spill_rows go to Parquet and the engine's DuckDB is capped: the verdicts on
    the real log are those of the in-memory scan. 256 MB is more than this log needs; within
    8 MB a query cannot run, and the detection runs again uncapped rather than failing, with a
    note."""
    scanner = Scanner(ScanOptions(crawlers=load_crawlers(), hide_ua=True))
    scanner.spill_rows = 1_000
    scanner.memory_limit = memory_limit
    with scanner.run([str(DATA / "apache_logs")]) as result:
        assert isinstance(result.events, Path)
        found = {v.address: v.status for v in address_verdicts(result, scanner)}
        retried = [n for n in result.report.notes if "ran again without" in n]
    assert found == verdicts and "flagged" in found.values()
    assert bool(retried) == (memory_limit == "8MB")
