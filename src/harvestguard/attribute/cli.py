"""``harvestguard attribute``: which actor a leaked dataset came from; ``attribute-keys``."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from harvestguard.attribute.attribution import (
    Attribution,
    attribute,
    leaked_canaries,
    policy_precisions,
)
from harvestguard.attribute.candidates import canary_readers, candidates_from_events
from harvestguard.attribute.evidence import units_of
from harvestguard.attribute.keys import WatermarkKeyError, WatermarkKeys
from harvestguard.attribute.leak import LeakError, read_leak
from harvestguard.attribute.likelihood import DEFAULT_ALPHA
from harvestguard.canaries import FILE_NAME as CANARIES_FILE
from harvestguard.canaries import CanaryFileError, load_canaries
from harvestguard.policy import PolicyError, default_policy, load_policy
from harvestguard.sinks import read_store

console = Console()
errors = Console(stderr=True)
_SHOWN_LINES = 8


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def _default_data_dir() -> Path:
    return Path(os.environ.get("HARVESTGUARD_DATA_DIR") or "var/harvestguard")


DataDir = Annotated[
    Path | None,
    typer.Option(
        help="The guard's data directory: watermark keys, events, canaries.json"
        " (default: $HARVESTGUARD_DATA_DIR or var/harvestguard)."
    ),
]


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]attribute:[/red] {message}", highlight=False)
    return typer.Exit(2)


def attribute_command(
    leak: Annotated[
        Path, typer.Argument(help="The leak: a .csv, .json or .jsonl file, or a folder of images.")
    ],
    data_dir: DataDir = None,
    events: Annotated[
        str | None,
        typer.Option(help="The event store (default: parquet:<data-dir>/events)."),
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="The policy the data was served under (default: shipped).")
    ] = None,
    alpha: Annotated[
        float,
        typer.Option(min=1e-12, max=0.5, help="Chance of naming any actor wrongly, at most."),
    ] = DEFAULT_ALPHA,
    top: Annotated[int, typer.Option(min=1, help="How many actors to list.")] = 10,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = (
        OutputFormat.TABLE
    ),
) -> None:
    """Ranks the actors a leaked dataset most likely came from, with a likelihood ratio and the
    matched evidence (watermarks and canaries); names only those past the statistical test."""
    root = data_dir or _default_data_dir()
    try:
        found = read_leak(leak)
    except LeakError as error:
        raise _fail(str(error)) from error
    try:
        keys = WatermarkKeys.load(root, create=False)
        served_policy = default_policy() if policy is None else load_policy(policy)
    except (WatermarkKeyError, PolicyError, OSError) as error:
        raise _fail(str(error)) from error
    store = events or f"parquet:{root / 'events'}"
    try:
        table = read_store(store)
    except (ValueError, OSError, duckdb.Error) as error:
        raise _fail(f"cannot read the events {store}: {error}") from error
    candidates = candidates_from_events(table)
    if not candidates:
        raise _fail(f"no actors in the events {store}: nobody to attribute the leak to")
    canaries = []
    canaries_path = root / CANARIES_FILE
    if canaries_path.exists():
        try:
            canaries = leaked_canaries(found, load_canaries(canaries_path))
        except CanaryFileError as error:
            raise _fail(str(error)) from error
    units = units_of(found, policy_precisions(served_policy))
    with Progress(console=errors, transient=True, disable=output is OutputFormat.JSON) as bar:
        task = bar.add_task("testing actors", total=len(candidates))
        result = attribute(
            units,
            candidates,
            keys.all,
            records=len(found.records),
            images=len(found.images),
            canaries=canaries,
            readers=canary_readers(table, canaries),
            alpha=alpha,
            progress=lambda done: bar.advance(task, done),
        )
    if output is OutputFormat.JSON:
        console.print_json(json.dumps(_as_json(result, leak, top, len(candidates))))
        return
    _print(result, leak, top, len(candidates), found.skipped)


def _shown(result: Attribution, top: int) -> list[Any]:
    # every named actor and every reader of a leaked canary, then the best of the rest
    listed = [v for v in result.verdicts if v.named or v.canaries]
    rest = [v for v in result.verdicts if not (v.named or v.canaries)]
    return listed + rest[: max(0, top - len(listed))]


def _as_json(result: Attribution, leak: Path, top: int, candidates: int) -> dict[str, Any]:
    return {
        "leak": str(leak),
        "records": result.records,
        "images": result.images,
        "units": result.units,
        "candidates": candidates,
        "threshold": round(result.threshold, 3),
        "canaries_in_leak": result.canaries_found,
        "named": [verdict.candidate.identity for verdict in result.named],
        "ranking": [
            {
                "actor": verdict.candidate.identity,
                "named": verdict.named,
                "log_likelihood_ratio": round(verdict.log_ratio, 3),
                "share": verdict.share,
                "key_id": verdict.key_id,
                "matches": {kind: list(pair) for kind, pair in verdict.matches.items()},
                "lines": verdict.lines,
                "canaries_read": verdict.canaries,
                "linked": list(verdict.candidate.linked),
                "requests": verdict.candidate.requests,
                "people": verdict.candidate.people,
            }
            for verdict in _shown(result, top)
        ],
    }


def _print(result: Attribution, leak: Path, top: int, candidates: int, skipped: list[str]) -> None:
    units = ", ".join(f"{count} {kind}" for kind, count in result.units.items() if count)
    console.print(
        f"{leak}: {result.records:,} records, {result.images:,} images; evidence units: "
        f"{units or 'none'}; {candidates:,} candidate actors; naming threshold: "
        f"log LR >= {result.threshold:.1f}",
        highlight=False,
    )
    if skipped:
        console.print(f"[yellow]{len(skipped)} files are no images and were skipped[/yellow]")
    if result.canaries_found:
        console.print(f"canaries in the leak: {', '.join(result.canaries_found)}")
    table = Table(title="actors the leak most likely came from", title_justify="left")
    for name in ("#", "actor", "verdict", "log LR", "share", "marks matched", "canaries read",
                 "lines", "linked"):  # fmt: skip
        table.add_column(name, justify="right" if name in ("#", "log LR", "share") else "left")
    for rank, verdict in enumerate(_shown(result, top), start=1):
        matched = ", ".join(
            f"{kind} {hit}/{total}" for kind, (hit, total) in verdict.matches.items()
        )
        lines = verdict.lines
        where = ", ".join(map(str, lines[:_SHOWN_LINES])) + (" ..." if len(lines) > 8 else "")
        if verdict.named:
            label = "[bold red]source[/bold red]"
        elif verdict.canaries:
            label = "[yellow]read leaked canaries[/yellow]"
        else:
            label = "[dim]not shown to be[/dim]"
        table.add_row(
            str(rank),
            verdict.candidate.identity,
            label,
            f"{verdict.log_ratio:.1f}",
            f"{verdict.share:.0%}",
            matched or "-",
            ", ".join(verdict.canaries) or "-",
            where or "-",
            ", ".join(verdict.candidate.linked[:3]) or "-",
        )
    console.print(table)
    if not result.named:
        console.print("no actor is named: no candidate's marks match beyond chance")


def keys_command(
    data_dir: DataDir = None,
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Make a new current key; old ones are kept.")
    ] = False,
) -> None:
    """Lists the watermark keys (ids, never secrets), creating the first; --rotate adds a new one.

    A running app marks with the key it loaded: restart it after a rotation."""
    root = data_dir or _default_data_dir()
    try:
        keys = WatermarkKeys.load(root)
        if rotate:
            keys.rotate()
    except (WatermarkKeyError, OSError) as error:
        raise _fail(str(error)) from error
    table = Table(title=f"watermark keys in {keys.path}", title_justify="left")
    table.add_column("key id")
    table.add_column("created (UTC)")
    table.add_column("marks")
    for key in keys.all:
        current = key.key_id == keys.current.key_id
        table.add_row(key.key_id, key.created, "new data" if current else "attribution only")
    console.print(table)
