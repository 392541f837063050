"""photoshare settings, read from the environment (PHOTOSHARE_*) with embedded defaults."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


def _default_data_dir() -> Path:
    return Path(os.environ.get("PHOTOSHARE_DATA_DIR", "var/photoshare"))


@dataclass(slots=True)
class Settings:
    data_dir: Path = field(default_factory=_default_data_dir)
    database_url: str | None = None  # None: a SQLite file in data_dir
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    secure_cookies: bool = True  # cookies marked Secure; tests over plain http turn it off
    session_ttl_hours: int = 24 * 14
    token_ttl_seconds: int = 3600
    story_ttl_hours: int = 24
    max_upload_bytes: int = 8 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    guard: bool = True  # wrap the app in the harvestguard middleware
    policy_path: Path | None = None  # None: harvestguard's shipped default policy

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'photoshare.db'}"

    @classmethod
    def from_env(cls) -> Settings:
        settings = cls()
        if url := os.environ.get("DATABASE_URL"):
            settings.database_url = url
        if key := os.environ.get("PHOTOSHARE_SECRET_KEY"):
            settings.secret_key = key
        if os.environ.get("PHOTOSHARE_INSECURE_COOKIES") == "1":
            settings.secure_cookies = False
        if policy := os.environ.get("HARVESTGUARD_POLICY"):
            settings.policy_path = Path(policy)
        return settings
