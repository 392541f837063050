"""The enforcement ladder's rungs, weakest to strongest, and what the middleware does on each."""

from __future__ import annotations

import enum

from harvestguard.events import Decision


class Level(enum.IntEnum):
    ALLOW = 0
    THROTTLE = 1
    CHALLENGE = 2
    BLOCK = 3
    BAN = 4  # a block of every key of an entity, with its accounts and partner app disabled

    @property
    def decision(self) -> Decision:
        """What the middleware does; a ban is recorded in events as a block."""
        return _DECISIONS[self]

    @classmethod
    def parse(cls, name: str) -> Level:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            choices = ", ".join(level.name.lower() for level in cls)
            raise ValueError(f"unknown level {name!r}; expected one of {choices}") from None


_DECISIONS = {
    Level.ALLOW: Decision.ALLOW,
    Level.THROTTLE: Decision.THROTTLE,
    Level.CHALLENGE: Decision.CHALLENGE,
    Level.BLOCK: Decision.BLOCK,
    Level.BAN: Decision.BLOCK,
}
