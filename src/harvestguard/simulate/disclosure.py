"""Which data classes the policy discloses, per (resource, audience, private, ...), asked of the policy.

The simulator does not restate the policy: for each combination it builds one representative object
of the resource from the policy's own field list, calls ``redact`` on it once, and keeps the
answer. A change to default.yaml changes the simulated events the same way it changes the real ones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from harvestguard.events import AudienceKind, DataClass
from harvestguard.policy import Audience, Policy, default_policy, redact

Classes = tuple[str, ...]
_COORDINATE = {"latitude": 52.5163, "longitude": 13.3777}


class DisclosureTable:
    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy or default_policy()
        self._cache: dict[tuple[Any, ...], Classes | None] = {}
        # a fixed instant: the representative object is always brand new, so ttls never bite
        self._now = datetime(2025, 1, 1, tzinfo=UTC)

    def classes(
        self,
        resource: str,
        kind: AudienceKind,
        private: bool,
        *,
        venue: bool = True,
        scopes: frozenset[str] = frozenset(),
        authorised: bool = False,
    ) -> Classes | None:
        """The sorted data classes shown, or None when the audience may not see the object.

        ``venue`` says whether the object has a place: without one its location fields are empty
        and disclose nothing. ``scopes`` and ``authorised`` matter for partners only.
        """
        key = (resource, kind, private, venue, scopes, authorised)
        try:
            return self._cache[key]
        except KeyError:
            pass
        if kind is AudienceKind.PARTNER:
            audience = Audience.partner(scopes, authorised=authorised)
        else:
            audience = Audience(kind)
        shown = redact(
            resource,
            self._representative(resource, private, venue),
            audience,
            policy=self.policy,
            now=self._now,
        )
        value = None if shown.data is None else tuple(sorted(c.value for c in shown.data_classes))
        self._cache[key] = value
        return value

    def field_class(self, resource: str, field: str) -> str | None:
        """The data class of one field (the image of a post or a story, say)."""
        spec = self.policy.resources[resource].fields[field]
        return None if spec.data_class is None else spec.data_class.value

    def _representative(self, resource: str, private: bool, venue: bool) -> dict[str, Any]:
        spec = self.policy.resources.get(resource)
        if spec is None:
            return {}
        obj: dict[str, Any] = {}
        for name, field in spec.fields.items():
            if name == spec.private_field:
                obj[name] = private
            elif name == spec.created_field:
                obj[name] = self._now
            elif name == spec.owner_field:
                obj[name] = 1
            elif field.data_class is DataClass.LOCATION and not venue:
                obj[name] = None
            elif field.axis is not None:
                obj[name] = _COORDINATE[field.axis]
            else:
                obj[name] = f"sample {name}"
        return obj
