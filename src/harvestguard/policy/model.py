"""The typed policy model: what ``load_policy`` produces and ``redact`` reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from harvestguard.events import AudienceKind, DataClass

Action = Literal["show", "hide", "coarsen"]


@dataclass(frozen=True, slots=True)
class Audience:
    """Who is looking at one object, relative to its owner.

    ``scopes`` and ``authorised`` matter only for partners: the scopes granted to the partner app,
    and whether the owner of the object authorised that app.
    """

    kind: AudienceKind
    scopes: frozenset[str] = frozenset()
    authorised: bool = False

    @classmethod
    def anonymous(cls) -> Audience:
        return cls(AudienceKind.ANONYMOUS)

    @classmethod
    def partner(cls, scopes: frozenset[str], *, authorised: bool) -> Audience:
        return cls(AudienceKind.PARTNER, scopes=scopes, authorised=authorised)


@dataclass(frozen=True, slots=True)
class Rule:
    """What one audience gets of one field."""

    action: Action
    geohash_precision: int | None = None  # for coarsen: the geohash length kept
    ttl: timedelta | None = None  # shown only while the object is younger than this


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    data_class: DataClass | None  # None: not personal data (ids, counts of nothing personal)
    axis: Literal["lat", "lon"] | None = None  # coordinates, the only fields that can be coarsened


@dataclass(frozen=True, slots=True)
class ResourcePolicy:
    name: str
    owner_field: str
    created_field: str | None
    private_field: str | None
    ttl: timedelta | None  # the whole object is never shown past this age, to anyone
    fields: dict[str, FieldSpec]
    rules: dict[AudienceKind, dict[str, Rule]]  # audience -> field -> rule (fields not named: hidden)
    private_rules: dict[AudienceKind, dict[str, Rule]]  # when the owner is private and not followed
    partner_scopes: dict[str, frozenset[str]]  # scope -> fields it grants
    partner_requires_authorisation: bool = True


@dataclass(frozen=True, slots=True)
class Policy:
    version: int
    resources: dict[str, ResourcePolicy]
    source: str = "<memory>"


@dataclass(frozen=True, slots=True)
class Disclosure:
    """The result of ``redact``: what may be shown, and whose personal data of which classes it holds.

    ``data`` is None when the audience may not see the object at all.
    """

    data: dict[str, Any] | None
    owner_id: str | None = None
    data_classes: frozenset[DataClass] = field(default_factory=frozenset)

    @property
    def visible(self) -> bool:
        return self.data is not None
