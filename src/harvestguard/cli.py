"""The ``harvestguard`` command line."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from harvestguard.attribute.cli import attribute_command, keys_command
from harvestguard.dashboard.cli import serve_command, users_app
from harvestguard.detect.cli import detect_command
from harvestguard.enforce.cli import app as case_app
from harvestguard.enforce.decisions_cli import app as decisions_app
from harvestguard.events import AudienceKind
from harvestguard.policy import Policy, PolicyError, default_policy, load_policy
from harvestguard.policy.model import Rule
from harvestguard.retention import enforce_retention
from harvestguard.scan.cli import scan_command
from harvestguard.simulate.cli import app as simulate_app
from harvestguard.simulate.cli import eval_command
from harvestguard.sinks import read_store

PLUGIN_GROUP = "harvestguard.commands"

app = typer.Typer(
    help="harvestguard: protects the users of a social platform from data harvesting.",
    no_args_is_help=True,
)
policy_app = typer.Typer(help="The privacy policy: check a file, show what each audience sees.")
events_app = typer.Typer(help="The recorded access events.")
app.add_typer(policy_app, name="policy")
app.add_typer(events_app, name="events")

console = Console()
errors = Console(stderr=True)

PolicyFile = Annotated[
    Path | None,
    typer.Argument(help="A policy YAML file; the shipped default policy when omitted."),
]
StoreUrl = Annotated[
    str, typer.Argument(help="An event store: parquet:DIR, duckdb:FILE or jsonl:FILE.")
]


def _load(path: Path | None) -> Policy:
    if path is None:
        return default_policy()
    try:
        return load_policy(path)
    except PolicyError as error:
        errors.print(f"[red]policy refused[/red] {error}", highlight=False)
        raise typer.Exit(2) from error
    except OSError as error:
        errors.print(f"[red]cannot read[/red] {path}: {error.strerror}", highlight=False)
        raise typer.Exit(2) from error


@policy_app.command("check")
def policy_check(path: Annotated[Path, typer.Argument(help="The policy YAML file.")]) -> None:
    """Validates a policy file; exit status 2 and file:line: reason when it is refused."""
    policy = _load(path)
    console.print(f"{path}: valid, {len(policy.resources)} resources", highlight=False)


def _describe(rule: Rule) -> str:
    text = rule.action if rule.geohash_precision is None else f"coarsen {rule.geohash_precision}"
    if rule.ttl is not None:
        text += f" for {rule.ttl}"
    return text


def _fields(rules: dict[str, Rule] | None) -> str:
    if rules is None:
        return "[dim]nothing[/dim]"
    shown = [
        name if rule.action == "show" and rule.ttl is None else f"{name} ({_describe(rule)})"
        for name, rule in rules.items()
        if rule.action != "hide"
    ]
    return ", ".join(shown) or "[dim]no fields[/dim]"


@policy_app.command("show")
def policy_show(path: PolicyFile = None) -> None:
    """Shows, per resource and audience, the fields that audience may see."""
    policy = _load(path)
    for name, resource in policy.resources.items():
        title = name if resource.ttl is None else f"{name} (never after {resource.ttl})"
        table = Table(title=title, show_lines=True, title_justify="left")
        table.add_column("audience", style="bold")
        table.add_column("sees")
        for kind in AudienceKind:
            if kind is AudienceKind.PARTNER:
                continue
            table.add_row(kind.value, _fields(resource.audiences.get(kind)))
        if resource.private_field is not None:
            table.add_row("non-followers of a private owner", _fields(resource.private_rules))
        for scope, fields in sorted(resource.partner_scopes.items()):
            table.add_row(f"partner with {scope}", ", ".join(sorted(fields)))
        if not resource.partner_scopes:
            table.add_row("partner", "[dim]nothing[/dim]")
        console.print(table)


@events_app.command("summary")
def events_summary(
    store: StoreUrl,
    top: Annotated[int, typer.Option(help="How many actors to list.")] = 10,
) -> None:
    """Counts the recorded events and lists the actors that obtained the most people's data."""
    try:
        events = read_store(store)
    except (ValueError, OSError, duckdb.Error) as error:
        errors.print(f"[red]cannot read[/red] {store}: {error}", highlight=False)
        raise typer.Exit(2) from error
    with duckdb.connect() as db:
        db.register("events", events)
        total = db.execute("SELECT count(*) FROM events").fetchone()
        console.print(f"{total[0] if total else 0:,} events in {store}", highlight=False)
        for column in ("channel", "resource", "audience", "decision"):
            table = Table(title=f"by {column}", title_justify="left")
            table.add_column(column)
            table.add_column("events", justify="right")
            rows = db.execute(
                f"SELECT coalesce({column}, '-') AS k, count(*) FROM events GROUP BY k ORDER BY 2 DESC"
            ).fetchall()
            for key, count in rows:
                table.add_row(str(key), f"{count:,}")
            console.print(table)
        actors = db.execute(
            """
            SELECT coalesce(actor_client, actor_account, ip) AS actor,
                   count(*) AS requests,
                   count(DISTINCT owner) AS people
            FROM (SELECT *, unnest(CASE WHEN len(owner_ids) = 0 THEN [NULL] ELSE owner_ids END)
                            AS owner FROM events)
            GROUP BY actor ORDER BY people DESC, requests DESC LIMIT ?
            """,
            [top],
        ).fetchall()
    table = Table(title="actors by people whose data they obtained", title_justify="left")
    table.add_column("actor (partner app, account or pseudonymised IP)")
    table.add_column("requests", justify="right")
    table.add_column("people", justify="right")
    for actor, requests, people in actors:
        table.add_row(str(actor), f"{requests:,}", f"{people:,}")
    console.print(table)


@app.command("retention")
def retention(
    store: StoreUrl,
    days: Annotated[int, typer.Option(min=0, help="Keep this many days of events.")] = 30,
) -> None:
    """Deletes the events older than the retention period (the guard's data is personal data too)."""
    try:
        result = enforce_retention(store, days)
    except (ValueError, OSError, duckdb.Error) as error:
        errors.print(f"[red]cannot apply retention to[/red] {store}: {error}", highlight=False)
        raise typer.Exit(2) from error
    console.print(
        f"deleted {result.rows_deleted:,} events older than {result.cutoff:%Y-%m-%d %H:%M} UTC"
        f" ({result.partitions_dropped} day partitions dropped)",
        highlight=False,
    )


app.add_typer(simulate_app, name="simulate")
app.command("eval")(eval_command)
app.command("detect")(detect_command)
app.add_typer(case_app, name="case")
app.add_typer(decisions_app, name="decisions")
app.command("scan")(scan_command)
app.command("attribute")(attribute_command)
app.command("attribute-keys")(keys_command)
app.command("serve")(serve_command)
app.add_typer(users_app, name="users")


def _add_plugin_commands() -> None:
    """Commands that installed packages register under the ``harvestguard.commands`` entry
    point (photoshare's ``demo``), the way pytest and Datasette find their plugins."""
    for entry in entry_points(group=PLUGIN_GROUP):
        app.command(entry.name)(entry.load())


_add_plugin_commands()
