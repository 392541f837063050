"""Canaries: honeytoken accounts, posts, stories and venues, and the file that lists them.

A platform plants canaries where no person's browsing leads (no follows, no search results, no
place in a feed) but enumeration and sweeps do. Each carries a marker in its visible text: a
hashtag or a venue name that reads naturally, derived by HMAC-SHA256 from a secret key and the
object, so nobody without the key can tell a canary from a member or forge one. The platform
writes the list to ``canaries.json`` (format ``harvestguard-canaries``, version 1); the detectors
read it as the ``canaries`` context table, and attribution reads it to recognise canary records
in a leaked dataset.

The marker space is 64 adjectives x 64 nouns x 9,000 numbers (about 25 bits): enough that a
leaked record bearing one is ours beyond doubt, and that no canary shares another's marker.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

FORMAT = "harvestguard-canaries"
VERSION = 1
FILE_NAME = "canaries.json"

# Words of ordinary captions and hotel names: the marker must not look like a code.
_ADJECTIVES = (
    "amber", "ancient", "autumn", "bitter", "blue", "bold", "brave", "bright",
    "calm", "cedar", "clever", "cobalt", "copper", "coral", "cosy", "crimson",
    "dusty", "early", "electric", "emerald", "faded", "fierce", "foggy", "gentle",
    "golden", "grand", "green", "hidden", "hollow", "honey", "idle", "ivory",
    "jade", "lazy", "little", "lively", "lucky", "lunar", "marble", "mellow",
    "misty", "modern", "noble", "northern", "olive", "pale", "quiet", "rapid",
    "rosy", "royal", "rustic", "salty", "scarlet", "secret", "silver", "sleepy",
    "slow", "sunny", "velvet", "wild", "windy", "winter", "wooden", "young",
)  # fmt: skip
_NOUNS = (
    "anchor", "arch", "atlas", "badger", "balcony", "bay", "beacon", "birch",
    "bridge", "brook", "canyon", "cellar", "cliff", "clover", "comet", "compass",
    "corner", "courtyard", "cove", "crane", "dune", "ember", "falcon", "fern",
    "fjord", "garden", "gate", "grove", "harbor", "harvest", "heron", "hill",
    "island", "lagoon", "lantern", "ledge", "lighthouse", "lily", "maple", "meadow",
    "mill", "moss", "orchard", "otter", "palm", "pebble", "pier", "pine",
    "plaza", "quarry", "raven", "reef", "river", "robin", "sparrow", "spruce",
    "summit", "terrace", "thistle", "tide", "tower", "valley", "willow", "wren",
)  # fmt: skip


class CanaryKind(enum.StrEnum):
    ACCOUNT = "account"
    POST = "post"
    STORY = "story"
    VENUE = "venue"


# The AccessEvent resource a read of each kind is recorded under (the object's own page or API
# object); a photo of a post or story is also a read, under ``media``.
RESOURCE_OF: dict[CanaryKind, str] = {
    CanaryKind.ACCOUNT: "profile",
    CanaryKind.POST: "post",
    CanaryKind.STORY: "story",
    CanaryKind.VENUE: "location",
}


MIN_DORMANT = 3


def dormant_count(followers: Sequence[int]) -> int:
    """How many dormant canary accounts follow the active ones, given the follower counts of
    the public accounts: as many followers as the top tenth of them have (a harvester following
    popular accounts follows the canaries too), but never more than one account in twenty."""
    if not followers:
        return MIN_DORMANT
    top_tenth = sorted(followers, reverse=True)[max(0, len(followers) // 10 - 1)]
    return max(MIN_DORMANT, min(top_tenth, len(followers) // 20))


class CanaryFileError(ValueError):
    """A canaries file that cannot be read: missing, not JSON, or not of this format."""


@dataclass(frozen=True, slots=True)
class Marker:
    """The keyed words of one canary: ``tag`` for captions and bios, ``title`` for names."""

    adjective: str
    noun: str
    number: int

    @property
    def tag(self) -> str:
        return f"{self.adjective}{self.noun}{self.number}"

    @property
    def title(self) -> str:
        return f"{self.adjective.title()} {self.noun.title()}"


def canary_marker(key: bytes, kind: CanaryKind | str, object_id: str) -> Marker:
    """The marker of one object: HMAC-SHA256(key, "kind:object_id") mapped onto words."""
    if not key:
        raise ValueError("a canary marker needs a non-empty secret key")
    digest = hmac.new(key, f"{CanaryKind(kind).value}:{object_id}".encode(), hashlib.sha256)
    value = int.from_bytes(digest.digest()[:8], "big")
    adjective = _ADJECTIVES[value % len(_ADJECTIVES)]
    value //= len(_ADJECTIVES)
    noun = _NOUNS[value % len(_NOUNS)]
    value //= len(_NOUNS)
    return Marker(adjective, noun, 1000 + value % 9000)


@dataclass(frozen=True, slots=True)
class Canary:
    """One planted object, as the platform lists it.

    ``object_id`` is the platform's id of the object; ``username`` the canary account it belongs
    to (None for a venue); ``label`` a short human description for findings; ``marker`` the text
    that identifies it in a leaked record; ``media_id`` the id under which its photo is served
    (a post's or story's image, an account's avatar), if any.
    """

    kind: CanaryKind
    object_id: str
    label: str
    marker: str
    username: str | None = None
    media_id: str | None = None

    def reads(self) -> list[tuple[str, str]]:
        """The (resource, object_id) pairs of the AccessEvents that read this canary."""
        pairs = [(RESOURCE_OF[self.kind], self.object_id)]
        if self.media_id is not None:
            pairs.append(("media", self.media_id))
        return pairs

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Canary:
        if not isinstance(data, dict):
            raise CanaryFileError(f"a canary is a JSON object, not {data!r}")
        try:
            kind = CanaryKind(str(data["kind"]))
            fields = {name: data[name] for name in ("object_id", "label", "marker")}
        except (KeyError, ValueError) as error:
            raise CanaryFileError(f"bad canary entry {data!r}: {error}") from error
        if not all(isinstance(value, str) and value for value in fields.values()):
            raise CanaryFileError(f"bad canary entry {data!r}: empty or non-text field")
        username, media_id = data.get("username"), data.get("media_id")
        if not all(value is None or isinstance(value, str) for value in (username, media_id)):
            raise CanaryFileError(f"bad canary entry {data!r}: non-text username or media_id")
        return cls(
            kind=kind,
            object_id=fields["object_id"],
            label=fields["label"],
            marker=fields["marker"],
            username=username,
            media_id=media_id,
        )


def save_canaries(canaries: Iterable[Canary], path: str | Path) -> Path:
    """Writes the file atomically (a reader never sees half of it); returns its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "canaries": [canary.to_dict() for canary in canaries],
    }
    temp = target.with_name(f".{target.name}.tmp")
    temp.write_text(json.dumps(payload, indent=1))
    os.replace(temp, target)
    return target


