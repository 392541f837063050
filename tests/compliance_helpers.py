"""Reading the deletion-compliance feed as a partner app does: over HTTP, page by page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

FEED = "/api/v1/compliance"


@dataclass
class FeedRead:
    events: list[dict[str, Any]]
    cursor: str  # the last next_cursor: where to poll from later
    pages: int


def read_feed(
    client: TestClient,
    headers: dict[str, str],
    *,
    cursor: str | None = None,
    since: str | None = None,
    limit: int = 100,
) -> FeedRead:
    """Follows next_cursor until has_more is false, as a partner's compliance worker would."""
    events: list[dict[str, Any]] = []
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        if since is not None:
            params["since"] = since
        response = client.get(FEED, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        assert body["next_cursor"], "the feed's cursor is never null"
        events.extend(body["items"])
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return FeedRead(events, cursor, pages)


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    return [(event["type"], event["object_id"], event["user_id"]) for event in events]
