"""A clock tests move by hand, and small builders of decision records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from harvestguard.detect.findings import Entity, Exposure
from harvestguard.enforce.levels import Level
from harvestguard.enforce.records import DecisionRecord
from harvestguard.simulate.groundtruth import ActorKey

T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


class ManualClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def record(
    key: ActorKey,
    level: Level,
    *,
    at: datetime = T0,
    minutes: float | None = 60,
    shadow: bool = False,
    entity_id: str | None = None,
    reason: str = "test",
) -> DecisionRecord:
    expires = None if minutes is None else at + timedelta(minutes=minutes)
    return DecisionRecord(
        key, level, reason, "tester", at, expires, entity_id=entity_id, shadow=shadow
    )


def entity(
    keys: set[ActorKey],
    *,
    risk: float = 0.9,
    entity_id: str = "e-1",
    last_seen: datetime = T0,
    allowlisted: str | None = None,
    members: set[ActorKey] | None = None,
) -> Entity:
    """A flagged entity as detection reports it: its safe keys, risk and last activity."""
    return Entity(
        id=entity_id,
        keys=frozenset(keys),
        members=frozenset(keys | (members or set())),
        findings=[],
        links=[],
        risk=risk,
        detected_at=last_seen,
        allowlisted=allowlisted,
        exposure=Exposure(
            requests=100, first_seen=last_seen - timedelta(hours=1), last_seen=last_seen
        ),
    )


class RecordingPlatform:
    """The platform side of a ban, as photoshare.guard_actions does it, kept in sets."""

    def __init__(self) -> None:
        self.disabled: set[str] = set()
        self.revoked: set[str] = set()

    def disable_account(self, account_id: str, reason: str) -> bool:
        self.disabled.add(account_id)
        return True

    def restore_account(self, account_id: str, reason: str) -> bool:
        self.disabled.discard(account_id)
        return True

    def revoke_client(self, client_id: str, reason: str) -> bool:
        self.revoked.add(client_id)
        return True

    def restore_client(self, client_id: str, reason: str) -> bool:
        self.revoked.discard(client_id)
        return True
