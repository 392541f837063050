"""The Alembic migrations build exactly the schema of the models, on SQLite and for PostgreSQL."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from sqlalchemy import Engine, inspect, text

from photoshare import migrate
from photoshare.db import Base, make_engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    yield engine
    engine.dispose()


def _schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def _head() -> str:
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert head is not None
    return head


def _version(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def test_upgrade_builds_the_schema_of_the_models(engine: Engine) -> None:
    migrate.upgrade(engine)
    assert _schema_diff(engine) == []
    assert _version(engine) == _head()


def test_the_diff_would_see_a_missing_table(engine: Engine) -> None:
    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE likes"))
    assert {diff[0] for diff in _schema_diff(engine)} == {"add_table", "add_index"}  # type: ignore[index]


def test_upgrade_is_idempotent_and_keeps_data(engine: Engine) -> None:
    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO venues (name, category, city, lat, lon) "
                "VALUES ('Café de Flore', 'cafe', 'Paris', 48.85, 2.33)"
            )
        )
    migrate.upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM venues")).scalar() == 1


def test_downgrade_removes_everything_and_upgrade_rebuilds_it(engine: Engine) -> None:
    migrate.upgrade(engine)
    command.downgrade(migrate.alembic_config(engine), "base")
    assert inspect(engine).get_table_names() == ["alembic_version"]
    migrate.upgrade(engine)
    assert _schema_diff(engine) == []


def test_the_app_runs_the_migrations_at_start(app: FastAPI) -> None:
    assert _version(app.state.engine) == _head()
    assert _schema_diff(app.state.engine) == []


def test_the_migrations_render_for_postgresql() -> None:
    """``alembic upgrade head --sql`` for PostgreSQL: every table, and the avatar foreign key
    added once both tables of the users <-> media cycle exist (PostgreSQL checks references)."""
    config = migrate.alembic_config()
    config.set_main_option("sqlalchemy.url", "postgresql://")
    buffer = io.StringIO()
    config.output_buffer = buffer
    command.upgrade(config, "head", sql=True)
    script = buffer.getvalue()

    for table in Base.metadata.tables:
        assert f"CREATE TABLE {table} (" in script, table
    fk = "ALTER TABLE users ADD CONSTRAINT fk_users_avatar_id_media FOREIGN KEY(avatar_id) REFERENCES media (id)"
    assert fk in script
    assert script.index("CREATE TABLE media (") < script.index(fk)
    assert "TIMESTAMP WITHOUT TIME ZONE" in script
    # the first revision inserts its version, each later one updates it: the last names the head
    versions = re.findall(
        r"(?:INSERT INTO alembic_version .*VALUES \(|SET version_num=)'(\w+)'", script
    )
    assert versions[-1] == _head()
