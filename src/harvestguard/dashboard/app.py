"""The dashboard as an ASGI app: ``create_dashboard(config)`` for serving it alone or mounting it
beside the platform, ``serve_dashboard(config, host, port)`` to run it under uvicorn.

It reads what the guard configured by ``config`` writes: the event store (``sink_url``), the
case store (``cases_store_url``), the decisions (Redis at ``redis_url``, or the app's own table
when given) and the accounts of its analysts (``dashboard.db`` in ``data_dir``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harvestguard.config import GuardConfig
from harvestguard.dashboard import pages
from harvestguard.dashboard.accounts import AccountStore, default_accounts_url
from harvestguard.dashboard.actions import CaseActions
from harvestguard.dashboard.queries import EventQueries
from harvestguard.dashboard.rendering import register_filters, render
from harvestguard.dashboard.security import Refused
from harvestguard.enforce.cases import CaseStore
from harvestguard.enforce.ladder import Ladder
from harvestguard.enforce.notices import PartnerInfo, Sender
from harvestguard.enforce.platform import PlatformActions
from harvestguard.enforce.table import DecisionTable
from harvestguard.policy import Policy, default_policy

PartnerDirectory = Callable[[str], PartnerInfo | None]

# Plotly's own build, shipped inside the plotly package: no CDN, no build step
PLOTLY_JS = Path(str(files("plotly") / "package_data" / "plotly.min.js"))
STATIC_DIR = Path(__file__).parent / "static"

_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


@dataclass
class DashboardOptions:
    """What the guard's settings do not say: who the notices come from, the partners' registered
    names, the policy shown, and where the dashboard's accounts live."""

    sender: Sender = field(default_factory=lambda: Sender("photoshare"))
    partners: PartnerDirectory | None = None
    policy: Policy | None = None
    accounts_url: str | None = None  # None: SQLite dashboard.db in the guard's data dir
    refresh_seconds: int = 10  # how often the overview redraws itself


class _SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += _SECURITY_HEADERS
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_dashboard(
    config: GuardConfig,
    options: DashboardOptions | None = None,
    *,
    decisions: DecisionTable | None = None,
    platform: PlatformActions | None = None,
) -> Starlette:
    """The dashboard of the guard configured by ``config``. ``decisions``: the app's own
    decision table, when the dashboard runs in the app's process; otherwise the shared table in
    Redis is opened when ``config.redis_url`` is set. ``platform``: what a ban does on the
    platform (disable accounts, revoke partner apps)."""
    options = options or DashboardOptions()
    environment = Environment(
        loader=PackageLoader("harvestguard.dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates = Jinja2Templates(env=environment)
    register_filters(environment)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        own_table = None
        table = decisions
        if table is None and config.redis_url:
            table = own_table = DecisionTable.from_url(config.redis_url)
        cases = CaseStore(config.cases_store_url)
        accounts = AccountStore(options.accounts_url or default_accounts_url(config.data_dir))
        ladder = None if table is None else Ladder(table, platform, shadow=config.shadow)
        state = app.state
        state.config = config
        state.options = options
        state.templates = templates
        state.cases = cases
        state.accounts = accounts
        state.table = table
        state.ladder = ladder
        state.events = EventQueries(config.sink_url)
        state.actions = CaseActions(cases, ladder, config.data_dir / "reports")
        state.policy = options.policy or default_policy()
        try:
            yield
        finally:
            cases.close()
            accounts.close()
            if own_table is not None:
                own_table.close()

    async def refused(request: Request, error: Exception) -> Response:
        assert isinstance(error, Refused)
        return render(
            request,
            "error.html",
            None,
            status_code=error.status,
            status=error.status,
            reason=error.reason,
        )

    async def plotly_js(request: Request) -> Response:
        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    routes = [
        *pages.routes(),
        Route("/static/plotly.min.js", plotly_js),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={Refused: refused})
    app.add_middleware(_SecurityHeaders)
    return app


def serve_dashboard(
    config: GuardConfig,
    host: str = "127.0.0.1",
    port: int = 8100,
    options: DashboardOptions | None = None,
    *,
    decisions: DecisionTable | None = None,
    platform: PlatformActions | None = None,
) -> None:
    """Serves the dashboard under uvicorn until interrupted."""
    import uvicorn

    app = create_dashboard(config, options, decisions=decisions, platform=platform)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
