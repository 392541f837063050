"""The detector file format: what the header parser accepts, what it refuses (file, line,
reason), typed parameter substitution, and user folders registering like the built-ins."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvestguard.detect import DetectionEngine, DetectorError, load_detectors, parse_detector
from tests.detect_helpers import fired, table, view

GOOD = """\
-- ---
-- id: many_views
-- title: Many views
-- severity: medium
-- tos_clause: "4.3 No excessive requests"
-- parameters:
--   min_views: {type: int, default: 5, min: 1}
--   label: {type: str, default: "it's many"}
-- explanation: "{views} views"
-- ---
SELECT actor_kind, actor_key, min(epoch_s) AS window_start, max(epoch_s) + 1 AS window_end,
       1.0 AS score, count(*) AS views, {{label}} AS label
FROM events GROUP BY actor_kind, actor_key HAVING count(*) >= {{min_views}}
"""


def test_a_good_detector_parses_and_renders_typed_literals() -> None:
    spec = parse_detector(GOOD, "many_views.sql")
    assert spec.id == "many_views" and spec.severity == "medium"
    assert spec.tos_clause == "4.3 No excessive requests"
    sql = spec.render({"min_views": "7"})
    assert ">= 7" in sql and "'it''s many'" in sql


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"min_views": "7; DROP TABLE events"}, "is not int"),
        ({"min_views": 0}, "must be >= 1"),
        ({"min_views": True}, "must be int"),
        ({"nope": 1}, "has no parameter 'nope'"),
    ],
)
def test_parameter_overrides_are_validated_never_pasted(
    overrides: dict[str, object], reason: str
) -> None:
    spec = parse_detector(GOOD)
    with pytest.raises(ValueError, match=reason):
        spec.render(overrides)


def _broken(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("SELECT 1", 1, "starts with a '-- ---' line"),
        (GOOD.replace("-- ---\nSELECT", "SELECT"), 1, "not closed"),
        (_broken("-- severity: medium\n", "-- severity: [medium\n"), 4, "not valid YAML"),
        (_broken("-- severity: medium\n", "-- severity: dire\n"), 4, "severity must be one of"),
        (_broken('-- tos_clause: "4.3 No excessive requests"\n', ""), 2, "no 'tos_clause'"),
        (
            _broken("-- title: Many views\n", "-- title: Many views\n-- colour: red\n"),
            4,
            "unknown header key",
        ),
        (_broken("-- id: many_views", "-- id: Many Views"), 2, "must match"),
        (_broken("default: 5, min: 1", "default: five"), 7, "is not int"),
        (
            _broken("{type: int, default: 5, min: 1}", "{type: integer, default: 5}"),
            7,
            "type must be one of",
        ),
        (_broken("{{min_views}}", "{{max_views}}"), 13, "not a declared parameter"),
        (_broken("SELECT actor_kind", "DELETE FROM events; SELECT actor_kind"), 11, "SELECT"),
        (GOOD + "; SELECT 2", 11, "exactly one statement"),
        (_broken("-- explanation", "-- needs: [secrets]\n-- explanation"), 9, "context tables"),
        (_broken("-- explanation", "-- monotone: mostly\n-- explanation"), 9, "true or false"),
        (
            _broken('-- explanation: "{views} views"\n', 'explanation: "{views} views"\n'),
            9,
            "must start with '--'",
        ),
    ],
)
def test_malformed_detectors_are_refused_with_file_line_and_reason(
    text: str, line: int, reason: str
) -> None:
    with pytest.raises(DetectorError, match=reason) as raised:
        parse_detector(text, "bad.sql")
    assert raised.value.line == line
    assert str(raised.value).startswith(f"bad.sql:{line}: ")


def test_a_user_folder_is_picked_up_like_the_built_ins(tmp_path: Path) -> None:
    (tmp_path / "many_views.sql").write_text(GOOD)
    specs = load_detectors([tmp_path])
    assert "many_views" in {s.id for s in specs} and "breadth" in {s.id for s in specs}
    engine = DetectionEngine(detector_dirs=[tmp_path])
    events = [view(i, i, account="busy") for i in range(6)] + [view(1, 1, account="calm")]
    report = engine.run(table(events))
    assert fired(report, "many_views") == {("account", "busy")}
    assert next(f for f in report.findings if f.detector == "many_views").explanation == "6 views"


def test_a_duplicate_id_and_a_broken_query_are_refused(tmp_path: Path) -> None:
    (tmp_path / "again.sql").write_text(GOOD.replace("id: many_views", "id: breadth"))
    with pytest.raises(DetectorError, match="already used"):
        load_detectors([tmp_path])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.sql").write_text(GOOD.replace("FROM events", "FROM no_such_table"))
    with pytest.raises(DetectorError, match="the query failed") as raised:
        DetectionEngine(detector_dirs=[broken]).run(table([view(1, 1, account="a")]))
    assert raised.value.path.name == "bad.sql"


def test_a_detector_must_return_the_output_columns_and_scores_in_range(tmp_path: Path) -> None:
    (tmp_path / "noscore.sql").write_text(GOOD.replace("1.0 AS score", "1.0 AS certainty"))
    with pytest.raises(DetectorError, match="returns no score"):
        DetectionEngine(detector_dirs=[tmp_path], detectors=[]).run(table([view(1, 1)]))
    (tmp_path / "noscore.sql").write_text(GOOD.replace("1.0 AS score", "2.0 AS score"))
    events = [view(i, i, account="busy") for i in range(6)]
    with pytest.raises(DetectorError, match="not in"):
        DetectionEngine(detector_dirs=[tmp_path], detectors=[]).run(table(events))


def test_unknown_parameters_and_engines_fail_before_any_run() -> None:
    with pytest.raises(ValueError, match="unknown detector"):
        DetectionEngine(parameters={"nope": {"x": 1}})
    with pytest.raises(ValueError, match="is not int"):
        DetectionEngine(parameters={"breadth": {"min_strangers": "lots"}})
    with pytest.raises(ValueError, match="unknown engine"):
        DetectionEngine(engine="oracle")
