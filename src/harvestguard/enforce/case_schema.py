"""The case store's tables (its own MetaData: the guard's database is not the platform's) and the
triggers that make the audit log append-only in the database itself, not only in our API.

Created and upgraded by ``create_schema``, which runs the store's Alembic migrations
(``case_migrations``, ``migrations/versions/``); this metadata is what they must build.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.types import TypeDecorator

from harvestguard.enforce import case_migrations


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = MetaData()

cases = Table(
    "hg_cases",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("status", String(16), nullable=False, index=True),
    Column("verdict", String(16)),
    Column("entity_id", String(64), nullable=False),
    Column("risk", Float, nullable=False),
    Column("detected_at", UTCDateTime),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("evidence", JSON, nullable=False),
)

case_keys = Table(
    "hg_case_keys",
    metadata,
    Column("case_id", String(32), ForeignKey("hg_cases.id"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("value", String(256), primary_key=True),
    Index("ix_hg_case_keys_key", "kind", "value"),
)

audit = Table(
    "hg_case_audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(32), ForeignKey("hg_cases.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("action", String(32), nullable=False),
    Column("by", String(120), nullable=False),
    Column("reason", Text, nullable=False),
    Column("details", JSON, nullable=False),
)

# raised by the triggers of migrations/versions/0001_case_store.py
APPEND_ONLY_MESSAGE = "hg_case_audit is append-only"


def make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # foreign keys also stop a case with audit entries from being deleted
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    return engine


def create_schema(engine: Engine) -> None:
    """Brings the database to the current schema: the tables, then the append-only triggers of
    the audit log, by the store's Alembic migrations (``case_migrations``)."""
    case_migrations.upgrade(engine)
