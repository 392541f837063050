"""photoshare served by uvicorn in a child process on a loopback port: for the demo and the
tests that need real HTTP through the guard (a server in its own process, as in production, and
the other core free for the clients)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx

PROBE_PATH = "/robots.txt"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerError(RuntimeError):
    """The server did not come up; the message holds the end of its log."""


class ServerProcess:
    """``with ServerProcess(data_dir, env) as server:`` serves until the block ends, then stops
    gracefully (SIGTERM: the guard writes what it still holds before the process exits)."""

    def __init__(
        self,
        data_dir: Path,
        env: Mapping[str, str] | None = None,
        *,
        port: int | None = None,
        log: Path | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log or data_dir / "server.log"
        self.env = {
            **os.environ,
            "PHOTOSHARE_DATA_DIR": str(data_dir),
            "PHOTOSHARE_INSECURE_COOKIES": "1",  # plain HTTP on loopback
            **(env or {}),
        }
        self.start_timeout = start_timeout
        self.probes = 0  # requests answered while waiting for the server to come up
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        command = [
            str(Path(sys.executable).parent / "uvicorn"),
            "--factory",
            "photoshare.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            # the guard reads X-Forwarded-For itself, from the proxies it trusts
            "--no-proxy-headers",
            "--log-level",
            "warning",
        ]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log_file:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log_file, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.process.poll() is not None:
                raise ServerError(f"the server exited at start:\n{self._tail()}")
            try:
                status = httpx.get(self.base_url + PROBE_PATH, timeout=1).status_code
                self.probes += 1
                if status == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"the server did not answer in time:\n{self._tail()}")
            time.sleep(0.2)

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def _tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
