"""``harvestguard serve`` and ``harvestguard users ...``: the dashboard and its accounts.
Mounted by ``harvestguard.cli``."""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from harvestguard.config import GuardConfig, GuardConfigError
from harvestguard.dashboard.accounts import AccountError, AccountStore, Role, default_accounts_url
from harvestguard.policy import PolicyError, load_policy

users_app = typer.Typer(
    help="The dashboard's accounts: add, list, change the role or password, remove.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="The guard's data dir (HARVESTGUARD_DATA_DIR; default var/harvestguard).",
    ),
]
AccountsUrl = Annotated[
    str | None,
    typer.Option(
        "--accounts-db",
        envvar="HARVESTGUARD_DASHBOARD_DB",
        help="Where the dashboard's accounts live: a SQLAlchemy URL; default "
        "sqlite:///DATA_DIR/dashboard.db.",
    ),
]
Username = Annotated[str, typer.Argument(help="The user name (letters, digits, . _ @ -).")]
By = Annotated[str, typer.Option("--by", help="Who makes the change (logged); default: you.")]


def _fail(message: str) -> NoReturn:
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(2)


def _config(data_dir: Path | None) -> GuardConfig:
    environ = dict(os.environ)
    if data_dir is not None:
        environ["HARVESTGUARD_DATA_DIR"] = str(data_dir)
    try:
        return GuardConfig.from_env(environ=environ)
    except GuardConfigError as error:
        _fail(str(error))


@contextlib.contextmanager
def _accounts(data_dir: Path | None, url: str | None) -> Iterator[AccountStore]:
    """The account store, closed afterwards; a refused change ends the command with its reason."""
    store = AccountStore(url or default_accounts_url(_config(data_dir).data_dir))
    try:
        yield store
    except AccountError as error:
        _fail(str(error))
    finally:
        store.close()


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        _fail("the two passwords differ")
    return first


def _by(by: str) -> str:
    return by or getpass.getuser()


PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
]


@users_app.command("add")
def add_user(
    username: Username,
    role: Annotated[str, typer.Option(help="viewer, analyst or admin.")] = "viewer",
    password_stdin: PasswordStdin = False,
    data_dir: DataDir = None,
    accounts_db: AccountsUrl = None,
    by: By = "",
) -> None:
    """Adds a dashboard account (the password is asked for, or read with --password-stdin)."""
    try:
        parsed = Role.parse(role)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--role") from None
    with _accounts(data_dir, accounts_db) as store:
        store.add(username, _password(password_stdin), parsed, by=_by(by))
    console.print(f"added {username} ({parsed.label})", highlight=False)


@users_app.command("list")
def list_users(data_dir: DataDir = None, accounts_db: AccountsUrl = None) -> None:
    """Lists the dashboard's accounts."""
    with _accounts(data_dir, accounts_db) as store:
        rows = store.users()
    table = Table("user", "role", "since (UTC)")
    for user, created in rows:
        table.add_row(user.username, user.role.label, f"{created:%Y-%m-%d %H:%M}")
    console.print(table)


@users_app.command("role")
def set_role(
    username: Username,
    role: Annotated[str, typer.Argument(help="viewer, analyst or admin.")],
    data_dir: DataDir = None,
    accounts_db: AccountsUrl = None,
    by: By = "",
) -> None:
    """Changes an account's role (its open sessions end)."""
    try:
        parsed = Role.parse(role)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="ROLE") from None
    with _accounts(data_dir, accounts_db) as store:
        store.set_role(username, parsed, by=_by(by))
    console.print(f"{username} is now {parsed.label}", highlight=False)


@users_app.command("password")
def set_password(
    username: Username,
    password_stdin: PasswordStdin = False,
    data_dir: DataDir = None,
    accounts_db: AccountsUrl = None,
    by: By = "",
) -> None:
    """Sets an account's password (its open sessions end)."""
    with _accounts(data_dir, accounts_db) as store:
        store.set_password(username, _password(password_stdin), by=_by(by))
    console.print(f"password of {username} changed", highlight=False)


@users_app.command("remove")
def remove_user(
    username: Username,
    data_dir: DataDir = None,
    accounts_db: AccountsUrl = None,
    by: By = "",
) -> None:
    """Removes an account and ends its sessions."""
    with _accounts(data_dir, accounts_db) as store:
        store.remove(username, by=_by(by))
    console.print(f"removed {username}", highlight=False)


def serve_command(
    data_dir: DataDir = None,
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="The port to listen on.")] = 8100,
    accounts_db: AccountsUrl = None,
    policy: Annotated[
        Path | None, typer.Option(help="The policy YAML in force; the shipped default if omitted.")
    ] = None,
    platform: Annotated[str, typer.Option(help="Who the notices come from.")] = "photoshare",
    refresh: Annotated[
        int, typer.Option(min=0, help="Seconds between the overview's redraws; 0: never.")
    ] = 10,
) -> None:
    """Serves the analysts' dashboard for the guard whose settings (HARVESTGUARD_*) it reads."""
    from harvestguard.dashboard.app import DashboardOptions, serve_dashboard
    from harvestguard.enforce.notices import Sender

    config = _config(data_dir)
    in_force = None
    if policy is not None:
        try:
            in_force = load_policy(policy)
        except (PolicyError, OSError) as error:
            _fail(f"policy refused: {error}")
    store = AccountStore(accounts_db or default_accounts_url(config.data_dir))
    try:
        if not store.users():
            errors.print(
                "[yellow]no dashboard account yet:[/yellow] add one with "
                "`harvestguard users add NAME --role admin`",
                highlight=False,
            )
    finally:
        store.close()
    console.print(f"dashboard on http://{host}:{port}/ for {config.data_dir}", highlight=False)
    options = DashboardOptions(
        sender=Sender(platform),
        policy=in_force,
        accounts_url=accounts_db,
        refresh_seconds=refresh,
    )
    serve_dashboard(config, host, port, options)
