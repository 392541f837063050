"""The compliance feed on a real PostgreSQL server, where ids are not handed out in commit order
unless the writers of tombstones take turns (see ``photoshare.compliance``)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from photoshare import compliance
from photoshare.app import create_app
from photoshare.db import Base
from photoshare.models import ComplianceEvent, ComplianceEventType
from photoshare.settings import Settings
from tests.postgres_helpers import PostgresServer

# The same scenarios as on SQLite, collected again here: this module's ``settings`` fixture puts
# the app (and ``db``, ``world``, ``client``) on PostgreSQL.
from tests.test_compliance_feed import (  # noqa: F401
    acme,
    test_another_apps_revocations_stay_out_of_the_feed_and_out_of_the_way,
    test_old_events_are_purged_and_their_ids_never_come_back,
    test_since_starts_the_feed_at_a_time,
)
from tests.test_compliance_pagination import (  # noqa: F401
    apps,
    reader,
    test_concurrent_deletions_reach_a_polling_reader_exactly_once,
    test_interleaved_writes_and_reads_see_each_event_once,
)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(postgres: PostgresServer, tmp_path: Path) -> Settings:
    """A fresh database on the server for each test."""
    name = f"photoshare_{secrets.token_hex(6)}"
    with psycopg.connect(
        f"host=127.0.0.1 port={postgres.port} user=postgres", autocommit=True
    ) as connection:
        connection.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    url = postgres.url.rsplit("/", 1)[0] + f"/{name}"
    return Settings(data_dir=tmp_path / "photoshare", secret_key="test-secret", database_url=url)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings)
    yield app
    app.state.engine.dispose()  # closes the pooled connections before the server goes


def test_the_migrations_build_the_models_schema_on_postgresql(app: FastAPI) -> None:
    with app.state.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert list(compare_metadata(context, Base.metadata)) == []


def _record(db: Session, object_id: int) -> None:
    compliance.record(
        db, ComplianceEventType.POST_DELETED, object_id=object_id, user_id=1, audience=[None]
    )


def test_writers_of_tombstones_take_turns_until_commit(app: FastAPI) -> None:
    """While one deletion's tombstone is uncommitted, another cannot take an id: so ids grow in
    commit order, and a reader's cursor never passes an id that commits later."""
    with app.state.sessionmaker() as first, app.state.sessionmaker() as second:
        _record(first, 1)  # holds the lock until it commits
        second.execute(text("SET lock_timeout = '200ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            _record(second, 2)
        second.rollback()
        first.commit()
        _record(second, 2)
        second.commit()
        ids = {event.object_id: event.id for event in second.scalars(select(ComplianceEvent))}
    assert ids[1] < ids[2]
