"""Which format a log is in, and when it starts: read from its first lines (gzip or plain)."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import duckdb

from harvestguard.ingest.formats import (
    JSON_FORMATS,
    LogFormat,
    from_template,
    json_format,
    named_format,
    raw_query,
)
from harvestguard.ingest.lines import ParseStats, python_rows, text_source

STDIN = "-"
_SNIFF_LINES = 20


def _open_text(source: str) -> io.TextIOBase:
    if source == STDIN:
        raise ValueError("standard input cannot be sniffed")
    if is_gzip(source):
        return io.TextIOWrapper(gzip.open(source, "rb"), encoding="utf-8", errors="replace")
    return open(source, encoding="utf-8", errors="replace")


def head_lines(source: str, count: int = _SNIFF_LINES) -> list[str]:
    """The first non-empty lines of a file (gzip or plain)."""
    lines: list[str] = []
    with _open_text(source) as handle:
        for line in handle:
            if line.strip():
                lines.append(line.rstrip("\n"))
            if len(lines) >= count:
                break
    return lines


def sniff_format(lines: list[str]) -> LogFormat:
    """The format most of these lines are in: a known JSON flavour, combined or common."""
    objects = []
    for line in lines:
        start = line.find("{")
        if start >= 0:
            try:
                value = json.loads(line[start:])
            except ValueError:
                continue
            if isinstance(value, dict):
                objects.append(value)
    if lines and len(objects) * 2 > len(lines):
        keys = set().union(*objects)
        if "ClientHost" in keys:
            return named_format("traefik")
        if "downstream_remote_address" in keys:
            return named_format("envoy")
        if "request" in keys and "ts" in keys:
            return named_format("caddy")
        raise ValueError(
            "JSON lines of an unknown flavour: give --format json with --field mappings"
        )
    combined, common = named_format("combined"), named_format("common")
    assert combined.pattern is not None and common.pattern is not None
    full = sum(
        1
        for line in lines
        if (m := combined.pattern.match(line)) and m.group("http_user_agent") is not None
    )
    if full * 2 >= len(lines):
        return combined
    if sum(1 for line in lines if common.pattern.match(line)) * 2 > len(lines):
        return common
    raise ValueError("not a log format harvestguard recognises: give --format or --log-format")


def resolve_format(
    name: str, template: str | None, fields: dict[str, str] | None, source: str
) -> LogFormat:
    if template is not None:
        return from_template(template)
    if name == "json":
        if not fields:
            raise ValueError("--format json needs --field VARIABLE=PATH mappings")
        return json_format(fields)
    if name in JSON_FORMATS and fields:
        return json_format({**JSON_FORMATS[name], **fields}, name)
    if name != "auto":
        return named_format(name)
    if source == STDIN:
        return named_format("combined")
    return sniff_format(head_lines(source))


def first_time(source: str, fmt: LogFormat, timezone: str) -> float | None:
    """Seconds since the epoch of the first readable line, to put files in time order."""
    if source == STDIN:
        return None
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = ?", [timezone])
        for line in head_lines(source):
            table = python_rows(fmt, [(None, line)], ParseStats(), source)
            if table is None or table.num_rows == 0:
                continue
            connection.register("_rows", table)
            row = connection.execute(
                f"SELECT epoch(ts) FROM ({raw_query(fmt, text_source(fmt), '_rows')})"
            ).fetchone()
            if row is not None and row[0] is not None:
                return float(row[0])
    return None


def is_gzip(path: str) -> bool:
    if path == "/dev/stdin":
        return False
    try:
        with Path(path).open("rb") as handle:
            return handle.read(2) == b"\x1f\x8b"
    except OSError:
        return False
