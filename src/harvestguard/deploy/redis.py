"""A redis-server process on a free loopback port; its append-only file survives a stop and a
start, as in production."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import redis

from harvestguard.deploy.network import free_port, wait_until

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@dataclass
class RedisServer:
    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = self.directory / "redis.log"
        with log.open("ab") as log_file:
            self.process = subprocess.Popen(
                [
                    REDIS_SERVER,
                    "--bind", "127.0.0.1",
                    "--port", str(self.port),
                    "--dir", str(self.directory),
                    "--appendonly", "yes",
                    "--save", "",
                    "--protected-mode", "yes",
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        try:
            if not wait_until(lambda: self._answers(client), timeout):
                self.stop()
                raise RuntimeError(f"redis-server did not start: {log.read_text()}")
        finally:
            client.close()
        return self

    def _answers(self, client: redis.Redis) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited at start (status {self.process.returncode})")
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        """SIGTERM: redis writes its append-only file and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True)
