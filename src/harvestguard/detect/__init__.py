"""Detection: SQL detectors over access events, entity linking, risk and evidence.

``DetectionEngine().run(events, context)`` returns a DetectionReport; docs/detection.md
describes the detector file format, every shipped detector, the context tables, the linking
rules and the risk method.
"""

from harvestguard.detect.context import CONTEXT_SCHEMAS, check_context, context_from_world
from harvestguard.detect.detection import DetectionEngine, fold_findings
from harvestguard.detect.engines import ENGINES, DuckDBEngine, Engine, open_engine
from harvestguard.detect.findings import DetectionReport, Entity, Exposure, Finding
from harvestguard.detect.linking import EntityLinker
from harvestguard.detect.registry import BUILTIN_DIR, load_detectors
from harvestguard.detect.spec import DetectorError, DetectorSpec, Parameter, parse_detector

__all__ = [
    "BUILTIN_DIR",
    "CONTEXT_SCHEMAS",
    "ENGINES",
    "DetectionEngine",
    "DetectionReport",
    "DetectorError",
    "DetectorSpec",
    "DuckDBEngine",
    "Engine",
    "Entity",
    "EntityLinker",
    "Exposure",
    "Finding",
    "Parameter",
    "check_context",
    "context_from_world",
    "fold_findings",
    "load_detectors",
    "open_engine",
    "parse_detector",
]
