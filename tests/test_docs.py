"""Every public command and setting is documented: a new one fails here until the docs name it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.main import get_command

from harvestguard.cli import app as harvestguard_app
from photoshare.cli import app as photoshare_app
from photoshare.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = "\n".join(
    path.read_text(encoding="utf-8")
    for path in [ROOT / "README.md", *sorted(ROOT.glob("docs/*.md"))]
)


def _commands(app: typer.Typer, program: str) -> Iterator[str]:
    """Full command lines (``harvestguard policy check``) of every command of a Typer app."""
    import click

    def walk(command: click.Command, prefix: str) -> Iterator[str]:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk(sub, f"{prefix} {name}")
        else:
            yield prefix

    yield from walk(get_command(app), program)


@pytest.mark.parametrize(
    "command",
    [*_commands(harvestguard_app, "harvestguard"), *_commands(photoshare_app, "photoshare")],
)
def test_every_command_is_documented(command: str) -> None:
    assert command in DOCS, f"`{command}` is not documented in README.md or docs/"


@pytest.mark.parametrize("setting", [field.name for field in dataclasses.fields(Settings)])
def test_every_photoshare_setting_is_documented(setting: str) -> None:
    assert f"`{setting}`" in (ROOT / "docs" / "photoshare.md").read_text(encoding="utf-8")
