"""Finding detector files: the built-in folder first, then any user folders, the same way."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from harvestguard.detect.spec import DetectorError, DetectorSpec, load_detector

BUILTIN_DIR = Path(__file__).parent / "detectors"


def load_detectors(
    folders: Iterable[Path | str] = (), *, builtin: bool = True
) -> list[DetectorSpec]:
    """Every ``*.sql`` detector of the built-in folder (unless ``builtin`` is false) and of
    ``folders``, in that order. A malformed file raises DetectorError; so does a second
    detector with an id already taken."""
    directories = [BUILTIN_DIR] if builtin else []
    directories += [Path(folder) for folder in folders]
    specs: dict[str, DetectorSpec] = {}
    for directory in directories:
        if not directory.is_dir():
            raise DetectorError(directory, 1, "not a folder of detector files")
        for path in sorted(directory.glob("*.sql")):
            spec = load_detector(path)
            if spec.id in specs:
                raise DetectorError(
                    path, 1, f"detector id {spec.id!r} is already used by {specs[spec.id].path}"
                )
            specs[spec.id] = spec
    return list(specs.values())
