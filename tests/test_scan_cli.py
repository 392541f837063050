"""``harvestguard scan`` end to end: outputs, explanations, ban lists, exit statuses."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from harvestguard.cli import app
from tests.scan_helpers import START, line, reader, scraper, write

runner = CliRunner()
SCRAPER = "203.0.113.7"


def _log(tmp_path: Path) -> Path:
    log = tmp_path / "access.log"
    write(
        str(log), *[reader(f"198.51.100.{n}", START) for n in range(1, 6)], scraper(SCRAPER, START)
    )
    return log


def test_json_output_ranks_the_scraper_with_reasons(tmp_path: Path) -> None:
    result = runner.invoke(app, ["scan", str(_log(tmp_path)), "--format", "json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    first = report["addresses"][0]
    assert (first["address"], first["status"]) == (SCRAPER, "flagged")
    assert first["risk"] >= 0.5 and first["reasons"]
    assert report["malformed"]["lines"] == 0
    assert [s["format"] for s in report["sources"]] == ["combined"]


def test_csv_output(tmp_path: Path) -> None:
    result = runner.invoke(app, ["scan", str(_log(tmp_path)), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["address"] for r in rows if r["verdict"] == "flagged"] == [SCRAPER]
    assert "log_page_burst" in rows[0]["detectors"]


def test_table_output_and_explain(tmp_path: Path) -> None:
    log = _log(tmp_path)
    table = runner.invoke(app, ["scan", str(log)])
    assert table.exit_code == 1 and SCRAPER in table.stdout and "flagged" in table.stdout
    story = runner.invoke(app, ["scan", str(log), "--explain", SCRAPER])
    assert "121 requests (121 pages, 0 assets)" in story.stdout
    assert "log_page_burst" in story.stdout and "/robots.txt" in story.stdout
    person = runner.invoke(app, ["scan", str(log), "--explain", "198.51.100.1"])
    assert "not flagged" in person.stdout
    absent = runner.invoke(app, ["scan", str(log), "--explain", "192.0.2.200"])
    assert absent.exit_code == 2


def test_ban_lists(tmp_path: Path) -> None:
    log = _log(tmp_path)
    nginx, ipset, f2b = tmp_path / "deny.conf", tmp_path / "set.ipset", tmp_path / "f2b.log"
    runner.invoke(
        app,
        [
            "scan",
            str(log),
            "--ban-nginx",
            str(nginx),
            "--ban-ipset",
            str(ipset),
            "--ban-fail2ban",
            str(f2b),
        ],
    )
    assert [x for x in nginx.read_text().splitlines() if not x.startswith("#")] == [
        f"deny {SCRAPER};"
    ]
    assert f"add harvestguard {SCRAPER} -exist" in ipset.read_text().splitlines()
    assert f"harvestguard: flagged {SCRAPER} (" in f2b.read_text()
    assert "198.51.100" not in nginx.read_text() + ipset.read_text() + f2b.read_text()


def test_many_files_gzip_and_stdin(tmp_path: Path) -> None:
    early, late = tmp_path / "access.log.1.gz", tmp_path / "access.log"
    with gzip.open(early, "wt") as handle:
        handle.write("\n".join(reader("198.51.100.1", START)) + "\n")
    write(str(late), scraper(SCRAPER, START + timedelta(hours=2)))
    result = runner.invoke(app, ["scan", str(late), str(early), "--format", "json"])
    report = json.loads(result.stdout)
    assert [Path(s["path"]).name for s in report["sources"]] == ["access.log.1.gz", "access.log"]
    assert report["requests"] == 48 + 121
    piped = runner.invoke(app, ["scan", "-", "--format", "json"], input=late.read_text())
    assert json.loads(piped.stdout)["addresses"][0]["address"] == SCRAPER


def test_malformed_share_sets_the_exit_status(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    good = reader("198.51.100.1", START)
    log.write_text("\n".join(good + ["this is not a log line"] * 5) + "\n")
    strict = runner.invoke(app, ["scan", str(log), "--input-format", "combined"])
    assert strict.exit_code == 3
    assert "5 of 53 lines malformed" in strict.stderr and "this is not a log line" in strict.stderr
    lenient = runner.invoke(
        app, ["scan", str(log), "--input-format", "combined", "--max-malformed", "0.2"]
    )
    assert lenient.exit_code == 0


def test_bad_input_is_refused_with_status_2(tmp_path: Path) -> None:
    log = _log(tmp_path)
    cases = [
        [str(tmp_path / "missing.log")],
        [str(log), "--input-format", "klingon"],
        [str(log), "--log-format", "$status only"],
        [str(log), "--routes", str(tmp_path / "no-map.yaml")],
        [str(log), "--timezone", "Mars/Olympus"],
        [str(log), "--param", "log_page_burst.min_pages=-3"],
        [str(log), "--format", "xml"],
    ]
    for arguments in cases:
        result = runner.invoke(app, ["scan", *arguments])
        assert result.exit_code == 2, (arguments, result.output)


def test_a_line_helper_round_trip() -> None:
    assert line("192.0.2.1", START, "/x").startswith(
        '192.0.2.1 - - [02/Mar/2026:09:00:00 +0000] "GET /x'
    )
