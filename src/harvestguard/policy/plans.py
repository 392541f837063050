"""Per-audience plans, compiled once per policy: the field-by-field steps ``redact`` walks.

``redact`` runs on every object of every response, so the rules are resolved ahead of time into a
flat tuple of steps per (resource, audience); partners' plans depend on their scopes and are
compiled on first use and kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, NamedTuple

from harvestguard.events import AudienceKind, DataClass

if TYPE_CHECKING:
    from harvestguard.policy.model import Audience, ResourcePolicy, Rule

# The audiences a private owner's flag restricts: everyone who is neither the owner nor a follower.
_RESTRICTED_BY_PRIVATE = (AudienceKind.ANONYMOUS, AudienceKind.AUTHENTICATED)


class Step(NamedTuple):
    field: str
    data_class: DataClass | None
    geohash_precision: int | None  # coarsen to this, when set
    longitude: bool
    ttl: timedelta | None  # shown only while the object is younger than this


class Plan(NamedTuple):
    steps: tuple[Step, ...]
    needs_age: bool  # whether any step, or the resource, has a ttl


class ResourcePlans:
    """Every plan of one resource; ``plan_for`` is None when the audience may not see the object."""

    __slots__ = (
        "_partner",
        "_resource",
        "created_field",
        "owner_field",
        "private_field",
        "private_plans",
        "public_plans",
        "ttl",
    )

    def __init__(self, resource: ResourcePolicy) -> None:
        self._resource = resource
        self.owner_field = resource.owner_field
        self.created_field = resource.created_field
        self.private_field = resource.private_field
        self.ttl = resource.ttl
        for name in (resource.owner_field, resource.created_field, resource.private_field):
            if name is not None and name not in resource.fields:
                raise ValueError(f"{resource.name}: field {name!r} is not declared")
        if resource.ttl is not None and resource.created_field is None:
            raise ValueError(f"{resource.name}: a ttl needs a created field")
        self.public_plans: dict[AudienceKind, Plan | None] = {
            kind: None if rules is None else self._plan(rules)
            for kind, rules in resource.audiences.items()
            if kind is not AudienceKind.PARTNER
        }
        self.private_plans: dict[AudienceKind, Plan | None] = {
            kind: self._restricted(resource.audiences.get(kind)) for kind in _RESTRICTED_BY_PRIVATE
        }
        self._partner: dict[tuple[frozenset[str], bool], Plan | None] = {}

    def plan_for(self, audience: Audience, *, private: bool) -> Plan | None:
        kind = audience.kind
        if kind is AudienceKind.PARTNER:
            if self.owner_field is not None and not audience.authorised:
                return None
            key = (audience.scopes, private)
            if key not in self._partner:
                self._partner[key] = self._partner_plan(audience.scopes, private=private)
            return self._partner[key]
        if private and kind in _RESTRICTED_BY_PRIVATE:
            return self.private_plans[kind]
        return self.public_plans.get(kind)

    def _partner_plan(self, scopes: frozenset[str], *, private: bool) -> Plan | None:
        granted: set[str] = set()
        for scope in scopes:
            granted |= self._resource.partner_scopes.get(scope, frozenset())
        if not granted:
            return None
        if not private:
            return self._steps({name: None for name in granted})
        private_rules = self._resource.private_rules
        if private_rules is None:
            return None
        plan = self._plan({n: rule for n, rule in private_rules.items() if n in granted})
        return plan if plan.steps else None

    def _restricted(self, rules: dict[str, Rule] | None) -> Plan | None:
        private_rules = self._resource.private_rules
        if rules is None or private_rules is None:
            return None
        return self._plan(
            {
                name: rule.stricter(private_rules[name])
                for name, rule in rules.items()
                if name in private_rules
            }
        )

    def _plan(self, rules: dict[str, Rule]) -> Plan:
        return self._steps({name: rule for name, rule in rules.items() if rule.action != "hide"})

    def _steps(self, rules: Mapping[str, Rule | None]) -> Plan:
        """Steps in the order the fields are declared; a None rule shows the field as it is."""
        resource = self._resource
        unknown = set(rules) - set(resource.fields)
        if unknown:
            raise ValueError(f"{resource.name}: rules for undeclared fields {sorted(unknown)}")
        steps: list[Step] = []
        for name, spec in resource.fields.items():
            if name not in rules:
                continue
            rule = rules[name]
            precision = None if rule is None else rule.geohash_precision
            ttl = None if rule is None else rule.ttl
            if precision is not None and spec.axis is None:
                raise ValueError(f"{resource.name}: coarsen on {name!r}, not a coordinate")
            if ttl is not None and resource.created_field is None:
                raise ValueError(f"{resource.name}: expire on {name!r} needs a created field")
            steps.append(Step(name, spec.data_class, precision, spec.axis == "longitude", ttl))
        needs_age = resource.ttl is not None or any(step.ttl is not None for step in steps)
        return Plan(tuple(steps), needs_age)
