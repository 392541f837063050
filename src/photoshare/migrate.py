"""Brings a database to the current schema."""

from __future__ import annotations

from sqlalchemy import Engine

from photoshare import models  # noqa: F401  (registers the tables)
from photoshare.db import Base


def upgrade(engine: Engine) -> None:
    Base.metadata.create_all(engine)
