"""The whole scaled-out deployment on loopback: PostgreSQL (photoshare's database and the guard's
case store), Redis (decisions and limits), several photoshare instances served by uvicorn, and
nginx in front of them; every instance writes its events into one partitioned Parquet store.

``photoshare cluster`` runs it until Ctrl-C; the tests and benchmarks use ``Cluster`` directly.
Everything lives under one directory (default ``var/cluster``):

    postgres/   the PostgreSQL cluster (kept between runs)   redis/     Redis's append-only file
    photoshare/ the media, shared by the instances             guard/     the pseudonym key
    events/     the Parquet event store (date=YYYY-MM-DD/)     nginx/     config, logs
    instance-N/ each instance's log and spill                  secret.key the session secret
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from harvestguard.config import load_or_create_key
from harvestguard.deploy import NginxProxy, PostgresServer, RedisServer, free_port
from harvestguard.enforce.cases import CaseStore
from photoshare import migrate
from photoshare.db import make_engine, make_sessionmaker
from photoshare.seed import SeedReport, seed_world
from photoshare.server_process import PROBE_PATH, ServerProcess

PHOTOSHARE_DATABASE = "photoshare"
CASES_DATABASE = "harvestguard"


@dataclass
class Cluster:
    root: Path
    instances: int = 2
    port: int | None = None  # nginx's; a free one by default
    users: int = 0  # accounts to seed into an empty platform database
    seed: int = 1
    # simulations only: nginx keeps the client's X-Forwarded-For (many addresses from loopback)
    pass_client_forwarded_for: bool = False
    # kept in root/postgres between runs; False: a temporary cluster (as root, in /tmp, which
    # Debian's postgres user can reach), removed at stop
    keep_database: bool = True
    start_timeout: float = 180.0  # seconds an instance may take to answer (a loaded machine)
    env: Mapping[str, str] = field(default_factory=dict)  # more settings for every instance
    postgres: PostgresServer | None = None
    redis: RedisServer | None = None
    servers: list[ServerProcess] = field(default_factory=list)
    nginx: NginxProxy | None = None
    seeded: SeedReport | None = None
    database_url: str = ""
    cases_url: str = ""

    def __post_init__(self) -> None:
        if self.instances < 1:
            raise ValueError("a cluster needs at least one instance")

    @property
    def url(self) -> str:
        assert self.nginx is not None, "the cluster is not running"
        return self.nginx.url

    @property
    def events_dir(self) -> Path:
        return self.root / "events"

    @property
    def data_dir(self) -> Path:
        return self.root / "photoshare"

    def start(self) -> Cluster:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._start_databases()
            self.redis = RedisServer(self.root / "redis").start()
            environment = self._instance_environment()
            self.servers = [
                ServerProcess(
                    self.data_dir,
                    {**environment, "HARVESTGUARD_SPILL_DIR": str(folder / "spill")},
                    log=folder / "server.log",
                    start_timeout=self.start_timeout,
                )
                for folder in (self.root / f"instance-{n}" for n in range(self.instances))
            ]
            # started side by side: each spends seconds importing and connecting
            with ThreadPoolExecutor(self.instances) as pool:
                list(pool.map(ServerProcess.start, self.servers))
            self.nginx = NginxProxy(
                self.root / "nginx",
                [f"127.0.0.1:{server.port}" for server in self.servers],
                port=self.port or free_port(),
                pass_client_forwarded_for=self.pass_client_forwarded_for,
            ).start(probe=PROBE_PATH)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_databases(self) -> None:
        self.postgres = (
            PostgresServer(self.root / "postgres", keep=True)
            if self.keep_database
            else PostgresServer()
        ).start()
        self.database_url = self.postgres.create_database(PHOTOSHARE_DATABASE)
        self.cases_url = self.postgres.create_database(CASES_DATABASE)
        # migrated once here, so that the instances starting together find both schemas at head
        engine = make_engine(self.database_url)
        try:
            migrate.upgrade(engine)
            if self.users:
                (self.data_dir / "media").mkdir(parents=True, exist_ok=True)
                with make_sessionmaker(engine)() as db:
                    self.seeded = seed_world(
                        db,
                        self.data_dir / "media",
                        users=self.users,
                        seed=self.seed,
                        canary_key=self.secret_key().encode(),
                    )
        finally:
            engine.dispose()
        CaseStore(self.cases_url).close()

    def secret_key(self) -> str:
        """The session secret every instance shares (a cookie signed by one is good on all)."""
        path = self.root / "secret.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def _instance_environment(self) -> dict[str, str]:
        assert self.redis is not None
        guard_dir = self.root / "guard"
        load_or_create_key(guard_dir)  # made once, read by every instance
        return {
            "DATABASE_URL": self.database_url,
            "PHOTOSHARE_SECRET_KEY": self.secret_key(),
            "HARVESTGUARD_DATA_DIR": str(guard_dir),
            "HARVESTGUARD_SINK": f"parquet:{self.events_dir}",
            "HARVESTGUARD_REDIS_URL": self.redis.url,
            "HARVESTGUARD_CASES": self.cases_url,
            "HARVESTGUARD_TRUSTED_PROXIES": "127.0.0.1/32",
            **self.env,
        }

    def stop(self) -> None:
        """nginx first, then the instances (each writes what it still holds), then the stores."""
        if self.nginx is not None:
            self.nginx.stop()
        for server in self.servers:
            server.stop()
        for store in (self.redis, self.postgres):
            if store is not None:
                store.stop()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def cluster_command(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where every server keeps its files.")
    ] = Path("var/cluster"),
    instances: Annotated[int, typer.Option(min=1, help="photoshare instances behind nginx.")] = 2,
    port: Annotated[int, typer.Option(help="nginx's port on 127.0.0.1.")] = 8080,
    users: Annotated[
        int, typer.Option(min=0, help="Accounts to seed into an empty database.")
    ] = 100,
) -> None:
    """Runs the scaled-out deployment on loopback until Ctrl-C: PostgreSQL, Redis, INSTANCES
    photoshare instances writing one Parquet event store, nginx in front (docs/deploy.md)."""
    console = Console()
    cluster = Cluster(directory, instances=instances, port=port, users=users)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with console.status("starting PostgreSQL, Redis, the instances and nginx ..."):
        try:
            cluster.start()
        except (RuntimeError, OSError, ValueError) as error:
            console.print(f"[red]the cluster did not start:[/red] {error}", highlight=False)
            raise typer.Exit(1) from error
    table = Table(title=f"photoshare cluster in {directory}")
    table.add_column("service")
    table.add_column("address")
    assert cluster.postgres and cluster.redis and cluster.nginx
    table.add_row("nginx (open this)", cluster.url)
    for number, server in enumerate(cluster.servers):
        table.add_row(f"instance {number}", server.base_url)
    table.add_row("PostgreSQL: platform", cluster.database_url)
    table.add_row("PostgreSQL: cases", cluster.cases_url)
    table.add_row("Redis", cluster.redis.url)
    table.add_row("events (Parquet)", str(cluster.events_dir))
    console.print(table)
    if cluster.seeded is not None:
        console.print(f"Seeded {users} accounts; password: {cluster.seeded.password}")
    console.print(
        f"Detect: harvestguard detect parquet:{cluster.events_dir} [--engine spark]. Ctrl-C stops."
    )
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        with console.status("stopping ..."):
            cluster.stop()
