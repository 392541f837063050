"""The log-parser fuzzing harness shared by tests/test_fuzz_parsers.py (hypothesis) and
benchmarks/bench_fuzz.py (atheris): the formats under test, a good line of each, and
``account()``, which reads a log both ways (DuckDB's fast path and the exact parser) and checks
that every line came out parsed or malformed."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harvestguard.ingest import (
    FormatError,
    LogFormat,
    LogReader,
    ParseStats,
    from_template,
    json_format,
    named_format,
)

COMBINED = (
    '203.0.113.5 - - [10/Oct/2023:13:55:36 +0200] "GET /u/alice?tab=posts HTTP/1.1" 200 2326 '
    '"https://example.org/" "Mozilla/5.0 (X11; Linux)"'
)
# a log_format the CSV reader splits (columns) and one only the regular expression reads
CUSTOM_COLUMNS = '$remote_addr [$time_local] "$request" $status $bytes_sent "$http_user_agent"'
CUSTOM_PATTERN = '$remote_addr|[$time_local]|"$request"|$status|"$http_user_agent"|$request_time'
JSON_FIELDS = {
    "msec": "when",
    "remote_addr": "who.addr",
    "request_uri": "uri",
    "status": "code",
    "http_user_agent": "ua",
}

# format name -> (format, a line it parses)
FORMATS: dict[str, tuple[LogFormat, str]] = {
    "combined": (named_format("combined"), COMBINED),
    "common": (named_format("common"), COMBINED.rsplit(' "https', 1)[0]),
    "custom-columns": (
        from_template(CUSTOM_COLUMNS),
        '192.0.2.1 [10/Oct/2023:13:55:36 +0000] "GET /p/1 HTTP/1.1" 200 512 "curl/8.0"',
    ),
    "custom-pattern": (
        from_template(CUSTOM_PATTERN),
        '192.0.2.1|[10/Oct/2023:13:55:36 +0000]|"GET /q HTTP/1.1"|200|"agent"|0.004',
    ),
    "traefik": (
        named_format("traefik"),
        '{"ClientHost": "192.0.2.1", "StartUTC": "2025-05-01T14:14:02.5Z", '
        '"RequestMethod": "POST", "RequestPath": "/a", "DownstreamStatus": 201, '
        '"DownstreamContentSize": 7, "request_User-Agent": "ua"}',
    ),
    "caddy": (
        named_format("caddy"),
        '{"ts": 1735660800.25, "request": {"client_ip": "192.0.2.9", "method": "GET", '
        '"uri": "/u/bob", "headers": {"User-Agent": ["bot"]}}, "status": 200, "size": 9}',
    ),
    "json-mapping": (
        json_format(JSON_FIELDS),
        'stdout F {"when": 1735660800.25, "who": {"addr": "192.0.2.3"}, "uri": "/x", '
        '"code": 403, "ua": "a"}',
    ),
}

# what DuckDB's CSV reader ends a line with; the input is split the same way to count lines
_LINE_END = re.compile(rb"\r\n|\r|\n")


def lines_in(data: bytes) -> int:
    """The lines a reader must account for: the non-blank ones (blank lines are skipped)."""
    return sum(
        1 for line in _LINE_END.split(data) if line.decode("utf-8", errors="replace").strip()
    )


@dataclass(frozen=True, slots=True)
class Accounting:
    lines_in: int
    rows: int  # raw requests yielded
    stats: ParseStats

    def problems(self) -> list[str]:
        """What breaks the rule "every line parsed or rejected, each once"."""
        stats, found = self.stats, []
        if stats.parsed + stats.malformed != stats.lines:
            found.append(f"parsed {stats.parsed} + malformed {stats.malformed} != {stats.lines}")
        if stats.lines != self.lines_in:
            found.append(f"{stats.lines} lines counted, {self.lines_in} in the input")
        if self.rows != stats.parsed:
            found.append(f"{self.rows} rows yielded, {stats.parsed} counted parsed")
        if min(stats.parsed, stats.malformed) < 0:
            found.append(f"negative count {stats}")
        return found


def read(path: Path, fmt: LogFormat, *, exact: bool) -> tuple[list[tuple[object, ...]], ParseStats]:
    stats = ParseStats()
    rows = [
        tuple(row.values())
        for table in LogReader(fmt, exact=exact, batch_rows=64).batches(str(path), stats)
        for row in table.to_pylist()
    ]
    return rows, stats


def account(data: bytes, fmt: LogFormat, *, exact: bool, folder: Path | None = None) -> Accounting:
    """Read ``data`` as a log file in ``fmt``; any exception is the caller's crash."""
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = Path(tmp) / "fuzz.log"
        path.write_bytes(data)
        rows, stats = read(path, fmt, exact=exact)
    return Accounting(lines_in(data), len(rows), stats)


def template_or_none(template: str) -> LogFormat | None:
    """A format from a fuzzed ``log_format`` string, None when it is refused (FormatError)."""
    try:
        return from_template(template)
    except FormatError:
        return None
