"""How ``harvestguard scan`` shows its results: the ranked table, JSON, CSV, one address's
story, and the malformed-line summary."""

from __future__ import annotations

import csv
import io

import typer
from rich.console import Console
from rich.table import Table

from harvestguard.scan.scanner import ScanResult
from harvestguard.scan.story import activity, story
from harvestguard.scan.verdicts import FLAGGED, AddressVerdict

console = Console()
errors = Console(stderr=True)


def print_malformed(result: ScanResult) -> None:
    stats = result.stats
    if not stats.malformed:
        return
    errors.print(
        f"{stats.malformed:,} of {stats.lines:,} lines malformed ({stats.malformed_share:.2%}); "
        "first ones:",
        highlight=False,
    )
    for source, line, text in stats.samples:
        where = f"{source}:{line}" if line is not None else source
        errors.print(f"  {where}: {text[:160]}", highlight=False, markup=False)


def print_table(result: ScanResult, verdicts: list[AddressVerdict], top: int) -> None:
    stats = result.stats
    flagged = [v for v in verdicts if v.status == FLAGGED]
    console.print(
        f"{stats.parsed:,} requests from {len(result.addresses):,} addresses in "
        f"{len(result.sources)} file(s); {len(flagged)} addresses flagged",
        highlight=False,
    )
    if not verdicts:
        console.print("no address flagged", highlight=False)
        return
    seen = activity(result, [v.pseudonym for v in verdicts[:top]])
    table = Table(show_header=True, header_style="bold", show_lines=True)
    for column in ("#", "address", "verdict", "risk", "requests", "seen", "reasons"):
        table.add_column(column, justify="right" if column in ("#", "risk", "requests") else "left")
    styles = {"flagged": "bold red", "linked": "yellow", "verified crawler": "green"}
    for rank, verdict in enumerate(verdicts[:top], start=1):
        act = seen.get(verdict.pseudonym)
        span = "-" if act is None else f"{act.first_seen:%m-%d %H:%M}..{act.last_seen:%m-%d %H:%M}"
        # the entity groups addresses the engine linked (one /24, one sweep): one actor
        status = f"{verdict.label or verdict.status} ({verdict.entity})"
        reasons = (
            "\n".join(verdict.reasons()) or f"same entity as flagged addresses ({verdict.entity})"
        )
        table.add_row(
            str(rank),
            verdict.address,
            f"[{styles[verdict.status]}]{status}[/]",
            f"{verdict.risk:.2f}",
            "-" if act is None else f"{act.requests:,}",
            span,
            reasons,
        )
    if len(verdicts) > top:
        table.add_row("...", f"{len(verdicts) - top} more", "", "", "", "", "")
    console.print(table)


def as_json(result: ScanResult, verdicts: list[AddressVerdict]) -> dict[str, object]:
    stats = result.stats
    return {
        "sources": [{"path": s, "format": result.formats[s]} for s in result.sources],
        "lines": stats.lines,
        "requests": stats.parsed,
        "malformed": {
            "lines": stats.malformed,
            "share": round(stats.malformed_share, 6),
            "samples": [{"source": s, "line": n, "text": t} for s, n, t in stats.samples],
        },
        "addresses": [v.to_dict() for v in verdicts],
        "entities": [
            {
                **e.to_dict(),
                "addresses": sorted(result.address_of(k) for kind, k in e.keys if kind == "ip"),
            }
            for e in result.report.entities
            if e.flagged or e.allowlisted is not None
        ],
        "notes": result.report.notes,
    }


def as_csv(verdicts: list[AddressVerdict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "address",
            "verdict",
            "risk",
            "detected_at",
            "entity",
            "entity_risk",
            "label",
            "detectors",
            "reasons",
        ]
    )
    for v in verdicts:
        writer.writerow(
            [
                v.address,
                v.status,
                f"{v.risk:.4f}",
                "" if v.detected_at is None else v.detected_at.isoformat(),
                v.entity,
                f"{v.entity_risk:.4f}",
                v.label or "",
                " ".join(v.detectors),
                " | ".join(v.reasons()),
            ]
        )
    return buffer.getvalue()


def print_story(result: ScanResult, verdicts: list[AddressVerdict], address: str) -> None:
    told = story(result, address)
    if told.activity is None:
        errors.print(f"{address} does not appear in the scanned logs", highlight=False)
        raise typer.Exit(2)
    act = told.activity
    verdict = next((v for v in verdicts if v.address == told.address), None)
    title = "not flagged" if verdict is None else (verdict.label or verdict.status)
    console.print(
        f"[bold]{told.address}[/bold]: {title}"
        + (
            ""
            if verdict is None
            else f", risk {verdict.risk:.2f} (entity {verdict.entity}, "
            f"risk {verdict.entity_risk:.2f})"
        ),
        highlight=False,
    )
    console.print(
        f"  {act.requests:,} requests ({act.pages:,} pages, {act.requests - act.pages:,} assets) "
        f"from {act.first_seen:%Y-%m-%d %H:%M:%S} to {act.last_seen:%Y-%m-%d %H:%M:%S} UTC",
        highlight=False,
    )
    console.print(
        "  statuses: " + ", ".join(f"{s} x{n:,}" for s, n in told.statuses), highlight=False
    )
    if verdict is not None:
        for finding in verdict.findings:
            console.print(
                f"  [bold]{finding.detector}[/bold] ({finding.severity}, {finding.tos_clause}): "
                f"{finding.explanation} [dim]{finding.window_start:%m-%d %H:%M}.."
                f"{finding.window_end:%m-%d %H:%M}, score {finding.score:.2f}[/dim]",
                highlight=False,
            )
    table = Table(title="most requested", title_justify="left")
    table.add_column("URL")
    table.add_column("requests", justify="right")
    for url, count in told.urls:
        table.add_row(url[:100], f"{count:,}")
    console.print(table)
    console.print(
        "  per hour: " + ", ".join(f"{h:%m-%d %H}h {n}" for h, n in told.hours[:48]),
        highlight=False,
    )
    console.print("  first requests:", highlight=False)
    for sample in told.samples:
        console.print(
            f"    {sample['ts']:%Y-%m-%d %H:%M:%S} {sample['method']} {str(sample['path'])[:90]}"
            f" {sample['status']} [dim]{sample['request_id']}[/dim]",
            highlight=False,
            markup=True,
        )
