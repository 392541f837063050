"""``harvestguard scan``: who is harvesting this site, from its access logs.

Mounted by ``harvestguard.cli`` as ``app.command("scan")(scan_command)``. Exit status: 0 nothing
flagged, 1 something flagged, 2 bad input, 3 the share of malformed lines passed
``--max-malformed`` (the verdicts may miss what those lines held).
"""

from __future__ import annotations

import json
import zoneinfo
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harvestguard.detect.cli import DetectorDirs, ParameterOverrides
from harvestguard.detect.spec import DetectorError
from harvestguard.ingest import (
    FORMAT_NAMES,
    STDIN,
    CrawlerListError,
    FormatError,
    RouteMap,
    RouteMapError,
    load_crawlers,
    load_route_map,
)
from harvestguard.ingest.sniff import head_lines
from harvestguard.scan import banlists, render
from harvestguard.scan.scanner import Scanner, ScanOptions, ScanResult
from harvestguard.scan.verdicts import FLAGGED, AddressVerdict, address_verdicts, ban_addresses

errors = Console(stderr=True)

OUTPUTS = ("table", "json", "csv")


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values:
        name, equals, value = item.partition("=")
        if not equals or not name or not value:
            raise typer.BadParameter(f"{option} takes NAME=VALUE, got {item!r}")
        pairs[name] = value
    return pairs


def _parameters(values: list[str]) -> dict[str, dict[str, object]]:
    parameters: dict[str, dict[str, object]] = {}
    for name, value in _pairs(values, "--param").items():
        detector, dot, parameter = name.partition(".")
        if not dot or not detector or not parameter:
            raise typer.BadParameter(f"--param takes DETECTOR.NAME=VALUE, got {name!r}")
        parameters.setdefault(detector, {})[parameter] = value
    return parameters


def _estimate_lines(sources: list[str]) -> int | None:
    """Lines in the inputs, estimated from their size and first lines (None: cannot tell)."""
    total = 0
    for source in sources:
        if source == STDIN or Path(source).suffix == ".gz":
            return None
        lines = head_lines(source)
        if not lines:
            continue
        average = sum(len(line) + 1 for line in lines) / len(lines)
        total += int(Path(source).stat().st_size / average)
    return total


