"""``harvestguard demo``: the whole story on a fresh machine (``make demo`` runs it).

photoshare registers this command with harvestguard's command line through the
``harvestguard.commands`` entry point: harvestguard lists what is installed, never imports
photoshare by name.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from starlette.applications import Starlette
from starlette.routing import Mount

from harvestguard.config import GuardConfig
from harvestguard.dashboard import AccountStore, DashboardOptions, Role, create_dashboard
from harvestguard.dashboard.accounts import default_accounts_url
from harvestguard.enforce.notices import PartnerInfo, Sender
from harvestguard.enforce.setup import STATUS_FILE
from photoshare.app import create_app
from photoshare.cli import serving_settings, uvicorn_options
from photoshare.demo.run import GUARD_DIR, LEGAL_CONTACT, DemoOptions, run_demo
from photoshare.demo.scenario import SECONDS, SPEED, USERS
from photoshare.demo.view import LiveView, print_result
from photoshare.guard_actions import PhotoshareActions
from photoshare.partner_directory import partner_info

console = Console()
DASHBOARD_PATH = "/guard"
DEMO_ANALYST = "analyst"


def demo_command(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Where the demo's world lives (emptied first).")
    ] = Path("var/demo"),
    users: Annotated[int, typer.Option(min=20, help="Accounts to seed.")] = USERS,
    seconds: Annotated[float, typer.Option(min=5, help="Real seconds of traffic.")] = SECONDS,
    speed: Annotated[float, typer.Option(min=1, help="Platform seconds per real second.")] = SPEED,
    seed: Annotated[int, typer.Option(help="The simulation's seed.")] = 1,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Keep photoshare up afterwards.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port for --serve.")] = 8000,
) -> None:
    """Seeds photoshare, serves it behind the guard, drives people, partners and three
    harvesters at it, and shows how each was detected and stopped."""
    options = DemoOptions(data_dir=data_dir, users=users, speed=speed, seconds=seconds, seed=seed)
    view = LiveView(console, data_dir / GUARD_DIR / STATUS_FILE, seconds)
    stage_open = False

    def stage(message: str) -> None:
        nonlocal stage_open
        if message.startswith("Driving"):
            console.print(f"[bold]{message}[/bold]")
            view.__enter__()
            stage_open = True
            return
        if stage_open:
            view.__exit__()
            stage_open = False
        console.print(f"[bold]{message}[/bold]")

    try:
        result = run_demo(options, stage=stage, progress=view.update)
    finally:
        if stage_open:
            view.__exit__()
    print_result(console, result)
    if not result.outcome.every_adversary_contained:
        console.print("[red]An adversary kept obtaining personal data.[/red]")
        raise typer.Exit(1)
    if serve:
        app, analyst_password = demo_site(data_dir)
        console.print(
            f"Serving the demo world on http://127.0.0.1:{port}/ "
            f"(log in as any seeded account, password {result.seeded.password}) and the "
            f"analysts' dashboard on http://127.0.0.1:{port}{DASHBOARD_PATH}/ "
            f"(user {DEMO_ANALYST}, password {analyst_password}); Ctrl+C to stop"
        )
        uvicorn.run(app, **uvicorn_options("127.0.0.1", port))


def demo_site(data_dir: Path) -> tuple[Starlette, str]:
    """photoshare on the demo's world, with the analysts' dashboard mounted beside it under
    DASHBOARD_PATH, sharing the app's decision table (a ban there holds on the site at once)
    and an admin account made for this run. Returns the app and that account's password."""
    site = create_app(serving_settings(data_dir, "127.0.0.1"))
    guard_config = GuardConfig.from_env(data_dir / GUARD_DIR)
    password = secrets.token_urlsafe(12)
    accounts = AccountStore(default_accounts_url(guard_config.data_dir))
    try:
        accounts.add(DEMO_ANALYST, password, Role.ADMIN, by="demo")
    finally:
        accounts.close()

    def partners(client_id: str) -> PartnerInfo | None:
        with site.state.sessionmaker() as db:
            return partner_info(db, client_id)

    dashboard = create_dashboard(
        guard_config,
        DashboardOptions(
            sender=Sender("photoshare", contact_email=LEGAL_CONTACT), partners=partners
        ),
        decisions=site.state.guard_decisions,
        platform=PhotoshareActions(site.state.sessionmaker),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # a mounted app's lifespan is not run by Starlette: the parent enters both
        async with site.router.lifespan_context(site), dashboard.router.lifespan_context(dashboard):
            yield

    parent = Starlette(
        routes=[Mount(DASHBOARD_PATH, dashboard), Mount("/", site)], lifespan=lifespan
    )
    return parent, password
