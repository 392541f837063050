"""The limits file (format: docs/enforcement.md): rate and data limits per actor key and per
entity, and the actors never limited. Every mistake is refused with ``file:line: reason``; the YAML
is composed into its node tree, as the policy loader does, so that each error names its line.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import NoReturn

import limits
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from harvestguard.enforce.records import ACTIONABLE_KINDS
from harvestguard.events import AccessEvent, AudienceKind, Channel, DataClass, Resource

LIMITS_VERSION = 1
ENTITY = "entity"
COUNTS = ("requests", "owners")
_ALLOW_KINDS = ("account", "client", "ip", "net", "fingerprint")


class LimitsError(ValueError):
    """A limits file that cannot be used: ``limits.yaml:12: unknown data class 'photos'``."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}:{line}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LimitRule:
    """One limit: at most ``rate`` requests (or distinct owners) per key of kind ``per``."""

    name: str
    per: str  # a key kind, or "entity"
    rate: limits.RateLimitItem
    count: str = "requests"  # or "owners": distinct owners whose data went out
    resources: frozenset[str] = frozenset()  # empty: any
    data_classes: frozenset[str] = frozenset()  # any of them disclosed
    audiences: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    line: int = 0

    @property
    def text(self) -> str:
        return str(self.rate)

    def matches(self, event: AccessEvent) -> bool:
        if self.resources and event.resource not in self.resources:
            return False
        if self.audiences and event.audience not in self.audiences:
            return False
        if self.channels and event.channel not in self.channels:
            return False
        if self.data_classes and self.data_classes.isdisjoint(event.data_classes):
            return False
        return not (self.count == "owners" and not event.owner_ids)


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    rules: tuple[LimitRule, ...]
    # key kind -> values never limited (ip/net written as addresses, stored as pseudonyms)
    allow: dict[str, frozenset[str]] = field(default_factory=dict)
    source: str = "<limits>"

    def allowed(self, kind: str, value: str | None) -> bool:
        return value is not None and value in self.allow.get(kind, ())


Pseudonymise = Callable[[str, str], str]  # (kind "ip" or "net", address) -> pseudonym


def load_limits(
    path: str | os.PathLike[str], pseudonymise: Pseudonymise | None = None
) -> LimitsConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LimitsError(str(path), 1, f"cannot read the limits: {error}") from error
    return load_limits_text(text, str(path), pseudonymise)


def load_limits_text(
    text: str, source: str = "<limits>", pseudonymise: Pseudonymise | None = None
) -> LimitsConfig:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = 1 if mark is None else mark.line + 1
        raise LimitsError(source, line, f"invalid YAML: {error.problem or 'unreadable'}") from error
    except yaml.YAMLError as error:
        raise LimitsError(source, 1, f"invalid YAML: {error}") from error
    if root is None:
        raise LimitsError(source, 1, "the limits file is empty")
    return _Reader(source, pseudonymise).config(root)


@functools.cache
def default_limits_text() -> str:
    return resources.files("harvestguard.enforce").joinpath("limits.yaml").read_text("utf-8")


def default_limits(pseudonymise: Pseudonymise | None = None) -> LimitsConfig:
    """The limits shipped with harvestguard (enforce/limits.yaml)."""
    return load_limits_text(default_limits_text(), "limits.yaml", pseudonymise)


_CHOICES: dict[str, frozenset[str]] = {
    "resource": frozenset(r.value for r in Resource),
    "data_class": frozenset(d.value for d in DataClass),
    "audience": frozenset(a.value for a in AudienceKind),
    "channel": frozenset(c.value for c in Channel),
}


