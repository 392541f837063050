"""Every shipped detector, each of its parameters, and every context table is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harvestguard.detect import CONTEXT_SCHEMAS, load_detectors

DOC = Path(__file__).resolve().parents[1] / "docs" / "detection.md"


def _section(detector_id: str) -> str:
    text = DOC.read_text()
    match = re.search(rf"^### `{detector_id}`.*?(?=^### |^## |\Z)", text, re.M | re.S)
    assert match, f"detector {detector_id} has no '### `{detector_id}`' section in {DOC.name}"
    return match.group(0)


@pytest.mark.parametrize("spec", load_detectors(), ids=lambda s: s.id)
def test_every_shipped_detector_is_documented_with_its_parameters(spec: object) -> None:
    from harvestguard.detect import DetectorSpec

    assert isinstance(spec, DetectorSpec)
    section = _section(spec.id)
    assert spec.tos_clause in section
    for name, parameter in spec.parameters.items():
        assert f"`{name}`" in section, f"{spec.id}: parameter {name} is undocumented"
        assert str(parameter.default) in section, f"{spec.id}: the default of {name}"


def test_every_context_table_is_documented() -> None:
    text = DOC.read_text()
    for name, schema in CONTEXT_SCHEMAS.items():
        assert f"`{name}`" in text
        for field in schema:
            assert f"`{field.name}`" in text, f"{name}.{field.name}"
