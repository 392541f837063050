"""The guard's settings: where events go, whom to trust for client addresses, how to fail.

Read from the environment (``HARVESTGUARD_*``) by ``GuardConfig.from_env``; every setting is
documented in docs/middleware.md.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ProxyHeader = Literal["x-forwarded-for", "forwarded"]

KEY_FILE_NAME = "pseudonym.key"
MIN_KEY_BYTES = 16
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class GuardConfigError(ValueError):
    """A setting that cannot be used; raised at start-up, never while serving."""


@dataclass(frozen=True, slots=True)
class GuardConfig:
    pseudonym_key: bytes
    sink_url: str
    spill_dir: Path
    trusted_proxies: tuple[IPNetwork, ...] = ()
    # Only one header is read: a proxy appends to the header it knows and passes the other one
    # through untouched, so honouring both would let a client forge the one the proxy ignores.
    proxy_header: ProxyHeader = "x-forwarded-for"
    fail_open: bool = True
    api_prefixes: tuple[str, ...] = ("/api/", "/oauth/")
    exempt_prefixes: tuple[str, ...] = ("/static/",)
    ipv4_prefix: int = 24
    ipv6_prefix: int = 64
    ua_max_length: int = 256
    # enforcement (docs/enforcement.md)
    redis_url: str | None = None  # decisions and limits shared by every instance; None: in-process
    limits_path: Path | None = None  # None: harvestguard's shipped limits
    limits_enabled: bool = True
    shadow: bool = False  # record what enforcement would do, without doing it
    decisions_stale_after: float = 30.0  # seconds memory is trusted while Redis is unreachable
    challenge_bits: int = 16  # proof-of-work difficulty: leading zero bits of SHA-256
    challenge_pass_seconds: int = 900  # how long a solved challenge lets the client through
    # live detection in the app's process (docs/enforcement.md, "Live detection")
    data_dir: Path = Path("var/harvestguard")
    live_detection: bool = False
    cases_url: str | None = None  # None: SQLite in data_dir
    detection_interval: float = 2.0  # real seconds between detection steps
    time_speed: float = 1.0  # >1 only for simulations: the guard's clock runs this much faster
    time_origin: float | None = None  # POSIX seconds from which the faster clock runs

    def __post_init__(self) -> None:
        if len(self.pseudonym_key) < MIN_KEY_BYTES:
            raise GuardConfigError(f"the pseudonym key needs at least {MIN_KEY_BYTES} bytes")
        if not 8 <= self.ipv4_prefix <= 32 or not 16 <= self.ipv6_prefix <= 128:
            raise GuardConfigError("network prefixes: IPv4 8..32, IPv6 16..128")
        if self.proxy_header not in ("x-forwarded-for", "forwarded"):
            raise GuardConfigError(f"unknown proxy header {self.proxy_header!r}")
        if self.ua_max_length < 1:
            raise GuardConfigError("ua_max_length must be positive")
        if self.redis_url is not None and not self.redis_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise GuardConfigError(
                f"HARVESTGUARD_REDIS_URL must be a redis:// URL, not {self.redis_url!r}"
            )
        if not 8 <= self.challenge_bits <= 32:
            raise GuardConfigError("challenge_bits: 8..32")
        if self.detection_interval <= 0 or self.time_speed <= 0:
            raise GuardConfigError("detection_interval and time_speed must be positive")
        if self.challenge_pass_seconds < 1 or self.decisions_stale_after <= 0:
            raise GuardConfigError(
                "challenge_pass_seconds and decisions_stale_after must be positive"
            )

    @classmethod
    def from_env(
        cls, data_dir: Path | None = None, environ: Mapping[str, str] | None = None
    ) -> GuardConfig:
        """Settings from ``HARVESTGUARD_*``; files default under ``data_dir``."""
        env = os.environ if environ is None else environ
        root = Path(env.get("HARVESTGUARD_DATA_DIR") or data_dir or "var/harvestguard")
        key = env.get("HARVESTGUARD_PSEUDONYM_KEY")
        config = cls(
            pseudonym_key=key.encode() if key else load_or_create_key(root),
            sink_url=env.get("HARVESTGUARD_SINK") or f"parquet:{root / 'events'}",
            spill_dir=Path(env.get("HARVESTGUARD_SPILL_DIR") or root / "spill"),
            data_dir=root,
        )
        changes: dict[str, Any] = {}
        if proxies := env.get("HARVESTGUARD_TRUSTED_PROXIES"):
            changes["trusted_proxies"] = parse_networks(_split(proxies))
        if header := env.get("HARVESTGUARD_PROXY_HEADER"):
            changes["proxy_header"] = header.strip().lower()
        if (fail_open := env.get("HARVESTGUARD_FAIL_OPEN")) is not None:
            changes["fail_open"] = _parse_bool("HARVESTGUARD_FAIL_OPEN", fail_open)
        if (api := env.get("HARVESTGUARD_API_PREFIXES")) is not None:
            changes["api_prefixes"] = tuple(_split(api))
        if (exempt := env.get("HARVESTGUARD_EXEMPT_PREFIXES")) is not None:
            changes["exempt_prefixes"] = tuple(_split(exempt))
        if redis_url := env.get("HARVESTGUARD_REDIS_URL", "").strip():
            changes["redis_url"] = redis_url
        if limits := env.get("HARVESTGUARD_LIMITS", "").strip():
            if limits.lower() in _FALSE:
                changes["limits_enabled"] = False
            else:
                changes["limits_path"] = Path(limits)
        if (live := env.get("HARVESTGUARD_LIVE_DETECTION")) is not None:
            changes["live_detection"] = _parse_bool("HARVESTGUARD_LIVE_DETECTION", live)
        if cases := env.get("HARVESTGUARD_CASES", "").strip():
            changes["cases_url"] = cases
        if (shadow := env.get("HARVESTGUARD_SHADOW")) is not None:
            changes["shadow"] = _parse_bool("HARVESTGUARD_SHADOW", shadow)
        for name, field_name, kind in _NUMBERS:
            if (raw := env.get(name)) is not None:
                changes[field_name] = _parse_number(name, raw, kind)
        return dataclasses.replace(config, **changes)

    @property
    def cases_store_url(self) -> str:
        return self.cases_url or f"sqlite:///{self.data_dir / 'cases.db'}"


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs (or single addresses) of trusted proxies; a malformed one is a start-up error."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise GuardConfigError(f"not an IP network: {value!r}") from exc
    return tuple(networks)


def load_or_create_key(data_dir: Path) -> bytes:
    """The pseudonym key kept in ``data_dir``, created on first use readable by its owner only.

    The key must survive restarts: a new key would make every pseudonym new, and the detectors
    would see the same visitors as strangers.
    """
    path = data_dir / KEY_FILE_NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise GuardConfigError(
                f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
            ) from None
        key = path.read_bytes()
        if len(key) < MIN_KEY_BYTES:
            raise GuardConfigError(f"{path} holds fewer than {MIN_KEY_BYTES} bytes") from None
        return key
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


_NUMBERS: tuple[tuple[str, str, type[int] | type[float]], ...] = (
    ("HARVESTGUARD_DECISIONS_STALE_AFTER", "decisions_stale_after", float),
    ("HARVESTGUARD_CHALLENGE_BITS", "challenge_bits", int),
    ("HARVESTGUARD_CHALLENGE_PASS_SECONDS", "challenge_pass_seconds", int),
    ("HARVESTGUARD_DETECTION_INTERVAL", "detection_interval", float),
    ("HARVESTGUARD_TIME_SPEED", "time_speed", float),
    ("HARVESTGUARD_TIME_ORIGIN", "time_origin", float),
)


def _parse_number(name: str, value: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(value.strip())
    except ValueError:
        raise GuardConfigError(f"{name} must be a number, not {value!r}") from None


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise GuardConfigError(f"{name} must be 1/0, true/false, yes/no or on/off, not {value!r}")
