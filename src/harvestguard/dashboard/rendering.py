"""Rendering a page: the templates' filters and the context every page gets."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import Response

from harvestguard.dashboard.accounts import Role, Session
from harvestguard.dashboard.security import CSRF_FIELD
from harvestguard.enforce.render import DATA_CLASS_LABELS


def when(moment: datetime | date | None) -> str:
    if moment is None:
        return "-"
    if isinstance(moment, datetime):
        return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return f"{moment:%Y-%m-%d}"


def register_filters(environment: Environment) -> None:
    environment.filters["when"] = when
    environment.filters["data_class"] = lambda name: DATA_CLASS_LABELS.get(name, name)
    environment.globals["csrf_field"] = CSRF_FIELD


def render(
    request: Request,
    template: str,
    session: Session | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    response: Response = request.app.state.templates.TemplateResponse(
        request,
        template,
        {
            "user": None if session is None else session.user,
            "csrf": "" if session is None else session.csrf_token,
            "Role": Role,
            "base": base_path(request),
            **context,
        },
        status_code=status_code,
    )
    return response


def base_path(request: Request) -> str:
    """Where the dashboard is mounted ("" at the root): every link starts with it."""
    return str(request.scope.get("root_path", "")).rstrip("/")
