"""Client addresses of a batch -> ``ip`` and ``net`` pseudonyms and verified-crawler labels.

A log scan meets hundreds of thousands of distinct clients, so the work is columnar: the
batch's addresses are dictionary-encoded, and the distinct ones that are plain IPv4 text (nearly
all of them in practice) are recognised, cut to their network and range-checked with Arrow
compute, then hashed in one loop (``Pseudonymiser.canonical_keys``). Only the rest (IPv6,
``ip:port``, ``[v6]:port``, text that is no address) goes through ``ipaddress`` one by one,
remembered across batches. Either way a pseudonym equals the middleware's for the same client.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from harvestguard.actor import parse_address
from harvestguard.ingest.crawlers import CrawlerRanges
from harvestguard.pseudonym import Pseudonymiser

# dotted-quad IPv4 exactly as ipaddress writes it (no leading zeros, each octet <= 255): for
# these text, parsed address and str(address) are the same, so no parsing is needed
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
CANONICAL_IPV4 = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$"
# other distinct values remembered between batches; past this the memo starts afresh
SLOW_MEMO = 500_000


class AddressKeys:
    """Pseudonyms of client addresses, a batch's distinct values at a time. ``addresses`` maps
    each ip pseudonym to the address (for the operator's report, never written with events);
    ``allowlist`` each verified crawler's ip pseudonym to its label."""

    def __init__(self, pseudonymiser: Pseudonymiser, crawlers: CrawlerRanges | None) -> None:
        self.pseudonymiser = pseudonymiser
        self.crawlers = crawlers
        self.addresses: dict[str, str] = {}
        self.allowlist: dict[str, str] = {}
        self._slow: dict[str, tuple[str, str]] = {}

    def keys(self, distinct: Any) -> tuple[Any, Any]:
        """The ip and net pseudonyms of each of ``distinct`` (strings; null stays null)."""
        size = len(distinct)
        fast: Any = pc.fill_null(pc.match_substring_regex(distinct, CANONICAL_IPV4), False)
        slow: Any = pc.and_(pc.invert(fast), pc.is_valid(distinct))
        ip: Any = pa.nulls(size, pa.string())
        net: Any = pa.nulls(size, pa.string())
        if pc.any(fast).as_py():
            ips, nets = self._ipv4(distinct.filter(fast))
            ip = pc.replace_with_mask(ip, fast, ips)
            net = pc.replace_with_mask(net, fast, nets)
        if pc.any(slow).as_py():
            found = [self._one(str(text)) for text in distinct.filter(slow).to_pylist()]
            ip = pc.replace_with_mask(ip, slow, pa.array([k[0] for k in found], pa.string()))
            net = pc.replace_with_mask(net, slow, pa.array([k[1] for k in found], pa.string()))
        return ip, net

    def _ipv4(self, texts: Any) -> tuple[Any, Any]:
        join: Any = pc.binary_join_element_wise  # the stubs lack the scalar-and-array form
        parts: Any = pc.split_pattern(texts, ".")
        octets = [pc.cast(pc.list_element(parts, i), pa.int64()) for i in range(4)]
        prefix = self.pseudonymiser.ipv4_prefix
        mask = ((1 << 32) - 1) ^ ((1 << (32 - prefix)) - 1)
        network_octets = [
            pc.cast(pc.bit_wise_and(octet, _int((mask >> (24 - 8 * i)) & 0xFF)), pa.string())
            for i, octet in enumerate(octets)
        ]
        networks = join(join(*network_octets, "."), pa.scalar(f"/{prefix}", pa.string()), "")
        text_list: list[str] = texts.to_pylist()
        ips = self.pseudonymiser.canonical_keys("ip", text_list)
        # clients share networks: each distinct one is hashed once
        encoded: Any = pc.dictionary_encode(networks)
        nets = pa.array(
            self.pseudonymiser.canonical_keys("net", encoded.dictionary.to_pylist()),
            pa.string(),
        ).take(encoded.indices)
        self.addresses.update(zip(ips, text_list, strict=True))
        if self.crawlers is not None:
            value = octets[0]
            for octet in octets[1:]:
                value = pc.add(pc.multiply(value, _int(256)), octet)
            for first, last, label in self.crawlers.ipv4_bounds():
                inside = pc.and_(
                    pc.greater_equal(value, _int(first)), pc.less_equal(value, _int(last))
                )
                for index in pc.indices_nonzero(inside).to_pylist():
                    self.allowlist.setdefault(ips[index], label)  # the first range listed wins
        return pa.array(ips, pa.string()), nets

    def _one(self, remote: str) -> tuple[str, str]:
        """Anything but plain IPv4 text: parsed by ``ipaddress`` (and remembered)."""
        found = self._slow.get(remote)
        if found is not None:
            return found
        if len(self._slow) >= SLOW_MEMO:
            self._slow.clear()
        address = parse_address(remote)
        if address is None:
            text = remote
            found = (self.pseudonymiser.ip(text), self.pseudonymiser.net(text))
        else:
            text = str(address)
            found = self.pseudonymiser.address_keys(address)
        self._slow[remote] = found
        self.addresses[found[0]] = text
        if address is not None and self.crawlers is not None:
            label = self.crawlers.label(address)
            if label is not None:
                self.allowlist.setdefault(found[0], label)
        return found


def _int(value: int) -> pa.Scalar[Any]:
    # typed: converting an untyped Python number makes pyarrow try to import optional modules
    # (dateutil, pandas) on every call, which costs more than the computation
    return pa.scalar(value, pa.int64())
