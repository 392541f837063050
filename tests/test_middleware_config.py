"""GuardConfig: defaults under the data dir, the persisted pseudonym key, the environment."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import stat
from pathlib import Path

import pytest

from harvestguard import config as config_module
from harvestguard.config import KEY_FILE_NAME, GuardConfig, GuardConfigError

DOC = Path(__file__).resolve().parent.parent / "docs" / "middleware.md"


def test_defaults_live_under_the_data_dir(tmp_path: Path) -> None:
    config = GuardConfig.from_env(tmp_path, environ={})
    assert config.sink_url == f"parquet:{tmp_path / 'events'}"
    assert config.spill_dir == tmp_path / "spill"
    assert config.trusted_proxies == ()
    assert config.fail_open is True
    assert config.api_prefixes == ("/api/", "/oauth/")
    assert config.exempt_prefixes == ("/static/",)


def test_the_generated_key_is_private_and_survives_restarts(tmp_path: Path) -> None:
    first = GuardConfig.from_env(tmp_path, environ={})
    key_file = tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes() == first.pseudonym_key
    assert len(first.pseudonym_key) == 32
    assert GuardConfig.from_env(tmp_path, environ={}).pseudonym_key == first.pseudonym_key
    assert GuardConfig.from_env(tmp_path / "other", environ={}).pseudonym_key != first.pseudonym_key


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    GuardConfig.from_env(tmp_path, environ={})
    (tmp_path / KEY_FILE_NAME).chmod(0o644)
    with pytest.raises(GuardConfigError, match="chmod 600"):
        GuardConfig.from_env(tmp_path, environ={})


def test_a_truncated_key_file_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / KEY_FILE_NAME
    key_file.write_bytes(b"short")
    key_file.chmod(0o600)
    with pytest.raises(GuardConfigError, match="fewer than"):
        GuardConfig.from_env(tmp_path, environ={})


def test_the_environment_sets_everything(tmp_path: Path) -> None:
    environ = {
        "HARVESTGUARD_DATA_DIR": str(tmp_path / "guard"),
        "HARVESTGUARD_PSEUDONYM_KEY": "a-secret-of-at-least-sixteen-bytes",
        "HARVESTGUARD_SINK": "duckdb:/srv/events.duckdb",
        "HARVESTGUARD_SPILL_DIR": "/srv/spill",
        "HARVESTGUARD_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1 ,2001:db8::/32",
        "HARVESTGUARD_PROXY_HEADER": "Forwarded",
        "HARVESTGUARD_FAIL_OPEN": "no",
        "HARVESTGUARD_API_PREFIXES": "/v1/",
        "HARVESTGUARD_EXEMPT_PREFIXES": "/static/,/healthz",
    }
    config = GuardConfig.from_env(tmp_path / "ignored", environ=environ)
    assert config.pseudonym_key == b"a-secret-of-at-least-sixteen-bytes"
    assert not (tmp_path / "guard" / KEY_FILE_NAME).exists()
    assert config.sink_url == "duckdb:/srv/events.duckdb"
    assert config.spill_dir == Path("/srv/spill")
    assert config.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.0.2.1/32"),
        ipaddress.ip_network("2001:db8::/32"),
    )
    assert config.proxy_header == "forwarded"
    assert config.fail_open is False
    assert config.api_prefixes == ("/v1/",)
    assert config.exempt_prefixes == ("/static/", "/healthz")


def test_the_data_dir_from_the_environment_holds_the_defaults(tmp_path: Path) -> None:
    config = GuardConfig.from_env(environ={"HARVESTGUARD_DATA_DIR": str(tmp_path)})
    assert config.sink_url == f"parquet:{tmp_path / 'events'}"
    assert (tmp_path / KEY_FILE_NAME).exists()


def test_empty_prefix_lists_turn_channels_and_exemptions_off(tmp_path: Path) -> None:
    environ = {"HARVESTGUARD_API_PREFIXES": "", "HARVESTGUARD_EXEMPT_PREFIXES": ""}
    config = GuardConfig.from_env(tmp_path, environ=environ)
    assert config.api_prefixes == () and config.exempt_prefixes == ()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HARVESTGUARD_TRUSTED_PROXIES", "10.0.0.0/8,not-a-network", "not an IP network"),
        ("HARVESTGUARD_FAIL_OPEN", "maybe", "HARVESTGUARD_FAIL_OPEN"),
        ("HARVESTGUARD_PSEUDONYM_KEY", "too-short", "at least 16 bytes"),
        ("HARVESTGUARD_PROXY_HEADER", "x-real-ip", "unknown proxy header"),
    ],
)
def test_bad_settings_fail_at_start_up(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(GuardConfigError, match=message):
        GuardConfig.from_env(tmp_path, environ={name: value})


def test_bad_prefix_lengths_are_refused() -> None:
    with pytest.raises(GuardConfigError, match="network prefixes"):
        GuardConfig(pseudonym_key=b"k" * 16, sink_url="jsonl:x", spill_dir=Path(), ipv4_prefix=40)


def test_every_setting_is_documented() -> None:
    doc = DOC.read_text()
    variables = re.findall(r'"(HARVESTGUARD_[A-Z_]+)"', Path(config_module.__file__).read_text())
    assert len(variables) >= 8
    for name in [*(field.name for field in dataclasses.fields(GuardConfig)), *variables]:
        assert f"`{name}`" in doc, f"{name} is not documented in docs/middleware.md"
