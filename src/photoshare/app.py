"""The photoshare ASGI application, wrapped in the harvestguard middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from harvestguard.attribute import watermarker_for
from harvestguard.clock import SYSTEM_CLOCK
from harvestguard.config import GuardConfig
from harvestguard.enforce.setup import build_enforcement
from harvestguard.middleware import GuardMiddleware
from harvestguard.policy import default_policy, load_policy
from harvestguard.sinks import BufferedSink, open_sink
from photoshare import db, migrate
from photoshare.db import make_engine, make_sessionmaker
from photoshare.deps import SESSION_COOKIE
from photoshare.guard_actions import PhotoshareActions
from photoshare.guard_context import context_provider
from photoshare.routes import api, auth, media, oauth, pages, social
from photoshare.settings import Settings

_HERE = Path(__file__).parent
templates = Jinja2Templates(directory=_HERE / "templates")

# Every route module of the platform; tests walk these to reach every route.
ROUTE_MODULES = (auth, pages, social, media, oauth, api)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.url)
    migrate.upgrade(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()
        if app.state.guard is not None:
            app.state.guard.close()  # counts and writes what is still queued

    app = FastAPI(
        title="photoshare",
        version="1.0",
        description="A small photo-sharing network: web pages and a partner API.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.policy = (
        load_policy(settings.policy_path) if settings.policy_path else default_policy()
    )
    app.state.templates = templates
    app.state.guard = app.state.guard_sink = None
    app.state.guard_decisions = app.state.guard_limits = None
    if settings.guard:
        guard_config = GuardConfig.from_env(settings.data_dir / "guard")
        sink = BufferedSink(open_sink(guard_config.sink_url), guard_config.spill_dir)
        guard = build_enforcement(
            guard_config,
            sink,
            platform=PhotoshareActions(app.state.sessionmaker),
            session_cookie=SESSION_COOKIE,
            context=context_provider(app.state.sessionmaker),
        )
        app.state.guard = guard
        db.use_clock(None if guard.clock is SYSTEM_CLOCK else guard.clock.now)
        app.state.watermarker = watermarker_for(guard_config.data_dir)
        app.state.guard_sink = guard.sink  # the limits' tee in front of the buffered sink
        app.state.guard_decisions = guard.table
        app.state.guard_limits = guard.limits
        app.add_middleware(
            GuardMiddleware,
            config=guard_config,
            sink=guard.intake,
            decisions=guard.table,
            challenge=guard.challenge,
            clock=guard.clock,
        )
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    for module in ROUTE_MODULES:
        app.include_router(module.router)
    return app
