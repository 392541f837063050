"""Log formats and the streaming reader: fields, times, gzip, malformed lines."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harvestguard.ingest import FormatError, LogReader, ParseStats, from_template, resolve_format
from harvestguard.ingest.formats import json_format
from harvestguard.ingest.sniff import sniff_format

COMBINED = (
    '203.0.113.5 - - [10/Oct/2023:13:55:36 +0200] "GET /u/alice?tab=posts HTTP/1.1" 200 2326 '
    '"https://example.org/" "Mozilla/5.0 (X11; Linux) \\"quoted\\" agent"'
)


def _read(path: Path, fmt_name: str = "auto", template: str | None = None, tz: str = "UTC"):
    fmt = resolve_format(fmt_name, template, None, str(path))
    stats = ParseStats()
    rows = [
        row
        for batch in LogReader(fmt, timezone=tz).batches(str(path), stats)
        for row in batch.to_pylist()
    ]
    return rows, stats, fmt


def test_combined_fields_and_offset(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(COMBINED + "\n")
    (row,), stats, fmt = _read(log)
    assert fmt.name == "combined" and fmt.columns is not None
    assert row["remote"] == "203.0.113.5"
    assert row["ts"] == datetime(2023, 10, 10, 11, 55, 36, tzinfo=UTC)
    assert (row["method"], row["target"], row["status"], row["bytes"]) == (
        "GET",
        "/u/alice?tab=posts",
        200,
        2326,
    )
    assert set(row) == {"remote", "ts", "method", "target", "status", "bytes", "ua"}
    assert row["ua"] == 'Mozilla/5.0 (X11; Linux) "quoted" agent'
    assert stats.malformed == 0 and stats.parsed == 1


def test_malformed_lines_are_counted_and_do_not_stop_the_scan(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    truncated = COMBINED[: COMBINED.index("(X11")]  # an unterminated quote
    log.write_text("\n".join([COMBINED, truncated, COMBINED, "garbage line", COMBINED]) + "\n")
    rows, stats, _ = _read(log, "combined")
    assert len(rows) == 3
    assert stats.malformed == 2 and stats.lines == 5
    assert any("garbage line" in text for _, _, text in stats.samples)
    assert stats.malformed_share == pytest.approx(0.4)


def test_gzip_and_common_are_recognised(tmp_path: Path) -> None:
    log = tmp_path / "a.log.gz"
    common = '198.51.100.4 - bob [01/Jan/2024:00:00:01 +0000] "GET /x HTTP/1.0" 404 -'
    with gzip.open(log, "wt") as handle:
        handle.write(common + "\n" + common + "\n")
    rows, stats, fmt = _read(log)
    assert fmt.name == "common" and stats.malformed == 0
    assert [(r["status"], r["bytes"], r["ua"]) for r in rows] == [(404, 0, None)] * 2


def test_custom_log_format_and_naive_times_in_a_given_zone(tmp_path: Path) -> None:
    template = (
        "$msec_ignored [$time_iso8601] [client: $remote_addr] $request_method $request_uri $status"
    )
    log = tmp_path / "z.log"
    log.write_text("x [2025-05-01 14:14:02.5] [client: 192.0.2.1] GET /a?b=1 444\n")
    fmt = from_template(template)
    assert fmt.columns is None  # not space-separated columns: read with the pattern
    (row,), _, _ = _read(log, template=template, tz="Europe/Paris")
    assert row["ts"] == datetime(2025, 5, 1, 12, 14, 2, 500000, tzinfo=UTC)
    assert (row["remote"], row["target"], row["status"]) == ("192.0.2.1", "/a?b=1", 444)


def test_absolute_targets_and_ports(tmp_path: Path) -> None:
    template = '$remote_addr [$time_local] "$request" $status $body_bytes_sent'
    log = tmp_path / "p.log"
    log.write_text(
        '192.0.2.9:4431 [01/Jan/2024:00:00:01 +0000] "GET https://h.example:443/p?q HTTP/1.1" 200 5\n'
    )
    (row,), _, fmt = _read(log, template=template)
    assert fmt.columns is not None
    assert row["target"] == "/p?q"


def test_json_lines_with_a_prefix_and_a_field_mapping(tmp_path: Path) -> None:
    log = tmp_path / "j.log"
    log.write_text(
        '2025-12-31T17:40:00+01:00 stdout F {"when": 1735660800.25, "who": {"addr": "192.0.2.3"}, '
        '"uri": "/x", "code": 403}\nnot json at all\n'
    )
    fmt = json_format(
        {"msec": "when", "remote_addr": "who.addr", "request_uri": "uri", "status": "code"}
    )
    stats = ParseStats()
    rows = [r for b in LogReader(fmt).batches(str(log), stats) for r in b.to_pylist()]
    assert [(r["remote"], r["target"], r["status"], r["method"]) for r in rows] == [
        ("192.0.2.3", "/x", 403, "GET")
    ]
    assert rows[0]["ts"] == datetime(2024, 12, 31, 16, 0, 0, 250000, tzinfo=UTC)
    assert stats.malformed == 1


@pytest.mark.parametrize(
    "template",
    [
        "no variables",
        "$remote_addr $status",
        "[$time_local] $status $request",
        "$time_local $remote_addr",
    ],
)
def test_unusable_templates_are_refused(template: str) -> None:
    with pytest.raises(FormatError):
        from_template(template)


def test_unknown_content_is_refused_when_sniffing() -> None:
    with pytest.raises(ValueError, match="not a log format"):
        sniff_format(["hello", "world"])
    with pytest.raises(ValueError, match="unknown flavour"):
        sniff_format(['{"a": 1}', '{"b": 2}'])
