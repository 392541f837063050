"""``Scanner``: log files -> AccessEvents (streamed to a temporary Parquet file) -> detection.

Memory stays bounded whatever the size of the logs: lines are read by DuckDB in batches, each
batch becomes events and is appended to a Parquet file in a temporary folder, and the
detection engine reads that file (DuckDB spills to disk when a query outgrows memory). What
grows with the input is only what grows with the number of distinct clients: the address
behind each pseudonym (kept in memory for the report, never written with the events).
"""

from __future__ import annotations

import os
import queue
import secrets
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from harvestguard.detect import CONTEXT_SCHEMAS, DetectionEngine, DetectionReport
from harvestguard.detect.detection import missing_context_notes
from harvestguard.detect.engines import DuckDBEngine
from harvestguard.detect.risk import FLAG_THRESHOLD
from harvestguard.events import ARROW_SCHEMA
from harvestguard.ingest import (
    LOG_DETECTORS_DIR,
    STDIN,
    CrawlerRanges,
    EventBuilder,
    LogFormat,
    LogReader,
    ParseStats,
    RouteMap,
    resolve_format,
)
from harvestguard.ingest.sniff import first_time
from harvestguard.pseudonym import Pseudonymiser

Progress = Callable[[str, int], None]  # (source, rows just read)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ScanOptions:
    format: str = "auto"
    log_format: str | None = None
    fields: Mapping[str, str] | None = None
    timezone: str = "UTC"
    route_map: RouteMap = field(default_factory=lambda: RouteMap("none"))
    crawlers: CrawlerRanges | None = None
    hide_ua: bool = False
    detector_dirs: Sequence[Path] = ()
    parameters: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    threshold: float = FLAG_THRESHOLD
    key: bytes | None = None  # the pseudonym key; HARVESTGUARD_PSEUDONYM_KEY, else a random one


@dataclass(slots=True)
class ScanResult:
    report: DetectionReport
    stats: ParseStats
    sources: list[str]
    formats: dict[str, str]
    addresses: dict[str, str]  # ip pseudonym -> address
    allowlist: dict[str, str]  # ip pseudonym -> verified crawler label
    events: pa.Table | Path  # in memory, or a folder of Parquet past Scanner.spill_rows
    pseudonymiser: Pseudonymiser
    _folder: tempfile.TemporaryDirectory[str] | None = None

    def address_of(self, pseudonym: str) -> str:
        return self.addresses.get(pseudonym, pseudonym)

    def close(self) -> None:
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def __enter__(self) -> ScanResult:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def scan_key(given: bytes | None = None) -> bytes:
    if given is not None:
        return given
    configured = os.environ.get("HARVESTGUARD_PSEUDONYM_KEY")
    return configured.encode() if configured else secrets.token_bytes(32)


class Scanner:
    # events kept in memory up to this many (about 300 MB); past it they go to Parquet on disk
    spill_rows = 1_000_000
    # what the detection engine's DuckDB may hold in memory; past it, it spills to the scan's
    # folder (its default, 80 % of the machine's memory, is not a bound for a shared server)
    memory_limit = "1GB"

    def __init__(self, options: ScanOptions | None = None) -> None:
        self.options = options or ScanOptions()
        # built now so that a bad detector folder or parameter fails before reading any log
        self.detection = DetectionEngine(
            detector_dirs=[LOG_DETECTORS_DIR, *self.options.detector_dirs],
            parameters=self.options.parameters,
            threshold=self.options.threshold,
        )

    def formats_of(self, sources: Sequence[str]) -> dict[str, LogFormat]:
        options = self.options
        fields = dict(options.fields) if options.fields else None
        return {
            source: resolve_format(options.format, options.log_format, fields, source)
            for source in sources
        }

    def run(self, sources: Sequence[str], progress: Progress | None = None) -> ScanResult:
        if not sources:
            raise ValueError("no log to scan")
        for source in sources:
            if source != STDIN and not Path(source).is_file():
                raise ValueError(f"{source}: no such file")
        if list(sources).count(STDIN) > 1:
            raise ValueError("standard input can be read once")
        folder = tempfile.TemporaryDirectory(prefix="harvestguard-scan-")
        try:
            return self._run(sources, progress, folder)
        except BaseException:
            folder.cleanup()
            raise

    def _run(
        self,
        given: Sequence[str],
        progress: Progress | None,
        folder: tempfile.TemporaryDirectory[str],
    ) -> ScanResult:
        # standard input is copied to the scan's folder first (to disk, a block at a time):
        # then its format can be recognised and DuckDB reads it like any file
        spooled = Path(folder.name) / "stdin.log"
        if STDIN in given:
            with spooled.open("wb") as handle:
                shutil.copyfileobj(sys.stdin.buffer, handle, 1 << 20)
        sources = [str(spooled) if s == STDIN else s for s in given]
        formats = self.formats_of(sources)
        ordered = _in_time_order(sources, formats, self.options.timezone)
        pseudonymiser = Pseudonymiser(scan_key(self.options.key))
        builder = EventBuilder(
            pseudonymiser,
            self.options.route_map,
            self.options.crawlers,
            hide_ua=self.options.hide_ua,
        )
        events_path = Path(folder.name) / "events"
        events_path.mkdir()
        stats = ParseStats()
        kept = _Events(events_path / "events.parquet", self.spill_rows)
        try:
            for source in ordered:
                reader = LogReader(formats[source], timezone=self.options.timezone)
                label = "stdin" if source == str(spooled) else Path(source).name
                for raw in prefetched(reader.batches(source, stats)):
                    kept.add(builder.build(raw, label))
                    if progress is not None:
                        progress(source, raw.num_rows)
        finally:
            kept.close()
        events: pa.Table | Path = events_path if kept.spilled else kept.table()
        report = self._detect(events, _context(builder.allowlist), Path(folder.name))
        named = {str(spooled): STDIN}
        return ScanResult(
            report=report,
            stats=stats,
            sources=[named.get(s, s) for s in ordered],
            formats={named.get(s, s): formats[s].name for s in ordered},
            addresses=builder.addresses,
            allowlist=builder.allowlist,
            events=events,
            pseudonymiser=pseudonymiser,
            _folder=folder,
        )

    def _detect(
        self, events: pa.Table | Path, context: dict[str, pa.Table], folder: Path
    ) -> DetectionReport:
        """``DetectionEngine.run`` on a DuckDB whose memory is capped (``memory_limit``) and
        which spills to the scan's temporary folder. A query that cannot run within the cap
        (not every operator spills) makes the detection run again under DuckDB's own limit,
        and the report's notes say so: a scan does not fail for want of a setting."""
        try:
            return self._detect_within(events, context, folder, self.memory_limit)
        except Exception as error:
            if not _out_of_memory(error):
                raise
        report = self._detect_within(events, context, folder, None)
        report.notes.append(
            f"detection needed more than {self.memory_limit} of memory: it ran again without "
            "that cap"
        )
        return report

    def _detect_within(
        self,
        events: pa.Table | Path,
        context: dict[str, pa.Table],
        folder: Path,
        memory_limit: str | None,
    ) -> DetectionReport:
        detection = self.detection
        engine = DuckDBEngine(memory_limit=memory_limit)
        try:
            engine.connection.execute("SET temp_directory = ?", [str(folder / "spill")])
            engine.load_events(events)
            given = detection.load_context(engine, context)
            notes = missing_context_notes(detection.detectors, given)
            return detection.report(engine, detection.run_detectors(engine, given), notes)
        finally:
            engine.close()


