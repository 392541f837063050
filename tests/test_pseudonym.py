"""Pseudonyms: stable under one key, unrelated across keys, grouping exactly by network."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harvestguard.config import GuardConfig
from harvestguard.pseudonym import INVALID_PREFIX, Pseudonymiser

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
HEX32 = re.compile(r"[0-9a-f]{32}")
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)


def test_ip_pseudonyms_are_stable_keyed_hex_that_hide_the_address() -> None:
    pseudonyms = Pseudonymiser(KEY)
    first = pseudonyms.ip("203.0.113.9")
    assert HEX32.fullmatch(first)
    assert first == Pseudonymiser(KEY).ip("203.0.113.9") == pseudonyms.ip(" 203.0.113.9 ")
    assert first != Pseudonymiser(OTHER_KEY).ip("203.0.113.9")
    assert first != pseudonyms.ip("203.0.113.10")
    assert "203" not in first and "cb007109" not in first  # nor its hex form


def test_the_same_client_gets_one_pseudonym_however_its_address_is_written() -> None:
    pseudonyms = Pseudonymiser(KEY)
    assert pseudonyms.ip("::ffff:203.0.113.9") == pseudonyms.ip("203.0.113.9")
    assert pseudonyms.ip("2001:DB8:0:0::1") == pseudonyms.ip("2001:db8::1")


def test_networks_group_a_slash_24_and_a_slash_64() -> None:
    pseudonyms = Pseudonymiser(KEY)
    assert pseudonyms.net("198.51.100.7") == pseudonyms.net("198.51.100.250")
    assert pseudonyms.net("198.51.100.7") != pseudonyms.net("198.51.101.7")
    assert pseudonyms.net("198.51.100.7") == pseudonyms.net("198.51.100.0/24")
    assert pseudonyms.net("2001:db8:1:2::1") == pseudonyms.net("2001:db8:1:2:ffff::9")
    assert pseudonyms.net("2001:db8:1:2::1") != pseudonyms.net("2001:db8:1:3::1")
    # an address and its network are different things, even when written alike
    assert pseudonyms.net("198.51.100.0") != pseudonyms.ip("198.51.100.0")


def test_prefix_lengths_follow_the_config(tmp_path: Path) -> None:
    config = GuardConfig.from_env(tmp_path, environ={"HARVESTGUARD_PSEUDONYM_KEY": "x" * 20})
    wide = Pseudonymiser.from_config(
        GuardConfig(
            pseudonym_key=config.pseudonym_key,
            sink_url=config.sink_url,
            spill_dir=config.spill_dir,
            ipv4_prefix=16,
        )
    )
    assert wide.net("10.1.2.3") == wide.net("10.1.200.3")
    assert Pseudonymiser.from_config(config).net("10.1.2.3") != wide.net("10.1.2.3")
    assert Pseudonymiser.from_config(config).ip("10.1.2.3") == Pseudonymiser(b"x" * 20).ip(
        "10.1.2.3"
    )


@pytest.mark.parametrize("text", ["", "unknown", "300.1.1.1", "203.0.113.9:443", "x" * 500, "é"])
def test_text_that_is_no_address_is_hashed_and_labelled(text: str) -> None:
    pseudonyms = Pseudonymiser(KEY)
    for value in (pseudonyms.ip(text), pseudonyms.net(text)):
        assert value.startswith(INVALID_PREFIX)
        assert HEX32.fullmatch(value.removeprefix(INVALID_PREFIX))
    assert pseudonyms.ip(text) == Pseudonymiser(KEY).ip(text)
    assert pseudonyms.ip(text) != Pseudonymiser(OTHER_KEY).ip(text)


@pytest.mark.parametrize("key", [b"", b"short", b"x" * 15])
def test_short_keys_are_refused(key: bytes) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        Pseudonymiser(key)
    with pytest.raises(ValueError):
        Pseudonymiser(KEY, previous_keys=[key])


def test_bad_prefixes_are_refused() -> None:
    with pytest.raises(ValueError):
        Pseudonymiser(KEY, ipv4_prefix=33)
    with pytest.raises(ValueError):
        Pseudonymiser(KEY, ipv6_prefix=8)


def test_after_rotation_old_pseudonyms_can_still_be_found() -> None:
    old = Pseudonymiser(OTHER_KEY)
    rotated = Pseudonymiser(KEY, previous_keys=[OTHER_KEY])
    assert rotated.ip("203.0.113.9") == Pseudonymiser(KEY).ip("203.0.113.9")
    assert rotated.ip_variants("203.0.113.9") == (
        rotated.ip("203.0.113.9"),
        old.ip("203.0.113.9"),
    )
    assert rotated.net_variants("203.0.113.9")[1] == old.net("203.0.113.77")


@given(ipv4, ipv4)
def test_ipv4_networks_match_exactly_when_the_slash_24_matches(a: str, b: str) -> None:
    pseudonyms = Pseudonymiser(KEY)
    same = ipaddress.ip_network(f"{a}/24", strict=False) == ipaddress.ip_network(
        f"{b}/24", strict=False
    )
    assert (pseudonyms.net(a) == pseudonyms.net(b)) is same
    assert (pseudonyms.ip(a) == pseudonyms.ip(b)) is (a == b)


@given(ipv6, ipv6)
def test_ipv6_networks_match_exactly_when_the_slash_64_matches(a: str, b: str) -> None:
    pseudonyms = Pseudonymiser(KEY)
    address_a, address_b = ipaddress.IPv6Address(a), ipaddress.IPv6Address(b)
    if address_a.ipv4_mapped or address_b.ipv4_mapped:
        return
    same = int(address_a) >> 64 == int(address_b) >> 64
    assert (pseudonyms.net(a) == pseudonyms.net(b)) is same