class _Reader:
    def __init__(self, source: str, pseudonymise: Pseudonymise | None) -> None:
        self.source = source
        self.pseudonymise = pseudonymise

    def fail(self, node: Node, reason: str) -> NoReturn:
        raise LimitsError(self.source, node.start_mark.line + 1, reason)

    def mapping(
        self, node: Node, what: str, required: Iterable[str], optional: Iterable[str] = ()
    ) -> dict[str, tuple[ScalarNode, Node]]:
        if not isinstance(node, MappingNode):
            self.fail(node, f"{what} must be a mapping")
        required = tuple(required)
        allowed = (*required, *optional)
        found: dict[str, tuple[ScalarNode, Node]] = {}
        for key, value in node.value:
            name = str(key.value).strip() if isinstance(key, ScalarNode) else ""
            if name not in allowed:
                self.fail(key, f"unknown key {name!r} in {what}; expected {', '.join(allowed)}")
            if name in found:
                self.fail(key, f"{name!r} given twice in {what}")
            found[name] = (key, value)
        for name in required:
            if name not in found:
                self.fail(node, f"{what} lacks {name!r}")
        return found

    def text(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            self.fail(node, f"{what} must be a single value")
        value = str(node.value).strip()
        if not value:
            self.fail(node, f"{what} is empty")
        return value

    def texts(self, node: Node, what: str) -> list[tuple[str, Node]]:
        """One value or a list of values."""
        if isinstance(node, SequenceNode):
            return [(self.text(item, what), item) for item in node.value]
        return [(self.text(node, what), node)]

    def config(self, root: Node) -> LimitsConfig:
        top = self.mapping(root, "the limits file", ("version", "limits"), ("allow",))
        version = top["version"][1]
        if self.text(version, "version") != str(LIMITS_VERSION):
            self.fail(
                version, f"unsupported limits version {version.value!r} (expected {LIMITS_VERSION})"
            )
        allow = self.allow(top["allow"][1]) if "allow" in top else {}
        rules_node = top["limits"][1]
        if not isinstance(rules_node, SequenceNode):
            self.fail(rules_node, "limits must be a list of limits")
        rules: list[LimitRule] = []
        names: dict[str, int] = {}
        for item in rules_node.value:
            rule = self.rule(item)
            if rule.name in names:
                self.fail(
                    item, f"limit {rule.name!r} given twice (first on line {names[rule.name]})"
                )
            names[rule.name] = rule.line
            rules.append(rule)
        return LimitsConfig(tuple(rules), allow, self.source)

    def allow(self, node: Node) -> dict[str, frozenset[str]]:
        if node.tag == "tag:yaml.org,2002:null":
            return {}
        entries = self.mapping(node, "allow", (), _ALLOW_KINDS)
        allow: dict[str, frozenset[str]] = {}
        for kind, (_, value_node) in entries.items():
            if value_node.tag == "tag:yaml.org,2002:null":
                continue
            values = set()
            for value, item in self.texts(value_node, f"allow {kind}"):
                if kind in ("ip", "net"):
                    if self.pseudonymise is None:
                        self.fail(item, f"allow {kind} needs the pseudonym key to be read")
                    try:
                        if kind == "ip":
                            ipaddress.ip_address(value)
                        else:
                            ipaddress.ip_network(value, strict=False)
                    except ValueError:
                        what = "an IP address" if kind == "ip" else "an IP address or network"
                        self.fail(item, f"not {what}: {value!r}")
                    value = self.pseudonymise(kind, value)
                values.add(value)
            allow[kind] = frozenset(values)
        return allow

    def rule(self, node: Node) -> LimitRule:
        keys = self.mapping(
            node,
            "a limit",
            ("name", "per", "rate"),
            ("count", "resource", "data_class", "audience", "channel"),
        )
        name = self.text(keys["name"][1], "name")
        what = f"limit {name!r}"
        per_node = keys["per"][1]
        per = self.text(per_node, f"per of {what}")
        if per != ENTITY and per not in ACTIONABLE_KINDS:
            kinds = ", ".join((*ACTIONABLE_KINDS, ENTITY))
            self.fail(per_node, f"{what}: cannot limit per {per!r}; expected one of {kinds}")
        rate_node = keys["rate"][1]
        rate_text = self.text(rate_node, f"rate of {what}")
        try:
            rate = limits.parse(rate_text)
        except ValueError:
            self.fail(
                rate_node, f"{what}: {rate_text!r} is not a rate like 100/hour or 5 per minute"
            )
        if rate.amount < 1:
            self.fail(rate_node, f"{what}: a rate allows at least 1")
        count = "requests"
        if "count" in keys:
            count_node = keys["count"][1]
            count = self.text(count_node, f"count of {what}")
            if count not in COUNTS:
                self.fail(count_node, f"{what}: count {count!r}; expected requests or owners")
        filters: dict[str, frozenset[str]] = {}
        for field_name, choices in _CHOICES.items():
            if field_name not in keys:
                continue
            picked = set()
            for value, item in self.texts(keys[field_name][1], f"{field_name} of {what}"):
                if value not in choices:
                    self.fail(
                        item,
                        f"{what}: unknown {field_name.replace('_', ' ')} {value!r};"
                        f" expected one of {', '.join(sorted(choices))}",
                    )
                picked.add(value)
            filters[field_name] = frozenset(picked)
        return LimitRule(
            name=name,
            per=per,
            rate=rate,
            count=count,
            resources=filters.get("resource", frozenset()),
            data_classes=filters.get("data_class", frozenset()),
            audiences=filters.get("audience", frozenset()),
            channels=filters.get("channel", frozenset()),
            line=node.start_mark.line + 1,
        )
