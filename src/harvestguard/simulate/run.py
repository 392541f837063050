"""``run_event_mode``: a scenario to events (in memory, or a sink URL) and its ground truth.

Output goes where the guard's own events go, so every reader works on it unchanged:

- ``parquet:DIR`` — the ParquetSink layout (``DIR/date=YYYY-MM-DD/*.parquet``), Arrow batches
  written straight to files;
- ``duckdb:PATH`` — the ``events`` table of a DuckDB file;
- ``jsonl:PATH`` — JSON lines, through the JsonLinesSink (slow: for small runs).

Next to the events the run writes ``ground_truth.json`` and ``labels.parquet`` (request_id ->
actor_id) into ``truth_dir``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from harvestguard.events import ARROW_SCHEMA, duckdb_columns, from_arrow
from harvestguard.policy import Policy
from harvestguard.simulate.engine import DEFAULT_BATCH, Batch, Progress, Simulation
from harvestguard.simulate.groundtruth import GroundTruth
from harvestguard.simulate.scenario import Scenario
from harvestguard.simulate.world import World
from harvestguard.sinks import JsonLinesSink, parse_sink_url
from harvestguard.sinks.parquet import PARTITION_PREFIX, write_durably


@dataclass(slots=True)
class RunResult:
    ground_truth: GroundTruth
    count: int
    seconds: float
    events: pa.Table | None = None  # when kept in memory
    labels: pa.Array[pa.StringScalar] | None = None  # actor_id of each event of ``events``
    world: World | None = None  # the platform the run happened on (its context for detectors)

    @property
    def events_per_minute(self) -> float:
        return self.count / self.seconds * 60 if self.seconds else 0.0


def run_event_mode(
    scenario: Scenario,
    *,
    output: str | None = None,
    truth_dir: str | Path | None = None,
    world: World | None = None,
    policy: Policy | None = None,
    keep: bool | None = None,
    max_events: int | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> RunResult:
    """Runs the scenario; ``keep`` (default: when there is no ``output``) holds events in memory."""
    started = time.perf_counter()
    simulation = Simulation(scenario, world=world, policy=policy)
    writer = None if output is None else _Writer(output, scenario.seed)
    keep = output is None if keep is None else keep
    kept: list[Batch] = []
    labels: list[pa.Table] = []
    try:
        for batch in simulation.batches(
            batch_size=batch_size, max_events=max_events, progress=progress
        ):
            if writer is not None:
                writer.write(batch.events)
            if keep:
                kept.append(batch)
            if truth_dir is not None:
                labels.append(_labels(batch, simulation.actor_ids()))
    finally:
        if writer is not None:
            writer.close()
    truth = simulation.ground_truth()
    if truth_dir is not None:
        directory = Path(truth_dir)
        directory.mkdir(parents=True, exist_ok=True)
        truth.write(directory / "ground_truth.json")
        pq.write_table(
            pa.concat_tables(labels) if labels else _labels_schema().empty_table(),
            directory / "labels.parquet",
        )
    result = RunResult(
        truth, simulation.count, time.perf_counter() - started, world=simulation.world
    )
    if keep:
        result.events = pa.Table.from_batches([b.events for b in kept], schema=ARROW_SCHEMA)
        ids = pa.array(simulation.actor_ids(), pa.string())
        indices = pa.chunked_array([b.actors for b in kept], pa.int32())
        result.labels = pc.take(ids, indices.combine_chunks())
    return result


def _labels_schema() -> pa.Schema:
    return pa.schema([("request_id", pa.string()), ("actor_id", pa.string())])


def _labels(batch: Batch, actor_ids: list[str]) -> pa.Table:
    ids = pc.take(pa.array(actor_ids, pa.string()), batch.actors)
    return pa.table(
        {"request_id": batch.events.column("request_id"), "actor_id": ids},
        schema=_labels_schema(),
    )


class _Writer:
    def __init__(self, url: str, seed: int) -> None:
        self.kind, self.path = parse_sink_url(url)
        self._seed = seed
        self._files = 0
        self._duck: duckdb.DuckDBPyConnection | None = None
        self._jsonl: JsonLinesSink | None = None
        if self.kind == "duckdb":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._duck = duckdb.connect(str(self.path))
            self._duck.execute(f"CREATE TABLE IF NOT EXISTS events ({duckdb_columns()})")
        elif self.kind == "jsonl":
            self._jsonl = JsonLinesSink(self.path)
        else:
            self.path.mkdir(parents=True, exist_ok=True)

    def write(self, batch: pa.RecordBatch) -> None:
        table = pa.Table.from_batches([batch])
        if self._duck is not None:
            self._duck.register("_incoming", table)
            self._duck.execute("INSERT INTO events BY NAME SELECT * FROM _incoming")
            self._duck.unregister("_incoming")
        elif self._jsonl is not None:
            self._jsonl.write(from_arrow(table))
        else:
            days = pc.strftime(table.column("ts"), format="%Y-%m-%d")
            for day in pc.unique(days).to_pylist():
                part = table.filter(pc.equal(days, pa.scalar(day, pa.string())))
                directory = self.path / f"{PARTITION_PREFIX}{day}"
                directory.mkdir(exist_ok=True)
                self._files += 1
                name = f"simulated-{self._seed}-{self._files:06d}.parquet"
                temp = directory / f".{name}.tmp"
                write_durably(part, temp, "zstd")
                os.replace(temp, directory / name)

    def close(self) -> None:
        if self._duck is not None:
            self._duck.close()
        if self._jsonl is not None:
            self._jsonl.close()
