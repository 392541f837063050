"""A real PostgreSQL server on a free loopback port, in a throw-away cluster, for the tests that
check what SQLite cannot show (the case store's triggers on PostgreSQL).

PostgreSQL refuses to run as root: as root, the cluster belongs to the ``postgres`` user of
Debian's package and its programs run through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.redis_helpers import free_port


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
    port: int = field(default_factory=free_port)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hg-pg-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def start(self) -> PostgresServer:
        assert INITDB and POSTGRES, "PostgreSQL is not installed (scripts/system-packages.txt)"
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        data = self.directory / "data"
        subprocess.run(
            self._as_owner(
                [INITDB, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            ),
            check=True,
            capture_output=True,
        )
        log = (self.directory / "postgres.log").open("ab")
        self.process = subprocess.Popen(
            self._as_owner(
                [
                    POSTGRES, "-D", str(data), "-p", str(self.port),
                    "-c", "listen_addresses=127.0.0.1", "-k", str(self.directory),
                    "-c", "fsync=off",
                ]
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(
                    f"host=127.0.0.1 port={self.port} user=postgres", connect_timeout=1
                ).close()
                return self
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError("postgres did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: a smart shutdown
            self.process.wait(timeout=30)
        self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)