def scan_command(
    logs: Annotated[
        list[str], typer.Argument(help="Access logs (plain or .gz); '-' reads standard input.")
    ],
    input_format: Annotated[
        str, typer.Option("--input-format", help=f"One of: {', '.join(FORMAT_NAMES)}.")
    ] = "auto",
    log_format: Annotated[
        str | None,
        typer.Option(help="An nginx log_format string, e.g. '$remote_addr - ... $status ...'."),
    ] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field", help="JSON logs: VARIABLE=PATH, e.g. remote_addr=$.client (repeatable)."
        ),
    ] = None,
    timezone: Annotated[
        str, typer.Option(help="Time zone of times written without an offset.")
    ] = "UTC",
    routes: Annotated[
        str | None,
        typer.Option(help="A route map: 'photoshare', 'blog' or a YAML file."),
    ] = None,
    crawlers: Annotated[
        Path | None,
        typer.Option(help="Verified crawler ranges (YAML); the shipped list when omitted."),
    ] = None,
    hide_ua: Annotated[
        bool, typer.Option("--hide-ua", help="Hide the User-Agent from the detectors.")
    ] = False,
    detectors: DetectorDirs = None,
    param: ParameterOverrides = None,
    threshold: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Risk at which an address is flagged.")
    ] = 0.5,
    output_format: Annotated[
        str, typer.Option("--format", help="table (for people), json or csv (for programs).")
    ] = "table",
    top: Annotated[int, typer.Option(min=1, help="Rows of the table.")] = 50,
    explain: Annotated[
        str | None, typer.Option(help="Tell one address's story: findings and requests.")
    ] = None,
    ban_nginx: Annotated[
        Path | None, typer.Option(help="Write an nginx 'deny' include of flagged addresses.")
    ] = None,
    ban_ipset: Annotated[
        Path | None, typer.Option(help="Write an 'ipset restore' file of flagged addresses.")
    ] = None,
    ban_fail2ban: Annotated[
        Path | None, typer.Option(help="Write a fail2ban-compatible list of flagged addresses.")
    ] = None,
    ban_linked: Annotated[
        bool,
        typer.Option(
            "--ban-linked", help="Ban lists also hold addresses only linked to a flagged entity."
        ),
    ] = False,
    max_malformed: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Exit 3 when more than this share of lines is malformed."
        ),
    ] = 0.01,
) -> None:
    """Scan access logs for harvesting: ranked addresses with score, reasons and evidence.
    Exit status 0 nothing flagged, 1 flagged, 2 bad input, 3 too many malformed lines."""
    if output_format not in OUTPUTS:
        raise typer.BadParameter(f"--format is one of {', '.join(OUTPUTS)}")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise typer.BadParameter(f"unknown time zone {timezone!r}") from error
    try:
        options = ScanOptions(
            format=input_format,
            log_format=log_format,
            fields=_pairs(field or [], "--field") or None,
            timezone=timezone,
            route_map=load_route_map(routes) if routes else RouteMap("none"),
            crawlers=load_crawlers(crawlers),
            hide_ua=hide_ua,
            detector_dirs=tuple(detectors or ()),
            parameters=_parameters(param or []),
            threshold=threshold,
        )
        scanner = Scanner(options)
        result = _run(scanner, logs)
    except DetectorError as error:
        errors.print(f"[red]detector refused[/red] {error}", highlight=False)
        raise typer.Exit(2) from error
    except (ValueError, OSError, FormatError, RouteMapError, CrawlerListError) as error:
        errors.print(f"[red]cannot scan:[/red] {error}", highlight=False)
        raise typer.Exit(2) from error
    with result:
        verdicts = address_verdicts(result, scanner)
        if explain is not None:
            render.print_story(result, verdicts, explain)
        elif output_format == "json":
            typer.echo(json.dumps(render.as_json(result, verdicts), indent=2, default=str))
        elif output_format == "csv":
            typer.echo(render.as_csv(verdicts), nl=False)
        else:
            render.print_table(result, verdicts, top)
        _write_bans(verdicts, ban_nginx, ban_ipset, ban_fail2ban, linked=ban_linked)
        render.print_malformed(result)
        if result.stats.malformed_share > max_malformed:
            errors.print(
                f"[red]{result.stats.malformed_share:.1%} of lines malformed[/red], "
                f"over --max-malformed {max_malformed:.1%}",
                highlight=False,
            )
            raise typer.Exit(3)
        if any(v.status == FLAGGED for v in verdicts):
            raise typer.Exit(1)


def _run(scanner: Scanner, logs: list[str]) -> ScanResult:
    total = _estimate_lines(logs)
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=errors, transient=True) as progress:
        task = progress.add_task("reading logs", total=total)

        def advance(source: str, rows: int) -> None:
            progress.update(task, advance=rows, description=f"reading {Path(source).name}")

        result = scanner.run(logs, advance)
        progress.update(task, description="detecting")
    return result


def _write_bans(
    verdicts: list[AddressVerdict],
    nginx: Path | None,
    ipset: Path | None,
    fail2ban: Path | None,
    *,
    linked: bool,
) -> None:
    addresses = ban_addresses(verdicts, linked=linked)
    reasons = {v.address: ", ".join(v.detectors) or "linked" for v in verdicts}
    outputs: list[tuple[Path | None, str]] = [
        (nginx, "nginx"),
        (ipset, "ipset"),
        (fail2ban, "fail2ban"),
    ]
    for path, kind in outputs:
        if path is None:
            continue
        if kind == "nginx":
            text = banlists.nginx_deny(addresses)
        elif kind == "ipset":
            text = banlists.ipset(addresses)
        else:
            text = banlists.fail2ban(addresses, reasons)
        path.write_text(text, encoding="utf-8")
        errors.print(f"{len(addresses)} addresses written to {path}", highlight=False)
