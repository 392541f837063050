"""Context tables a platform can give the detectors, their schemas, and building them from a
simulated World. Every table is optional; times are seconds since the Unix epoch (DOUBLE), the
same unit as ``events.epoch_s``, so that detector SQL stays portable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa

from harvestguard.canaries import Canary, CanaryKind, canaries_table
from harvestguard.simulate.world import World

_TEXT: pa.DataType = pa.string()
_TIME: pa.DataType = pa.float64()

CONTEXT_SCHEMAS: dict[str, pa.Schema] = {
    "follows": pa.schema([("follower", _TEXT), ("followee", _TEXT)]),
    "accounts": pa.schema([("account", _TEXT), ("created_at", _TIME)]),
    "stories": pa.schema([("story_id", _TEXT), ("owner", _TEXT), ("posted_at", _TIME)]),
    "posts": pa.schema([("post_id", _TEXT), ("owner", _TEXT), ("venue_id", _TEXT)]),
    "venues": pa.schema([("venue_id", _TEXT), ("city", _TEXT)]),
    "partner_apps": pa.schema([("client", _TEXT), ("scopes", pa.list_(_TEXT)), ("purpose", _TEXT)]),
    # which accounts granted which partner app access to their data
    "authorisations": pa.schema([("client", _TEXT), ("account", _TEXT)]),
    "allowlist": pa.schema([("kind", _TEXT), ("key", _TEXT), ("label", _TEXT)]),
    "canaries": pa.schema([("resource", _TEXT), ("object_id", _TEXT), ("label", _TEXT)]),
}

Context = Mapping[str, pa.Table]


def check_context(context: Context) -> dict[str, pa.Table]:
    """The tables cast to their schemas; ValueError naming an unknown table or a missing column."""
    checked: dict[str, pa.Table] = {}
    for name, table in context.items():
        schema = CONTEXT_SCHEMAS.get(name)
        if schema is None:
            raise ValueError(
                f"unknown context table {name!r}; expected one of {', '.join(CONTEXT_SCHEMAS)}"
            )
        missing = [f.name for f in schema if f.name not in table.column_names]
        if missing:
            raise ValueError(f"context table {name!r} lacks columns {missing}")
        checked[name] = table.select(schema.names).cast(schema)
    return checked


def context_from_world(world: World) -> dict[str, pa.Table]:
    """Every context table a World can supply (the simulator's platform content)."""
    follows = [(str(a), str(b)) for a, followees in world.following.items() for b in followees]
    tables = {
        "follows": _table("follows", follows),
        "accounts": _table("accounts", [(str(u.id), u.created_at) for u in world.users.values()]),
        "stories": _table(
            "stories",
            [(str(s.id), str(s.owner_id), s.created_at) for s in world.stories.values()],
        ),
        "posts": _table(
            "posts",
            [
                (str(p.id), str(p.owner_id), None if p.venue_id is None else str(p.venue_id))
                for p in world.posts.values()
            ],
        ),
        "venues": _table("venues", [(str(v.id), v.city) for v in world.venues.values()]),
        "partner_apps": _table(
            "partner_apps",
            [(a.client_id, sorted(a.scopes), a.purpose) for a in world.apps.values()],
        ),
        "authorisations": _table(
            "authorisations",
            [
                (a.client_id, str(account))
                for a in world.apps.values()
                for account in sorted(a.authorised_by)
            ],
        ),
    }
    if world.canaries:  # without any, canary_access is skipped rather than run on nothing
        tables["canaries"] = canaries_table(_world_canaries(world))
    return tables


def _world_canaries(world: World) -> list[Canary]:
    """The world's canaries as records; a post's or story's photo is read under its media key."""
    canaries = []
    for (kind, object_id), label in world.canaries.items():
        item = world.posts.get(object_id) if kind == "post" else world.stories.get(object_id)
        media = item.media_key if kind in ("post", "story") and item is not None else None
        canaries.append(Canary(CanaryKind(kind), str(object_id), label, label, media_id=media))
    return canaries


def _table(name: str, rows: Sequence[tuple[object, ...]]) -> pa.Table:
    schema = CONTEXT_SCHEMAS[name]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    return pa.table(
        {
            field.name: pa.array(list(column), field.type)
            for field, column in zip(schema, columns, strict=True)
        },
        schema=schema,
    )
