"""Raw requests -> AccessEvents: the events schema, pseudonyms, routes, verified crawlers."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from harvestguard.actor import parse_address
from harvestguard.events import ARROW_SCHEMA, from_arrow
from harvestguard.ingest import EventBuilder, load_crawlers, load_route_map
from harvestguard.pseudonym import Pseudonymiser

KEY = b"k" * 32


@given(st.ip_addresses())
def test_address_keys_equal_the_text_pseudonyms(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    pseudonymiser = Pseudonymiser(KEY, ipv4_prefix=22, ipv6_prefix=56)
    text = str(address)
    assert pseudonymiser.address_keys(address) == (pseudonymiser.ip(text), pseudonymiser.net(text))


_octet = st.integers(0, 255).map(str)
_remotes = st.one_of(
    st.ip_addresses(v=4).map(str),  # the columnar path
    st.ip_addresses(v=6).map(str),
    st.tuples(_octet, _octet, _octet, _octet).map(".".join),
    st.tuples(st.integers(0, 255), st.integers(0, 255)).map(lambda p: f"0{p[0]}.1.{p[1]}.9"),
    st.tuples(st.ip_addresses(v=4), st.integers(1, 65535)).map(lambda p: f"{p[0]}:{p[1]}"),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
    st.sampled_from(["256.1.1.1", "1.2.3", "1.2.3.4.5", " 1.2.3.4", "-", "x", "66.249.64.0"]),
    st.text(max_size=12),
)


@settings(deadline=None)  # each example builds a batch of events: timing depends on the load
@given(
    st.lists(_remotes, min_size=1, max_size=40),
    st.integers(8, 32),
    st.binary(min_size=32, max_size=100),
)
def test_batch_pseudonyms_equal_one_by_one(remotes: list[str], prefix: int, key: bytes) -> None:
    """The columnar path (plain IPv4 text) and the one-by-one path (the rest) give each address
    the pseudonyms Pseudonymiser gives its text, and label crawler addresses by range."""
    pseudonymiser = Pseudonymiser(key, ipv4_prefix=prefix)
    crawlers = load_crawlers()
    builder = EventBuilder(pseudonymiser, load_route_map("blog"), crawlers)
    when = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    rows = [
        {"remote": r, "ts": when, "method": "GET", "target": "/", "status": 200, "bytes": 1}
        for r in remotes
    ]
    table = builder.build(_raw(rows), "a.log")
    expected_labels: dict[str, str] = {}
    for remote, ip, net in zip(
        remotes, table.column("ip").to_pylist(), table.column("net").to_pylist(), strict=True
    ):
        address = parse_address(remote)
        text = remote if address is None else str(address)
        assert (ip, net) == (pseudonymiser.ip(text), pseudonymiser.net(text)), remote
        assert builder.addresses[ip] == text
        label = None if address is None else crawlers.label(address)
        if label is not None:
            expected_labels[ip] = label
    assert builder.allowlist == expected_labels


def test_canonical_keys_are_the_hmac_pseudonyms() -> None:
    for key in (KEY, b"long key " * 10):  # a key past SHA-256's block is hashed first
        pseudonymiser = Pseudonymiser(key, ipv4_prefix=20)
        assert pseudonymiser.canonical_keys("ip", ["203.0.113.9", "2001:db8::1"]) == [
            pseudonymiser.ip("203.0.113.9"),
            pseudonymiser.ip("2001:db8::1"),
        ]
        assert pseudonymiser.canonical_keys("net", ["203.0.112.0/20"]) == [
            pseudonymiser.net("203.0.113.9")
        ]
        assert pseudonymiser.canonical_keys("ip", []) == []


def _raw(rows: list[dict[str, object]]) -> pa.Table:
    schema = pa.schema(
        [
            ("remote", pa.string()),
            ("ts", pa.timestamp("us", tz="UTC")),
            ("method", pa.string()),
            ("target", pa.string()),
            ("status", pa.int32()),
            ("bytes", pa.int64()),
            ("ua", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def test_events_follow_the_contract() -> None:
    when = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    base = {
        "ts": when,
        "method": "GET",
        "status": 200,
        "bytes": 10,
        "ua": "x",
    }
    raw = _raw(
        [
            {**base, "remote": "66.249.66.1:5555", "target": "/u/alice"},
            {**base, "remote": "[2001:db8::1]:443", "target": "/css/a.css"},
            {**base, "remote": "not-an-address", "target": "/p/7"},
        ]
    )
    pseudonymiser = Pseudonymiser(KEY)
    builder = EventBuilder(
        pseudonymiser, load_route_map("photoshare"), load_crawlers(), hide_ua=True
    )
    table = builder.build(raw, "access.log")
    assert table.schema == ARROW_SCHEMA
    events = from_arrow(table)
    assert [e.request_id for e in events] == ["access.log#1", "access.log#2", "access.log#3"]
    assert [e.route for e in events] == ["/u/{username}", "(static)", "/p/{post_id:int}"]
    assert events[0].owner_ids == ["alice"] and events[0].resource == "profile"
    assert events[0].ip == pseudonymiser.ip("66.249.66.1")
    assert events[1].net == pseudonymiser.net("2001:db8::1")
    assert events[2].ip is not None and events[2].ip.startswith("invalid:")
    assert all(e.channel == "log" and e.ua is None and e.actor_account is None for e in events)
    assert builder.addresses[events[0].ip] == "66.249.66.1"
    assert builder.allowlist == {events[0].ip: "verified crawler: Googlebot"}
    # numbering goes on across batches
    assert builder.build(raw, "access.log").column("request_id")[0].as_py() == "access.log#4"
