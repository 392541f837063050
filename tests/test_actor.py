"""Client addresses behind proxies: what is trusted, what is ignored, what is malformed."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harvestguard.actor import (
    ActorIdentifier,
    client_address,
    device_fingerprint,
    forwarded_for,
    header_fingerprint,
    parse_address,
)
from harvestguard.config import GuardConfig, parse_networks
from harvestguard.pseudonym import Pseudonymiser

TRUSTED = parse_networks(["10.0.0.0/8", "2001:db8:ffff::/48"])
KEY = b"k" * 32


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("198.51.100.7", "198.51.100.7"),
        (" 198.51.100.7 ", "198.51.100.7"),
        ("198.51.100.7:8443", "198.51.100.7"),
        ('"198.51.100.7:8443"', "198.51.100.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ('"[2001:db8::1]:4711"', "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
    ],
)
def test_addresses_as_proxies_write_them(text: str, expected: str) -> None:
    assert parse_address(text) == ip(expected)


@pytest.mark.parametrize(
    "text",
    ["", "unknown", "_hidden", "999.1.1.1", "[2001:db8::1", "1.2.3", "localhost", "1.2.3.4/24"],
)
def test_malformed_addresses_are_none(text: str) -> None:
    assert parse_address(text) is None


def test_forwarded_for_lists_every_hop_of_every_header_instance() -> None:
    assert forwarded_for(["a, b", "c"], "x-forwarded-for") == ["a", " b", "c"]
    forwarded = ['for=192.0.2.1;proto=https, for="[2001:db8::1]"', "by=10.0.0.1"]
    assert [hop.strip() for hop in forwarded_for(forwarded, "forwarded")] == [
        "192.0.2.1",
        '"[2001:db8::1]"',
        "",
    ]


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    assert client_address(ip("198.51.100.1"), ["192.0.2.9"], TRUSTED) == ip("198.51.100.1")


def test_a_trusted_peer_is_walked_past_its_trusted_hops() -> None:
    hops = ["6.6.6.6", "192.0.2.9", "10.9.9.9", "2001:db8:ffff::2"]
    assert client_address(ip("10.0.0.1"), hops, TRUSTED) == ip("192.0.2.9")


def test_a_malformed_hop_ends_the_walk_at_the_last_trusted_hop() -> None:
    hops = ["192.0.2.9", "unknown", "10.9.9.9"]
    assert client_address(ip("10.0.0.1"), hops, TRUSTED) == ip("10.9.9.9")


def test_only_trusted_hops_leave_the_leftmost_one() -> None:
    assert client_address(ip("10.0.0.1"), ["10.1.1.1", "10.2.2.2"], TRUSTED) == ip("10.1.1.1")


def test_a_trusted_peer_without_hops_is_the_client() -> None:
    assert client_address(ip("10.0.0.1"), [], TRUSTED) == ip("10.0.0.1")


_ipv4 = st.ip_addresses(v=4)
_untrusted = _ipv4.filter(lambda address: not any(address in net for net in TRUSTED))


@given(peer=_untrusted, forged=st.lists(st.text(max_size=40), max_size=6))
def test_nothing_an_untrusted_peer_sends_changes_its_address(
    peer: ipaddress.IPv4Address, forged: list[str]
) -> None:
    assert client_address(peer, forward_hops(forged), TRUSTED) == peer


@given(client=_untrusted, forged=st.lists(st.text(max_size=40), max_size=6))
def test_nothing_a_client_prepends_changes_the_address_a_trusted_proxy_saw(
    client: ipaddress.IPv4Address, forged: list[str]
) -> None:
    hops = [*forward_hops(forged), str(client), "10.0.0.7"]
    assert client_address(ip("10.0.0.1"), hops, TRUSTED) == client


def forward_hops(values: list[str]) -> list[str]:
    return forwarded_for([", ".join(values)], "x-forwarded-for") if values else []


def test_header_fingerprint_ignores_versions_but_not_languages() -> None:
    chrome = header_fingerprint("*/*", "fr", "Chrome/120.0.1", KEY)
    assert chrome == header_fingerprint("*/*", "fr", "Chrome/121.0.7", KEY)
    assert chrome != header_fingerprint("*/*", "en", "Chrome/120.0.1", KEY)
    assert chrome != header_fingerprint("*/*", "fr", "Chrome/120.0.1", b"j" * 32)


@pytest.mark.parametrize("value", ["short", "x" * 129, "has space inside", "ünïcode-device-id"])
def test_insane_device_ids_are_ignored(value: str) -> None:
    assert device_fingerprint(value, KEY) is None


def test_device_fingerprint_is_keyed() -> None:
    device = device_fingerprint("0123456789abcdef", KEY)
    assert device is not None and device.startswith("dev:")
    assert device != device_fingerprint("0123456789abcdef", b"j" * 32)
    assert device_fingerprint(None, KEY) is None


def test_the_identifier_resolves_and_pseudonymises_the_sender() -> None:
    config = GuardConfig(
        pseudonym_key=KEY, sink_url="jsonl:x", spill_dir=Path(), trusted_proxies=TRUSTED
    )
    pseudonymiser = Pseudonymiser(KEY)
    identifier = ActorIdentifier(config, pseudonymiser)
    direct = identifier.address_keys("198.51.100.1", ("192.0.2.9",))
    proxied = identifier.address_keys("10.0.0.1", ("192.0.2.9",))
    assert direct == (pseudonymiser.ip("198.51.100.1"), pseudonymiser.net("198.51.100.1"), False)
    assert proxied == (pseudonymiser.ip("192.0.2.9"), pseudonymiser.net("192.0.2.9"), True)
    assert identifier.address_keys(None, ()) == (None, None, False)
    assert identifier.address_keys("testclient", ()) == (None, None, False)


def test_without_trusted_proxies_no_header_is_read() -> None:
    config = GuardConfig(pseudonym_key=KEY, sink_url="jsonl:x", spill_dir=Path())
    pseudonymiser = Pseudonymiser(KEY)
    keys = ActorIdentifier(config, pseudonymiser).address_keys("10.0.0.1", ["192.0.2.9"])
    assert keys == (pseudonymiser.ip("10.0.0.1"), pseudonymiser.net("10.0.0.1"), False)
