"""Reading a policy from YAML (format: docs/policy.md), refusing every mistake with file:line: reason.

The YAML is composed into its node tree, not loaded into plain dicts, so that every error can name
the line it is on. Shorthands (``default``, data-class rules, ``like``, comma-separated names) are
resolved here; the model receives every field's rule spelled out.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import NoReturn

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from harvestguard.events import AudienceKind, DataClass
from harvestguard.policy.geohash import MAX_PRECISION
from harvestguard.policy.model import HIDE, SHOW, Axis, FieldSpec, Policy, ResourcePolicy, Rule

POLICY_VERSION = 1

_DATA_CLASSES = {data_class.value: data_class for data_class in DataClass}
_AUDIENCES = {kind.value: kind for kind in AudienceKind if kind is not AudienceKind.PARTNER}
_AXES: dict[str, Axis] = {"latitude": "latitude", "longitude": "longitude"}
_RESERVED_NAMES = {"default", "like", "none"}
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_ACTIONS_HELP = (
    f"expected show, hide, coarsen <geohash precision 1-{MAX_PRECISION}>, expire <duration>,"
    " or coarsen and expire joined by a comma"
)


class PolicyError(ValueError):
    """A policy that cannot be used, with where and why: ``policy.yaml:17: unknown data class ...``."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}:{line}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


def load_policy(path: str | os.PathLike[str]) -> Policy:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(str(path), 1, f"cannot read the policy: {error}") from error
    return load_policy_text(text, str(path))


def load_policy_text(text: str, source: str = "<policy>") -> Policy:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "unreadable"
        line = 1 if mark is None else mark.line + 1
        raise PolicyError(source, line, f"invalid YAML: {problem}") from error
    except yaml.YAMLError as error:
        raise PolicyError(source, 1, f"invalid YAML: {error}") from error
    if root is None:
        raise PolicyError(source, 1, "the policy is empty")
    return _Reader(source).policy(root)


@functools.cache
def default_policy() -> Policy:
    """The policy shipped with harvestguard (default.yaml), read once."""
    shipped = resources.files("harvestguard.policy").joinpath("default.yaml")
    return load_policy_text(shipped.read_text(encoding="utf-8"), "default.yaml")


@dataclass
class _Block:
    """One audience's rules as written, each with the node it came from (for error lines)."""

    like: tuple[AudienceKind, Node] | None = None
    default: tuple[Rule, Node] | None = None
    classes: dict[DataClass, tuple[Rule, Node]] = field(default_factory=dict)
    fields: dict[str, tuple[Rule, Node]] = field(default_factory=dict)


