"""Who is asking: the client address behind trusted proxies, its network, and the actor's keys.

Proxy headers are read only when the direct peer is a trusted proxy, and then walked from the
right, skipping trusted hops: every hop to the right of the first untrusted one was written by
a proxy we trust, everything to its left by the client, who can write anything.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from starlette.types import Scope

from harvestguard.config import GuardConfig, IPNetwork
from harvestguard.pseudonym import Pseudonymiser

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# senders remembered per process; an entry holds a few short strings
CACHE_SIZE = 16384

FINGERPRINT_HEADER = b"x-device-fingerprint"
_DEVICE_ID = re.compile(r"[A-Za-z0-9._:+/=-]{8,128}")
_VERSION = re.compile(r"\d+")
_HEADERS_READ = frozenset(
    {b"user-agent", b"accept", b"accept-language", FINGERPRINT_HEADER, b"x-request-id"}
)


@dataclass(frozen=True, slots=True)
class ActorKeys:
    """Every key enforcement can act on; ``ip`` and ``net`` are pseudonyms, never addresses."""

    account: str | None = None
    client: str | None = None
    session: str | None = None
    ip: str | None = None
    net: str | None = None
    ua: str | None = None
    fingerprint: str | None = None


def parse_address(value: str) -> IPAddress | None:
    """An address as proxies write it: bare, ``[v6]``, ``[v6]:port``, ``v4:port``, or quoted."""
    text = value.strip().strip('"')
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        text = text[1:end]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def forwarded_for(values: Iterable[str], header: str) -> list[str]:
    """The hops named by every instance of the proxy header, left to right."""
    hops: list[str] = []
    for value in values:
        for element in value.split(","):
            if header == "x-forwarded-for":
                hops.append(element)
                continue
            for pair in element.split(";"):
                name, _, rest = pair.partition("=")
                if name.strip().lower() == "for":
                    hops.append(rest)
                    break
            else:
                # an element without for= still stands for a hop, one we cannot trust past
                hops.append("")
    return hops


def client_address(peer: IPAddress, hops: list[str], trusted: tuple[IPNetwork, ...]) -> IPAddress:
    """The first untrusted address from the right; a malformed hop ends the walk."""
    if not hops or not _is_trusted(peer, trusted):
        return peer
    address = peer
    for hop in reversed(hops):
        parsed = parse_address(hop)
        if parsed is None:
            return address
        address = parsed
        if not _is_trusted(address, trusted):
            return address
    return address


def read_headers(scope: Scope, proxy_header: bytes) -> tuple[dict[bytes, str], list[str]]:
    """The few headers the guard reads, and every instance of the proxy header, in one pass."""
    wanted: dict[bytes, str] = {}
    proxy_values: list[str] = []
    for name, value in scope["headers"]:
        if name == proxy_header:
            proxy_values.append(value.decode("latin-1"))
        elif name in _HEADERS_READ and name not in wanted:
            wanted[name] = value.decode("latin-1")
    return wanted, proxy_values


def header_fingerprint(accept: str, accept_language: str, user_agent: str, key: bytes) -> str:
    """A keyed hash of what a browser sends the same on every request: a weak device signal.

    Version numbers are dropped from the User-Agent so that a browser update keeps the value.
    """
    material = "\n".join((accept, accept_language, _VERSION.sub("", user_agent)))
    digest = hashlib.blake2b(material.encode(), key=key[:64], digest_size=12, person=b"hg-hdr")
    return "hdr:" + digest.hexdigest()


def device_fingerprint(device_id: str | None, key: bytes) -> str | None:
    """A keyed hash of the id a client script sent in X-Device-Fingerprint, if it is sane."""
    if device_id is None or not _DEVICE_ID.fullmatch(device_id):
        return None
    digest = hashlib.blake2b(device_id.encode(), key=key[:64], digest_size=12, person=b"hg-dev")
    return "dev:" + digest.hexdigest()


class AddressKeys(NamedTuple):
    ip: str | None  # pseudonym of the client address
    net: str | None  # pseudonym of its network
    via_trusted_proxy: bool  # the direct peer is a trusted proxy


class ActorIdentifier:
    """Turns what a request says about its sender into pseudonymous keys.

    Both lookups are cached: parsing addresses and keyed hashing are most of the guard's cost per
    request, and the same senders come back again and again.
    """

    def __init__(self, config: GuardConfig, pseudonymiser: Pseudonymiser) -> None:
        self._trusted = config.trusted_proxies
        self._proxy_header = config.proxy_header
        self._pseudonymiser = pseudonymiser
        self._key = config.pseudonym_key
        self._cached_address_keys = functools.lru_cache(maxsize=CACHE_SIZE)(self._address_keys)
        self.fingerprint = functools.lru_cache(maxsize=CACHE_SIZE)(self._fingerprint)

    def address_keys(self, peer_host: str | None, proxy_values: Iterable[str]) -> AddressKeys:
        # without trusted proxies the header means nothing; keeping it out of the cache key
        # stops forged headers from turning every request into a cache miss
        values = tuple(proxy_values) if self._trusted else ()
        return self._cached_address_keys(peer_host, values)

    def _address_keys(self, peer_host: str | None, proxy_values: tuple[str, ...]) -> AddressKeys:
        peer = None if peer_host is None else parse_address(peer_host)
        if peer is None:
            return AddressKeys(None, None, False)
        trusted = _is_trusted(peer, self._trusted)
        address = peer
        if trusted and proxy_values:
            hops = forwarded_for(proxy_values, self._proxy_header)
            address = client_address(peer, hops, self._trusted)
        text = str(address)
        return AddressKeys(self._pseudonymiser.ip(text), self._pseudonymiser.net(text), trusted)

    def _fingerprint(
        self, device_id: str | None, accept: str, accept_language: str, user_agent: str
    ) -> str:
        return device_fingerprint(device_id, self._key) or header_fingerprint(
            accept, accept_language, user_agent, self._key
        )


def _is_trusted(address: IPAddress, trusted: tuple[IPNetwork, ...]) -> bool:
    return any(address in net for net in trusted)
