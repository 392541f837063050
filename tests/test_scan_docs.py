"""Every log detector, each of its parameters and defaults, and every scan option is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.main import get_command

from harvestguard.detect import DetectorSpec, load_detectors
from harvestguard.ingest import LOG_DETECTORS_DIR
from harvestguard.scan.cli import scan_command

DOC = (Path(__file__).resolve().parents[1] / "docs" / "scan.md").read_text()
LOG_DETECTORS = load_detectors([LOG_DETECTORS_DIR], builtin=False)


@pytest.mark.parametrize("spec", LOG_DETECTORS, ids=lambda s: s.id)
def test_every_log_detector_is_documented(spec: DetectorSpec) -> None:
    match = re.search(rf"^#### `{spec.id}`.*?(?=^#|\Z)", DOC, re.M | re.S)
    assert match, f"no '#### `{spec.id}`' section in docs/scan.md"
    section = " ".join(match.group(0).split())
    assert spec.tos_clause.split(" ", 1)[0] in section
    for name, parameter in spec.parameters.items():
        assert f"`{name}`" in section and f"default {parameter.default}" in section, name


def test_every_scan_option_is_documented() -> None:
    import typer

    app = typer.Typer(add_completion=False)
    app.command()(scan_command)
    for parameter in get_command(app).params:
        for option in getattr(parameter, "opts", []):
            if option.startswith("--"):
                assert f"`{option}" in DOC or f"{option} " in DOC, option
