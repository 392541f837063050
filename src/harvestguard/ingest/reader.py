"""Reading access logs into raw requests, in Arrow batches, streaming and in parallel.

The file is read by DuckDB (plain or gzip, or standard input), never loaded whole: each
``batches()`` call yields Arrow record batches of ``RAW_COLUMNS`` as DuckDB produces them. A
space-separated format (combined, common, most ``log_format`` strings) is split by DuckDB's
parallel CSV reader; the lines it refuses, and every line of a format only a regular expression
can read, are parsed in Python. A line that no way can read is *malformed*: counted, the first
few kept as samples, never fatal.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from harvestguard.ingest.formats import RAW_COLUMNS, LogFormat, parts_column, sql_fields
from harvestguard.ingest.lines import ParseStats, python_rows, text_source
from harvestguard.ingest.sniff import STDIN, is_gzip

BATCH_ROWS = 262_144
_PYTHON_BATCH = 65_536


class LogReader:
    """Yields raw-request batches from one input in one format."""

    def __init__(
        self, fmt: LogFormat, *, timezone: str = "UTC", batch_rows: int = BATCH_ROWS
    ) -> None:
        self.fmt = fmt
        self.timezone = timezone
        self.batch_rows = batch_rows

    def batches(self, source: str, stats: ParseStats) -> Iterator[pa.RecordBatch]:
        connection = duckdb.connect()
        # a second connection converts the lines parsed in Python while the first one streams
        self._converter = duckdb.connect()
        try:
            for db in (connection, self._converter):
                db.execute("SET TimeZone = ?", [self.timezone])
            path = "/dev/stdin" if source == STDIN else str(source)
            if self.fmt.columns is not None:
                yield from self._csv(connection, path, source, stats)
            elif self.fmt.is_json:
                yield from self._json(connection, path, source, stats)
            else:
                yield from self._python(connection, path, source, stats)
        finally:
            connection.close()
            self._converter.close()

    def _read_options(self, path: str) -> str:
        compression = "gzip" if is_gzip(path) else "none"
        return (
            f"header = false, auto_detect = false, compression = '{compression}', "
            "ignore_errors = true, store_rejects = true, rejects_table = '_rejects', "
            "rejects_scan = '_rejects_scan', max_line_size = 1048576"
        )

    def _csv(
        self, connection: duckdb.DuckDBPyConnection, path: str, source: str, stats: ParseStats
    ) -> Iterator[pa.RecordBatch]:
        columns = self.fmt.columns
        assert columns is not None
        names = [f"c{i}" for i in range(len(columns))]
        spec = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in names) + "}"
        text: dict[str, str] = {}
        for i, column in enumerate(columns):
            if column.variable is None:
                continue
            if column.variable == "time_local":
                text["time_local"] = f"(substr(c{i}, 2) || ' ' || rtrim(c{i + 1}, ']'))"
            elif column.bracketed:
                text[column.variable] = f"trim(c{i}, '[]')"
            else:
                text[column.variable] = f"c{i}"
        quoted = [f"c{i}" for i, column in enumerate(columns) if column.quoted]
        # a quoted value holding a newline is two lines joined by an unbalanced quote
        joined = " OR ".join(f"contains({name}, chr(10))" for name in quoted) or "FALSE"
        line = " || ' ' || ".join(f"coalesce({name}, '')" for name in names)
        query = f"""
            WITH fields AS (
                SELECT {sql_fields(self.fmt, text)}, ({joined}) AS _joined, {", ".join(names)}
                FROM (
                    SELECT *, {parts_column(text)}
                    FROM read_csv('{_quote(path)}', columns = {spec}, delim = ' ', quote = '"',
                                  escape = '\\', {self._read_options(path)})
                )
            )
            SELECT {", ".join(RAW_COLUMNS)}, _joined,
                   CASE WHEN _joined OR ts IS NULL OR status IS NULL OR remote IS NULL
                        THEN {line} END AS _line
            FROM fields
        """
        yield from self._stream(connection, query, source, stats)
        rejected = connection.execute(
            "SELECT DISTINCT line, csv_line FROM _rejects ORDER BY line"
        ).fetchall()
        yield from self._reparse([(n, t) for n, t in rejected], source, stats)

    def _stream(
        self, connection: duckdb.DuckDBPyConnection, query: str, source: str, stats: ParseStats
    ) -> Iterator[pa.RecordBatch]:
        reader = connection.sql(query).to_arrow_reader(self.batch_rows)
        for batch in reader:
            joined = batch.column("_joined")
            valid = pc.and_(
                pc.and_(pc.is_valid(batch.column("ts")), pc.is_valid(batch.column("status"))),
                pc.is_valid(batch.column("remote")),
            )
            good = pc.and_(valid, pc.invert(pc.fill_null(joined, False)))
            bad = pc.invert(good)
            any_bad = pc.any(bad).as_py()
            if any_bad:
                again = batch.filter(pc.and_(bad, pc.fill_null(joined, False)))
                lines = [
                    (None, part)
                    for text in again.column("_line").to_pylist()
                    for part in str(text).split("\n")
                ]
                failed = batch.filter(pc.and_(bad, pc.invert(pc.fill_null(joined, False))))
                for text in failed.column("_line").to_pylist():
                    stats.reject(source, None, str(text))
                table = python_rows(self.fmt, lines, stats, source)
                if table is not None and table.num_rows:
                    yield from self._convert(table, stats, source)
            # nearly every batch is all good: then no copy of its columns is made
            kept = batch.select(list(RAW_COLUMNS))
            if any_bad:
                kept = kept.filter(good)
            stats.lines += kept.num_rows
            stats.parsed += kept.num_rows
            if kept.num_rows:
                yield kept

    def _reparse(
        self,
        rejected: list[tuple[int | None, str | None]],
        source: str,
        stats: ParseStats,
    ) -> Iterator[pa.RecordBatch]:
        lines: list[tuple[int | None, str]] = []
        for number, text in rejected:
            for offset, part in enumerate(str(text or "").split("\n")):
                lines.append((None if number is None else int(number) + offset, part))
        table = python_rows(self.fmt, lines, stats, source)
        if table is not None and table.num_rows:
            yield from self._convert(table, stats, source)

    def _convert(self, table: pa.Table, stats: ParseStats, source: str) -> Iterator[pa.RecordBatch]:
        """Fields found in Python, through the same SQL conversion as the fast path."""
        connection = self._converter
        connection.register("_python_rows", table)
        try:
            source_text = text_source(self.fmt)
            result = connection.sql(
                f"SELECT {sql_fields(self.fmt, source_text)}, _source_line "
                f"FROM (SELECT *, {parts_column(source_text)} FROM _python_rows)"
            ).to_arrow_table()
        finally:
            connection.unregister("_python_rows")
        ok = pc.and_(
            pc.and_(pc.is_valid(result.column("ts")), pc.is_valid(result.column("status"))),
            pc.is_valid(result.column("remote")),
        )
        # these lines were counted as parsed by _python_rows; undo for the ones that fail here
        failed = result.filter(pc.invert(ok))
        for text in failed.column("_source_line").to_pylist():
            stats.parsed -= 1
            stats.lines -= 1
            stats.reject(source, None, str(text))
        kept = result.filter(ok).select(list(RAW_COLUMNS))
        yield from kept.to_batches()

    def _json(
        self, connection: duckdb.DuckDBPyConnection, path: str, source: str, stats: ParseStats
    ) -> Iterator[pa.RecordBatch]:
        paths = list(self.fmt.json_fields.items())
        listing = "[" + ", ".join(f"'{_quote(p)}'" for _, p in paths) + "]"
        text = {name: f"_f[{i}]" for i, (name, _) in enumerate(paths, start=1)}
        query = f"""
            WITH lines AS (
                SELECT line, substr(line, greatest(strpos(line, '{{'), 1)) AS j
                FROM read_csv('{_quote(path)}', columns = {{'line': 'VARCHAR'}},
                              delim = '\\x01', quote = '', escape = '', {self._read_options(path)})
            ),
            parsed AS (
                SELECT line, CASE WHEN json_valid(j) THEN json_extract_string(j, {listing}) END
                           AS _f
                FROM lines
            )
            SELECT {sql_fields(self.fmt, text)}, FALSE AS _joined, line AS _line
            FROM (SELECT *, {parts_column(text)} FROM parsed)
        """
        yield from self._stream(connection, query, source, stats)
        for number, line in connection.execute(
            "SELECT DISTINCT line, csv_line FROM _rejects ORDER BY line"
        ).fetchall():
            stats.reject(source, number, str(line))

    def _python(
        self, connection: duckdb.DuckDBPyConnection, path: str, source: str, stats: ParseStats
    ) -> Iterator[pa.RecordBatch]:
        query = f"""
            SELECT line FROM read_csv('{_quote(path)}', columns = {{'line': 'VARCHAR'}},
                                      delim = '\\x01', quote = '', escape = '',
                                      {self._read_options(path)})
        """
        for batch in connection.sql(query).to_arrow_reader(_PYTHON_BATCH):
            lines = [(None, str(text)) for text in batch.column("line").to_pylist()]
            table = python_rows(self.fmt, lines, stats, source)
            if table is not None and table.num_rows:
                yield from self._convert(table, stats, source)
        rejected = connection.execute(
            "SELECT DISTINCT line, csv_line FROM _rejects ORDER BY line"
        ).fetchall()
        yield from self._reparse([(n, t) for n, t in rejected], source, stats)


def _quote(text: str) -> str:
    return text.replace("'", "''")
