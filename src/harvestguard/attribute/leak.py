"""Reading a leaked dataset: a CSV file, a JSON (or JSON lines) file, or a folder of images.

Values are kept as the text the leak wrote: how many digits a coordinate kept is evidence too.
A leak that cannot be read is refused with the line at fault (``LeakError``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
MAX_IMAGE_PIXELS = 64_000_000


class LeakError(ValueError):
    """A leak that cannot be read: the message names the file and, where there is one, the line."""


@dataclass(frozen=True, slots=True)
class Record:
    line: int  # where the record starts in the leak (1-based), for the evidence
    fields: dict[str, str]  # column (dotted path for nested JSON) -> the value as written


@dataclass(slots=True)
class Leak:
    source: Path
    records: list[Record] = field(default_factory=list)
    images: list[tuple[Path, Image.Image]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files of a folder that are no images


def read_leak(path: Path) -> Leak:
    if path.is_dir():
        return _read_folder(path)
    if not path.is_file():
        raise LeakError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise LeakError(f"{path}: not UTF-8 text (byte {error.start})") from error
    if suffix == ".csv":
        return Leak(path, _read_csv(path, text))
    if suffix in (".json", ".jsonl", ".ndjson"):
        return Leak(path, _read_json(path, text, lines=suffix != ".json"))
    raise LeakError(f"{path}: expected a .csv, .json or .jsonl file, or a folder of images")


def _read_csv(path: Path, text: str) -> list[Record]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(name.strip() for name in header):
            raise LeakError(f"{path}: empty, no header line")
        names = [name.strip() for name in header]
        records = []
        for row in reader:
            if not row:
                continue
            if len(row) != len(names):
                raise LeakError(
                    f"{path}, line {reader.line_num}: {len(row)} fields, the header has"
                    f" {len(names)}"
                )
            records.append(Record(reader.line_num, dict(zip(names, row, strict=True))))
    except csv.Error as error:
        raise LeakError(f"{path}, line {reader.line_num}: {error}") from error
    return records


def _read_json(path: Path, text: str, *, lines: bool) -> list[Record]:
    if lines:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                document = _parse(path, line, number)
                if not isinstance(document, dict):
                    raise LeakError(f"{path}, line {number}: expected a JSON object per line")
                records.append(Record(number, dict(_flatten(document))))
        return records
    document = _parse(path, text, 0)
    if isinstance(document, dict):
        # {"data": [...]} and the like: the one list of objects it holds
        lists = [value for value in document.values() if isinstance(value, list)]
        if len(lists) != 1:
            raise LeakError(f"{path}: expected a list of records, or an object holding one")
        document = lists[0]
    if not isinstance(document, list):
        raise LeakError(f"{path}: expected a list of records")
    records = []
    for index, item in enumerate(document):
        if not isinstance(item, dict):
            raise LeakError(f"{path}: record {index + 1} is not a JSON object")
        records.append(Record(index + 1, dict(_flatten(item))))
    return records


def _parse(path: Path, text: str, line: int) -> Any:
    try:
        # numbers stay text: the digits a coordinate kept matter
        return json.loads(text, parse_float=str, parse_int=str)
    except json.JSONDecodeError as error:
        at = line or error.lineno
        raise LeakError(f"{path}, line {at}: not JSON ({error.msg})") from error


def _flatten(value: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for name, item in value.items():
        key = f"{prefix}{name}"
        if isinstance(item, dict):
            yield from _flatten(item, key + ".")
        elif isinstance(item, list):
            for index, element in enumerate(item):
                if isinstance(element, dict):
                    yield from _flatten(element, f"{key}.{index}.")
                elif element is not None:
                    yield f"{key}.{index}", str(element)
        elif item is not None:
            yield key, item if isinstance(item, str) else json.dumps(item)


def _read_folder(path: Path) -> Leak:
    leak = Leak(path)
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        if file.suffix.lower() in (".csv", ".json", ".jsonl", ".ndjson"):
            leak.records.extend(read_leak(file).records)
            continue
        try:
            with Image.open(file) as opened:
                opened.load()
                leak.images.append((file, opened.copy()))
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            leak.skipped.append(str(file.relative_to(path)))
    if not leak.images and not leak.records:
        raise LeakError(f"{path}: no images and no CSV or JSON files in this folder")
    return leak
