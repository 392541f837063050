"""Access-log formats: how the fields of one line are found.

A format names its fields with nginx's variable names (``remote_addr``, ``time_local``,
``request``, ``status``, ``body_bytes_sent``, ``http_referer``, ``http_user_agent``...) and says
how to find them, in one of three ways:

- **columns**: the line is space-separated, with ``"quoted"`` fields (``\\"`` escapes a quote):
  nginx and Apache ``combined``/``common`` and any ``log_format`` made of single variables,
  quoted variables, ``[$time_local]`` and literal ``-``. DuckDB's CSV reader splits these
  (no Python per line), which is what makes a scan fast; a line it refuses, or splits into
  values that look wrong, is read again with ``pattern``.
- **pattern**: a regular expression with named groups, applied line by line in Python (any
  other ``log_format`` string).
- **json**: one JSON object per line (Caddy, Traefik, Envoy, or your own field mapping); text
  before the first ``{`` (a container runtime's prefix) is skipped.

``raw_query`` turns the fields, whichever way they were found, into the columns of a raw
request (``RAW_COLUMNS``), in DuckDB SQL; the timestamp's variable decides how it is read.
Inside quoted fields, a backslash escapes the character after it, whichever way the line is
read: Apache's ``\\"`` is a quote and ``\\\\`` a backslash; nginx's ``\\x22`` reads ``x22``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# the variables a format may use to fill a raw request; any other name is read and ignored
TIME_VARIABLES = ("time_local", "time_iso8601", "msec")
KNOWN_VARIABLES = frozenset(
    {
        "remote_addr",
        *TIME_VARIABLES,
        "request",
        "request_method",
        "request_uri",
        "status",
        "body_bytes_sent",
        "bytes_sent",
        "http_referer",
        "http_user_agent",
        "host",
    }
)
# what a raw request keeps: the fields an AccessEvent has (it has none for the Referer or the
# Host, which are read and dropped)
RAW_COLUMNS = ("remote", "ts", "method", "target", "status", "bytes", "ua")

_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")
# time_local holds one space ("10/Oct/2023:13:55:36 +0200"): two columns for the CSV reader
_SPLIT_TIME = "time_local"


class FormatError(ValueError):
    """A format string or field mapping that cannot be used."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a space-separated line; ``variable`` is None for a column we skip."""

    variable: str | None
    bracketed: bool = False  # "[...]" around it, as around $time_local
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class LogFormat:
    name: str
    variables: tuple[str, ...]
    pattern: re.Pattern[str] | None = None
    columns: tuple[Column, ...] | None = None
    json_fields: Mapping[str, str] = field(default_factory=dict)
    quoted: frozenset[str] = frozenset()  # variables written between quotes (unescaped)

    @property
    def is_json(self) -> bool:
        return bool(self.json_fields)

    def time_variable(self) -> str:
        return next(v for v in TIME_VARIABLES if v in self.variables)


def from_template(template: str, name: str = "custom") -> LogFormat:
    """A format from an nginx ``log_format`` string, e.g.
    ``'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'``."""
    variables = [m.group(1) or m.group(2) for m in _VARIABLE.finditer(template)]
    if not variables:
        raise FormatError(f"log format {template!r} names no $variable")
    if not any(v in variables for v in TIME_VARIABLES):
        raise FormatError(
            f"log format {template!r} has no time: one of ${', $'.join(TIME_VARIABLES)}"
        )
    if "remote_addr" not in variables:
        raise FormatError(f"log format {template!r} has no $remote_addr")
    if "request" not in variables and "request_uri" not in variables:
        raise FormatError(f"log format {template!r} has neither $request nor $request_uri")
    duplicates = {v for v in variables if variables.count(v) > 1 and v in KNOWN_VARIABLES}
    if duplicates:
        raise FormatError(f"log format {template!r} repeats ${', $'.join(sorted(duplicates))}")
    return LogFormat(
        name=name,
        variables=tuple(v for v in variables if v in KNOWN_VARIABLES),
        pattern=_pattern(template),
        columns=_columns(template),
        quoted=frozenset(
            name
            for match in _VARIABLE.finditer(template)
            if (name := match.group(1) or match.group(2)) in KNOWN_VARIABLES
            and template[: match.start()].endswith('"')
            and template[match.end() : match.end() + 1] == '"'
        ),
    )


