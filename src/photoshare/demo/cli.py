"""``harvestguard demo``: the whole story on a fresh machine (``make demo`` runs it).

photoshare registers this command with harvestguard's command line through the
``harvestguard.commands`` entry point: harvestguard lists what is installed, never imports
photoshare by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from harvestguard.enforce.setup import STATUS_FILE
from photoshare.app import create_app
from photoshare.cli import serving_settings, uvicorn_options
from photoshare.demo.run import GUARD_DIR, DemoOptions, run_demo
from photoshare.demo.scenario import SECONDS, SPEED, USERS
from photoshare.demo.view import LiveView, print_result

console = Console()


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
        settings = serving_settings(data_dir, "127.0.0.1")
        console.print(
            f"Serving the demo world on http://127.0.0.1:{port}/ "
            f"(log in as any seeded account, password {result.seeded.password}; Ctrl+C to stop)"
        )
        uvicorn.run(create_app(settings), **uvicorn_options("127.0.0.1", port))
