"""Brings a database to the current schema with Alembic, from inside the app or the command line."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

_HERE = Path(__file__).parent
ALEMBIC_INI = _HERE / "alembic.ini"


def alembic_config(engine: Engine | None = None) -> Config:
    """The package's Alembic configuration, bound to ``engine`` when one is given.

    The script location is set here rather than read relative to the working directory, so the
    migrations run the same from a checkout, an installed wheel or a test's temporary directory.
    """
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(_HERE / "migrations"))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """``alembic upgrade head`` against this engine (SQLite or PostgreSQL)."""
    command.upgrade(alembic_config(engine), revision)
