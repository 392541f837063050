"""Whom a response is marked for: the most stable key the guard has for the actor.

An account outlives the addresses it comes from, a partner app outlives its tokens, and a network
prefix is all there is of a logged-out visitor. The same precedence names the candidates when a
leak is attributed (``candidates.py``), so the two always agree.
"""

from __future__ import annotations

from starlette.types import Scope

from harvestguard import context
from harvestguard.actor import ActorKeys
from harvestguard.middleware import KEYS_SCOPE_KEY


def identity_of(account: str | None, client: str | None, net: str | None) -> str | None:
    if account:
        return f"account:{account}"
    if client:
        return f"client:{client}"
    if net:
        return f"net:{net}"
    return None


def mark_identity(scope: Scope) -> str | None:
    """The identity of the request being served, or None outside the guard (nothing is marked)."""
    ctx = context.current()
    keys = scope.get(KEYS_SCOPE_KEY)
    net = keys.net if isinstance(keys, ActorKeys) else None
    if ctx is None:
        return identity_of(None, None, net)
    return identity_of(ctx.actor_account, ctx.actor_client, net)
