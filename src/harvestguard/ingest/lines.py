"""Lines read in Python: what a regular expression (or the json module) finds in each line, and
the count of lines read, parsed and malformed. The fallback of the DuckDB reader, and the reader
of formats only a regular expression can read."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from harvestguard.ingest.formats import LogFormat

SAMPLES = 5


@dataclass(slots=True)
class ParseStats:
    """What happened to the lines of the inputs."""

    lines: int = 0
    parsed: int = 0
    malformed: int = 0
    samples: list[tuple[str, int | None, str]] = field(default_factory=list)  # file, line, text

    @property
    def malformed_share(self) -> float:
        return self.malformed / self.lines if self.lines else 0.0

    def reject(self, source: str, line: int | None, text: str) -> None:
        self.malformed += 1
        self.lines += 1
        if len(self.samples) < SAMPLES:
            self.samples.append((source, line, text[:300]))


def python_rows(
    fmt: LogFormat, lines: Sequence[tuple[int | None, str]], stats: ParseStats, source: str
) -> pa.Table | None:
    """The format's fields of each line, found with its regular expression (JSON formats with
    the json module); lines that do not match are counted as malformed."""
    names = list(fmt.json_fields) if fmt.is_json else list(fmt.variables)
    columns: dict[str, list[str | None]] = {name: [] for name in names}
    originals: list[str] = []
    for number, line in lines:
        if not line.strip():
            continue
        found = _fields(fmt, line)
        if found is None:
            stats.reject(source, number, line)
            continue
        for name in names:
            columns[name].append(found.get(name))
        originals.append(line)
        stats.lines += 1
        stats.parsed += 1
    if not originals:
        return None
    table = pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})
    return table.append_column("_source_line", pa.array(originals, pa.string()))


def _fields(fmt: LogFormat, line: str) -> dict[str, str | None] | None:
    if fmt.is_json:
        start = line.find("{")
        try:
            value = json.loads(line[start:]) if start >= 0 else None
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        return {name: _json_path(value, path) for name, path in fmt.json_fields.items()}
    assert fmt.pattern is not None
    match = fmt.pattern.match(line)
    if match is None:
        return None
    found: dict[str, str | None] = {name: match.group(name) for name in fmt.variables}
    for name in fmt.quoted:
        value = found[name]
        if value is not None and "\\" in value:
            found[name] = _ESCAPED.sub(r"\1", value)
    return found


# inside a quoted field a backslash escapes the character after it (Apache's \" and \\), as
# the CSV reader of the fast path reads it; nginx's \xHH loses its backslash (\x22 -> x22)
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


_JSON_STEP = re.compile(r'\."([^"]+)"|\.(\w[\w-]*)|\[(\d+)\]')


def _json_path(value: object, path: str) -> str | None:
    current = value
    for step in _JSON_STEP.finditer(path[1:]):
        key, plain, index = step.groups()
        if index is not None:
            current = (
                current[int(index)]
                if isinstance(current, list) and len(current) > int(index)
                else None
            )
        elif isinstance(current, dict):
            current = current.get(key if key is not None else plain)
        else:
            current = None
        if current is None:
            return None
    if isinstance(current, dict | list):
        return json.dumps(current)
    return str(current)


def text_source(fmt: LogFormat) -> dict[str, str]:
    """The fields of ``python_rows``' table as the ``source`` of ``raw_query``."""
    names = fmt.json_fields if fmt.is_json else fmt.variables
    return {name: f'"{name}"' for name in names}