def _out_of_memory(error: BaseException | None) -> bool:
    """DuckDB's out-of-memory error, raised as is or as the cause of a DetectorError."""
    while error is not None:
        if isinstance(error, duckdb.OutOfMemoryException):
            return True
        error = error.__cause__
    return False


def prefetched(batches: Iterator[T], depth: int = 2) -> Iterator[T]:
    """The items of ``batches``, produced on a helper thread while the caller works on the
    previous one: DuckDB reads and converts the next batch (it releases the GIL) while Python
    builds the events of this one. Errors reach the caller; stopping early stops the thread."""
    items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(kind: str, value: Any) -> bool:
        while not stop.is_set():
            try:
                items.put((kind, value), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in batches:
                if not put("item", item):
                    return
            put("end", None)
        except BaseException as error:  # handed to the caller, raised there
            put("error", error)

    thread = threading.Thread(target=produce, name="harvestguard-scan-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = items.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join()


class _Events:
    """Event batches kept in memory until there are ``limit`` rows, then all of them written to
    one Parquet file and the rest appended to it (memory stays bounded on any input)."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path, self.limit = path, limit
        self.batches: list[pa.Table] = []
        self.rows = 0
        self.writer: pq.ParquetWriter | None = None

    @property
    def spilled(self) -> bool:
        return self.writer is not None

    def add(self, batch: pa.Table) -> None:
        if self.writer is not None:
            self.writer.write_table(batch)
            return
        self.batches.append(batch)
        self.rows += batch.num_rows
        if self.rows > self.limit:
            self.writer = pq.ParquetWriter(self.path, ARROW_SCHEMA)
            for kept in self.batches:
                self.writer.write_table(kept)
            self.batches = []

    def table(self) -> pa.Table:
        return pa.concat_tables(self.batches) if self.batches else ARROW_SCHEMA.empty_table()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _in_time_order(
    sources: Sequence[str], formats: Mapping[str, LogFormat], timezone: str
) -> list[str]:
    """Files by the time of their first line (rotated logs given in any order); standard input
    and files whose first lines cannot be read keep their place at the end."""
    times = {s: first_time(s, formats[s], timezone) for s in sources}
    dated = sorted((t, i, s) for i, s in enumerate(sources) if (t := times[s]) is not None)
    return [s for _, _, s in dated] + [s for s in sources if times[s] is None]


def _context(allowlist: Mapping[str, str]) -> dict[str, pa.Table]:
    schema = CONTEXT_SCHEMAS["allowlist"]
    rows = sorted(allowlist.items())
    return {
        "allowlist": pa.table(
            {
                "kind": pa.array(["ip"] * len(rows), pa.string()),
                "key": pa.array([k for k, _ in rows], pa.string()),
                "label": pa.array([v for _, v in rows], pa.string()),
            },
            schema=schema,
        )
    }
