"""The typed policy model: what ``load_policy`` produces and ``redact`` reads.

The model holds a policy *resolved*: every audience's rule for every field is spelled out, with the
YAML shorthands (``default``, data-class rules, ``like``) already applied. Building a ``Policy``
compiles, once, the per-audience plans that ``redact`` walks for every object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from harvestguard.events import AudienceKind, DataClass
from harvestguard.policy.geohash import MAX_PRECISION
from harvestguard.policy.plans import ResourcePlans

Action = Literal["show", "hide", "coarsen"]
Axis = Literal["latitude", "longitude"]


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
    """What one audience gets of one field.

    ``ttl`` turns any showing rule into an expiring one: the field is shown only while the object
    is younger than it.
    """

    action: Action
    geohash_precision: int | None = None  # for coarsen: the geohash length kept
    ttl: timedelta | None = None

    def __post_init__(self) -> None:
        if (self.action == "coarsen") != (self.geohash_precision is not None):
            raise ValueError("a geohash precision goes with coarsen, and only with it")
        if self.geohash_precision is not None and not 1 <= self.geohash_precision <= MAX_PRECISION:
            raise ValueError(f"geohash precision must be within 1..{MAX_PRECISION}")
        if self.ttl is not None and (self.action == "hide" or self.ttl <= timedelta(0)):
            raise ValueError("a ttl is a positive duration on a rule that shows")

    def stricter(self, other: Rule) -> Rule:
        """The rule that discloses no more than either of the two."""
        if self.action == "hide" or other.action == "hide":
            return HIDE
        precisions = [p for p in (self.geohash_precision, other.geohash_precision) if p is not None]
        ttls = [t for t in (self.ttl, other.ttl) if t is not None]
        precision = min(precisions) if precisions else None
        return Rule(
            "show" if precision is None else "coarsen", precision, min(ttls) if ttls else None
        )


SHOW = Rule("show")
HIDE = Rule("hide")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    data_class: DataClass | None  # None: not personal data (ids, flags, counters)
    axis: Axis | None = None  # coordinates, the only fields that can be coarsened


@dataclass(frozen=True, slots=True)
class ResourcePolicy:
    """Who sees what of one kind of object.

    ``audiences`` maps an audience to the rule of each field it may see (a field not named is
    hidden); an audience absent or mapped to None does not see the object at all. Partners are not
    in ``audiences``: they see the fields their scopes grant (``partner_scopes``), and only for
    owners that authorised them. ``private_rules`` further restrict what anonymous, authenticated
    and partner audiences see when the private flag is set (None: they see nothing).
    """

    name: str
    fields: dict[str, FieldSpec]
    owner_field: str | None  # None: objects without an owner, such as public places
    audiences: dict[AudienceKind, dict[str, Rule] | None]
    created_field: str | None = None
    private_field: str | None = None
    ttl: timedelta | None = None  # the whole object is never shown past this age, to anyone
    private_rules: dict[str, Rule] | None = None
    partner_scopes: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Policy:
    version: int
    resources: dict[str, ResourcePolicy]
    source: str = "<memory>"
    plans: dict[str, ResourcePlans] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        plans = {name: ResourcePlans(resource) for name, resource in self.resources.items()}
        object.__setattr__(self, "plans", plans)

    def owner_of(self, resource: str, obj: Mapping[str, Any]) -> Any:
        """The owner of ``obj`` as the policy names it, so that callers can work out the audience;
        None for an unknown resource or one without owners."""
        spec = self.resources.get(resource)
        if spec is None or spec.owner_field is None:
            return None
        return obj.get(spec.owner_field)


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