def _pattern(template: str) -> re.Pattern[str]:
    """Literal text matched as is; a variable inside quotes matches an escaped string, one
    outside matches up to the first occurrence of the literal text after it."""
    parts: list[str] = []
    position = 0
    seen: set[str] = set()
    matches = list(_VARIABLE.finditer(template))
    for index, match in enumerate(matches):
        literal = template[position : match.start()]
        parts.append(re.escape(literal))
        name = match.group(1) or match.group(2)
        quoted = literal.endswith('"') and template[match.end() : match.end() + 1] == '"'
        end = matches[index + 1].start() if index + 1 < len(matches) else len(template)
        body = r'(?:[^"\\]|\\.)*' if quoted else _unquoted(template[match.end() : end])
        if name in KNOWN_VARIABLES and name not in seen:
            parts.append(f"(?P<{name}>{body})")
            seen.add(name)
        else:
            parts.append(f"(?:{body})")
        position = match.end()
    parts.append(re.escape(template[position:]))
    # text after the format (fields a server appends) is allowed
    return re.compile("^" + "".join(parts) + r"(?:\s.*)?$", re.DOTALL)


def _unquoted(following: str) -> str:
    """Up to the first occurrence of ``following``, never giving back (an atomic group).
    A lazy ``.*?`` would let the engine try every later occurrence too: quadratic on a line
    that repeats the literal (found by fuzzing: hours for one 1 MiB line)."""
    if not following:
        return r".*?"
    return f"(?>(?:(?!{re.escape(following)}).)*)"


def _columns(template: str) -> tuple[Column, ...] | None:
    """The column layout when every space-separated token is one variable (quoted, bracketed or
    bare) or a literal, else None (the format is read with its pattern)."""
    columns: list[Column] = []
    for token in template.split(" "):
        if not token:
            return None
        match = re.fullmatch(r'(")?(\[)?\$(?:(\w+)|\{(\w+)\})(\])?(")?', token)
        if match is None:
            if "$" in token or '"' in token:
                return None
            columns.append(Column(None))
            continue
        quote_open, bracket_open, name1, name2, bracket_close, quote_close = match.groups()
        name = name1 or name2
        if bool(quote_open) != bool(quote_close) or bool(bracket_open) != bool(bracket_close):
            return None
        variable = name if name in KNOWN_VARIABLES else None
        if name == _SPLIT_TIME:
            if not bracket_open:
                return None
            columns += [Column("time_local", bracketed=True), Column(None)]
        else:
            columns.append(Column(variable, bool(bracket_open), bool(quote_open)))
    return tuple(columns)


COMBINED_TEMPLATE = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent"'
)
COMMON_TEMPLATE = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'

# JSON formats: variable -> JSON path (DuckDB json_extract_string syntax)
JSON_FORMATS: dict[str, dict[str, str]] = {
    "caddy": {
        "remote_addr": "$.request.client_ip",
        "msec": "$.ts",
        "request_method": "$.request.method",
        "request_uri": "$.request.uri",
        "status": "$.status",
        "body_bytes_sent": "$.size",
        "http_user_agent": "$.request.headers.User-Agent[0]",
        "http_referer": "$.request.headers.Referer[0]",
        "host": "$.request.host",
    },
    "traefik": {
        "remote_addr": "$.ClientHost",
        "time_iso8601": "$.StartUTC",
        "request_method": "$.RequestMethod",
        "request_uri": "$.RequestPath",
        "status": "$.DownstreamStatus",
        "body_bytes_sent": "$.DownstreamContentSize",
        "http_user_agent": '$."request_User-Agent"',
        "http_referer": '$."request_Referer"',
        "host": "$.RequestHost",
    },
    "envoy": {
        "remote_addr": "$.downstream_remote_address",
        "time_iso8601": "$.start_time",
        "request_method": "$.method",
        "request_uri": '$."x-envoy-origin-path"',
        "status": "$.response_code",
        "body_bytes_sent": "$.bytes_sent",
        "http_user_agent": '$."user-agent"',
        "http_referer": "$.referer",
        "host": '$.":authority"',
    },
}


def json_format(fields: Mapping[str, str], name: str = "json") -> LogFormat:
    """A JSON-lines format from a mapping variable -> JSON path (``$.a.b``) or top-level key."""
    unknown = sorted(set(fields) - KNOWN_VARIABLES)
    if unknown:
        raise FormatError(
            f"unknown field {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_VARIABLES))}"
        )
    paths = {k: v if v.startswith("$") else "$." + _json_key(v) for k, v in fields.items()}
    variables = tuple(paths)
    if not any(v in variables for v in TIME_VARIABLES):
        raise FormatError(f"a JSON format needs a time field: one of {', '.join(TIME_VARIABLES)}")
    for needed in ("remote_addr", "status"):
        if needed not in variables:
            raise FormatError(f"a JSON format needs a {needed} field")
    if "request" not in variables and "request_uri" not in variables:
        raise FormatError("a JSON format needs a request or request_uri field")
    return LogFormat(name=name, variables=variables, json_fields=paths)


