"""``harvestguard detect``: run the detectors on an event store and print entities with evidence.

Mounted by ``harvestguard.cli`` as ``app.command("detect")(detect_command)``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.table import Table

from harvestguard.detect.context import CONTEXT_SCHEMAS
from harvestguard.detect.detection import DetectionEngine
from harvestguard.detect.engines import ENGINES
from harvestguard.detect.findings import DetectionReport, Entity
from harvestguard.detect.spec import DetectorError
from harvestguard.sinks import parse_sink_url, read_store

console = Console()
errors = Console(stderr=True)


# the options `detect` and `scan` share
DetectorDirs = Annotated[
    list[Path] | None,
    typer.Option("--detectors", help="A folder of your own detector files (repeatable)."),
]
ParameterOverrides = Annotated[
    list[str] | None,
    typer.Option("--param", help="Override a parameter: DETECTOR.NAME=VALUE (repeatable)."),
]


def read_context(folder: Path) -> dict[str, pa.Table]:
    """The context tables in a folder: ``NAME.parquet`` or ``NAME.csv`` for each known NAME."""
    if not folder.is_dir():
        raise ValueError(f"context folder {folder} does not exist")
    tables: dict[str, pa.Table] = {}
    for name, schema in CONTEXT_SCHEMAS.items():
        parquet, csv = folder / f"{name}.parquet", folder / f"{name}.csv"
        if parquet.exists():
            tables[name] = pq.read_table(parquet)
        elif csv.exists():
            if any(pa.types.is_list(field.type) for field in schema):
                raise ValueError(f"{csv}: {name} has list columns; give it as Parquet")
            options = pacsv.ConvertOptions(column_types={f.name: f.type for f in schema})
            tables[name] = pacsv.read_csv(csv, convert_options=options)
    return tables


def _parameters(values: list[str]) -> dict[str, dict[str, object]]:
    parameters: dict[str, dict[str, object]] = {}
    for item in values:
        name, equals, value = item.partition("=")
        detector, dot, parameter = name.partition(".")
        if not equals or not dot or not detector or not parameter:
            raise typer.BadParameter(f"--param takes DETECTOR.NAME=VALUE, got {item!r}")
        parameters.setdefault(detector, {})[parameter] = value
    return parameters


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(f"not an ISO 8601 time: {text!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def detect_command(
    store: Annotated[
        str, typer.Argument(help="An event store: parquet:DIR, duckdb:FILE or jsonl:FILE.")
    ],
    context: Annotated[
        Path | None,
        typer.Option(help="A folder of context tables (NAME.parquet or NAME.csv)."),
    ] = None,
    detectors: DetectorDirs = None,
    param: ParameterOverrides = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table (for people) or json (for programs).")
    ] = "table",
    engine: Annotated[str, typer.Option(help=f"One of: {', '.join(ENGINES)}.")] = "duckdb",
    since: Annotated[str | None, typer.Option(help="Only events at or after (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Only events before (ISO 8601).")] = None,
) -> None:
    """Run the detectors on an event store; print flagged and allow-listed entities with their
    evidence. Exit status 1 when something was flagged, 2 on bad input."""
    if output_format not in ("table", "json"):
        raise typer.BadParameter("--format is table or json")
    try:
        detection = DetectionEngine(
            detector_dirs=detectors or (), parameters=_parameters(param or []), engine=engine
        )
        tables = read_context(context) if context is not None else None
        kind, path = parse_sink_url(store)
        events = path if kind == "parquet" and path.is_dir() else read_store(store)
        report = detection.run(events, tables, start=_moment(since), end=_moment(until))
    except DetectorError as error:
        errors.print(f"[red]detector refused[/red] {error}", highlight=False)
        raise typer.Exit(2) from error
    except (ValueError, OSError) as error:
        errors.print(f"[red]cannot run detection:[/red] {error}", highlight=False)
        raise typer.Exit(2) from error
    if output_format == "json":
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        _print(report)
    if report.flagged:
        raise typer.Exit(1)


def _print(report: DetectionReport) -> None:
    for note in report.notes:
        errors.print(f"[dim]note: {note}[/dim]", highlight=False)
    if not report.flagged:
        console.print("no entity flagged", highlight=False)
    for entity in report.flagged:
        _print_entity(entity, f"[bold red]{entity.id}[/bold red] flagged")
    for entity in report.allowlisted:
        _print_entity(entity, f"[bold green]{entity.id}[/bold green] allow-listed")


def _print_entity(entity: Entity, title: str) -> None:
    exposure = entity.exposure
    detected = "-" if entity.detected_at is None else f"{entity.detected_at:%Y-%m-%d %H:%M} UTC"
    console.print(
        f"{title}: risk {entity.risk:.2f}, detected {detected}"
        + (f", allow-listed as {entity.allowlisted}" if entity.allowlisted else ""),
        highlight=False,
    )
    kinds: dict[str, int] = {}
    for kind, _ in entity.keys:
        kinds[kind] = kinds.get(kind, 0) + 1
    console.print(
        "  keys: "
        + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        + f"; {exposure.requests:,} requests; {exposure.owners:,} people, "
        + f"{exposure.records:,} personal records ("
        + ", ".join(f"{c} {n:,}" for c, n in sorted(exposure.records_by_class.items()))
        + ")",
        highlight=False,
    )
    table = Table(show_header=True, header_style="bold")
    for column in ("detector", "key", "first fired", "score", "clause", "evidence"):
        table.add_column(column)
    for finding in entity.findings[:20]:
        table.add_row(
            finding.detector,
            f"{finding.key[0]}:{finding.key[1][:16]}",
            f"{finding.first_fired_at:%m-%d %H:%M}",
            f"{finding.score:.2f}",
            finding.tos_clause,
            finding.explanation,
        )
    if len(entity.findings) > 20:
        table.add_row("...", f"{len(entity.findings) - 20} more findings", "", "", "", "")
    console.print(table)
    if exposure.sample_request_ids:
        console.print(
            "  sample requests: " + " ".join(exposure.sample_request_ids), highlight=False
        )
