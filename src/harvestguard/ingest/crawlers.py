"""Verified good crawlers: the address ranges their operators publish (``crawlers.yaml``).

Verification is by address, never by User-Agent: anyone can send Googlebot's User-Agent, only
Google sends from Google's crawler ranges. An address in a listed range is labelled with the
crawler's name (``allowlist`` context table): its findings are reported, it is not flagged.
"""

from __future__ import annotations

import ipaddress
from importlib import resources
from pathlib import Path

import yaml

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class CrawlerListError(ValueError):
    pass


class CrawlerRanges:
    def __init__(self, ranges: dict[str, list[Network]]) -> None:
        self.ranges = ranges
        # (version, first, last, label) as integers: a scan asks once per distinct client
        self._bounds = [
            (
                n.version,
                int(n.network_address),
                int(n.broadcast_address),
                f"verified crawler: {name}",
            )
            for name, networks in ranges.items()
            for n in networks
        ]

    def ipv4_bounds(self) -> list[tuple[int, int, str]]:
        """(first, last, label) of each IPv4 range, as integers, in the order listed."""
        return [(first, last, label) for kind, first, last, label in self._bounds if kind == 4]

    def label(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        value, version = int(address), address.version
        for kind, first, last, label in self._bounds:
            if kind == version and first <= value <= last:
                return label
        return None


def load_crawlers(path: Path | None = None) -> CrawlerRanges:
    """The shipped list, or a YAML file mapping crawler name -> list of CIDR ranges."""
    if path is None:
        text = resources.files("harvestguard.ingest").joinpath("crawlers.yaml").read_text()
        where = "crawlers.yaml"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise CrawlerListError(f"{path}: cannot read: {error.strerror}") from error
        where = str(path)
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise CrawlerListError(f"{where}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise CrawlerListError(f"{where}: a mapping of crawler name -> list of ranges")
    ranges: dict[str, list[Network]] = {}
    for name, values in data.items():
        if not isinstance(values, list):
            raise CrawlerListError(f"{where}: {name}: a list of CIDR ranges")
        try:
            ranges[str(name)] = [ipaddress.ip_network(str(v), strict=False) for v in values]
        except ValueError as error:
            raise CrawlerListError(f"{where}: {name}: {error}") from error
    return CrawlerRanges(ranges)
