"""Property tests of redact(): for any policy, object and audience, nothing the policy denies goes out.

The oracle below reads the policy model directly and shares no code with the engine's plans; the
geohash reference is the textbook bisection, not the engine's grid arithmetic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harvestguard import context
from harvestguard.context import RequestContext
from harvestguard.events import AudienceKind, DataClass
from harvestguard.policy import Audience, Policy, load_policy_text, redact
from harvestguard.policy.model import Axis, FieldSpec, ResourcePolicy, Rule

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SCOPES = ("scope:a", "scope:b", "scope:c")
_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
_BOUNDED = settings(max_examples=200, deadline=None)


def geohash(
    lat: float, lon: float, precision: int
) -> tuple[str, tuple[float, float, float, float]]:
    """The geohash of a point and its cell (lat_low, lat_high, lon_low, lon_high), by bisection.

    A point on a cell boundary goes to the upper cell.
    """
    lat_range, lon_range = [-90.0, 90.0], [-180.0, 180.0]
    bits = []
    for position in range(5 * precision):
        interval, value = (lon_range, lon) if position % 2 == 0 else (lat_range, lat)
        middle = (interval[0] + interval[1]) / 2
        upper = value >= middle
        bits.append(int(upper))
        interval[0 if upper else 1] = middle
    text = "".join(
        _BASE32[int("".join(map(str, bits[i : i + 5])), 2)] for i in range(0, len(bits), 5)
    )
    return text, (lat_range[0], lat_range[1], lon_range[0], lon_range[1])


def cell_centre(value: float, precision: int, *, longitude: bool) -> float:
    _, (lat_low, lat_high, lon_low, lon_high) = geohash(
        0.0 if longitude else value, value if longitude else 0.0, precision
    )
    return (lon_low + lon_high) / 2 if longitude else (lat_low + lat_high) / 2


def test_geohash_reference_matches_the_published_example() -> None:
    text, (lat_low, lat_high, lon_low, lon_high) = geohash(42.605, -5.603, 5)
    assert text == "ezs42"
    assert lat_low <= 42.605 < lat_high and lon_low <= -5.603 < lon_high


# -- generated policies ----------------------------------------------------------------------------

_PLAIN_FIELDS = ("name", "bio", "email", "photo", "count")
_COORDINATES: dict[str, Axis] = {"lat": "latitude", "lon": "longitude"}


def _rules(draw: st.DrawFn, fields: dict[str, FieldSpec]) -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for name, spec in fields.items():
        action = draw(
            st.sampled_from(["show", "hide", "absent"] + (["coarsen"] if spec.axis else []))
        )
        if action == "absent":
            continue
        if action == "hide":
            rules[name] = Rule("hide")
            continue
        ttl = draw(st.none() | st.integers(1, 48).map(lambda hours: timedelta(hours=hours)))
        if action == "coarsen":
            rules[name] = Rule("coarsen", draw(st.integers(1, 12)), ttl)
        else:
            rules[name] = Rule("show", None, ttl)
    return rules


@st.composite
def resources(draw: st.DrawFn) -> ResourcePolicy:
    classes = st.sampled_from([*DataClass, None])
    fields = {
        "owner": FieldSpec("owner", None),
        "created": FieldSpec("created", None),
        "private": FieldSpec("private", None),
    }
    for name in draw(st.lists(st.sampled_from(_PLAIN_FIELDS), unique=True)):
        fields[name] = FieldSpec(name, draw(classes))
    for name, axis in _COORDINATES.items():
        if draw(st.booleans()):
            fields[name] = FieldSpec(name, draw(classes), axis)
    audiences: dict[AudienceKind, dict[str, Rule] | None] = {}
    for kind in (AudienceKind.ANONYMOUS, AudienceKind.AUTHENTICATED, AudienceKind.FOLLOWER):
        presence = draw(st.sampled_from(["rules", "hidden", "absent"]))
        if presence != "absent":
            audiences[kind] = _rules(draw, fields) if presence == "rules" else None
    audiences[AudienceKind.OWNER] = _rules(draw, fields)
    return ResourcePolicy(
        name="thing",
        fields=fields,
        owner_field=draw(st.sampled_from(["owner", None])),
        audiences=audiences,
        created_field="created",
        private_field=draw(st.sampled_from(["private", None])),
        ttl=draw(st.none() | st.integers(1, 72).map(lambda hours: timedelta(hours=hours))),
        private_rules=_rules(draw, fields) if draw(st.booleans()) else None,
        partner_scopes={
            scope: frozenset(draw(st.lists(st.sampled_from(sorted(fields)), unique=True)))
            for scope in draw(st.lists(st.sampled_from(SCOPES), unique=True))
        },
    )


_values = st.none() | st.text(max_size=5) | st.integers(-5, 5)


@st.composite
def objects(draw: st.DrawFn, resource: ResourcePolicy) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for name, spec in resource.fields.items():
        if name in ("owner", "created", "private") or draw(st.integers(0, 9)) > 0:
            limit = 90.0 if spec.axis == "latitude" else 180.0
            coordinate = st.floats(-limit, limit, allow_nan=False)
            obj[name] = draw(st.none() | coordinate if spec.axis else _values)
    obj["owner"] = draw(st.none() | st.integers(1, 9))
    obj["created"] = NOW - timedelta(minutes=draw(st.integers(-60, 80 * 60)))
    private = draw(st.sampled_from([True, False, None, "absent"]))
    if private == "absent":
        del obj["private"]
    else:
        obj["private"] = private
    obj["undeclared_secret"] = draw(_values)
    return obj


audiences = st.builds(
    Audience,
    kind=st.sampled_from(list(AudienceKind)),
    scopes=st.frozensets(st.sampled_from([*SCOPES, "scope:unknown"])),
    authorised=st.booleans(),
)


# -- the oracle ------------------------------------------------------------------------------------


def _both(first: Rule, second: Rule | None) -> Rule | None:
    """What two rules together still allow (None: hidden)."""
    if second is None or "hide" in (first.action, second.action):
        return None
    precisions = [p for p in (first.geohash_precision, second.geohash_precision) if p]
    ttls = [t for t in (first.ttl, second.ttl) if t]
    precision = min(precisions, default=None)
    return Rule("coarsen" if precision else "show", precision, min(ttls, default=None))


def allowed(
    resource: ResourcePolicy, obj: dict[str, Any], audience: Audience
) -> dict[str, Rule] | None:
    """field -> the rule that lets the audience see it; None when it may not see the object."""
    private = False
    if resource.private_field is not None:
        flag = obj.get(resource.private_field)
        private = flag is None or bool(flag)
    restricted = private and audience.kind in (
        AudienceKind.ANONYMOUS,
        AudienceKind.AUTHENTICATED,
        AudienceKind.PARTNER,
    )
    if audience.kind is AudienceKind.PARTNER:
        if resource.owner_field is not None and not audience.authorised:
            return None
        granted = {
            name
            for scope in audience.scopes
            for name in resource.partner_scopes.get(scope, frozenset())
        }
        rules: dict[str, Rule] | None = {name: Rule("show") for name in granted} or None
    else:
        rules = resource.audiences.get(audience.kind)
    if rules is None or (restricted and resource.private_rules is None):
        return None
    visible = {name: rule for name, rule in rules.items() if rule.action != "hide"}
    if restricted:
        assert resource.private_rules is not None
        combined = {
            name: _both(rule, resource.private_rules.get(name)) for name, rule in visible.items()
        }
        visible = {name: rule for name, rule in combined.items() if rule is not None}
        if audience.kind is AudienceKind.PARTNER and not visible:
            return None
    age = NOW - obj["created"]
    if resource.ttl is not None and age >= resource.ttl:
        return None
    return visible


@_BOUNDED
@given(data=st.data(), resource=resources(), audience=audiences)
def test_redact_discloses_nothing_the_policy_denies(
    data: st.DataObject, resource: ResourcePolicy, audience: Audience
) -> None:
    policy = Policy(1, {"thing": resource})
    obj = data.draw(objects(resource))
    ctx = RequestContext("req-1")
    token = context.activate(ctx)
    try:
        disclosure = redact("thing", obj, audience, policy=policy, now=NOW)
    finally:
        context.deactivate(token)

    expected = allowed(resource, obj, audience)
    if expected is None:
        assert disclosure.data is None
        assert ctx.data_classes == set() and ctx.owner_ids == set()
        return
    assert disclosure.data is not None
    age = NOW - obj["created"]
    shown = {
        name
        for name, rule in expected.items()
        if name in obj and (rule.ttl is None or age < rule.ttl)
    }
    assert set(disclosure.data) == shown
    assert "undeclared_secret" not in disclosure.data
    for name in shown:
        rule, original, value = expected[name], obj[name], disclosure.data[name]
        if rule.geohash_precision is None:
            assert value == original
        elif original is None:
            assert value is None
        else:
            axis = resource.fields[name].axis
            centre = cell_centre(original, rule.geohash_precision, longitude=axis == "longitude")
            assert value == centre

    classes = {
        spec.data_class
        for name, spec in resource.fields.items()
        if name in disclosure.data
        and disclosure.data[name] is not None
        and spec.data_class is not None
    }
    assert disclosure.data_classes == classes
    assert ctx.data_classes == {data_class.value for data_class in classes}
    owner = None if resource.owner_field is None else obj.get(resource.owner_field)
    assert ctx.owner_ids == ({str(owner)} if classes and owner is not None else set())


@_BOUNDED
@given(
    value=st.floats(-180, 180, allow_nan=False)
    | st.sampled_from([0.0, 90.0, -90.0, 180.0, -180.0]),
    precision=st.integers(1, 12),
    longitude=st.booleans(),
)
def test_a_coarsened_coordinate_is_the_centre_of_its_geohash_cell(
    value: float, precision: int, longitude: bool
) -> None:
    limit = 180.0 if longitude else 90.0
    if abs(value) > limit:
        value = value / 2
    resource = ResourcePolicy(
        name="place",
        fields={
            "at": FieldSpec("at", DataClass.LOCATION, "longitude" if longitude else "latitude")
        },
        owner_field=None,
        audiences={AudienceKind.ANONYMOUS: {"at": Rule("coarsen", precision)}},
    )
    shown = redact(
        "place", {"at": value}, Audience.anonymous(), policy=Policy(1, {"place": resource})
    )
    assert shown.data is not None
    coarse = shown.data["at"]
    assert coarse == cell_centre(value, precision, longitude=longitude)
    lat, lon = (0.0, value) if longitude else (value, 0.0)
    coarse_lat, coarse_lon = (0.0, coarse) if longitude else (coarse, 0.0)
    cell, _ = geohash(lat, lon, precision)
    assert geohash(coarse_lat, coarse_lon, precision)[0] == cell


# -- generated YAML --------------------------------------------------------------------------------

_YAML_FIELDS = {"nick": "identity", "mail": "contact", "pic": "photo", "note": "identity"}


@_BOUNDED
@given(
    default=st.sampled_from([None, "show", "hide"]),
    class_rules=st.dictionaries(
        st.sampled_from(["identity", "contact", "photo"]), st.sampled_from(["show", "hide"])
    ),
    field_rules=st.dictionaries(
        st.sampled_from(sorted(_YAML_FIELDS)), st.sampled_from(["show", "hide"])
    ),
)
def test_the_most_specific_rule_of_a_yaml_audience_wins(
    default: str | None, class_rules: dict[str, str], field_rules: dict[str, str]
) -> None:
    entries = {**class_rules, **field_rules}
    if default is not None:
        entries["default"] = default
    fields = "\n".join(f"      {name}: {data_class}" for name, data_class in _YAML_FIELDS.items())
    rules = "\n".join(f"        {name}: {action}" for name, action in entries.items())
    if not entries:
        rules = "        {}"
    text = (
        "version: 1\nresources:\n  member:\n    owner: none\n    fields:\n"
        f"{fields}\n    audiences:\n      anonymous:\n{rules}\n"
    )
    policy = load_policy_text(text, "generated.yaml")
    resolved = policy.resources["member"].audiences[AudienceKind.ANONYMOUS]
    assert resolved is not None

    def expected_action(name: str) -> str:
        return field_rules.get(name) or class_rules.get(_YAML_FIELDS[name]) or default or "hide"

    assert set(resolved) == {name for name in _YAML_FIELDS if expected_action(name) == "show"}
    shown = redact("member", dict.fromkeys(_YAML_FIELDS, "x"), Audience.anonymous(), policy=policy)
    assert shown.data is not None and set(shown.data) == set(resolved)