def load_canaries(path: str | Path) -> tuple[Canary, ...]:
    source = Path(path)
    try:
        data = json.loads(source.read_text())
    except FileNotFoundError as error:
        raise CanaryFileError(f"{source}: no such canaries file") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CanaryFileError(f"{source}: {error}") from error
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CanaryFileError(f"{source}: not a {FORMAT} file")
    if data.get("version") != VERSION:
        raise CanaryFileError(f"{source}: version {data.get('version')!r}, expected {VERSION}")
    entries = data.get("canaries")
    if not isinstance(entries, list):
        raise CanaryFileError(f"{source}: 'canaries' must be a list")
    return tuple(Canary.from_dict(entry) for entry in entries)


def canaries_table(canaries: Iterable[Canary]) -> pa.Table:
    """The ``canaries`` context table of the detectors: one row per read that counts."""
    rows = [
        (resource, object_id, canary.label)
        for canary in canaries
        for resource, object_id in canary.reads()
    ]
    return pa.table(
        {
            "resource": pa.array([row[0] for row in rows], pa.string()),
            "object_id": pa.array([row[1] for row in rows], pa.string()),
            "label": pa.array([row[2] for row in rows], pa.string()),
        }
    )


class CanaryMatcher:
    """Finds canaries in leaked text: by marker, or by a canary account's username.

    Matching is case-insensitive and on whole words, so ``@quietharbor4821`` or
    ``#QuietHarbor4821`` match and ``quietharbor48210`` does not.
    """

    def __init__(self, canaries: Sequence[Canary]) -> None:
        self.canaries = tuple(canaries)
        self._by_text: dict[str, list[Canary]] = {}
        for canary in self.canaries:
            for text in (canary.marker, canary.username):
                if text:
                    self._by_text.setdefault(text.lower(), []).append(canary)
        # one alternation, longest first, so that a marker inside a longer one is not taken
        words = sorted(self._by_text, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(rf"(?<![\w.]){re.escape(word)}(?!\w|\.\w)" for word in words))
            if words
            else None
        )
        self._by_id = {(canary.kind, canary.object_id): canary for canary in self.canaries}

    def in_text(self, text: str) -> list[Canary]:
        """Every canary whose marker or username occurs in ``text``, each once, in order."""
        if self._pattern is None or not text:
            return []
        found: dict[int, Canary] = {}
        for match in self._pattern.finditer(text.lower()):
            for canary in self._by_text[match.group(0)]:
                found.setdefault(id(canary), canary)
        return list(found.values())

    def by_id(self, kind: CanaryKind | str, object_id: object) -> Canary | None:
        return self._by_id.get((CanaryKind(kind), str(object_id)))
