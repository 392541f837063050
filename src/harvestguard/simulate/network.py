"""Where simulated requests come from: address blocks, user agents, and the guard's keys for them.

Address space is handed out by purpose, so the ground truth can tell home broadband (a /24 shared
by a few neighbours) from carrier and campus NAT (a handful of addresses shared by thousands), data
centres, residential proxy pools, and the search engine's published crawler range. ``ip``, ``net``
and header fingerprints are computed exactly as the middleware computes them, with the scenario's
own pseudonym key.
"""

from __future__ import annotations

import hashlib
import random
from typing import ClassVar

from harvestguard.actor import device_fingerprint, header_fingerprint
from harvestguard.pseudonym import Pseudonymiser
from harvestguard.simulate.intents import Identity

MOBILE_UAS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "PhotoshareApp/5.3 (iPhone15,2; iOS 17.5)",
    "PhotoshareApp/5.2 (Android 14; Pixel 7)",
)
DESKTOP_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0",
)
BROWSER_UAS = MOBILE_UAS[:3] + DESKTOP_UAS
CRAWLER_UA = "Mozilla/5.0 (compatible; PhotoshareSearchBot/2.1; +https://search.example/bot.html)"
CRAWLER_RANGE = "66.249.64.0/20"  # the crawler's published range: 16 /24s
_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
_LANGUAGES = ("en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.5", "pt-PT,pt;q=0.9", "ja,en;q=0.5")


class AddressSpace:
    """Hands out distinct /24s by purpose; one per call unless a pool is asked for."""

    # first octets: broadband, carrier NAT, campus, data centres, residential proxies
    _FIRST_OCTETS: ClassVar[dict[str, tuple[int, ...]]] = {
        "home": (24, 73, 81, 86, 92, 98),
        "carrier": (100, 172),
        "campus": (128, 141),
        "datacenter": (34, 52, 104, 159),
        "residential": (37, 46, 77, 88, 94, 109, 176, 188),
    }

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._taken: set[str] = set()

    def network(self, purpose: str) -> str:
        """A fresh /24 for this purpose, as ``a.b.c``."""
        while True:
            first = self.rng.choice(self._FIRST_OCTETS[purpose])
            prefix = f"{first}.{self.rng.randrange(256)}.{self.rng.randrange(256)}"
            if prefix not in self._taken:
                self._taken.add(prefix)
                return prefix

    def address(self, purpose: str) -> str:
        return f"{self.network(purpose)}.{self.rng.randrange(2, 254)}"

    def pool(self, purpose: str, networks: int, per_network: int) -> list[str]:
        addresses: list[str] = []
        for _ in range(networks):
            prefix = self.network(purpose)
            hosts = self.rng.sample(range(2, 254), per_network)
            addresses.extend(f"{prefix}.{host}" for host in hosts)
        return addresses


class Keys:
    """Builds identities with the guard's keys, caching the keyed hashes of every address."""

    def __init__(self, key: bytes, rng: random.Random) -> None:
        self._pseudonymiser = Pseudonymiser(key)
        self._key = key
        self.rng = rng
        self._addresses: dict[str, tuple[str, str]] = {}
        self._fingerprints: dict[tuple[str | None, str, str], str] = {}

    def identity(
        self,
        address: str,
        ua: str,
        *,
        device: str | None = None,
        language: str = _LANGUAGES[0],
        session: str | None = None,
        user_id: int | None = None,
        app: str | None = None,
        token_scopes: frozenset[str] = frozenset(),
    ) -> Identity:
        keys = self._addresses.get(address)
        if keys is None:
            keys = (self._pseudonymiser.ip(address), self._pseudonymiser.net(address))
            self._addresses[address] = keys
        fingerprint = self._fingerprints.get((device, language, ua))
        if fingerprint is None:
            fingerprint = device_fingerprint(device, self._key) or header_fingerprint(
                _ACCEPT, language, ua, self._key
            )
            self._fingerprints[(device, language, ua)] = fingerprint
        return Identity(
            address=address,
            ip=keys[0],
            net=keys[1],
            ua=ua,
            fingerprint=fingerprint,
            session=session,
            user_id=user_id,
            app=app,
            token_scopes=token_scopes,
        )

    def session_id(self) -> str:
        """A web session or token as the guard records it: 16 hex digits of the token's hash."""
        token = self.rng.getrandbits(128).to_bytes(16, "big")
        return hashlib.sha256(token).hexdigest()[:16]

    def device_id(self) -> str:
        return f"{self.rng.getrandbits(96):024x}"

    def language(self) -> str:
        return self.rng.choice(_LANGUAGES)
