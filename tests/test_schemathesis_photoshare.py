"""schemathesis against photoshare's OpenAPI document, in process (ASGI): every operation,
web pages and partner API alike, with generated paths, queries, forms and bodies, as a
logged-in partner app holding every scope. No 5xx, and every response conforms to the
document (schema, content type). A few examples per operation keep CI short; the figures of
docs/reliability.md come from a longer run (SCHEMATHESIS_EXAMPLES=50)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from photoshare.app import create_app
from photoshare.partners import SCOPES
from photoshare.settings import Settings
from tests.factories import World
from tests.partner_helpers import bearer, token_for

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "4"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


class _Platform:
    """A populated photoshare and a partner token with every scope."""

    def __init__(self, root: Path) -> None:
        self.app: FastAPI = create_app(Settings(data_dir=root, secret_key="schemathesis"))
        self.client = TestClient(self.app, base_url="https://testserver")
        self.client.__enter__()
        with self.app.state.sessionmaker() as db:
            world = World(db=db, media_dir=self.app.state.settings.media_dir)
            alice, bob = world.user("alice"), world.user("bob", private=True)
            venue = world.venue()
            world.post(alice, venue=venue)
            world.post(bob, caption="private day")
            world.story(alice, venue=venue)
            world.follow(alice, bob)
            partner, secret = world.partner_app(scopes=" ".join(sorted(SCOPES)))
            world.authorise(partner, alice)
        self.headers = bearer(token_for(self.client, partner, secret, " ".join(sorted(SCOPES))))

    def close(self) -> None:
        self.client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Platform]:
    platform = _Platform(tmp_path_factory.mktemp("photoshare"))
    try:
        yield platform
    finally:
        platform.close()


def test_no_server_error_and_no_schema_violation(platform: _Platform) -> None:
    """Each operation of the document, a few generated requests each; the failures of every
    operation are gathered, then reported together."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", platform.app)
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=platform.headers, checks=CHECKS)

        try:
            run()
        # schemathesis raises its failures as a BaseExceptionGroup
        except (Exception, BaseExceptionGroup) as error:  # every operation runs
            failures[operation.label] = _summary(error)
    assert operations >= 45
    assert failures == {}, "\n".join(f"{label}: {text}" for label, text in failures.items())


def _summary(error: BaseException) -> str:
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(_summary(inner) for inner in error.exceptions)
    return f"{type(error).__name__}: {str(error).strip().splitlines()[0][:200]}"
