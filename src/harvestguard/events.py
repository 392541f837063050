"""AccessEvent: the one contract between every producer and every consumer of access telemetry.

The middleware, the log parsers and the simulator produce AccessEvents; the sinks, the detectors
and the reports consume them. The schema is declared once, in ``FIELDS``; the Arrow schema and the
DuckDB table definition are derived from it, never written twice.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

SCHEMA_VERSION = 1


class Channel(enum.StrEnum):
    WEB = "web"
    API = "api"
    LOG = "log"


class Resource(enum.StrEnum):
    PROFILE = "profile"
    POST = "post"
    STORY = "story"
    LOCATION = "location"
    SEARCH = "search"
    MEDIA = "media"
    API = "api"
    OTHER = "other"


class DataClass(enum.StrEnum):
    """Kinds of personal data; a field of a resource belongs to at most one."""

    IDENTITY = "identity"
    LOCATION = "location"
    PHOTO = "photo"
    EPHEMERAL = "ephemeral"
    SOCIAL_GRAPH = "social_graph"
    CONTACT = "contact"
    CONTENT = "content"


class AudienceKind(enum.StrEnum):
    ANONYMOUS = "anonymous"
    AUTHENTICATED = "authenticated"
    FOLLOWER = "follower"
    OWNER = "owner"
    PARTNER = "partner"


class Decision(enum.StrEnum):
    ALLOW = "allow"
    THROTTLE = "throttle"
    CHALLENGE = "challenge"
    BLOCK = "block"


@dataclass(slots=True)
class AccessEvent:
    """One request (or one log line) and the personal data it disclosed."""

    ts: datetime
    request_id: str
    channel: str = Channel.WEB.value
    actor_account: str | None = None
    actor_client: str | None = None
    session: str | None = None
    ip: str | None = None
    net: str | None = None
    ua: str | None = None
    fingerprint: str | None = None
    method: str = "GET"
    route: str | None = None
    path: str | None = None
    status: int = 0
    bytes: int = 0
    duration_ms: float = 0.0
    resource: str = Resource.OTHER.value
    object_id: str | None = None
    owner_ids: list[str] = field(default_factory=list)
    data_classes: list[str] = field(default_factory=list)
    audience: str | None = None
    decision: str = Decision.ALLOW.value
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_json_dict(self) -> dict[str, Any]:
        row = self.to_dict()
        row["ts"] = self.ts.astimezone(UTC).isoformat()
        return row

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> AccessEvent:
        values = {name: row[name] for name in FIELD_NAMES if name in row and row[name] is not None}
        ts = values.get("ts")
        if isinstance(ts, str):
            values["ts"] = datetime.fromisoformat(ts)
        if isinstance(values.get("ts"), datetime) and values["ts"].tzinfo is None:
            values["ts"] = values["ts"].replace(tzinfo=UTC)
        for name in ("owner_ids", "data_classes"):
            if name in values:
                values[name] = list(values[name])
        return cls(**values)


# name -> (arrow type, DuckDB type). The single declaration of the stored schema.
_COLUMNS: dict[str, tuple[pa.DataType, str]] = {
    "ts": (pa.timestamp("us", tz="UTC"), "TIMESTAMPTZ"),
    "request_id": (pa.string(), "VARCHAR"),
    "channel": (pa.string(), "VARCHAR"),
    "actor_account": (pa.string(), "VARCHAR"),
    "actor_client": (pa.string(), "VARCHAR"),
    "session": (pa.string(), "VARCHAR"),
    "ip": (pa.string(), "VARCHAR"),
    "net": (pa.string(), "VARCHAR"),
    "ua": (pa.string(), "VARCHAR"),
    "fingerprint": (pa.string(), "VARCHAR"),
    "method": (pa.string(), "VARCHAR"),
    "route": (pa.string(), "VARCHAR"),
    "path": (pa.string(), "VARCHAR"),
    "status": (pa.int32(), "INTEGER"),
    "bytes": (pa.int64(), "BIGINT"),
    "duration_ms": (pa.float64(), "DOUBLE"),
    "resource": (pa.string(), "VARCHAR"),
    "object_id": (pa.string(), "VARCHAR"),
    "owner_ids": (pa.list_(pa.string()), "VARCHAR[]"),
    "data_classes": (pa.list_(pa.string()), "VARCHAR[]"),
    "audience": (pa.string(), "VARCHAR"),
    "decision": (pa.string(), "VARCHAR"),
    "schema_version": (pa.int16(), "SMALLINT"),
}

FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(AccessEvent))
assert tuple(_COLUMNS) == FIELD_NAMES, "AccessEvent and its stored columns must match"

ARROW_SCHEMA = pa.schema(
    [pa.field(name, arrow_type) for name, (arrow_type, _) in _COLUMNS.items()],
    metadata={"harvestguard.schema_version": str(SCHEMA_VERSION)},
)


def duckdb_columns() -> str:
    """The column list of the events table, for ``CREATE TABLE events (...)``."""
    return ", ".join(f'"{name}" {duck_type}' for name, (_, duck_type) in _COLUMNS.items())


def to_arrow(events: Iterable[AccessEvent]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in FIELD_NAMES}
    for event in events:
        for name in FIELD_NAMES:
            columns[name].append(getattr(event, name))
    return pa.table(columns, schema=ARROW_SCHEMA)


def from_arrow(table: pa.Table) -> list[AccessEvent]:
    return [AccessEvent.from_dict(row) for row in table.to_pylist()]
