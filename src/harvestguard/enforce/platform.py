"""What the platform itself does when an entity is banned: the guard cannot disable an account or
revoke a partner app, the platform can. The platform implements this Protocol (photoshare:
``photoshare.guard_actions``); the ladder calls it on a ban and again when an analyst lifts it."""

from __future__ import annotations

from typing import Protocol


class PlatformActions(Protocol):
    """Each method returns whether it changed anything (an unknown id changes nothing)."""

    def disable_account(self, account_id: str, reason: str) -> bool: ...

    def restore_account(self, account_id: str, reason: str) -> bool: ...

    def revoke_client(self, client_id: str, reason: str) -> bool:
        """Revokes the partner app and deletes every token it holds."""
        ...

    def restore_client(self, client_id: str, reason: str) -> bool:
        """Re-enables the partner app; its tokens are gone, it must ask for new ones."""
        ...


class NoPlatformActions:
    """For a guard in front of an app that offers no platform actions: bans stay at the door."""

    def disable_account(self, account_id: str, reason: str) -> bool:
        return False

    def restore_account(self, account_id: str, reason: str) -> bool:
        return False

    def revoke_client(self, client_id: str, reason: str) -> bool:
        return False

    def restore_client(self, client_id: str, reason: str) -> bool:
        return False
