"""Pseudonyms for client addresses: the guard stores keyed hashes, never IP addresses.

``ip`` hashes the address, ``net`` its network (the /24 of an IPv4 address, the /64 of an IPv6
one), so detectors can group requests from one client or one network without knowing either.
The hash is HMAC-SHA256 under a secret key, cut to 16 bytes (32 hex digits): without the key
nobody can test a guessed address against a pseudonym. Text that is not an address is hashed as
it is, and the pseudonym says so (``invalid:`` prefix), so it never passes for a real client.

The key comes from ``HARVESTGUARD_PSEUDONYM_KEY`` or the key file (see ``GuardConfig``).
Rotating it makes every pseudonym new; ``previous_keys`` lets lookups still find the pseudonyms
stored under the old keys until those events have aged out of retention.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from harvestguard.config import MIN_KEY_BYTES, GuardConfig

DIGEST_BYTES = 16
INVALID_PREFIX = "invalid:"

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Pseudonymiser:
    def __init__(
        self,
        key: bytes,
        *,
        ipv4_prefix: int = 24,
        ipv6_prefix: int = 64,
        previous_keys: Sequence[bytes] = (),
    ) -> None:
        for candidate in (key, *previous_keys):
            if len(candidate) < MIN_KEY_BYTES:
                raise ValueError(f"a pseudonym key needs at least {MIN_KEY_BYTES} bytes")
        if not 8 <= ipv4_prefix <= 32 or not 16 <= ipv6_prefix <= 128:
            raise ValueError("network prefixes: IPv4 8..32, IPv6 16..128")
        self._key = key
        self._previous_keys = tuple(previous_keys)
        self._prefixes = {4: ipv4_prefix, 6: ipv6_prefix}
        self._pads: tuple[Any, Any] | None = None

    @property
    def ipv4_prefix(self) -> int:
        return self._prefixes[4]

    @classmethod
    def from_config(cls, config: GuardConfig) -> Pseudonymiser:
        return cls(
            config.pseudonym_key, ipv4_prefix=config.ipv4_prefix, ipv6_prefix=config.ipv6_prefix
        )

    def ip(self, addr: str) -> str:
        """The pseudonym of one client address."""
        return _hash(self._key, b"ip", self._ip_material(addr))

    def net(self, addr: str) -> str:
        """The pseudonym of the network of an address; a network (``1.2.3.0/24``) is taken as is."""
        return _hash(self._key, b"net", self._net_material(addr))

    def address_keys(self, address: _Address) -> tuple[str, str]:
        """The ``ip`` and ``net`` pseudonyms of an already parsed address, equal to
        ``(ip(str(address)), net(str(address)))`` without parsing the text twice more (a log
        scan meets hundreds of thousands of distinct clients)."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        prefix = self._prefixes[address.version]
        bits = address.max_prefixlen
        mask = ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)
        network = f"{type(address)(int(address) & mask)}/{prefix}"
        return (
            _hash(self._key, b"ip", (True, str(address))),
            _hash(self._key, b"net", (True, network)),
        )

    def canonical_keys(self, domain: Literal["ip", "net"], texts: Iterable[str]) -> list[str]:
        """The pseudonyms of many addresses (``domain`` ``"ip"``) or networks (``"net"``) given
        in canonical form, as ``str()`` of an ``ipaddress`` object writes them (``203.0.113.9``,
        ``203.0.113.0/24``): equal to ``ip(text)`` / ``net(text)`` for each, at half the cost.
        For bulk callers: a log scan meets hundreds of thousands of distinct clients."""
        # HMAC-SHA256 (RFC 2104) written out on hashlib: the key's inner and outer pads are
        # hashed once and their SHA-256 states copied per message, where hmac.digest hashes
        # them again for every message (tests check both give the same digests)
        if self._pads is None:
            block = self._key if len(self._key) <= 64 else hashlib.sha256(self._key).digest()
            block = block.ljust(64, b"\x00")
            self._pads = (
                hashlib.sha256(bytes(b ^ 0x36 for b in block)),
                hashlib.sha256(bytes(b ^ 0x5C for b in block)),
            )
        inner, outer = self._pads
        prefix = domain.encode() + b"\x00"
        found: list[str] = []
        for text in texts:
            step = inner.copy()
            step.update(prefix + text.encode())
            final = outer.copy()
            final.update(step.digest())
            found.append(final.digest()[:DIGEST_BYTES].hex())
        return found

    def ip_variants(self, addr: str) -> tuple[str, ...]:
        """The pseudonyms of an address under the current key, then each previous key."""
        material = self._ip_material(addr)
        return tuple(_hash(key, b"ip", material) for key in (self._key, *self._previous_keys))

    def net_variants(self, addr: str) -> tuple[str, ...]:
        material = self._net_material(addr)
        return tuple(_hash(key, b"net", material) for key in (self._key, *self._previous_keys))

    def _ip_material(self, addr: str) -> tuple[bool, str]:
        address = _parse_address(addr)
        return (False, addr) if address is None else (True, str(address))

    def _net_material(self, addr: str) -> tuple[bool, str]:
        address = _parse_address(addr)
        if address is not None:
            prefix = self._prefixes[address.version]
            return True, str(ipaddress.ip_network((address, prefix), strict=False))
        try:
            network: _Network = ipaddress.ip_network(addr.strip(), strict=False)
        except ValueError:
            return False, addr
        return True, str(network)


def _parse_address(addr: str) -> _Address | None:
    try:
        address = ipaddress.ip_address(addr.strip())
    except ValueError:
        return None
    # the same IPv4 client, whether the socket reported it plain or IPv4-mapped
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _hash(key: bytes, domain: bytes, material: tuple[bool, str]) -> str:
    valid, text = material
    # the domain keeps an address and a network of the same text from sharing a pseudonym
    message = domain + (b"\x00" if valid else b"\x01") + text.encode("utf-8", "surrogatepass")
    digest = hmac.digest(key, message, "sha256")[:DIGEST_BYTES].hex()
    return digest if valid else INVALID_PREFIX + digest
