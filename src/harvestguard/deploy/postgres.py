"""A PostgreSQL server on a free loopback port, in a cluster of its own made by ``initdb``.

PostgreSQL refuses to run as root: started by root, the cluster belongs to the ``postgres`` user
of Debian's package and its programs run through ``runuser``. Trust authentication on 127.0.0.1
only: the server listens on loopback and its socket sits in the cluster's own directory, so this
is for one machine's tests, benchmarks and demos; docs/deploy.md says what production needs.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from harvestguard.deploy.network import free_port, wait_until

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _program(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return versions[-1] if versions else None


INITDB = _program("initdb")
POSTGRES = _program("postgres")


@dataclass
class PostgresServer:
    """``directory`` holds the cluster (``data/``), its socket and its log. A temporary directory
    by default, removed at ``stop``; a given one is kept (``keep``) and reused at the next start."""

    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hg-pg-")))
    port: int = field(default_factory=free_port)
    keep: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def _as_owner(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def _connect(self, *, autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres",
            connect_timeout=1,
            autocommit=autocommit,
        )

    def start(self, timeout: float = 30.0) -> PostgresServer:
        if not (INITDB and POSTGRES):
            raise RuntimeError("PostgreSQL is not installed (scripts/system-packages.txt)")
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        data = self.directory / "data"
        if not (data / "PG_VERSION").exists():
            made = subprocess.run(
                self._as_owner(
                    [INITDB, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
                ),
                capture_output=True,
                text=True,
            )
            if made.returncode != 0:
                raise RuntimeError(f"initdb failed in {self.directory}: {made.stderr.strip()}")
        log = self.directory / "postgres.log"
        with log.open("ab") as log_file:
            if os.geteuid() == 0:
                os.chown(log, pwd.getpwnam("postgres").pw_uid, -1)
            self.process = subprocess.Popen(
                self._as_owner(
                    [
                        POSTGRES, "-D", str(data), "-p", str(self.port),
                        "-c", "listen_addresses=127.0.0.1", "-k", str(self.directory),
                        # a throw-away cluster: durability is not worth a sync per commit
                        "-c", "fsync=off" if not self.keep else "fsync=on",
                    ]
                ),
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        if not wait_until(self._answers, timeout, interval=0.1):
            self.stop()
            raise RuntimeError(f"postgres did not start: {log.read_text(errors='replace')}")
        return self

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"postgres exited at start (status {self.process.returncode})")
        try:
            self._connect().close()
            return True
        except psycopg.OperationalError:
            return False

    def create_database(self, name: str) -> str:
        """Creates database ``name`` unless it exists; returns its SQLAlchemy URL."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a plain database name: {name!r}")
        with self._connect(autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists is None:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: a smart shutdown
            self.process.wait(timeout=30)
        self.process = None
        if not self.keep:
            shutil.rmtree(self.directory, ignore_errors=True)
