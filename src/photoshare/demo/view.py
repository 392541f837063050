"""The demo in the terminal: a live panel while traffic runs, then the table of what happened."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harvestguard.evaluate.harness import duration_text
from harvestguard.simulate.live import LiveReport
from photoshare.demo.outcome import DemoOutcome
from photoshare.demo.run import DemoResult

LABELS = {
    "geofence_harvester": "geo-fence harvester (partner app + accounts)",
    "story_archiver": "story archiver (sock puppets)",
    "profile_enumerator": "rotating-IP enumerator",
}


class LiveView:
    """Requests (the runner's report), events, entities flagged and decisions (the server's
    enforcement status file), redrawn as the runner reports progress."""

    def __init__(self, console: Console, status_file: Path, seconds: float) -> None:
        self.status_file = status_file
        self.progress = Progress(
            TextColumn("traffic"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
            TimeElapsedColumn(),
        )
        self.task = self.progress.add_task("traffic", total=seconds)
        self.live = Live(self._render(None), console=console, refresh_per_second=4)

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def update(self, report: LiveReport) -> None:
        self.progress.update(self.task, completed=min(report.elapsed, report.max_seconds))
        self.live.update(self._render(report))

    def _render(self, report: LiveReport | None) -> Group:
        status = _read_status(self.status_file)
        table = Table.grid(padding=(0, 2))
        for _ in range(4):
            table.add_column(justify="right")
        answered = report.answered if report else 0
        refused = (
            sum(n for code, n in report.by_status.items() if code in (403, 429)) if report else 0
        )
        table.add_row("requests", f"{answered:,}", "refused (403/429)", f"{refused:,}")
        table.add_row(
            "events seen by the guard",
            f"{status.get('events', 0):,}",
            "entities flagged",
            f"{len(status.get('flagged', [])):,}",
        )
        table.add_row(
            "enforcement decisions",
            f"{status.get('decisions', 0):,}",
            "virtual time",
            f"{(report.virtual_seconds if report else 0) / 3600:.1f} h",
        )
        return Group(self.progress, table)


def _read_status(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def outcome_table(outcome: DemoOutcome) -> Table:
    table = Table(title="What each adversary got before harvestguard stopped it")
    for column in (
        "adversary",
        "detected after",
        "personal records obtained",
        "obtained after stop",
        "actions",
        "stopped",
    ):
        table.add_column(column, justify="left" if column in ("adversary", "actions") else "right")
    for adversary in outcome.adversaries:
        table.add_row(
            LABELS.get(adversary.actor_class, adversary.actor_class),
            duration_text(adversary.detection_seconds),
            f"{adversary.records_before_stop:,}",
            "-" if adversary.stopped_at is None else f"{adversary.records_after_stop:,}",
            ", ".join(adversary.actions) or "-",
            "[green]yes[/green]"
            if adversary.stopped
            else "obtained nothing"
            if adversary.obtained_nothing
            else "[red]no[/red]",
        )
    return table


def print_result(console: Console, result: DemoResult) -> None:
    outcome = result.outcome
    console.print(outcome_table(outcome))
    wrongly = len(outcome.benign_refused)
    share = wrongly / outcome.benign_actors if outcome.benign_actors else 0.0
    console.print(
        f"Benign actors (people, power users, partners, a search crawler): "
        f"{outcome.benign_actors}; wrongly acted on: {wrongly} ({share:.1%})."
    )
    report = result.live.report
    console.print(
        f"{report.answered:,} requests in {report.elapsed:.0f} s "
        f"({report.virtual_seconds / 3600:.1f} h of platform time)."
    )
    for label, path in result.artefacts.items():
        console.print(f"{label}: {path}")
