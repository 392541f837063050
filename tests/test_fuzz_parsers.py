"""Hostile log lines (hypothesis): malformed, truncated, binary, huge and adversarial lines,
NUL bytes, invalid UTF-8, stray carriage returns and quotes, in every kind of format. Neither
the fast path nor the exact parser may crash, and every line comes out parsed or malformed,
once. The coverage-guided run of the same harness is benchmarks/bench_fuzz.py (atheris); a
short run of it is the last test here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harvestguard.ingest import from_template
from tests.fuzz_helpers import FORMATS, account, lines_in, template_or_none

ROOT = Path(__file__).resolve().parent.parent
_BARE_CR = re.compile(rb"\r(?!\n)")

# bytes that trip parsers: quotes, escapes, brackets, separators, line ends, NUL, bytes that
# are not UTF-8, a UTF-8 line separator, JSON punctuation
_NASTY = [b'"', b"\\", b"[", b"]", b" ", b"\t", b"\r", b"\n", b"\x00", b"\x01", b"\xff", b"\xc3"]
_NASTY += [b"\xe2\x80\xa8", b"{", b"}", b"-", b"\\x22", b"'", b"%", b"$"]


@st.composite
def _mutated_line(draw: st.DrawFn, good: str) -> bytes:
    """A good line of the format, then cut, spliced, doubled or filled with junk."""
    line = good.encode()
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.integers(0, len(line)))
        action = draw(st.sampled_from(["cut", "insert", "junk", "delete", "huge"]))
        if action == "cut":
            line = line[:where]
        elif action == "insert":
            line = line[:where] + draw(st.sampled_from(_NASTY)) + line[where:]
        elif action == "junk":
            line = line[:where] + draw(st.binary(max_size=24)) + line[where:]
        elif action == "delete":
            line = line[:where] + line[where + draw(st.integers(1, 8)) :]
        else:  # one enormous field (past 1 MiB: test_the_regressions_the_fuzzers_found)
            size = draw(st.sampled_from([300, 70_000]))
            line = line[:where] + b"A" * size + line[where:]
    return line


def _log(name: str) -> st.SearchStrategy[bytes]:
    good = FORMATS[name][1]
    line = st.one_of(
        st.just(good.encode()),
        _mutated_line(good),
        st.binary(max_size=60),
        st.text(max_size=60).map(lambda text: text.encode("utf-8", "surrogatepass")),
    )
    ending = st.sampled_from([b"\n", b"\n", b"\r\n", b"\r"])
    return st.lists(st.tuples(line, ending), max_size=8).map(
        lambda pairs: b"".join(text + end for text, end in pairs)
    )


_SETTINGS = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(FORMATS))
@_SETTINGS
@given(data=st.data())
def test_every_line_parsed_or_rejected(name: str, data: st.DataObject) -> None:
    fmt = FORMATS[name][0]
    log = data.draw(_log(name))
    accounting = account(log, fmt, exact=True)
    assert accounting.problems() == [], log[:400]
    # DuckDB's CSV reader takes a bare "\r" for a line end or not, depending on the lines
    # before it (docs/reliability.md): the fast path is held to lines ending in "\n"
    log = _BARE_CR.sub(b"\n", log)
    accounting = account(log, fmt, exact=False)
    assert accounting.problems() == [], log[:400]


_TOKENS = ["$remote_addr", "[$time_local]", '"$request"', "$status"]
_EXTRAS = ["$time_local", "$request", "${status}", '"$http_user_agent"', "$msec", "$request_uri"]
_EXTRAS += ["$body_bytes_sent", "-", '"', "[", "\\", "$unknown", '"$remote_addr"', "$$"]


@_SETTINGS
@given(
    template=st.tuples(
        st.permutations(_TOKENS),
        st.lists(st.sampled_from(_EXTRAS), max_size=4),
        st.sampled_from([" ", "|", " - ", "", '" "']),
    ).map(lambda parts: parts[2].join([*parts[0], *parts[1]])),
    lines=st.lists(st.text(max_size=80), max_size=5),
)
def test_any_log_format_string_is_refused_or_reads_every_line(
    template: str, lines: list[str]
) -> None:
    """A fuzzed nginx ``log_format``: refused with FormatError, or every line accounted."""
    fmt = template_or_none(template)
    if fmt is None:
        return
    log = "".join(line + "\n" for line in lines).encode("utf-8", "surrogatepass")
    assert account(log, fmt, exact=True).problems() == []
    assert account(_BARE_CR.sub(b"\n", log), fmt, exact=False).problems() == []


def test_the_regressions_the_fuzzers_found(tmp_path: Path) -> None:
    """Inputs that crashed, hung or lost lines before the fixes of docs/reliability.md."""
    good = FORMATS["combined"][1].encode()
    json_good = FORMATS["traefik"][1].encode()
    pattern_good = FORMATS["custom-pattern"][1].encode()
    caddy_good = FORMATS["caddy"][1].encode()
    cases = [
        # lines ending in both "\r" and "\r\n": DuckDB's CSV reader refused the whole file
        ("custom-pattern", pattern_good + b"\r" + pattern_good + b"\r\n", 2),
        ("caddy", FORMATS["caddy"][1].encode() + b"\n" + b"\r\n", 1),
        # a first line ending in "\r\n": DuckDB lost the "\n" lines after it
        ("combined", good + b"\r\n" + good + b"\n" + good + b"\n", 3),
        # a blank line of a JSON log was counted parsed, as a request with no time or address
        ("traefik", json_good + b"\n\n" + json_good + b"\n", 2),
        # the text "\x01" (nginx's escape of byte 1) is the one-column reader's delimiter
        ("custom-pattern", pattern_good.replace(b"/q", b"/\\x01") + b"\n", 1),
        # quadratic backtracking: one line repeating the literal after a variable (hours);
        # a format only the regular expression reads (DuckDB's own cost on a line of many
        # spaces is docs/reliability.md's open limit)
        ("custom-pattern", b"192.0.2.1" + b"|[" * 400_000 + b"\n" + pattern_good + b"\n", 1),
        # a time past year 9999 stopped the whole read (DuckDB's conversion error) or came out
        # as a time Python cannot hold
        ("caddy", caddy_good.replace(b"1735660800.25", b"1e14") + b"\n" + caddy_good + b"\n", 1),
        ("traefik", json_good.replace(b"2025-05", b"200000-05") + b"\n" + json_good + b"\n", 1),
        # past DuckDB's 1 MiB line limit: malformed, the next line still read
        ("combined", good.replace(b"Mozilla", b"A" * 1_100_000) + b"\n" + good + b"\n", 1),
        ("traefik", json_good.replace(b'"ua"', b'"' + b"A" * 1_100_000 + b'"') + b"\n", 0),
    ]
    for name, log, parsed in cases:
        fmt = FORMATS[name][0]
        for exact in (False, True):
            accounting = account(log, fmt, exact=exact, folder=tmp_path)
            assert accounting.problems() == [], (name, exact, log[:200])
            assert accounting.stats.parsed == parsed, (name, exact, accounting.stats)


def test_the_exact_parser_is_linear_on_repeated_literals(tmp_path: Path) -> None:
    log = b"192.0.2.1" + b" [" * 400_000 + b"\n" + FORMATS["custom-columns"][1].encode() + b"\n"
    accounting = account(log, FORMATS["custom-columns"][0], exact=True, folder=tmp_path)
    assert accounting.problems() == [] and accounting.stats.parsed == 1


def test_a_bare_carriage_return_is_never_silently_dropped(tmp_path: Path) -> None:
    """The fast path's limit (docs/reliability.md): a bare "\r" inside a "\r\n" line may
    join two lines or leave no text, but the line is counted, never lost."""
    good = FORMATS["combined"][1].encode()
    log = good + b"\r" + good + b"\r\n" + good + b"\n"
    accounting = account(log, FORMATS["combined"][0], exact=False, folder=tmp_path)
    stats = accounting.stats
    assert stats.parsed + stats.malformed == stats.lines >= 2
    assert accounting.rows == stats.parsed >= 1
    exact = account(log, FORMATS["combined"][0], exact=True, folder=tmp_path)
    assert exact.problems() == [] and exact.stats.parsed == 3


def test_lines_in_counts_what_a_reader_must_account_for() -> None:
    assert lines_in(b"a\r\nb\rc\n\n  \n\xff\n") == 4
    assert lines_in(b"") == 0
    assert from_template("$remote_addr [$time_local] $request $status").columns is not None


def test_a_short_coverage_guided_run_finds_no_crash(tmp_path: Path) -> None:
    """benchmarks/bench_fuzz.py (atheris), a few hundred inputs: no crash, every line
    accounted for (its own figures, printed, say so)."""
    atheris = pytest.importorskip("atheris")
    assert atheris is not None
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_fuzz.py"),
            "--runs",
            "12",
            "--seconds",
            "120",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = dict(re.findall(r"^(\w[\w ]+): (\d+)$", result.stdout, re.MULTILINE))
    assert int(figures["inputs tried"]) >= 12
    assert int(figures["crashes"]) == 0
    assert int(figures["lines in"]) > 0
    assert int(figures["lines accounted"]) == int(figures["lines in"])
    assert int(figures["fast path mismatches"]) == 0
    assert int(figures["fast path lines accounted"]) == int(figures["fast path lines in"])
