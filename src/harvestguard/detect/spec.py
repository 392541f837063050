"""A detector file: a YAML header in SQL comments, then one SELECT. Parsed and checked here.

```sql
-- ---
-- id: breadth
-- title: Views of many strangers
-- severity: high
-- tos_clause: "4.2 No automated collection"
-- parameters:
--   min_owners: {type: int, default: 150, min: 1}
-- explanation: "{strangers} strangers viewed"
-- ---
SELECT ... FROM events ...
```

Parameters appear in the SQL as ``{{name}}`` and are substituted as typed literals (numbers are
formatted from validated Python numbers, strings are quoted), never pasted as given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp

SEVERITIES = ("low", "medium", "high", "critical")
PARAMETER_TYPES: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}
REQUIRED_KEYS = ("id", "title", "severity", "tos_clause", "explanation")
OPTIONAL_KEYS = ("parameters", "needs", "uses", "description", "resets", "monotone")
# what a detector's rows start afresh at (incremental mode recomputes only since the last one),
# and the parameter holding that period
RESETS = {"window": "window_minutes", "horizon": "horizon_hours", "day": None}
CONTEXT_TABLES = (
    "follows",
    "accounts",
    "stories",
    "posts",
    "venues",
    "partner_apps",
    "authorisations",
    "allowlist",
    "canaries",
)
OUTPUT_COLUMNS = ("actor_kind", "actor_key", "window_start", "window_end", "score")

_MARKER = "-- ---"
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


class DetectorError(ValueError):
    """A detector file that cannot be used: the file, the line (1-based) and the reason."""

    def __init__(self, path: Path | str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path, self.line, self.reason = Path(path), line, reason


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    type: str
    default: int | float | str | bool
    min: float | None = None
    max: float | None = None

    def check(self, value: object) -> int | float | str | bool:
        """The value converted to the parameter's type, or ValueError with the reason."""
        expected = PARAMETER_TYPES[self.type]
        if self.type == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, str) and self.type != "str":
            value = _from_text(value, self.type)
        if not isinstance(value, expected) or (self.type != "bool" and isinstance(value, bool)):
            raise ValueError(f"parameter {self.name} must be {self.type}, got {value!r}")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.min is not None and value < self.min:
                raise ValueError(f"parameter {self.name} must be >= {self.min}, got {value}")
            if self.max is not None and value > self.max:
                raise ValueError(f"parameter {self.name} must be <= {self.max}, got {value}")
        assert isinstance(value, int | float | str)  # bool is an int
        return value

    def literal(self, value: int | float | str | bool) -> str:
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int | float):
            return repr(value)
        return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    id: str
    title: str
    severity: str
    tos_clause: str
    explanation: str
    sql: str
    path: Path
    parameters: dict[str, Parameter] = field(default_factory=dict)
    needs: tuple[str, ...] = ()  # context tables without which the detector is skipped
    uses: tuple[str, ...] = ()  # context tables read when present (empty otherwise)
    description: str = ""
    resets: str | None = None  # None: a row may depend on any event retained
    # a row once returned is returned by every run over more events, with no lower score: live
    # mode may act on it before its window closes
    monotone: bool = False

    def render(self, overrides: Mapping[str, object] | None = None) -> str:
        """The SQL with every parameter substituted as a typed literal."""
        values = {name: p.default for name, p in self.parameters.items()}
        for name, value in (overrides or {}).items():
            if name not in self.parameters:
                raise ValueError(f"detector {self.id} has no parameter {name!r}")
            values[name] = self.parameters[name].check(value)
        return _PLACEHOLDER.sub(
            lambda m: self.parameters[m.group(1)].literal(values[m.group(1)]), self.sql
        )

    def context_read(self) -> frozenset[str]:
        """The context tables the query reads, from its parse tree (sqlglot): what a change of
        context makes stale. Not ``needs`` and ``uses``, which a user's detector may leave out."""
        tree = sqlglot.parse_one(self.render(), read="duckdb")
        ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        tables = {table.name for table in tree.find_all(exp.Table)} - ctes
        return frozenset(tables & set(CONTEXT_TABLES))

    def explain(self, evidence: Mapping[str, Any]) -> str:
        try:
            return self.explanation.format_map(_Evidence(evidence))
        except (ValueError, IndexError):
            return self.explanation


