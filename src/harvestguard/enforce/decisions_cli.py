"""``harvestguard decisions ...``: what the shared decision store holds, and an analyst's hand on
it (allow-list, decide, lift). Works on the Redis every app instance follows; an in-process table
lives inside its app and is reached through the app. Mounted by ``harvestguard.cli``."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from harvestguard.config import GuardConfig, GuardConfigError
from harvestguard.enforce.levels import Level
from harvestguard.enforce.records import ACTIONABLE_KINDS, DecisionRecord
from harvestguard.enforce.redis_sync import RedisDecisionSync
from harvestguard.enforce.table import DecisionTable
from harvestguard.pseudonym import Pseudonymiser
from harvestguard.simulate.groundtruth import ActorKey

app = typer.Typer(
    help="Decisions: list, allow-list, decide and lift, in the shared decision store.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)

RedisUrl = Annotated[
    str,
    typer.Option(
        "--redis",
        envvar="HARVESTGUARD_REDIS_URL",
        help="The shared decision store: redis://host:port/db.",
    ),
]
Key = Annotated[
    str,
    typer.Argument(
        help="KIND:VALUE, kind one of account, client, session, ip, net, fingerprint; ip and net"
        " take an address (pseudonymised with the guard's key) or a pseudonym."
    ),
]
By = Annotated[str, typer.Option("--by", help="Who decides (recorded on the decision).")]
Reason = Annotated[str, typer.Option("--reason", help="Why (recorded on the decision).")]
Hours = Annotated[
    float | None, typer.Option("--hours", help="How long it lasts; until lifted when not given.")
]


@app.command("list")
def list_decisions(redis_url: RedisUrl) -> None:
    """Lists every active decision, strongest first."""
    table = _open(redis_url)
    try:
        records = table.active()
    finally:
        table.close()
    view = Table("key", "level", "until", "by", "reason", "entity", "case")
    for record in records:
        level = record.level.name.lower() + (" (shadow)" if record.shadow else "")
        until = "lifted" if record.expires_at is None else record.expires_at.isoformat()
        view.add_row(
            ":".join(record.key),
            level,
            until,
            record.by,
            record.reason,
            record.entity_id or "",
            record.case_id or "",
        )
    console.print(view)
    console.print(f"{len(records)} active decision{'s' if len(records) != 1 else ''}")


@app.command("allow")
def allow(key: Key, by: By, reason: Reason, redis_url: RedisUrl, hours: Hours = None) -> None:
    """Allow-lists a key (a verified partner, a crawler): it wins over every other decision."""
    actor_key = _key(key)
    table = _open(redis_url)
    try:
        expires = None if hours is None else table.now() + timedelta(hours=hours)
        table.allow(actor_key, by, reason, expires)
        _written(table)
    finally:
        table.close()
    console.print(f"allow-listed {key}")


@app.command("put")
def put(
    key: Key,
    level: Annotated[str, typer.Option("--level", help="throttle, challenge or block.")],
    by: By,
    reason: Reason,
    redis_url: RedisUrl,
    hours: Hours = None,
) -> None:
    """Writes a decision about a key. Bans go through the ladder, which also acts on the platform."""
    try:
        parsed = Level.parse(level)
    except ValueError as error:
        _fail(str(error))
    if parsed not in (Level.THROTTLE, Level.CHALLENGE, Level.BLOCK):
        _fail("--level: throttle, challenge or block (bans are the ladder's, with the platform)")
    actor_key = _key(key)
    table = _open(redis_url)
    try:
        now = table.now()
        expires = None if hours is None else now + timedelta(hours=hours)
        table.put(DecisionRecord(actor_key, parsed, reason, by, now, expires))
        _written(table)
    finally:
        table.close()
    console.print(f"{parsed.name.lower()} {key}")


@app.command("lift")
def lift(key: Key, by: By, reason: Reason, redis_url: RedisUrl) -> None:
    """Removes every decision about a key, on every instance."""
    actor_key = _key(key)
    table = _open(redis_url)
    try:
        lifted = table.lift(actor_key, by, reason)
        _written(table)
    finally:
        table.close()
    console.print(f"lifted {len(lifted)} decision{'s' if len(lifted) != 1 else ''} on {key}")


def _open(url: str) -> DecisionTable:
    try:
        table = DecisionTable.from_url(url)
    except ValueError as error:
        _fail(str(error))
    if not _backend(table).connected:
        table.close()
        _fail(f"cannot reach the decision store {url}")
    return table


def _written(table: DecisionTable) -> None:
    if not _backend(table).flushed:
        _fail("the decision store stopped answering; nothing was written")


def _backend(table: DecisionTable) -> RedisDecisionSync:
    backend = table.backend
    assert isinstance(backend, RedisDecisionSync)
    return backend


def _key(text: str) -> ActorKey:
    kind, sep, value = text.partition(":")
    if not sep or kind not in ACTIONABLE_KINDS or not value:
        _fail(f"a key is KIND:VALUE with KIND one of {', '.join(ACTIONABLE_KINDS)}, not {text!r}")
    if kind in ("ip", "net") and _is_address(value):
        try:
            pseudonymiser = Pseudonymiser.from_config(GuardConfig.from_env())
        except GuardConfigError as error:
            _fail(f"cannot read the pseudonym key: {error}")
        value = pseudonymiser.ip(value) if kind == "ip" else pseudonymiser.net(value)
    return (kind, value)


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _fail(message: str) -> NoReturn:
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(2)
