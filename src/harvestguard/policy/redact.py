"""redact(): the one boundary through which personal data leaves the platform."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from harvestguard import context
from harvestguard.events import DataClass
from harvestguard.policy.geohash import snap
from harvestguard.policy.loader import default_policy
from harvestguard.policy.model import Audience, Disclosure, Policy


def redact(
    resource: str,
    obj: Mapping[str, Any],
    audience: Audience,
    *,
    policy: Policy | None = None,
    now: datetime | None = None,
) -> Disclosure:
    """What ``audience`` may see of ``obj``, a ``resource``; fields the policy does not name are
    dropped, and ``data`` is None when the audience may not see the object at all."""
    plans = (policy or default_policy()).plans.get(resource)
    if plans is None:
        return Disclosure(None)
    owner = None if plans.owner_field is None else obj.get(plans.owner_field)
    owner_id = None if owner is None else str(owner)
    private = False
    if plans.private_field is not None:
        # A missing or unknown flag counts as private: the policy fails closed.
        flag = obj.get(plans.private_field)
        private = flag is None or bool(flag)
    plan = plans.plan_for(audience, private=private)
    if plan is None:
        return Disclosure(None, owner_id)
    age = timedelta(0)
    if plan.needs_age:
        known_age = _age(obj.get(plans.created_field or ""), now)
        if known_age is None or (plans.ttl is not None and known_age >= plans.ttl):
            return Disclosure(None, owner_id)
        age = known_age
    data: dict[str, Any] = {}
    classes: set[DataClass] = set()
    for name, data_class, precision, longitude, ttl in plan.steps:
        if name not in obj or (ttl is not None and age >= ttl):
            continue
        value = obj[name]
        if precision is not None:
            value = snap(value, precision, longitude=longitude)
        data[name] = value
        if data_class is not None and value is not None:
            classes.add(data_class)
    ctx = context.current()
    if ctx is not None:
        ctx.record_disclosure(owner_id, {data_class.value for data_class in classes})
    return Disclosure(data, owner_id, frozenset(classes))


def _age(created: object, now: datetime | None) -> timedelta | None:
    """How old the object is; None when its creation time is not a time (then it counts as expired)."""
    if isinstance(created, str):
        try:
            created = datetime.fromisoformat(created)
        except ValueError:
            return None
    if not isinstance(created, datetime):
        return None
    now = now or datetime.now(UTC)
    # Naive times are taken as UTC, the platform's convention for stored times.
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now - created
