"""The ``photoshare`` command: seed a world, serve it, purge stories, register partner apps, demo."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Annotated, Any, TypedDict

import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from harvestguard.canaries import CanaryKind
from photoshare import migrate
from photoshare.app import create_app
from photoshare.canaries import canary_ids, export_canaries
from photoshare.cluster import cluster_command
from photoshare.db import make_engine, make_sessionmaker
from photoshare.jobs import purge_compliance_events, purge_expired_stories
from photoshare.manifest import write_manifest
from photoshare.models import Follow, FollowStatus, PartnerAuthorisation, Post, User
from photoshare.partners import SCOPES, register_partner
from photoshare.seed import SEED_PASSWORD, SeedError, SeedReport, seed_world
from photoshare.settings import Settings

app = typer.Typer(help="photoshare: a small photo-sharing network, protected by harvestguard.")
partner_app = typer.Typer(help="Partner apps of the API.")
app.add_typer(partner_app, name="partner")
app.command("cluster")(cluster_command)

console = Console()

DEMO_DIR = Path("var/demo")
CREDENTIALS_FILE = "demo-credentials.json"
MANIFEST_FILE = "manifest.json"


class DemoCredentials(TypedDict):
    password: str
    partners: list[dict[str, str]]


DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Where the database and photos live [default: $PHOTOSHARE_DATA_DIR]."
    ),
]
ManifestPath = Annotated[
    Path | None,
    typer.Option(
        "--manifest",
        help="Where to write the world manifest for the simulator [default: <data dir>/manifest.json].",
    ),
]
Host = Annotated[str, typer.Option(help="Address to listen on; loopback unless told otherwise.")]
Port = Annotated[int, typer.Option(help="Port to listen on.")]


def _settings(data_dir: Path | None) -> Settings:
    settings = Settings.from_env()
    if data_dir is not None:
        settings.data_dir = data_dir
    return settings


def _database(settings: Settings) -> tuple[Engine, sessionmaker[Session]]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.url)
    migrate.upgrade(engine)
    return engine, make_sessionmaker(engine)


def serving_settings(data_dir: Path | None, host: str) -> Settings:
    """Settings for ``uvicorn`` serving plain http on ``host``.

    Browsers never send a Secure cookie back over plain http, so on loopback, where the traffic
    never leaves the machine, cookies are not marked Secure: otherwise nobody could log in to a
    local server. On any other address they stay Secure (TLS is expected in front), unless
    PHOTOSHARE_INSECURE_COOKIES=1 says otherwise.
    """
    settings = _settings(data_dir)
    if _is_loopback(host):
        settings.secure_cookies = False
    return settings


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _seed(sessions: sessionmaker[Session], settings: Settings, users: int, seed: int) -> SeedReport:
    columns = (
        TextColumn("Seeding"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("accounts"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar, sessions() as db:
        task = bar.add_task("seed", total=users)
        return seed_world(
            db,
            settings.media_dir,
            users=users,
            seed=seed,
            progress=lambda done, _total: bar.update(task, completed=done),
            canary_key=settings.secret_key.encode(),
        )


def _write_manifest(sessions: sessionmaker[Session], settings: Settings, path: Path | None) -> None:
    target = path or settings.data_dir / MANIFEST_FILE
    with sessions() as db:
        write_manifest(db, target)
    console.print(f"World manifest for the simulator: {target}")


def _print_report(report: SeedReport) -> None:
    table = Table(title="Seeded world", show_header=False)
    for label, value in (
        (
            "accounts",
            f"{report.users} ({report.private_users} private, {report.business_users} business)",
        ),
        ("follows", f"{report.follows} ({report.pending_follows} pending)"),
        ("venues", report.venues),
        ("posts", f"{report.posts} ({report.posts_with_venue} at a venue)"),
        ("stories", f"{report.live_stories} live, {report.expired_stories} expired"),
        ("likes, comments", f"{report.likes}, {report.comments}"),
        ("photos", report.media),
    ):
        table.add_row(label, str(value))
    console.print(table)


def _print_partners(partners: list[dict[str, str]]) -> None:
    """Plain lines rather than a table: credentials must survive a narrow terminal intact."""
    for entry in partners:
        console.print(f"[bold]{entry['name']}[/bold]  scopes: {entry['scopes']}")
        console.print(f"  client id:     {entry['client_id']}", soft_wrap=True)
        console.print(f"  client secret: {entry['client_secret']}", soft_wrap=True)


def _partner_rows(report: SeedReport) -> list[dict[str, str]]:
    return [
        {
            "name": seeded.name,
            "client_id": seeded.client_id,
            "client_secret": seeded.client_secret,
            "scopes": " ".join(seeded.scopes),
        }
        for seeded in report.partners
    ]


@app.command()
def seed(
    users: Annotated[int, typer.Option(min=1, help="Number of accounts.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same world.")] = 1,
    data_dir: DataDir = None,
    manifest: ManifestPath = None,
) -> None:
    """Fills an empty database with a plausible world of accounts, posts, stories and partners."""
    settings = _settings(data_dir)
    engine, sessions = _database(settings)
    try:
        report = _seed(sessions, settings, users, seed)
        _write_manifest(sessions, settings, manifest)
        with sessions() as db:
            canaries = export_canaries(db, settings.data_dir)
        console.print(f"Canaries ({report.canaries}) for detection and attribution: {canaries}")
    except SeedError as error:
        console.print(f"[red]Cannot seed {settings.data_dir}:[/red] {error}")
        raise typer.Exit(1) from error
    finally:
        engine.dispose()
    _print_report(report)
    _print_partners(_partner_rows(report))
    console.print(f"Every account's password: [bold]{report.password}[/bold]")


def uvicorn_options(host: str, port: int) -> dict[str, Any]:
    # The guard reads X-Forwarded-For itself, and only from the proxies it trusts
    # (HARVESTGUARD_TRUSTED_PROXIES); uvicorn must not rewrite the client address before it.
    return {"host": host, "port": port, "proxy_headers": False}


@app.command()
def serve(host: Host = "127.0.0.1", port: Port = 8000, data_dir: DataDir = None) -> None:
    """Serves photoshare with uvicorn (plain http, loopback by default)."""
    uvicorn.run(create_app(serving_settings(data_dir, host)), **uvicorn_options(host, port))


@app.command()
def purge(data_dir: DataDir = None) -> None:
    """Deletes expired stories and their photos, and compliance events past their retention."""
    settings = _settings(data_dir)
    engine, sessions = _database(settings)
    with sessions() as db:
        count = purge_expired_stories(db, settings.media_dir)
        events = purge_compliance_events(db)
    engine.dispose()
    console.print(f"Purged {count} expired {'story' if count == 1 else 'stories'}.")
    console.print(
        f"Purged {events} compliance {'event' if events == 1 else 'events'} past retention."
    )


@partner_app.command("register")
def register(
    name: Annotated[str, typer.Option(help="The app's name, as account holders will see it.")],
    purpose: Annotated[str, typer.Option(help="What the app does with the data it reads.")],
    contact: Annotated[str, typer.Option(help="Contact email of the app's operator.")],
    scope: Annotated[
        list[str], typer.Option(help=f"A scope to grant (repeat): {', '.join(sorted(SCOPES))}.")
    ],
    data_dir: DataDir = None,
) -> None:
    """Registers a partner app and prints its client credentials (the secret only this once)."""
    unknown = sorted(set(scope) - SCOPES)
    if unknown:
        raise typer.BadParameter(f"unknown scope(s): {', '.join(unknown)}", param_hint="--scope")
    settings = _settings(data_dir)
    engine, sessions = _database(settings)
    with sessions() as db:
        registered, secret = register_partner(
            db, name=name, purpose=purpose, contact_email=contact, scopes=set(scope)
        )
        client_id = registered.client_id
    engine.dispose()
    console.print(f"Registered [bold]{name}[/bold] with scopes: {' '.join(sorted(set(scope)))}")
    console.print(f"client id:     {client_id}")
    console.print(f"client secret: {secret}")
    console.print("The secret is stored hashed and cannot be shown again.")


def _sample_accounts(db: Session) -> list[tuple[str, str, int, int]]:
    """A few accounts worth logging in as: the most followed public ones, a private and a
    business account, and the businesses that authorised a partner app."""
    followers = (
        select(func.count(Follow.id))
        .where(Follow.followee_id == User.id, Follow.status == FollowStatus.APPROVED)
        .scalar_subquery()
    )
    posts = select(func.count(Post.id)).where(Post.owner_id == User.id).scalar_subquery()
    authorising = select(PartnerAuthorisation.user_id)
    people = select(User).where(User.id.not_in(canary_ids(CanaryKind.ACCOUNT)))  # never a canary
    picks = (
        people.where(~User.is_private, ~User.is_business)
        .order_by(followers.desc(), User.id)
        .limit(3),
        people.where(User.is_private).order_by(followers.desc(), User.id).limit(1),
        people.where(User.is_business, User.id.in_(authorising)).order_by(User.id).limit(2),
        people.where(User.is_business, User.id.not_in(authorising)).order_by(User.id).limit(1),
    )
    rows: list[tuple[str, str, int, int]] = []
    for query in picks:
        for user in db.scalars(query):
            kind = "private" if user.is_private else "business" if user.is_business else "public"
            counts = db.execute(select(followers, posts).where(User.id == user.id)).one()
            rows.append((user.username, kind, counts[0], counts[1]))
    return rows


@app.command()
def demo(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Where the demo world lives.")
    ] = DEMO_DIR,
    users: Annotated[int, typer.Option(min=1, help="Accounts to seed, the first time.")] = 200,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    serve_it: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve after seeding and printing.")
    ] = True,
    manifest: ManifestPath = None,
) -> None:
    """Seeds a demo world (the first time), prints accounts and partner credentials, serves it."""
    settings = serving_settings(data_dir, host)
    engine, sessions = _database(settings)
    credentials_path = settings.data_dir / CREDENTIALS_FILE
    credentials: DemoCredentials
    with sessions() as db:
        empty = not db.scalar(select(func.count(User.id)))
    if empty:
        report = _seed(sessions, settings, users, seed=1)
        _print_report(report)
        credentials = DemoCredentials(password=report.password, partners=_partner_rows(report))
        # The partner secrets are stored hashed; this file is the only place they can be read
        # again, so it is kept for the demo and readable by its owner only.
        fd = os.open(credentials_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(credentials, handle, indent=2)
    elif credentials_path.exists():
        credentials = json.loads(credentials_path.read_text())
        console.print(f"Using the demo world in {settings.data_dir}.")
    else:
        # Seeded by `photoshare seed`, which printed the partner secrets once.
        credentials = DemoCredentials(password=SEED_PASSWORD, partners=[])
        console.print(
            f"Using the world in {settings.data_dir}; its partner secrets were shown when it was seeded."
        )
    with sessions() as db:
        accounts = _sample_accounts(db)
    # written every time: the stories in it are those live when the demo starts
    _write_manifest(sessions, settings, manifest)
    engine.dispose()

    table = Table(title=f"Sample accounts (password: {credentials['password']})")
    for column in ("username", "kind", "followers", "posts"):
        table.add_column(column)
    for username, kind, follower_count, post_count in accounts:
        table.add_row(username, kind, str(follower_count), str(post_count))
    console.print(table)
    _print_partners(credentials["partners"])
    if serve_it:
        console.print(f"Serving on http://{host}:{port}/ (Ctrl+C to stop)")
        uvicorn.run(create_app(settings), **uvicorn_options(host, port))
