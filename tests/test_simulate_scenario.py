from __future__ import annotations

from pathlib import Path

import pytest

from harvestguard.simulate import PRESETS, Scenario, ScenarioError, preset
from harvestguard.simulate.scenario import ADVERSARY_CLASSES


def test_the_presets_name_every_adversary_class() -> None:
    for scenario in PRESETS.values():
        assert set(scenario.adversaries) == set(ADVERSARY_CLASSES)
        assert all(count >= 1 for count in scenario.adversaries.values())


def test_a_yaml_scenario_overrides_its_preset(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "preset: default\nname: hotels\nseed: 42\nduration_hours: 3\n"
        "adversaries: {geofence_harvester: 4}\n"
        "parameters: {geofence_harvester: {venues: [10, 12]}}\n"
    )
    scenario = Scenario.load(path)
    assert (scenario.name, scenario.seed, scenario.users) == (
        "hotels",
        42,
        PRESETS["default"].users,
    )
    assert scenario.duration.total_seconds() == 3 * 3600
    assert scenario.adversaries == {"geofence_harvester": 4}
    ranges = scenario.parameter_ranges("geofence_harvester")
    assert (ranges["venues"].low, ranges["venues"].high) == (10, 12)
    assert (
        ranges["accounts"] == PRESETS["default"].parameter_ranges("geofence_harvester")["accounts"]
    )


def test_a_scenario_round_trips_through_json(tmp_path: Path) -> None:
    import json

    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(preset("small").to_dict()))
    assert Scenario.load(path) == preset("small")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"users": 10, "people": 20}, "at most `users`"),
        ({"adversaries": {"hacker": 1}}, "unknown adversary classes: hacker"),
        ({"adversaries": {"mimic": -1}}, "cannot be negative"),
        ({"colour": "red"}, "unknown scenario keys: colour"),
        ({"preset": "huge"}, "unknown preset"),
        ({"duration_hours": 0}, "duration must be positive"),
        ({"parameters": {"mimic": {"speed": [1, 2]}}}, "unknown mimic parameters: speed"),
        ({"parameters": {"mimic": {"follows": [5, 1]}}}, "0 <= low <= high"),
        ({"parameters": {"person": {"follows": [1, 2]}}}, "unknown adversary class"),
        ({"seed": "abc"}, "bad scenario value"),
    ],
)
def test_bad_scenarios_are_refused_with_the_reason(data: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        Scenario.from_dict(data)


def test_a_scenario_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ScenarioError, match="a scenario is a mapping"):
        Scenario.load(path)
