"""Ban lists in the formats other tools read: an nginx ``deny`` include, an ``ipset restore``
file, and a fail2ban-compatible log (one line per address, for a jail with the filter in
docs/scan.md)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime

SET_NAME = "harvestguard"


def nginx_deny(addresses: Sequence[str]) -> str:
    lines = ["# harvestguard scan: addresses flagged for harvesting; include in a server block"]
    lines += [f"deny {address};" for address in _valid(addresses)]
    return "\n".join(lines) + "\n"


def ipset(addresses: Sequence[str], name: str = SET_NAME) -> str:
    """For ``ipset restore``: one set per address family (``NAME`` and ``NAME-v6``)."""
    valid = _valid(addresses)
    v4 = [a for a in valid if ipaddress.ip_address(a).version == 4]
    v6 = [a for a in valid if ipaddress.ip_address(a).version == 6]
    lines = [f"create {name} hash:ip family inet -exist"]
    lines += [f"add {name} {a} -exist" for a in v4]
    if v6:
        lines.append(f"create {name}-v6 hash:ip family inet6 -exist")
        lines += [f"add {name}-v6 {a} -exist" for a in v6]
    return "\n".join(lines) + "\n"


def fail2ban(addresses: Sequence[str], reasons: dict[str, str], now: datetime | None = None) -> str:
    """Lines a fail2ban filter matches with ``failregex = harvestguard: flagged <HOST>``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S")
    return "".join(
        f"{stamp} harvestguard: flagged {a} ({reasons.get(a, 'harvesting')})\n"
        for a in _valid(addresses)
    )


def _valid(addresses: Sequence[str]) -> list[str]:
    """Only real addresses go into a ban list (a log's client field may hold anything)."""
    valid = []
    for text in addresses:
        try:
            valid.append(str(ipaddress.ip_address(text)))
        except ValueError:
            continue
    return valid
