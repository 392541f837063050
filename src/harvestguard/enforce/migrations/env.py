"""Alembic environment of the case store: its metadata, its own version table, and the
connection the store hands over (or HARVESTGUARD_CASES)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from harvestguard.enforce.case_migrations import VERSION_TABLE
from harvestguard.enforce.case_schema import make_engine, metadata
from harvestguard.enforce.cases import DEFAULT_CASES_URL

config = context.config


def _url() -> str:
    return (
        config.get_main_option("sqlalchemy.url")
        or os.environ.get("HARVESTGUARD_CASES")
        or DEFAULT_CASES_URL
    )


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """``alembic upgrade head --sql``: the SQL script, for a DBA to review and run."""
    context.configure(
        url=_url(), target_metadata=metadata, version_table=VERSION_TABLE, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as owned:
            _run(owned)
            owned.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
