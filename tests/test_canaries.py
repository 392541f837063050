"""harvestguard.canaries: keyed markers, the canaries file, the context table, finding canaries in text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harvestguard.canaries import (
    FORMAT,
    Canary,
    CanaryFileError,
    CanaryKind,
    CanaryMatcher,
    canaries_table,
    canary_marker,
    dormant_count,
    load_canaries,
    save_canaries,
)
from tests.detect_helpers import fired, run, view

KEY = b"a secret key"


def _canaries() -> list[Canary]:
    return [
        Canary(CanaryKind.ACCOUNT, "61", "canary account @farah_costa41", "hiddenwillow1837",
               username="farah_costa41", media_id="250"),
        Canary(CanaryKind.POST, "158", "canary post by @farah_costa41", "fadedlantern1431",
               username="farah_costa41", media_id="254"),
        Canary(CanaryKind.STORY, "55", "canary story by @farah_costa41", "foggyquarry7294",
               username="farah_costa41", media_id="258"),
        Canary(CanaryKind.VENUE, "39", "canary venue Sunny Plaza Hotel, Berlin",
               "Sunny Plaza Hotel"),
    ]  # fmt: skip


def test_markers_are_keyed_deterministic_and_distinct() -> None:
    first = canary_marker(KEY, CanaryKind.POST, "17")
    assert canary_marker(KEY, "post", "17") == first
    assert canary_marker(b"another key", CanaryKind.POST, "17") != first
    assert canary_marker(KEY, CanaryKind.STORY, "17") != first
    tags = {canary_marker(KEY, kind, str(n)).tag for kind in CanaryKind for n in range(300)}
    assert len(tags) == 4 * 300
    assert first.tag.isalnum() and first.tag.islower() and first.tag[-4:].isdigit()
    assert first.title.replace(" ", "").lower() == first.tag[:-4]
    with pytest.raises(ValueError, match="secret key"):
        canary_marker(b"", CanaryKind.POST, "17")
    with pytest.raises(ValueError):
        canary_marker(KEY, "comment", "17")


def test_the_file_round_trips_and_is_written_whole(tmp_path: Path) -> None:
    path = save_canaries(_canaries(), tmp_path / "data" / "canaries.json")
    assert load_canaries(path) == tuple(_canaries())
    assert json.loads(path.read_text())["format"] == FORMAT
    assert [p.name for p in path.parent.iterdir()] == ["canaries.json"]  # no temporary left


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "Expecting"),
        ('{"format": "harvestguard-world", "version": 1, "canaries": []}', "not a harvestguard"),
        ('{"format": "harvestguard-canaries", "version": 9, "canaries": []}', "version 9"),
        ('{"format": "harvestguard-canaries", "version": 1, "canaries": {}}', "must be a list"),
        (
            '{"format": "harvestguard-canaries", "version": 1, "canaries": '
            '[{"kind": "comment", "object_id": "1", "label": "x", "marker": "y"}]}',
            "bad canary entry",
        ),
        (
            '{"format": "harvestguard-canaries", "version": 1, "canaries": '
            '[{"kind": "post", "object_id": "1", "label": "x"}]}',
            "marker",
        ),
        (
            '{"format": "harvestguard-canaries", "version": 1, "canaries": '
            '[{"kind": "post", "object_id": 1, "label": "x", "marker": "y"}]}',
            "non-text",
        ),
        (
            '{"format": "harvestguard-canaries", "version": 1, "canaries": '
            '[{"kind": "post", "object_id": "1", "label": "x", "marker": "y", "media_id": 3}]}',
            "non-text username or media_id",
        ),
    ],
)
def test_a_bad_file_is_refused_with_its_reason(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "canaries.json"
    path.write_text(content)
    with pytest.raises(CanaryFileError, match=message):
        load_canaries(path)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(CanaryFileError, match="no such canaries file"):
        load_canaries(tmp_path / "nowhere.json")


def test_the_context_table_lists_every_read_that_counts() -> None:
    table = canaries_table(_canaries())
    rows = set(zip(*(table.column(name).to_pylist() for name in table.column_names), strict=True))
    assert {(resource, object_id) for resource, object_id, _ in rows} == {
        ("profile", "61"),
        ("media", "250"),
        ("post", "158"),
        ("media", "254"),
        ("story", "55"),
        ("media", "258"),
        ("location", "39"),
    }
    assert ("post", "158", "canary post by @farah_costa41") in rows
    assert canaries_table([]).num_rows == 0


def test_canary_access_fires_on_a_read_of_a_listed_object_only() -> None:
    context = {"canaries": canaries_table(_canaries())}
    reads = [
        view(0, 158, account="7", resource="post"),  # the canary post
        view(1, 254, account="8", resource="media"),  # the canary post's photo
        view(2, 159, account="9", resource="post"),  # a real post
        view(3, 61, account="9", resource="post"),  # a post whose id is a canary *account's* id
        view(4, 55, account="10", resource="story", status=404),  # refused: nothing was read
    ]
    report = run("canary_access", reads, context)
    assert fired(report, "canary_access") == {("account", "7"), ("account", "8")}
    finding = next(f for f in report.findings if f.key == ("account", "7"))
    assert finding.evidence["first_label"] == "canary post by @farah_costa41"


def test_the_matcher_finds_markers_and_usernames_as_whole_words() -> None:
    matcher = CanaryMatcher(_canaries())
    found = matcher.in_text("Golden hour at the rooftop #FadedLantern1431 with @farah_costa41.")
    assert [c.object_id for c in found] == ["158", "61", "55"]
    assert matcher.in_text("Sunny Plaza Hotel, Berlin")[0].kind is CanaryKind.VENUE
    assert matcher.in_text("#fadedlantern14310 and xfadedlantern1431") == []
    assert matcher.in_text("farah_costa410 and farah_costa41.x") == []
    assert matcher.in_text("") == []
    assert CanaryMatcher([]).in_text("anything") == []
    assert matcher.by_id("post", 158) == _canaries()[1]
    assert matcher.by_id(CanaryKind.ACCOUNT, "158") is None


def test_dormant_followers_match_the_popular_but_stay_few() -> None:
    assert dormant_count([]) == 3
    assert dormant_count([0] * 30) == 3
    # 1,000 public accounts whose top tenth has 40 followers: 40 dormant canaries
    assert dormant_count([40] * 100 + [2] * 900) == 40
    # a small world whose top tenth has 30: capped at one account in twenty
    assert dormant_count([30] * 20 + [1] * 180) == 10
