"""A decision about one actor key: what, why, by whom, until when. JSON-safe for Redis and audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harvestguard.enforce.levels import Level
from harvestguard.simulate.groundtruth import KEY_KINDS, ActorKey

# A user agent is shared by thousands: it may be evidence, never the target of a decision.
UNACTIONABLE_KINDS = frozenset({"ua"})
ACTIONABLE_KINDS: tuple[str, ...] = tuple(k for k in KEY_KINDS if k not in UNACTIONABLE_KINDS)


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    key: ActorKey
    level: Level
    reason: str
    by: str  # "ladder", "limits", or the analyst's name
    created_at: datetime
    expires_at: datetime | None  # None: until lifted
    entity_id: str | None = None
    case_id: str | None = None
    shadow: bool = False  # recorded to show what would have happened, never enforced

    def __post_init__(self) -> None:
        kind, value = self.key
        if kind not in ACTIONABLE_KINDS:
            raise ValueError(f"decisions apply to {', '.join(ACTIONABLE_KINDS)} keys, not {kind!r}")
        if not value:
            raise ValueError("a decision needs a key value")
        if self.created_at.tzinfo is None or (
            self.expires_at is not None and self.expires_at.tzinfo is None
        ):
            raise ValueError("decision times must carry a time zone")

    @property
    def slot(self) -> str:
        """The record's identity: one record per key, level and mode; a new one replaces it."""
        kind, value = self.key
        return f"{kind}\x1f{value}\x1f{self.level.name}\x1f{int(self.shadow)}"

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": list(self.key),
            "level": self.level.name.lower(),
            "reason": self.reason,
            "by": self.by,
            "created_at": self.created_at.astimezone(UTC).isoformat(),
            "expires_at": None
            if self.expires_at is None
            else self.expires_at.astimezone(UTC).isoformat(),
            "entity_id": self.entity_id,
            "case_id": self.case_id,
            "shadow": self.shadow,
        }

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> DecisionRecord:
        kind, value = row["key"]
        expires = row.get("expires_at")
        return cls(
            key=(str(kind), str(value)),
            level=Level.parse(str(row["level"])),
            reason=str(row["reason"]),
            by=str(row["by"]),
            created_at=datetime.fromisoformat(row["created_at"]),
            expires_at=None if expires is None else datetime.fromisoformat(expires),
            entity_id=row.get("entity_id"),
            case_id=row.get("case_id"),
            shadow=bool(row.get("shadow", False)),
        )
