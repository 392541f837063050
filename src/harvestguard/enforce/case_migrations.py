"""Brings a case store's database to the current schema with Alembic (harvestguard.enforce's own
migrations, in ``migrations/``), on SQLite or PostgreSQL.

The store keeps its own version table, ``hg_alembic_version``, so that it can share a database
with the platform's tables and the platform's ``alembic_version``. Several app instances may
open the store at once: on PostgreSQL they take turns on an advisory lock, and the first brings
the schema up while the others find it at head. A store created before the migrations existed
(tables made by ``create_all``, no version table) is stamped at the first revision, whose schema
it has, and upgraded from there.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect, text

_HERE = Path(__file__).parent
ALEMBIC_INI = _HERE / "alembic.ini"
VERSION_TABLE = "hg_alembic_version"
BASELINE = "0001"  # the schema create_all gave before the migrations existed
# pg_advisory_lock key: the bytes "hgcases" as an integer, unlikely to meet another application's
_LOCK_KEY = int.from_bytes(b"hgcases", "big")


def alembic_config(connection: Connection | None = None) -> Config:
    """The case store's Alembic configuration, bound to ``connection`` when one is given."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(_HERE / "migrations"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """``alembic upgrade head`` for the case store, safe to run from several processes at once."""
    with engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
            connection.commit()
        try:
            config = alembic_config(connection)
            tables = set(inspect(connection).get_table_names())
            if "hg_cases" in tables and VERSION_TABLE not in tables:
                command.stamp(config, BASELINE)
            command.upgrade(config, revision)
            connection.commit()
        finally:
            if postgres:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
                connection.commit()
