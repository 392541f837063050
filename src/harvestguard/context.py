"""What the guard knows about the request being served, shared by the middleware, redact() and the app.

The middleware opens a ``RequestContext`` for every HTTP request and keeps it in a context variable;
``redact()`` adds what it disclosed, and the protected app adds what only it knows (the account,
the partner app, the route template, the object). The object is mutable on purpose: FastAPI runs
sync endpoints in a worker thread with a *copy* of the context, and the copy still points at the
same ``RequestContext``.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field


@dataclass(slots=True)
class RequestContext:
    request_id: str
    actor_account: str | None = None
    actor_client: str | None = None
    session: str | None = None
    fingerprint: str | None = None
    route: str | None = None
    resource: str | None = None
    object_id: str | None = None
    audience: str | None = None
    owner_ids: set[str] = field(default_factory=set)
    data_classes: set[str] = field(default_factory=set)

    def claim(self, resource: str, object_id: str | None, audience: str | None) -> None:
        """Names the request's primary object: the first one disclosed, unless the app said."""
        if self.resource is None:
            self.resource = resource
            self.object_id = object_id
            self.audience = audience

    def record_disclosure(self, owner_id: str | None, data_classes: set[str]) -> None:
        if owner_id is not None and data_classes:
            self.owner_ids.add(owner_id)
        self.data_classes.update(data_classes)


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "harvestguard_request", default=None
)


def current() -> RequestContext | None:
    """The context of the request being served, or None outside the guard."""
    return _current.get()


def activate(ctx: RequestContext) -> contextvars.Token[RequestContext | None]:
    return _current.set(ctx)


def deactivate(token: contextvars.Token[RequestContext | None]) -> None:
    _current.reset(token)


def annotate(
    *,
    actor_account: str | None = None,
    actor_client: str | None = None,
    session: str | None = None,
    fingerprint: str | None = None,
    route: str | None = None,
    resource: str | None = None,
    object_id: str | None = None,
    audience: str | None = None,
) -> None:
    """Tell the guard what the app knows about this request; unknown values stay unset."""
    ctx = _current.get()
    if ctx is None:
        return
    for name, value in (
        ("actor_account", actor_account),
        ("actor_client", actor_client),
        ("session", session),
        ("fingerprint", fingerprint),
        ("route", route),
        ("resource", resource),
        ("object_id", object_id),
        ("audience", audience),
    ):
        if value is not None:
            setattr(ctx, name, value)
