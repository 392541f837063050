"""The case store's Alembic migrations build exactly its schema, on SQLite and on a real
PostgreSQL server; stores made before the migrations are adopted; the store shares a PostgreSQL
database with photoshare (each with its own version table); instances opening it together on an
empty database take turns."""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, inspect, text
from sqlalchemy.exc import DatabaseError

from harvestguard.enforce import case_migrations
from harvestguard.enforce.case_schema import make_engine, metadata
from harvestguard.enforce.cases import CaseStore
from photoshare import migrate
from photoshare.db import Base
from tests.postgres_helpers import PostgresServer

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def _diff(engine: Engine, target: MetaData) -> list[object]:
    """Differences between the database and ``target``, looking only at ``target``'s tables."""

    def ours(obj: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
        return kind != "table" or name in target.tables

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": ours}
        )
        return list(compare_metadata(context, target))


def _version(engine: Engine, table: str) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text(f"SELECT version_num FROM {table}")).scalars())


def _head() -> str:
    head = ScriptDirectory.from_config(case_migrations.alembic_config()).get_current_head()
    assert head is not None
    return head


def _add_case(engine: Engine, case_id: str = "C-legacy") -> None:
    """One case with one audit entry, written in SQL as any version of the store would."""
    with engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO hg_cases (id, status, entity_id, risk, opened_at, updated_at, "
                "evidence) VALUES (:id, 'open', 'E-1', 0.9, :t, :t, '{}')"
            ),
            {"id": case_id, "t": NOW.replace(tzinfo=None)},
        )
        db.execute(
            text(
                "INSERT INTO hg_case_audit (case_id, at, action, by, reason, details) "
                "VALUES (:id, :t, 'opened', 'detection', 'test', '{}')"
            ),
            {"id": case_id, "t": NOW.replace(tzinfo=None)},
        )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cases.db'}"


def test_the_migrations_build_the_schema_of_the_store_on_sqlite(sqlite_url: str) -> None:
    store = CaseStore(sqlite_url)
    assert _diff(store.engine, metadata) == []
    assert _version(store.engine, case_migrations.VERSION_TABLE) == [_head()]
    _add_case(store.engine)
    for statement in ("DELETE FROM hg_case_audit", "UPDATE hg_case_audit SET by = 'mallory'"):
        with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as db:
            db.execute(text(statement))
    assert len(store.audit("C-legacy")) == 1
    store.close()


def test_the_diff_sees_a_missing_table(sqlite_url: str) -> None:
    store = CaseStore(sqlite_url)
    with store.engine.begin() as db:
        db.execute(text("DROP TABLE hg_case_keys"))
    assert {d[0] for d in _diff(store.engine, metadata)} == {"add_table", "add_index"}  # type: ignore[index]
    store.close()


def test_a_store_made_before_the_migrations_is_adopted_with_its_data(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    metadata.create_all(engine)  # how the store made its tables before it had migrations
    _add_case(engine)
    engine.dispose()
    store = CaseStore(sqlite_url)
    assert [entry.case_id for entry in store.audit()] == ["C-legacy"]
    assert _version(store.engine, case_migrations.VERSION_TABLE) == [_head()]
    assert _diff(store.engine, metadata) == []
    store.close()


def test_downgrade_removes_tables_and_triggers_and_upgrade_rebuilds(sqlite_url: str) -> None:
    store = CaseStore(sqlite_url)
    with store.engine.connect() as connection:
        command.downgrade(case_migrations.alembic_config(connection), "base")
        connection.commit()
        triggers = connection.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        ).all()
    assert inspect(store.engine).get_table_names() == [case_migrations.VERSION_TABLE]
    assert triggers == []
    case_migrations.upgrade(store.engine)
    assert _diff(store.engine, metadata) == []
    store.close()


def test_the_migrations_render_for_postgresql_with_the_triggers() -> None:
    config = case_migrations.alembic_config()
    config.set_main_option("sqlalchemy.url", "postgresql://")
    buffer = io.StringIO()
    config.output_buffer = buffer
    command.upgrade(config, "head", sql=True)
    script = buffer.getvalue()
    for table in metadata.tables:
        assert f"CREATE TABLE {table} (" in script, table
    assert "CREATE TABLE hg_alembic_version" in script
    assert "BEFORE TRUNCATE ON hg_case_audit" in script


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database(postgres: PostgresServer) -> str:
    return postgres.create_database(f"db_{secrets.token_hex(5)}")


def test_the_store_and_photoshare_share_one_postgresql_database(database: str) -> None:
    engine = make_engine(database)
    migrate.upgrade(engine)  # photoshare's schema and alembic_version
    store = CaseStore(database)
    assert _diff(engine, metadata) == []
    assert _diff(engine, Base.metadata) == []
    assert _version(engine, case_migrations.VERSION_TABLE) == [_head()]
    assert len(_version(engine, "alembic_version")) == 1  # photoshare's, untouched
    _add_case(engine)
    for statement in ("TRUNCATE hg_case_audit CASCADE", "DELETE FROM hg_case_audit"):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as db:
            db.execute(text(statement))
    # a second opening finds the schema at head and changes nothing
    CaseStore(database).close()
    assert _version(engine, case_migrations.VERSION_TABLE) == [_head()]
    store.close()
    engine.dispose()


def test_instances_opening_an_empty_database_together_take_turns(database: str) -> None:
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(CaseStore, [database] * 4))
    engine = stores[0].engine
    assert _version(engine, case_migrations.VERSION_TABLE) == [_head()]
    assert _diff(engine, metadata) == []
    for store in stores:
        store.close()
