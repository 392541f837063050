"""The fast path (DuckDB's CSV reader) gives what the exact parser (the format's regular
expression on every line) gives, line for line, on the lines that trip CSV readers; and each
line is accounted for, parsed or malformed."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from harvestguard.ingest import LogReader, ParseStats, from_template, named_format
from harvestguard.ingest.formats import LogFormat

GOOD = (
    '203.0.113.5 - - [10/Oct/2023:13:55:36 +0200] "GET /u/alice?tab=posts HTTP/1.1" 200 2326 '
    '"https://example.org/" "Mozilla/5.0 (X11; Linux)"'
)
HOSTILE = [
    GOOD,
    # a backslash escapes the character after it: Apache's \" and \\
    '203.0.113.6 - - [10/Oct/2023:13:55:37 +0200] "GET /a\\"b HTTP/1.1" 200 5 "-" '
    '"agent \\"quoted\\" \\\\ end"',
    # nginx's escapes (\xNN) lose their backslash: a TLS handshake sent to the plain-text port
    '203.0.113.7 - - [10/Oct/2023:13:55:38 +0200] "\\x16\\x03\\x01\\x00\\xA5" 400 157 "-" "-"',
    # an unterminated quote, then a good line that must not be swallowed
    GOOD[: GOOD.index("(X11")],
    GOOD.replace("203.0.113.5", "203.0.113.8"),
    # the request written without its quotes: three columns where one is expected
    '203.0.113.9 - - [10/Oct/2023:13:55:39 +0200] GET /x HTTP/1.1 200 5 "-" "ua"',
    # fields the server appends after the format are allowed
    GOOD.replace("203.0.113.5", "203.0.113.10") + ' "upstream=10.0.0.1:80" 0.004',
    # a common-format line in a combined log, a bad date, a status that is no number
    '203.0.113.11 - bob [10/Oct/2023:13:55:40 +0200] "GET /c HTTP/1.0" 404 -',
    GOOD.replace("10/Oct/2023", "99/Foo/2023"),
    GOOD.replace('" 200 ', '" - '),
    # addresses with a port, IPv6, nothing; an absolute-form target
    GOOD.replace("203.0.113.5", "[2001:db8::1]:443"),
    GOOD.replace("203.0.113.5", "-"),
    GOOD.replace("/u/alice?tab=posts", "http://example.org:8080/p?q=1"),
    # a user name with a space, an empty request
    GOOD.replace("- - [", "- John Smith ["),
    '203.0.113.12 - - [10/Oct/2023:13:55:41 +0200] "" 400 0 "-" "-"',
    "",
    "garbage line",
]


def _read(path: Path, fmt: LogFormat, exact: bool) -> tuple[list[tuple[object, ...]], ParseStats]:
    stats = ParseStats()
    rows = [
        tuple(row.values())
        for table in LogReader(fmt, exact=exact).batches(str(path), stats)
        for row in table.to_pylist()
    ]
    return sorted(rows, key=repr), stats


@pytest.mark.parametrize("compress", [False, True])
def test_fast_path_equals_exact_parser_on_hostile_lines(tmp_path: Path, compress: bool) -> None:
    text = "\n".join(HOSTILE) + "\n"
    log = tmp_path / ("h.log.gz" if compress else "h.log")
    if compress:
        with gzip.open(log, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        log.write_text(text, encoding="utf-8")
    fmt = named_format("combined")
    fast, fast_stats = _read(log, fmt, exact=False)
    exact, exact_stats = _read(log, fmt, exact=True)
    assert fast == exact
    counts = (fast_stats.lines, fast_stats.parsed, fast_stats.malformed)
    assert counts == (exact_stats.lines, exact_stats.parsed, exact_stats.malformed)
    # every non-empty line accounted for
    assert fast_stats.lines == len([line for line in HOSTILE if line.strip()])
    assert fast_stats.parsed + fast_stats.malformed == fast_stats.lines
    by_remote = {row[0]: row for row in fast}
    # unescaped the same way by both paths
    assert by_remote["203.0.113.6"][3] == '/a"b'
    assert by_remote["203.0.113.6"][6] == 'agent "quoted" \\ end'
    assert by_remote["203.0.113.7"][2:4] == ("INVALID", "x16x03x01x00xA5")
    assert by_remote["[2001:db8::1]:443"][3] == "/u/alice?tab=posts"
    assert "203.0.113.8" in by_remote and "203.0.113.10" in by_remote
    # refused by both: unterminated quote, unquoted request, common line, bad date and status,
    # no address, garbage
    assert fast_stats.malformed == 7


def test_exact_parser_unescapes_quoted_fields_of_any_format(tmp_path: Path) -> None:
    """A format only the regular expression can read unescapes its quoted fields too."""
    fmt = from_template('$remote_addr|[$time_local]|"$request"|$status|"$http_user_agent"')
    assert fmt.columns is None and fmt.quoted == {"request", "http_user_agent"}
    log = tmp_path / "p.log"
    log.write_text(
        '192.0.2.1|[10/Oct/2023:13:55:36 +0000]|"GET /q\\"x HTTP/1.1"|200|"a \\\\ \\x41"\n'
    )
    (row,), stats = _read(log, fmt, exact=False)
    assert stats.parsed == 1
    assert row[3] == '/q"x' and row[6] == "a \\ x41"


def test_json_fast_path_equals_the_json_module(tmp_path: Path) -> None:
    """JSON lines: DuckDB's JSON functions and Python's json module read the same."""
    log = tmp_path / "t.log"
    log.write_text(
        "\n".join(
            [
                '{"ClientHost": "192.0.2.1", "StartUTC": "2025-05-01T14:14:02.5Z", '
                '"RequestMethod": "POST", "RequestPath": "/a?b=\\"c\\"", '
                '"DownstreamStatus": 201, "DownstreamContentSize": 7, '
                '"request_User-Agent": "ua \\u00e9"}',
                '{"ClientHost": "192.0.2.2", "StartUTC": "2025-05-01T14:14:03Z", '
                '"RequestPath": "/n", "DownstreamStatus": 404}',
                '{"ClientHost": "192.0.2.3", "RequestPath": "/no-time", "DownstreamStatus": 200}',
                '{"ClientHost": "192.0.2.4", "StartUTC": "2025-05-01T14:14:04Z", "Down',
                "not json",
            ]
        )
        + "\n"
    )
    fmt = named_format("traefik")
    fast, fast_stats = _read(log, fmt, exact=False)
    exact, exact_stats = _read(log, fmt, exact=True)
    assert fast == exact
    assert (fast_stats.lines, fast_stats.parsed, fast_stats.malformed) == (5, 2, 3)
    assert (exact_stats.lines, exact_stats.parsed, exact_stats.malformed) == (5, 2, 3)
    assert fast[0][2:4] == ("POST", '/a?b="c"') and fast[0][6] == "ua é"