class _Evidence(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def load_detector(path: Path) -> DetectorSpec:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise DetectorError(path, 1, f"cannot read the file: {error}") from error
    return parse_detector(text, path)


def parse_detector(text: str, path: Path | str = "<detector>") -> DetectorSpec:
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or lines[first].strip() != _MARKER:
        raise DetectorError(path, (first or 0) + 1, f"a detector starts with a '{_MARKER}' line")
    end = next((i for i in range(first + 1, len(lines)) if lines[i].strip() == _MARKER), None)
    if end is None:
        raise DetectorError(path, first + 1, f"the header is not closed by a '{_MARKER}' line")
    header_lines = []
    for number in range(first + 1, end):
        text = lines[number]
        if not text.startswith("--"):
            raise DetectorError(path, number + 1, "header lines must start with '--'")
        header_lines.append(text[3:] if text.startswith("-- ") else text[2:])
    try:
        header = yaml.safe_load("\n".join(header_lines))
    except yaml.YAMLError as error:
        # where the broken construct starts, else where the parser noticed
        mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
        line = first + 2 + (mark.line if mark is not None else 0)
        raise DetectorError(path, line, f"the header is not valid YAML: {error}") from error
    sql = "\n".join(lines[end + 1 :]).strip().rstrip(";").strip()
    return _spec(header, sql, Path(path), header_lines, first + 2, end + 2)


def _spec(
    header: object, sql: str, path: Path, raw: list[str], offset: int, sql_line: int
) -> DetectorSpec:
    def line_of(key: str) -> int:
        for index, text in enumerate(raw):
            if text.lstrip().startswith(f"{key}:"):
                return offset + index
        return offset

    if not isinstance(header, dict):
        raise DetectorError(path, offset, "the header must be a YAML mapping")
    for key in REQUIRED_KEYS:
        if key not in header or header[key] in (None, ""):
            raise DetectorError(path, offset, f"the header has no {key!r}")
    for key in header:
        if key not in REQUIRED_KEYS and key not in OPTIONAL_KEYS:
            raise DetectorError(path, line_of(str(key)), f"unknown header key {key!r}")
    detector_id = str(header["id"])
    if not _IDENTIFIER.match(detector_id):
        raise DetectorError(path, line_of("id"), f"id {detector_id!r} must match [a-z][a-z0-9_]*")
    if header["severity"] not in SEVERITIES:
        raise DetectorError(
            path, line_of("severity"), f"severity must be one of {', '.join(SEVERITIES)}"
        )
    parameters = _parameters(header.get("parameters") or {}, path, line_of)
    tables: dict[str, tuple[str, ...]] = {}
    for key in ("needs", "uses"):
        names = header.get(key) or []
        if not isinstance(names, list) or any(n not in CONTEXT_TABLES for n in names):
            raise DetectorError(
                path, line_of(key), f"{key} lists context tables among {', '.join(CONTEXT_TABLES)}"
            )
        tables[key] = tuple(str(n) for n in names)
    resets = header.get("resets")
    if resets is not None and (
        not isinstance(resets, str)
        or resets not in RESETS
        or (RESETS[resets] is not None and RESETS[resets] not in parameters)
    ):
        raise DetectorError(
            path,
            line_of("resets"),
            "resets is window (with a window_minutes parameter), horizon (with horizon_hours) "
            "or day",
        )
    monotone = header.get("monotone", False)
    if not isinstance(monotone, bool):
        raise DetectorError(path, line_of("monotone"), "monotone is true or false")
    if not re.match(r"^(WITH|SELECT)\b", sql, re.IGNORECASE):
        raise DetectorError(path, sql_line, "the header must be followed by one SELECT (or WITH)")
    if ";" in _without_strings(sql):
        raise DetectorError(path, sql_line, "a detector holds exactly one statement")
    for match in _PLACEHOLDER.finditer(sql):
        if match.group(1) not in parameters:
            line = sql_line + sql[: match.start()].count("\n")
            raise DetectorError(path, line, f"{{{{{match.group(1)}}}}} is not a declared parameter")
    return DetectorSpec(
        id=detector_id,
        title=str(header["title"]),
        severity=str(header["severity"]),
        tos_clause=str(header["tos_clause"]),
        explanation=str(header["explanation"]),
        sql=sql,
        path=path,
        parameters=parameters,
        needs=tables["needs"],
        uses=tables["uses"],
        description=str(header.get("description") or ""),
        resets=None if resets is None else str(resets),
        monotone=monotone,
    )


def _parameters(raw: object, path: Path, line_of: Callable[[str], int]) -> dict[str, Parameter]:
    if not isinstance(raw, dict):
        raise DetectorError(
            path, line_of("parameters"), "parameters must be a mapping of name -> {type, default}"
        )
    parameters: dict[str, Parameter] = {}
    for name, declared in raw.items():
        line = line_of(str(name))
        if not isinstance(declared, dict) or "type" not in declared or "default" not in declared:
            raise DetectorError(path, line, f"parameter {name!r} needs a type and a default")
        kind = declared["type"]
        if kind not in PARAMETER_TYPES:
            raise DetectorError(
                path, line, f"parameter {name!r}: type must be one of {', '.join(PARAMETER_TYPES)}"
            )
        unknown = set(declared) - {"type", "default", "min", "max"}
        if unknown:
            raise DetectorError(path, line, f"parameter {name!r}: unknown keys {sorted(unknown)}")
        parameter = Parameter(
            str(name), kind, declared["default"], declared.get("min"), declared.get("max")
        )
        try:
            parameters[str(name)] = Parameter(
                parameter.name,
                kind,
                parameter.check(parameter.default),
                parameter.min,
                parameter.max,
            )
        except ValueError as error:
            raise DetectorError(path, line, f"default: {error}") from error
    return parameters


def _from_text(value: str, kind: str) -> int | float | bool:
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except ValueError as error:
        raise ValueError(f"{value!r} is not {kind}") from error
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"{value!r} is not bool")


def _without_strings(sql: str) -> str:
    without_comments = re.sub(r"--[^\n]*", "", sql)
    return re.sub(r"'(?:[^']|'')*'", "''", without_comments)
