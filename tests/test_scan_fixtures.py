"""The in-scope cases of CrowdSec's hub tests: exactly the expected addresses are flagged."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml

from harvestguard.ingest import load_route_map
from harvestguard.ingest.routes import RouteMap
from harvestguard.scan import Scanner, ScanOptions, address_verdicts

FIXTURES = Path(__file__).parent / "fixtures" / "scan"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "case.yaml").is_file())


def test_the_in_scope_cases_are_all_there() -> None:
    assert len(CASES) == 16


@pytest.mark.parametrize("case", CASES)
def test_case_flags_exactly_the_expected_addresses(case: str) -> None:
    spec = yaml.safe_load((FIXTURES / case / "case.yaml").read_text())
    options = ScanOptions(
        format=spec.get("input_format", "auto"),
        log_format=spec.get("log_format"),
        route_map=load_route_map(spec["routes"]) if "routes" in spec else RouteMap("none"),
    )
    scanner = Scanner(options)
    with scanner.run([str(FIXTURES / case / "access.log")]) as result:
        verdicts = address_verdicts(result, scanner)
        flagged = {ipaddress.ip_address(v.address) for v in verdicts if v.status == "flagged"}
        assert result.stats.parsed > 0
    expected = {ipaddress.ip_address(a) for a in spec["flagged"]}
    assert flagged == expected, f"{case}: flagged {sorted(map(str, flagged))}"
