"""What the fault tests share: a small world with personal data an anonymous visitor must never
see, photoshare instances in their own processes on loopback, traffic whose every request is
named (``X-Request-Id``, honoured from the trusted proxy 127.0.0.1) and the events stored for it.

Counting end to end: a request the client saw answered is one event in; a row of the Parquet
store with that request id is one event out. The tests compare the two sets and look for
duplicates."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import httpx

from harvestguard.sinks.parquet import scan_sql
from photoshare import migrate
from photoshare.db import make_engine, make_sessionmaker
from photoshare.server_process import ServerProcess
from tests.factories import World

# what the default policy withholds from a logged-out visitor: a private account's captions,
# the places of a public account's posts (the lesson of 2019) and everyone's e-mail address
PRIVATE_CAPTION = "PRIVATE-CAPTION-7f3a"
SECRET_VENUE = "Secret Venue Q7"
SECRET_CITY = "Hiddenburg"
EMAIL = "ana-private-mail@example.org"
SECRETS = (PRIVATE_CAPTION, SECRET_VENUE, SECRET_CITY, EMAIL)
PUBLIC_NAMES = ("ana", "bea", "cid")


@dataclass(frozen=True)
class Seeded:
    paths: tuple[str, ...]  # what the traffic asks for: profiles, posts, the home page


def seed(database_url: str, media_dir: Path) -> Seeded:
    """Migrates the database and plants the world; returns the paths the traffic visits."""
    media_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        with make_sessionmaker(engine)() as db:
            world = World(db=db, media_dir=media_dir)
            ana = world.user("ana", email=EMAIL)
            for name in PUBLIC_NAMES[1:]:
                world.user(name)
            hidden = world.user("priv", private=True)
            venue = world.venue(SECRET_VENUE, SECRET_CITY)
            public_post = world.post(ana, caption="a walk in the park", venue=venue)
            private_post = world.post(hidden, caption=PRIVATE_CAPTION, venue=venue)
            paths = (
                *(f"/u/{name}" for name in PUBLIC_NAMES),
                "/u/priv",
                f"/p/{public_post.id}",
                f"/p/{private_post.id}",
            )
    finally:
        engine.dispose()
    return Seeded(paths)


def instance_env(root: Path, **more: str) -> dict[str, str]:
    """The settings of an instance whose guard files live under ``root`` (shared by several
    instances: one pseudonym key, one event store); each instance gets its own spill."""
    return {
        "PHOTOSHARE_SECRET_KEY": "fault-test-secret-key",
        "HARVESTGUARD_DATA_DIR": str(root / "guard"),
        "HARVESTGUARD_SINK": f"parquet:{root / 'events'}",
        "HARVESTGUARD_TRUSTED_PROXIES": "127.0.0.1/32",
        "HARVESTGUARD_LIMITS": "0",
        **more,
    }


def instance(
    data_dir: Path, env: Mapping[str, str], name: str, *, port: int | None = None
) -> ServerProcess:
    """An instance (not started yet) with its log and spill in ``data_dir/../name``."""
    folder = data_dir.parent / name
    return ServerProcess(
        data_dir,
        {**env, "HARVESTGUARD_SPILL_DIR": str(spill_dir(data_dir, name))},
        port=port,
        log=folder / "server.log",
        start_timeout=120,
    )


def spill_dir(data_dir: Path, name: str) -> Path:
    return data_dir.parent / name / "spill"


def spilled(spill: Path) -> int:
    """Records waiting in a spill directory (one line each)."""
    return sum(path.read_bytes().count(b"\n") for path in spill.glob("*.spill"))


def crash(server: ServerProcess) -> None:
    """SIGKILL: no shutdown code runs, whatever the instance held in memory is gone."""
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()


@dataclass
class Traffic:
    """Named requests from many addresses; what each was answered."""

    tag: str
    agent: str = "fault-test/1"
    # request id -> (status, the instance nginx says served it, body)
    answers: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    answered_at: dict[str, float] = field(default_factory=dict)  # request id -> monotonic time
    failures: list[str] = field(default_factory=list)  # ids that got no answer at all
    retried: list[str] = field(default_factory=list)  # ids nginx passed on to another instance

    def get(self, client: httpx.Client, base: str, path: str, address: int = 1) -> httpx.Response:
        request_id = f"{self.tag}-{len(self.answers) + len(self.failures):06d}"
        headers = {
            "X-Request-Id": request_id,
            "X-Forwarded-For": f"10.{address // 65536 % 256}.{address // 256 % 256}.{address % 256}",
            "User-Agent": self.agent,
        }
        try:
            response = client.get(base + path, headers=headers, timeout=30)
        except httpx.TransportError:
            self.failures.append(request_id)
            raise
        # nginx lists every instance it tried ("A, B" when A failed and B answered)
        tried = response.headers.get("x-upstream", "")
        if "," in tried:
            self.retried.append(request_id)
        self.answers[request_id] = (
            response.status_code,
            tried.rpartition(",")[2].strip(),
            response.text,
        )
        self.answered_at[request_id] = time.monotonic()
        return response

    def round(self, client: httpx.Client, base: str, paths: Iterable[str], start: int = 1) -> None:
        for offset, path in enumerate(paths):
            self.get(client, base, path, start + offset)

    def statuses(self) -> Counter[int]:
        return Counter(status for status, _, _ in self.answers.values())

    def leaked(self) -> list[str]:
        """The request ids whose answer holds personal data a logged-out visitor may not see."""
        return [
            rid for rid, (_, _, body) in self.answers.items() if any(s in body for s in SECRETS)
        ]


def stored_ids(events_dir: Path, agent: str) -> Counter[str]:
    """Request id -> how many events the store holds for it, for the requests of ``agent``."""
    if not any(events_dir.glob("date=*/*.parquet")):
        return Counter()
    with duckdb.connect() as connection:
        rows = connection.execute(
            f"SELECT request_id FROM {scan_sql(events_dir)} WHERE ua = ?", [agent]
        ).fetchall()
    return Counter(str(row[0]) for row in rows)


def stored_rows(events_dir: Path, agent: str) -> list[tuple[str, int, list[str], str]]:
    """(request id, status, data classes, decision) of the stored events of ``agent``."""
    with duckdb.connect() as connection:
        rows = connection.execute(
            f"SELECT request_id, status, data_classes, decision FROM {scan_sql(events_dir)} "
            "WHERE ua = ?",
            [agent],
        ).fetchall()
    return [(str(r[0]), int(r[1]), list(r[2]), str(r[3])) for r in rows]
