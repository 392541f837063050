"""Reading access logs into raw requests, in Arrow tables, streaming.

The file is read by DuckDB (plain or gzip, or standard input copied to a file), never loaded
whole: ``batches()`` yields tables of ``RAW_COLUMNS`` of about ``batch_rows`` rows. A
space-separated format (combined, common, most ``log_format`` strings) is split by DuckDB's CSV
reader; the lines it refuses and the rows that look wrong are read again by the exact parser
(the format's regular expression, ``lines.python_rows``), which also reads every line of a
format only a regular expression can read (and of any format with ``exact=True``). A line that
no way can read is *malformed*: counted, the first few kept as samples, never fatal.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from harvestguard.ingest.formats import RAW_COLUMNS, LogFormat, raw_query
from harvestguard.ingest.lines import ParseStats, python_rows, text_source
from harvestguard.ingest.sniff import STDIN, is_gzip

BATCH_ROWS = 262_144
_PYTHON_BATCH = 65_536
# DuckDB's limit on a line; the exact parser holds longer lines malformed too
MAX_LINE = 1_048_576
# one row per refused line: DuckDB records a line once per error, and on a line of unbalanced
# quotes with differing texts, some empty (found by fuzzing: one line counted twice)
_REJECTED_LINES = (
    "SELECT line, arg_max(csv_line, length(csv_line)) FROM _rejects GROUP BY line ORDER BY line"
)
# what ends a line, for DuckDB and for Python's universal newlines
_LINE_ENDS = re.compile(r"\r\n|\r|\n")


class LogReader:
    """Yields raw-request tables (``RAW_COLUMNS``, about ``batch_rows`` rows each) from one
    input in one format."""

    def __init__(
        self,
        fmt: LogFormat,
        *,
        timezone: str = "UTC",
        batch_rows: int = BATCH_ROWS,
        exact: bool = False,
    ) -> None:
        self.fmt = fmt
        self.timezone = timezone
        self.batch_rows = batch_rows
        # every line through the format's regular expression, one by one: the reference the
        # fast path is checked against (tests, benchmarks/bench_scan.py), never the default
        self.exact = exact

    def batches(self, source: str, stats: ParseStats) -> Iterator[pa.Table]:
        connection = duckdb.connect()
        # a second connection converts the lines parsed in Python while the first one streams
        self._converter = duckdb.connect()
        try:
            for db in (connection, self._converter):
                db.execute("SET TimeZone = ?", [self.timezone])
                # DuckDB draws its own progress bar on long queries: the scan has its own
                db.execute("SET enable_progress_bar = false")
            path = "/dev/stdin" if source == STDIN else str(source)
            self._path, self._source = path, source
            if self.fmt.columns is not None and not self.exact:
                yield from self._fast_or_exact(self._csv(connection, path, source, stats), stats)
            elif self.fmt.is_json and not self.exact:
                yield from self._fast_or_exact(self._json(connection, path, source, stats), stats)
            else:
                yield from self._python(path, source, stats)
        finally:
            connection.close()
            self._converter.close()

    def _fast_or_exact(self, fast: Iterator[pa.Table], stats: ParseStats) -> Iterator[pa.Table]:
        """DuckDB's reader; a file it refuses before anything came out goes to the exact parser.

        DuckDB's CSV reader stops on a file whose lines end in both "\\r" and "\\r\\n"
        (found by fuzzing; its lenient mode would silently drop the fields of a line with too
        many). Such a file is read again by the exact parser when nothing was handed out yet;
        past that point, a clear error names the file rather than losing its lines."""
        path, source = self._path, self._source
        before = (stats.lines, stats.parsed, stats.malformed, len(stats.samples))
        handed_out = False
        try:
            for table in fast:
                handed_out = True
                yield table
        except (duckdb.InvalidInputException, OSError) as error:  # OSError: via Arrow
            if handed_out or path == "/dev/stdin":
                reason = str(error).splitlines()[0]
                raise ValueError(
                    f"{source}: the CSV reader stopped part-way ({reason}); lines ending in both "
                    "\\r and \\r\\n do this: convert the line ends (e.g. dos2unix), scan again"
                ) from error
            stats.lines, stats.parsed, stats.malformed = before[:3]
            del stats.samples[before[3] :]
            yield from self._python(path, source, stats)

    def _read_options(self, path: str) -> str:
        compression = "gzip" if is_gzip(path) else "none"
        # lines end in "\n": left to detect from the first line, a "\r\n" there made DuckDB
        # lose the "\n" lines after it (found by fuzzing); a "\r\n" line now ends its last
        # value with "\r", which sends it to the exact parser
        return (
            f"header = false, auto_detect = false, compression = '{compression}', "
            "new_line = '\\n', ignore_errors = true, store_rejects = true, "
            "rejects_table = '_rejects', rejects_scan = '_rejects_scan', max_line_size = 1048576"
        )

    def _csv(
        self, connection: duckdb.DuckDBPyConnection, path: str, source: str, stats: ParseStats
    ) -> Iterator[pa.Table]:
        columns = self.fmt.columns
        assert columns is not None
        names = [f"c{i}" for i in range(len(columns))]
        spec = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in names) + "}"
        text: dict[str, str] = {}
        for i, column in enumerate(columns):
            if column.variable is None:
                continue
            if column.variable == "time_local":
                # "[10/Oct/2023:13:55:36" and "+0200]": read as one, brackets in the format
                text["time_local"] = f"(c{i} || c{i + 1})"
            elif column.bracketed:
                text[column.variable] = f"trim(c{i}, '[]')"
            else:
                text[column.variable] = f"c{i}"
        quoted = [f"c{i}" for i, column in enumerate(columns) if column.quoted]
        # a quoted value holding a newline is two lines joined by an unbalanced quote
        joined = " OR ".join(f"contains({name}, chr(10))" for name in quoted) or "FALSE"
        # the line again (quoted values escaped again), for the rows the exact parser reads
        line = " || ' ' || ".join(
            f"""'"' || replace(replace(coalesce({name}, ''), '\\', '\\\\'), '"', '\\"') || '"'"""
            if column.quoted
            else f"coalesce({name}, '')"
            for name, column in zip(names, columns, strict=True)
        )
        csv = (
            f"read_csv('{_quote(path)}', columns = {spec}, delim = ' ', quote = '\"', "
            f"escape = '\\', {self._read_options(path)})"
        )
        fields = raw_query(
            self.fmt,
            text,
            csv,
            keep=f"({joined}) AS _joined, {', '.join(names)}",
            time_format="[%d/%b/%Y:%H:%M:%S%z]",
        )
        query = f"""
            SELECT {", ".join(RAW_COLUMNS)},
                   CASE WHEN _joined OR ts IS NULL OR status IS NULL OR remote IS NULL
                             OR method = 'INVALID' THEN {line} END AS _line
            FROM ({fields})
        """
        yield from self._stream(connection, query, source, stats)
        rejected = connection.execute(_REJECTED_LINES).fetchall()
        yield from self._reparse([(n, t) for n, t in rejected], source, stats)

    def _stream(
        self, connection: duckdb.DuckDBPyConnection, query: str, source: str, stats: ParseStats
    ) -> Iterator[pa.Table]:
        """DuckDB's output gathered into tables of about ``batch_rows`` rows (it hands out
        small batches; the event builder's cost per call is paid once per table)."""
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in connection.sql(query).to_arrow_reader(self.batch_rows):
            for kept in self._checked(batch, source, stats):
                if isinstance(kept, pa.Table):  # lines re-read in Python
                    yield kept
                    continue
                pending.append(kept)
                rows += kept.num_rows
                if rows >= self.batch_rows:
                    yield pa.Table.from_batches(pending)
                    pending, rows = [], 0
        if pending:
            yield pa.Table.from_batches(pending)

    def _checked(
        self, batch: pa.RecordBatch, source: str, stats: ParseStats
    ) -> Iterator[pa.RecordBatch | pa.Table]:
        """The batch's good rows; the rest re-read by the exact parser or counted malformed."""
        # _line is set on the rows to check: the exact parser reads them again (a misplaced
        # quote can make the CSV reader split a line the regular expression would refuse;
        # a quoted value holding a newline is two lines joined by an unbalanced quote)
        good = pc.is_null(batch.column("_line"))
        any_bad = not pc.all(good).as_py()
        if any_bad:
            lines = [
                (None, part)
                for text in batch.filter(pc.invert(good)).column("_line").to_pylist()
                for part in _LINE_ENDS.split(str(text))
            ]
            table = python_rows(self.fmt, lines, stats, source)
            if table is not None and table.num_rows:
                yield self._convert(table, stats, source)
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
    ) -> Iterator[pa.Table]:
        lines: list[tuple[int | None, str]] = []
        for number, text in rejected:
            if not text:
                # DuckDB refused the line and kept none of its text (a bare "\r" in a line
                # ending in "\r\n" does this): malformed, never silently dropped
                stats.reject(source, number, "<the CSV reader kept no text of this line>")
                continue
            for offset, part in enumerate(_LINE_ENDS.split(str(text))):
                lines.append((None if number is None else int(number) + offset, part))
        for start in range(0, len(lines), _PYTHON_BATCH):
            table = python_rows(self.fmt, lines[start : start + _PYTHON_BATCH], stats, source)
            if table is not None and table.num_rows:
                yield self._convert(table, stats, source)

    def _convert(self, table: pa.Table, stats: ParseStats, source: str) -> pa.Table:
        """Fields found in Python, through the same SQL conversion as the fast path."""
        connection = self._converter
        connection.register("_python_rows", table)
        try:
            result = connection.sql(
                raw_query(self.fmt, text_source(self.fmt), "_python_rows", keep="_source_line")
            ).to_arrow_table()
        finally:
            connection.unregister("_python_rows")
        ok = pc.and_(
            pc.and_(pc.is_valid(result.column("ts")), pc.is_valid(result.column("status"))),
            pc.is_valid(result.column("remote")),
        )
        # these lines were counted as parsed by python_rows; undo for the ones that fail here
        failed = result.filter(pc.invert(ok))
        for text in failed.column("_source_line").to_pylist():
            stats.parsed -= 1
            stats.lines -= 1
            stats.reject(source, None, str(text))
        kept: pa.Table = result.filter(ok).select(list(RAW_COLUMNS))
        return kept

    def _json(
        self, connection: duckdb.DuckDBPyConnection, path: str, source: str, stats: ParseStats
    ) -> Iterator[pa.Table]:
        paths = list(self.fmt.json_fields.items())
        listing = "[" + ", ".join(f"'{_quote(p)}'" for _, p in paths) + "]"
        text = {name: f"_f[{i}]" for i, (name, _) in enumerate(paths, start=1)}
        parsed = f"""(
            SELECT line, CASE WHEN json_valid(j) THEN json_extract_string(j, {listing}) END AS _f
            FROM (
                SELECT line, substr(line, greatest(strpos(line, '{{'), 1)) AS j
                FROM read_csv('{_quote(path)}', columns = {{'line': 'VARCHAR'}},
                              delim = '\\x01', quote = '', escape = '', {self._read_options(path)})
            )
        )"""
        fields = raw_query(self.fmt, text, parsed, keep="line")
        # a blank line reads as NULL: checked (and skipped) like any other, never a request
        query = f"""
            SELECT {", ".join(RAW_COLUMNS)},
                   CASE WHEN ts IS NULL OR status IS NULL OR remote IS NULL
                        THEN coalesce(line, '') END AS _line
            FROM ({fields})
        """
        yield from self._stream(connection, query, source, stats)
        for number, line in connection.execute(_REJECTED_LINES).fetchall():
            stats.reject(source, number, str(line))

    def _python(self, path: str, source: str, stats: ParseStats) -> Iterator[pa.Table]:
        """Every line through the format's regular expression (the exact parser). Lines are
        read in Python: DuckDB's one-column reader refuses mixed line ends and cuts a line at
        its delimiter when lenient (both found by fuzzing)."""
        for lines in _line_batches(path, source, stats):
            table = python_rows(self.fmt, lines, stats, source)
            if table is not None and table.num_rows:
                yield self._convert(table, stats, source)


def _line_batches(
    path: str, source: str, stats: ParseStats
) -> Iterator[list[tuple[int | None, str]]]:
    """The lines of a file (plain or gzip), numbered, ``_PYTHON_BATCH`` at a time; lines end
    in "\\n", "\\r\\n" or "\\r" as for DuckDB, bytes that are not UTF-8 read as U+FFFD, and a
    line longer than ``MAX_LINE`` is malformed (memory stays bounded)."""
    opened = gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")  # noqa: SIM115
    with io.TextIOWrapper(opened, encoding="utf-8", errors="replace", newline=None) as handle:
        batch: list[tuple[int | None, str]] = []
        number = 0
        while line := handle.readline(MAX_LINE):
            number += 1
            if not line.endswith("\n") and len(line) >= MAX_LINE:
                while (rest := handle.readline(MAX_LINE)) and not rest.endswith("\n"):
                    pass
                stats.reject(source, number, line)
                continue
            batch.append((number, line.rstrip("\n")))
            if len(batch) >= _PYTHON_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def _quote(text: str) -> str:
    return text.replace("'", "''")
