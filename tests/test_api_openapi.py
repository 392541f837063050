"""The partner API's OpenAPI document, and the partner guide that documents the same API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from photoshare.partners import SCOPES
from photoshare.routes.api import SCOPE_DESCRIPTIONS

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "partner-api.md"

# (method, path) -> the scopes the operation requires
OPERATIONS: dict[tuple[str, str], list[str]] = {
    ("get", "/api/v1/me"): [],
    ("get", "/api/v1/users/search"): ["profile:basic"],
    ("post", "/api/v1/users/lookup"): ["profile:basic"],
    ("get", "/api/v1/users/by-username/{username}"): ["profile:basic"],
    ("get", "/api/v1/users/{user_id}"): ["profile:basic"],
    ("get", "/api/v1/users/{user_id}/media"): ["media:read"],
    ("get", "/api/v1/media/{post_id}"): ["media:read"],
    ("get", "/api/v1/media/{post_id}/comments"): ["media:read"],
    ("get", "/api/v1/locations/{venue_id}"): ["location:read"],
    ("get", "/api/v1/locations/{venue_id}/media"): ["location:read", "media:read"],
    ("get", "/api/v1/compliance"): ["compliance:read"],
}
OBJECT_ROUTES = {key for key in OPERATIONS if "{" in key[1]}


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _schema(document: dict[str, Any], ref: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return schema


def test_every_api_operation_is_listed_and_no_other(document: dict[str, Any]) -> None:
    listed = {
        (method, path)
        for path, operations in document["paths"].items()
        if path.startswith("/api/v1")
        for method in operations
    }
    assert listed == set(OPERATIONS)
    assert not [path for path in document["paths"] if "stor" in path and "/api/" in path]


@pytest.mark.parametrize(("method", "path"), sorted(OPERATIONS))
def test_each_operation_is_documented_and_secured(
    document: dict[str, Any], method: str, path: str
) -> None:
    operation = document["paths"][path][method]
    assert operation["summary"]
    assert operation["tags"]
    assert operation["security"] == [{"partner": OPERATIONS[method, path]}]
    responses = operation["responses"]
    for status in ("200", "401", "403"):
        assert status in responses
    assert responses["403"]["content"]["application/json"]["schema"]["$ref"].endswith("ApiError")
    if (method, path) in OBJECT_ROUTES:
        assert "404" in responses
    assert "$ref" in responses["200"]["content"]["application/json"]["schema"]


def test_the_security_scheme_is_the_client_credentials_flow(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["partner"]
    assert scheme["type"] == "oauth2"
    flow = scheme["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth/token"
    assert set(flow["scopes"]) == SCOPES
    assert set(SCOPE_DESCRIPTIONS) == SCOPES


def test_personal_data_fields_are_optional(document: dict[str, Any]) -> None:
    for name in ("UserProfile", "MediaItem", "CommentItem", "Location"):
        schema = document["components"]["schemas"][name]
        assert schema.get("required", []) == [], name
    assert "email" in document["components"]["schemas"]["UserProfile"]["properties"]


def test_the_token_endpoint_is_documented(document: dict[str, Any]) -> None:
    operation = document["paths"]["/oauth/token"]["post"]
    body = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    fields = set(_schema(document, body["$ref"])["properties"])
    assert fields == {"grant_type", "scope", "client_id", "client_secret"}
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("TokenResponse")
    for status in ("400", "401"):
        error = operation["responses"][status]["content"]["application/json"]["schema"]
        assert error["$ref"].endswith("OAuthError")


def test_the_guide_documents_every_endpoint_scope_and_error() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    for method, path in OPERATIONS:
        assert f"{method.upper()} {path}" in guide, path
    for scope in SCOPES:
        assert f"`{scope}`" in guide, scope
    for error in (
        "invalid_client",
        "invalid_scope",
        "unsupported_grant_type",
        "invalid_request",
        "invalid_token",
        "insufficient_scope",
        "not_found",
    ):
        assert f"`{error}`" in guide, error