def _json_key(key: str) -> str:
    return ".".join(part if re.fullmatch(r"\w+", part) else f'"{part}"' for part in key.split("."))


def named_format(name: str) -> LogFormat:
    if name == "combined":
        return from_template(COMBINED_TEMPLATE, "combined")
    if name == "common":
        return from_template(COMMON_TEMPLATE, "common")
    if name in JSON_FORMATS:
        return json_format(JSON_FORMATS[name], name)
    raise FormatError(f"unknown log format {name!r}; expected one of {', '.join(FORMAT_NAMES)}")


FORMAT_NAMES = ("auto", "combined", "common", *JSON_FORMATS, "json")


# 9999-12-31 23:59:59 UTC, the last second Python's datetime can hold
_LAST_SECOND = 253_402_300_799


def raw_query(
    fmt: LogFormat, source: Mapping[str, str], relation: str, keep: str = "", time_format: str = ""
) -> str:
    """The query turning a format's fields (SQL expressions in ``source``, text, over
    ``relation``) into ``RAW_COLUMNS`` (then ``keep``, more columns of ``relation``). Times
    without an offset are read in the connection's time zone; ``time_format`` replaces the
    ``time_local`` format (the CSV reader gives ``[10/Oct/2023:13:55:36`` and ``+0200]``).

    Nested SELECTs so that DuckDB computes each intermediate value once per row (it does not
    share a repeated sub-expression between the columns of one SELECT)."""

    def text(variable: str) -> str:
        if variable not in source:
            return "NULL"
        return f"nullif(nullif({source[variable]}, '-'), '')"

    time_variable = fmt.time_variable()
    time_text = source[time_variable]
    if time_variable == "time_local":
        ts = f"try_strptime({time_text}, '{time_format or '%d/%b/%Y:%H:%M:%S %z'}')"
    elif time_variable == "msec":
        # a time past year 9999 (or NaN) stopped the whole read with a conversion error, and
        # Python has no datetime for it (found by fuzzing): such a line is malformed
        seconds = f"TRY_CAST({time_text} AS DOUBLE)"
        ts = f"to_timestamp(CASE WHEN {seconds} BETWEEN 0 AND {_LAST_SECOND} THEN {seconds} END)"
    else:
        moment = f"TRY_CAST({time_text} AS TIMESTAMPTZ)"
        ts = f"CASE WHEN year({moment}) BETWEEN 1 AND 9999 THEN {moment} END"
    size = "body_bytes_sent" if "body_bytes_sent" in source else "bytes_sent"
    extra = f", {keep}" if keep else ""
    if "request_uri" in source:
        method = text("request_method") if "request_method" in source else "'GET'"
        inner = f"SELECT *, {method} AS _method, {source['request_uri']} AS _target FROM {relation}"
    else:
        # "GET /path HTTP/1.1": method and target; anything else (a TLS handshake sent to the
        # plain-text port) keeps the whole request as its target, method INVALID. Plain string
        # tests, not a regular expression: this runs on every line.
        request = source["request"]
        verb = "_parts[1]"
        valid = (
            f"(len(_parts) BETWEEN 2 AND 3 AND len({verb}) BETWEEN 3 AND 10 "
            f"AND upper({verb}) = {verb} AND lower({verb}) <> {verb})"
        )
        inner = f"""
            SELECT *, CASE WHEN _valid THEN _parts[1] ELSE 'INVALID' END AS _method,
                      CASE WHEN _valid THEN _parts[2] ELSE {request} END AS _target
            FROM (SELECT *, {valid} AS _valid
                  FROM (SELECT *, string_split({request}, ' ') AS _parts FROM {relation}))"""
    # an absolute-form target (proxies, load balancers) loses its scheme and host
    target = (
        "CASE WHEN contains(_target, '://') THEN "
        "regexp_replace(_target, '^[A-Za-z][A-Za-z0-9+.-]*://[^/]*', '') ELSE _target END"
    )
    return f"""
        SELECT {text("remote_addr")} AS remote, {ts} AS ts, _method AS method, {target} AS target,
               TRY_CAST({text("status")} AS INTEGER) AS status,
               coalesce(TRY_CAST({text(size)} AS BIGINT), 0) AS bytes,
               {text("http_user_agent")} AS ua{extra}
        FROM ({inner})
    """