@dataclass
class _Resource:
    """What the rules of one resource are checked against while it is read."""

    name: str
    fields: dict[str, FieldSpec]
    has_created: bool


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: Node, reason: str) -> NoReturn:
        raise PolicyError(self.source, node.start_mark.line + 1, reason)

    # -- the shape of the document ---------------------------------------------------------------

    def entries(self, node: Node, what: str) -> list[tuple[str, ScalarNode, Node]]:
        if not isinstance(node, MappingNode):
            self.fail(node, f"{what} must be a mapping")
        seen: dict[str, int] = {}
        entries: list[tuple[str, ScalarNode, Node]] = []
        for key, value in node.value:
            if not isinstance(key, ScalarNode) or not key.value.strip():
                self.fail(key, f"{what}: every key must be a name")
            name = key.value.strip()
            if name in seen:
                self.fail(key, f"{name!r} given twice in {what} (first on line {seen[name]})")
            seen[name] = key.start_mark.line + 1
            entries.append((name, key, value))
        return entries

    def keyed(
        self,
        node: Node,
        what: str,
        *,
        required: Iterable[str],
        optional: Iterable[str] = (),
        named_at: Node | None = None,
    ) -> dict[str, tuple[ScalarNode, Node]]:
        """The entries of a mapping with known keys; a missing key is reported at ``named_at``."""
        required = tuple(required)
        allowed = (*required, *optional)
        found: dict[str, tuple[ScalarNode, Node]] = {}
        for name, key, value in self.entries(node, what):
            if name not in allowed:
                self.fail(key, f"unknown key {name!r} in {what}{_expected(name, allowed)}")
            found[name] = (key, value)
        for name in required:
            if name not in found:
                self.fail(named_at or node, f"{what} lacks {name!r}")
        return found

    def text(self, node: Node, what: str) -> str:
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            # The likeliest cause: "lat, lon: show" written inside {...}, where commas split entries.
            self.fail(node, f"{what} is missing (in a {{...}} mapping, a comma separates entries)")
        if not isinstance(node, ScalarNode) or not str(node.value).strip():
            self.fail(node, f"{what} must be a single value")
        return str(node.value).strip()

    # -- the policy ------------------------------------------------------------------------------

    def policy(self, root: Node) -> Policy:
        top = self.keyed(root, "the policy", required=("version", "resources"))
        version_node = top["version"][1]
        if self.text(version_node, "version") != str(POLICY_VERSION):
            self.fail(
                version_node,
                f"unsupported policy version {version_node.value!r} (this harvestguard reads"
                f" version {POLICY_VERSION})",
            )
        resources_node = top["resources"][1]
        read = {
            name: self.resource(name, key, value)
            for name, key, value in self.entries(resources_node, "resources")
        }
        if not read:
            self.fail(resources_node, "the policy declares no resource")
        return Policy(POLICY_VERSION, read, self.source)

    def resource(self, name: str, key: Node, node: Node) -> ResourcePolicy:
        what = f"resource {name!r}"
        keys = self.keyed(
            node,
            what,
            required=("owner", "fields", "audiences"),
            optional=("created", "private_flag", "ttl", "when_private", "partner_scopes"),
            named_at=key,
        )
        fields = self.fields(name, keys["fields"][1])

        def declared(role: str, *, none_allowed: bool = False) -> str | None:
            """The field named by the key ``role`` (owner, created, private_flag), if given."""
            if role not in keys:
                return None
            value_node = keys[role][1]
            value = self.text(value_node, f"{role} of {what}")
            if none_allowed and value == "none":
                return None
            if value not in fields:
                self.fail(value_node, f"{role} field {value!r} is not among the fields of {what}")
            return value

        created = declared("created")
        ttl = None
        if "ttl" in keys:
            ttl_key, ttl_node = keys["ttl"]
            if created is None:
                self.fail(ttl_key, f"a ttl needs the created field of {what}")
            ttl = self.duration(ttl_node)
        context = _Resource(name, fields, created is not None)
        audiences = self.audiences(context, keys["audiences"][1])
        private_field = declared("private_flag")
        private_rules = None
        if "when_private" in keys:
            private_key, private_node = keys["when_private"]
            if private_field is None:
                self.fail(private_key, f"when_private needs the private_flag field of {what}")
            block = self.block(context, private_node, "when_private", allow_like=False)
            private_rules = None if block is None else self.resolve(context, block)
        return ResourcePolicy(
            name=name,
            fields=fields,
            owner_field=declared("owner", none_allowed=True),
            audiences=audiences,
            created_field=created,
            private_field=private_field,
            ttl=ttl,
            private_rules=private_rules,
            partner_scopes=(
                self.partner_scopes(context, keys["partner_scopes"][1])
                if "partner_scopes" in keys
                else {}
            ),
        )

    def fields(self, resource: str, node: Node) -> dict[str, FieldSpec]:
        fields: dict[str, FieldSpec] = {}
        for name, key, value in self.entries(node, f"the fields of {resource!r}"):
            if name in _RESERVED_NAMES or name in _DATA_CLASSES:
                self.fail(key, f"{name!r} cannot name a field: it is a word of the policy")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                self.fail(key, f"bad field name {name!r} (letters, digits and _ only)")
            words = self.text(value, f"the data class of {name!r}").split()
            if len(words) > 2:
                self.fail(value, f"{name!r}: expected a data class, optionally followed by an axis")
            data_class = None
            if words[0] != "none":
                if words[0] not in _DATA_CLASSES:
                    expected = _expected(words[0], (*_DATA_CLASSES, "none"))
                    self.fail(value, f"unknown data class {words[0]!r}{expected}")
                data_class = _DATA_CLASSES[words[0]]
            axis = None
            if len(words) == 2:
                if words[1] not in _AXES:
                    self.fail(value, f"unknown axis {words[1]!r} (expected latitude or longitude)")
                axis = _AXES[words[1]]
            fields[name] = FieldSpec(name, data_class, axis)
        if not fields:
            self.fail(node, f"resource {resource!r} declares no field")
        return fields

    # -- rules -----------------------------------------------------------------------------------

    def audiences(
        self, resource: _Resource, node: Node
    ) -> dict[AudienceKind, dict[str, Rule] | None]:
        blocks: dict[AudienceKind, _Block | None] = {}
        for names, key, value in self.entries(node, f"the audiences of {resource.name!r}"):
            for name in _split(names):
                if name == AudienceKind.PARTNER.value:
                    self.fail(key, "partners see what partner_scopes grant, not an audience rule")
                if name not in _AUDIENCES:
                    self.fail(key, f"unknown audience {name!r}{_expected(name, _AUDIENCES)}")
                kind = _AUDIENCES[name]
                if kind in blocks:
                    self.fail(key, f"audience {name!r} given twice for {resource.name!r}")
                blocks[kind] = self.block(resource, value, f"audience {name!r}", allow_like=True)
        return {
            kind: None if block is None else self.resolve(resource, self.inherit(blocks, kind, ()))
            for kind, block in blocks.items()
        }

    def inherit(
        self,
        blocks: dict[AudienceKind, _Block | None],
        kind: AudienceKind,
        chain: tuple[AudienceKind, ...],
    ) -> _Block:
        """The audience's block with the rules of the audience it is ``like`` merged under it."""
        block = blocks[kind]
        assert block is not None
        if block.like is None:
            return block
        parent, node = block.like
        if parent in (*chain, kind):
            self.fail(node, f"audience {kind.value!r} is, through like, like itself")
        if parent not in blocks:
            self.fail(node, f"like {parent.value!r}: that audience has no rules here")
        if blocks[parent] is None:
            self.fail(node, f"like {parent.value!r}: that audience sees nothing here")
        base = self.inherit(blocks, parent, (*chain, kind))
        return _Block(
            default=block.default or base.default,
            classes={**base.classes, **block.classes},
            fields={**base.fields, **block.fields},
        )

    def block(
        self, resource: _Resource, node: Node, what: str, *, allow_like: bool
    ) -> _Block | None:
        """One audience's rules; None when the audience sees nothing at all (``hide``)."""
        if isinstance(node, ScalarNode):
            word = node.value.strip()
            if word == "hide":
                return None
            if word == "show":
                return _Block(default=(SHOW, node))
            self.fail(node, f"{what} must be show, hide or a mapping of rules")
        block = _Block()
        for names, key, value in self.entries(node, what):
            if names == "like":
                if not allow_like:
                    self.fail(key, f"like has no meaning in {what}")
                audience = self.text(value, "like")
                if audience not in _AUDIENCES:
                    self.fail(
                        value, f"unknown audience {audience!r}{_expected(audience, _AUDIENCES)}"
                    )
                block.like = (_AUDIENCES[audience], value)
                continue
            rule = (self.action(resource, value), value)
            for name in _split(names):
                if name == "default":
                    if block.default is not None:
                        self.fail(key, f"default given twice in {what}")
                    block.default = rule
                elif name in resource.fields:
                    if name in block.fields:
                        self.fail(key, f"{name!r} given twice in {what}")
                    block.fields[name] = rule
                elif name in _DATA_CLASSES:
                    if _DATA_CLASSES[name] in block.classes:
                        self.fail(key, f"{name!r} given twice in {what}")
                    block.classes[_DATA_CLASSES[name]] = rule
                else:
                    self.fail(key, _unknown_name(name, resource))
        return block

    def resolve(self, resource: _Resource, block: _Block) -> dict[str, Rule]:
        """Every field's rule: its own, else its data class's, else the default, else hidden."""
        rules: dict[str, Rule] = {}
        for name, spec in resource.fields.items():
            chosen = block.fields.get(name)
            if chosen is None and spec.data_class is not None:
                chosen = block.classes.get(spec.data_class)
            chosen = chosen or block.default
            if chosen is None or chosen[0].action == "hide":
                continue
            rule, node = chosen
            if rule.action == "coarsen" and spec.axis is None:
                self.fail(
                    node,
                    f"coarsen applies to latitude/longitude fields only; {name!r} of"
                    f" {resource.name!r} is not one",
                )
            rules[name] = rule
        return rules

    def action(self, resource: _Resource, node: Node) -> Rule:
        text = self.text(node, "an action")
        if text == "show":
            return SHOW
        if text == "hide":
            return HIDE
        precision: int | None = None
        ttl: timedelta | None = None
        for part in text.split(","):
            words = part.split()
            if len(words) != 2 or words[0] not in ("coarsen", "expire"):
                self.fail(node, f"bad action {text!r} ({_ACTIONS_HELP})")
            verb, argument = words
            if verb == "coarsen":
                if precision is not None:
                    self.fail(node, f"bad action {text!r}: coarsen given twice")
                if not argument.isdigit() or not 1 <= int(argument) <= MAX_PRECISION:
                    self.fail(
                        node,
                        f"bad geohash precision {argument!r} (expected 1 to {MAX_PRECISION})",
                    )
                precision = int(argument)
            else:
                if ttl is not None:
                    self.fail(node, f"bad action {text!r}: expire given twice")
                if not resource.has_created:
                    self.fail(node, f"expire needs the created field of {resource.name!r}")
                ttl = self.duration(node, argument)
        return Rule("show" if precision is None else "coarsen", precision, ttl)

    def duration(self, node: Node, text: str | None = None) -> timedelta:
        text = self.text(node, "a duration") if text is None else text
        match = _DURATION.fullmatch(text)
        if not text or match is None:
            self.fail(node, f"bad duration {text!r} (expected e.g. 24h, 7d, 1h30m, 90s)")
        days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
        duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if duration <= timedelta(0):
            self.fail(node, f"bad duration {text!r}: it must be longer than nothing")
        return duration

    def partner_scopes(self, resource: _Resource, node: Node) -> dict[str, frozenset[str]]:
        scopes: dict[str, frozenset[str]] = {}
        for scope, _key, value in self.entries(node, f"the partner_scopes of {resource.name!r}"):
            if not isinstance(value, SequenceNode) or not value.value:
                self.fail(value, f"scope {scope!r} must list the fields it grants")
            granted: set[str] = set()
            for item in value.value:
                name = self.text(item, f"a field granted by {scope!r}")
                if name in resource.fields:
                    granted.add(name)
                elif name in _DATA_CLASSES:
                    data_class = _DATA_CLASSES[name]
                    granted |= {
                        f.name for f in resource.fields.values() if f.data_class is data_class
                    }
                else:
                    self.fail(item, _unknown_name(name, resource))
            scopes[scope] = frozenset(granted)
        return scopes


def _split(names: str) -> list[str]:
    return [name.strip() for name in names.split(",") if name.strip()]


def _unknown_name(name: str, resource: _Resource) -> str:
    known = (*resource.fields, *_DATA_CLASSES)
    return (
        f"{name!r} is neither a field of {resource.name!r} nor a data class{_expected(name, known)}"
    )


def _expected(name: str, known: Iterable[str]) -> str:
    choices = sorted(set(known))
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f" (expected one of {', '.join(choices)}{hint})"
