"""Loading policies: a good file loads; every kind of mistake is refused with its file, line and reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import harvestguard.policy
from harvestguard.events import AudienceKind, DataClass
from harvestguard.policy import PolicyError, default_policy, load_policy, load_policy_text
from harvestguard.policy.model import FieldSpec, Rule

MINIMAL = """\
version: 1
resources:
  photo:
    owner: owner_id
    created: created_at
    private_flag: private
    fields:
      id: none
      owner_id: none
      private: none
      created_at: none
      caption: content
      lat: location latitude
      lon: location longitude
    audiences:
      anonymous:
        default: show
        location: hide
      owner: show
    when_private: hide
    partner_scopes:
      media:read: [id, caption]
"""


def test_a_minimal_policy_loads(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(MINIMAL)
    policy = load_policy(path)
    photo = policy.resources["photo"]
    assert policy.source == str(path)
    assert photo.fields["lat"] == FieldSpec("lat", DataClass.LOCATION, "latitude")
    assert photo.fields["id"].data_class is None
    assert photo.owner_field == "owner_id" and photo.private_field == "private"
    anonymous = photo.audiences[AudienceKind.ANONYMOUS]
    assert anonymous is not None
    assert set(anonymous) == {"id", "owner_id", "private", "created_at", "caption"}
    owner = photo.audiences[AudienceKind.OWNER]
    assert owner is not None and set(owner) == set(photo.fields)
    assert AudienceKind.FOLLOWER not in photo.audiences
    assert photo.private_rules is None
    assert photo.partner_scopes == {"media:read": frozenset({"id", "caption"})}


def test_like_durations_and_combined_actions_load() -> None:
    text = MINIMAL.replace(
        "    private_flag: private\n", "    private_flag: private\n    ttl: 1d12h\n"
    )
    text = text.replace(
        "      owner: show\n",
        "      owner: show\n"
        "      authenticated, follower:\n"
        "        like: anonymous\n"
        "        lat, lon: coarsen 6, expire 90m\n",
    )
    photo = load_policy_text(text, "policy.yaml").resources["photo"]
    assert photo.ttl == timedelta(days=1, hours=12)
    follower = photo.audiences[AudienceKind.FOLLOWER]
    assert follower is not None
    assert follower["lat"] == Rule("coarsen", 6, timedelta(minutes=90))
    assert follower["caption"] == Rule("show")
    assert follower == photo.audiences[AudienceKind.AUTHENTICATED]


def test_the_shipped_default_policy_loads_from_its_file() -> None:
    path = Path(harvestguard.policy.__file__).parent / "default.yaml"
    assert load_policy(path).resources == default_policy().resources
    assert default_policy() is default_policy()


MISTAKES = [
    # (id, replace this, with this, expected line, expected reason)
    (
        "unknown-data-class",
        "caption: content",
        "caption: contnet",
        12,
        "unknown data class 'contnet' (expected one of contact, content, ephemeral, identity,"
        " location, none, photo, social_graph; did you mean 'content'?)",
    ),
    (
        "unknown-axis",
        "lat: location latitude",
        "lat: location lattitude",
        13,
        "unknown axis 'lattitude'",
    ),
    (
        "unknown-audience",
        "      anonymous:\n",
        "      anonymus:\n",
        16,
        "unknown audience 'anonymus'",
    ),
    ("bad-action", "location: hide", "location: blur", 18, "bad action 'blur'"),
    (
        "coarsen-not-a-coordinate",
        "location: hide",
        "caption: coarsen 5",
        18,
        "coarsen applies to latitude/longitude fields only; 'caption'",
    ),
    (
        "coarsen-a-class-with-non-coordinates",
        "location: hide",
        "content: coarsen 5",
        18,
        "coarsen applies to latitude/longitude fields only; 'caption'",
    ),
    ("bad-precision", "location: hide", "lat, lon: coarsen 13", 18, "bad geohash precision '13'"),
    (
        "undeclared-field",
        "location: hide",
        "captions: hide",
        18,
        "'captions' is neither a field of 'photo' nor a data class",
    ),
    (
        "bad-duration",
        "    when_private: hide\n",
        "    when_private: hide\n    ttl: 24 hours\n",
        21,
        "bad duration '24 hours'",
    ),
    ("zero-duration", "location: hide", "caption: expire 0h", 18, "bad duration '0h'"),
    (
        "duplicate-key",
        "      id: none\n",
        "      id: none\n      id: identity\n",
        9,
        "'id' given twice in the fields of 'photo' (first on line 8)",
    ),
    (
        "unknown-resource-key",
        "    owner: owner_id\n",
        "    owner: owner_id\n    owners: [owner_id]\n",
        5,
        "unknown key 'owners' in resource 'photo'",
    ),
    (
        "undeclared-owner",
        "owner: owner_id",
        "owner: author_id",
        4,
        "owner field 'author_id' is not among the fields of resource 'photo'",
    ),
    (
        "partner-as-audience",
        "      owner: show\n",
        "      owner: show\n      partner: show\n",
        20,
        "partners see what partner_scopes grant",
    ),
    (
        "like-undeclared",
        "location: hide",
        "like: follower",
        18,
        "like 'follower': that audience has no rules here",
    ),
    (
        "comma-in-flow-mapping",
        "      owner: show\n",
        "      owner: {default: show, lat, lon: hide}\n",
        19,
        "an action is missing",
    ),
    (
        "scope-grants-unknown-field",
        "[id, caption]",
        "[id, caption, email]",
        22,
        "'email' is neither a field of 'photo' nor a data class",
    ),
    ("unsupported-version", "version: 1", "version: 2", 1, "unsupported policy version '2'"),
    ("yaml-syntax", "      owner: show\n", "      owner: show\n     oops: [\n", 20, "invalid YAML"),
    (
        "field-named-like-a-class",
        "caption: content",
        "content: content",
        12,
        "'content' cannot name",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "line", "reason"),
    [case[1:] for case in MISTAKES],
    ids=[case[0] for case in MISTAKES],
)
def test_mistakes_are_refused_with_file_line_and_reason(
    tmp_path: Path, old: str, new: str, line: int, reason: str
) -> None:
    assert old in MINIMAL
    path = tmp_path / "policy.yaml"
    path.write_text(MINIMAL.replace(old, new, 1))
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert (raised.value.source, raised.value.line) == (str(path), line)
    assert reason in raised.value.reason
    assert str(raised.value).startswith(f"{path}:{line}: ")


def test_expire_needs_a_created_field() -> None:
    text = MINIMAL.replace("    created: created_at\n", "").replace(
        "location: hide", "caption: expire 1h"
    )
    with pytest.raises(
        PolicyError, match=r"^p\.yaml:17: expire needs the created field of 'photo'$"
    ):
        load_policy_text(text, "p.yaml")


def test_when_private_needs_a_private_flag() -> None:
    text = MINIMAL.replace("    private_flag: private\n", "")
    with pytest.raises(PolicyError, match=r"^p\.yaml:19: when_private needs the private_flag"):
        load_policy_text(text, "p.yaml")


def test_like_chains_must_not_loop() -> None:
    text = MINIMAL.replace(
        "        default: show\n", "        like: follower\n        default: show\n"
    )
    text = text.replace(
        "      owner: show\n", "      owner: show\n      follower: {like: anonymous}\n"
    )
    with pytest.raises(
        PolicyError, match=r"^p\.yaml:21: audience 'follower' is, through like, like"
    ):
        load_policy_text(text, "p.yaml")


def test_missing_sections_are_named() -> None:
    with pytest.raises(PolicyError, match=r"^p\.yaml:1: the policy lacks 'resources'$"):
        load_policy_text("version: 1\n", "p.yaml")
    with pytest.raises(PolicyError, match=r"^p\.yaml:3: resource 'photo' lacks 'audiences'$"):
        load_policy_text(MINIMAL.split("    audiences:")[0], "p.yaml")


def test_empty_and_non_mapping_documents_are_refused() -> None:
    with pytest.raises(PolicyError, match=r"^p\.yaml:1: the policy is empty$"):
        load_policy_text("# nothing here\n", "p.yaml")
    with pytest.raises(PolicyError, match=r"^p\.yaml:1: the policy must be a mapping$"):
        load_policy_text("- version\n", "p.yaml")


def test_a_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(PolicyError, match="cannot read the policy") as raised:
        load_policy(path)
    assert raised.value.source == str(path)
