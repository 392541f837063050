"""What enforcement says about an actor, and the store the middleware asks on every request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from harvestguard.actor import ActorKeys
from harvestguard.events import Decision


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    retry_after: int | None = None  # seconds; sent as Retry-After with throttle
    reason: str | None = None  # for the analysts' records; never shown to the actor


ALLOW = Verdict(Decision.ALLOW)


class DecisionStore(Protocol):
    """Answers for an actor in O(1) from memory; it is asked on the hot path of every request.

    ``check`` may raise when its backing store is unreachable; the middleware then fails open or
    closed as configured.
    """

    def check(self, keys: ActorKeys) -> Verdict: ...


class AllowAll:
    """The store to use before enforcement has anything to say."""

    def check(self, keys: ActorKeys) -> Verdict:
        return ALLOW
