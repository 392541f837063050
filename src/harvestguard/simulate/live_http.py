"""The HTTP side of live mode: loopback only, one shared connection pool, a request rate cap.

Live mode plays the reverse proxy in front of the app (as nginx would in production): it sends
each simulated client's address in ``X-Forwarded-For`` and its own request id in
``X-Request-ID``, which the guard honours only from a trusted proxy. It never sends anything
off this machine: the base URL must name a loopback host, and every request is checked again on
its way out, so no redirect or absolute URL can lead it elsewhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections import Counter

import httpx

from harvestguard.actor import device_fingerprint, header_fingerprint

# what a browser sends for a page; every simulated client sends the same
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
DEFAULT_LANGUAGE = "en-US,en;q=0.9"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class NotLoopbackError(ValueError):
    """A URL whose host is not this machine: live mode sends traffic nowhere else."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_loopback(base_url: str) -> httpx.URL:
    """The base URL, if it is plain http(s) to a loopback host; otherwise NotLoopbackError."""
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as error:
        raise NotLoopbackError(f"not a URL: {base_url!r}") from error
    if url.scheme not in ("http", "https") or not url.host:
        raise NotLoopbackError(f"not an http(s) URL: {base_url!r}")
    if not is_loopback(url.host):
        raise NotLoopbackError(
            f"{url.host} is not a loopback address: live mode only drives a server on this machine"
        )
    return url


class LoopbackTransport(httpx.AsyncBaseTransport):
    """The one connection pool every simulated client shares; it refuses non-loopback hosts and
    counts what went out and what came back."""

    def __init__(self, max_connections: int) -> None:
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._inner = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
        self.hosts: Counter[str] = Counter()
        self.answered = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if not is_loopback(host):
            raise NotLoopbackError(f"refused a request to {host}")
        self.hosts[host] += 1
        response = await self._inner.handle_async_request(request)
        self.answered += 1
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class RateLimiter:
    """Spaces requests at least ``1 / rate`` seconds apart, in the order they ask."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0

    async def wait(self) -> None:
        now = asyncio.get_running_loop().time()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


def csrf_token(html: str) -> str | None:
    match = _CSRF.search(html)
    return match.group(1) if match else None


def client_headers(address: str, ua: str, language: str, device: str | None) -> dict[str, str]:
    """The headers one simulated client sends on every request, proxy header included."""
    headers = {
        "user-agent": ua,
        "accept": ACCEPT,
        "accept-language": language,
        "x-forwarded-for": address,
    }
    if device is not None:
        headers["x-device-fingerprint"] = device
    return headers


def guard_fingerprint(ua: str, language: str, device: str | None, key: bytes) -> str:
    """The fingerprint the guard derives from those headers (harvestguard.actor)."""
    return device_fingerprint(device, key) or header_fingerprint(ACCEPT, language, ua, key)
