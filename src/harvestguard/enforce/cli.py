"""``harvestguard case ...``: open cases from detection, review them, act on them, and produce
the cease-and-desist notice and the incident report. Mounted by ``harvestguard.cli``."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import duckdb
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from harvestguard.detect.cli import read_context
from harvestguard.detect.detection import DetectionEngine
from harvestguard.detect.spec import DetectorError
from harvestguard.enforce.case_models import Case, CaseStatus
from harvestguard.enforce.cases import DEFAULT_CASES_URL, CaseError, CaseStore
from harvestguard.enforce.incident import build_incident
from harvestguard.enforce.notices import DEFAULT_DEADLINE_DAYS, PartnerInfo, Sender, build_notice
from harvestguard.sinks import parse_sink_url, read_store

app = typer.Typer(
    help="Cases: evidence, analysts' verdicts, audit log, notices and incident reports.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)

CasesUrl = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="HARVESTGUARD_CASES",
        help="The case store: a SQLAlchemy URL (sqlite:///FILE, postgresql://...).",
    ),
]
CaseId = Annotated[str, typer.Argument(help="The case id (see `harvestguard case list`).")]
By = Annotated[str, typer.Option("--by", help="Who takes the action (audited).")]
Note = Annotated[str, typer.Option("--note", help="Why (audited).")]
EventStore = Annotated[
    str, typer.Argument(help="An event store: parquet:DIR, duckdb:FILE or jsonl:FILE.")
]


def _store(url: str) -> CaseStore:
    try:
        return CaseStore(url)
    except (SQLAlchemyError, OSError, ValueError) as error:
        _fail(f"cannot open the case store {url}: {error}")


def _fail(message: str) -> NoReturn:
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(2)


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def _keys_summary(case: Case) -> str:
    kinds = Counter(kind for kind, _ in case.keys)
    return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))


@app.command("open")
def open_cases(
    store: EventStore,
    db: CasesUrl = DEFAULT_CASES_URL,
    context: Annotated[
        Path | None,
        typer.Option(help="A folder of context tables (NAME.parquet or NAME.csv)."),
    ] = None,
    engine: Annotated[
        str, typer.Option(help="duckdb, or spark for a store that outgrows one machine.")
    ] = "duckdb",
) -> None:
    """Runs detection on an event store and opens (or updates) a case per flagged entity."""
    cases = _store(db)
    try:
        with console.status("running the detectors"):
            tables = read_context(context) if context is not None else None
            kind, path = parse_sink_url(store)
            events = path if kind == "parquet" and path.is_dir() else read_store(store)
            report = DetectionEngine(engine=engine).run(events, tables)
    except DetectorError as error:
        _fail(f"detector refused: {error}")
    except (ValueError, OSError, duckdb.Error) as error:
        _fail(f"cannot run detection on {store}: {error}")
    opened: list[Case] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("opening cases", total=len(report.flagged))
        for entity in report.flagged:
            opened.append(cases.open_or_update(entity))
            progress.advance(task)
    console.print(f"{len(opened)} flagged entities -> {len({c.id for c in opened})} cases")
    _print_cases(opened)


@app.command("list")
def list_cases(
    db: CasesUrl = DEFAULT_CASES_URL,
    status: Annotated[
        str | None,
        typer.Option(help=f"Only cases in this status: {', '.join(s.value for s in CaseStatus)}."),
    ] = None,
) -> None:
    """Lists the cases, most recently updated first."""
    if status is not None and status not in {s.value for s in CaseStatus}:
        raise typer.BadParameter(f"unknown status {status!r}", param_hint="--status")
    _print_cases(_store(db).list(status))


def _print_cases(cases: list[Case]) -> None:
    table = Table(title=f"{len(cases)} cases", title_justify="left")
    table.add_column("case", no_wrap=True, min_width=12)
    table.add_column("status")
    table.add_column("risk", justify="right")
    table.add_column("keys")
    table.add_column("detectors")
    for column in ("people", "records"):
        table.add_column(column, justify="right")
    table.add_column("updated (UTC)")
    for case in cases:
        table.add_row(
            case.id,
            case.status.value,
            f"{case.risk:.2f}",
            _keys_summary(case),
            ", ".join(d.detector for d in case.evidence.detectors),
            f"{case.evidence.owners:,}",
            f"{case.evidence.records:,}",
            f"{case.updated_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@app.command("show")
def show_case(
    case_id: CaseId,
    db: CasesUrl = DEFAULT_CASES_URL,
    as_json: Annotated[bool, typer.Option("--json", help="Print the case as JSON.")] = False,
) -> None:
    """Shows a case: its keys, evidence and audit log."""
    store = _store(db)
    try:
        case = store.get(case_id)
        entries = store.audit(case_id)
    except CaseError as error:
        _fail(str(error))
    if as_json:
        data = case.to_dict() | {"audit": [e.to_dict() for e in entries]}
        typer.echo(json.dumps(data, indent=2))
        return
    evidence = case.evidence
    verdict = f", verdict {case.verdict.value}" if case.verdict else ""
    console.print(
        f"[bold]{case.id}[/bold] {case.status.value}{verdict}; risk {case.risk:.2f}; "
        f"entity {case.entity_id}; keys: {_keys_summary(case)}",
        highlight=False,
    )
    console.print(
        f"{evidence.requests:,} requests from {_when(evidence.first_seen)} to "
        f"{_when(evidence.last_seen)}; {evidence.owners:,} people, "
        f"{evidence.records:,} personal records ("
        + ", ".join(f"{name} {n:,}" for name, n in evidence.records_by_class.items())
        + ")",
        highlight=False,
    )
    detectors = Table(title="evidence", title_justify="left")
    detectors.add_column("detector", no_wrap=True)
    for column in ("clause", "keys", "window (UTC)", "score", "detail"):
        detectors.add_column(column)
    for d in evidence.detectors:
        detectors.add_row(
            d.detector,
            d.tos_clause,
            str(d.keys),
            f"{d.window_start:%m-%d %H:%M} - {d.window_end:%m-%d %H:%M}",
            f"{d.score:.2f}",
            d.explanation,
        )
    console.print(detectors)
    if evidence.sample_request_ids:
        console.print("sample requests: " + " ".join(evidence.sample_request_ids), highlight=False)
    log = Table(title="audit log", title_justify="left")
    for column in ("#", "when (UTC)", "action", "by", "why"):
        log.add_column(column)
    for entry in entries:
        log.add_row(
            str(entry.seq), f"{entry.at:%Y-%m-%d %H:%M:%S}", entry.action, entry.by, entry.reason
        )
    console.print(log)


def _verb(case_id: str, db: str, by: str, note: str, verb: str) -> None:
    store = _store(db)
    actions = {"confirm": store.confirm, "dismiss": store.dismiss, "escalate": store.escalate}
    try:
        case = actions[verb](case_id, by, note)
    except CaseError as error:
        _fail(str(error))
    console.print(f"{case.id} is now {case.status.value}", highlight=False)


@app.command("confirm")
def confirm_case(case_id: CaseId, by: By, note: Note, db: CasesUrl = DEFAULT_CASES_URL) -> None:
    """Confirms a case: the entity is harvesting (a label the evaluation can use)."""
    _verb(case_id, db, by, note, "confirm")


@app.command("dismiss")
def dismiss_case(case_id: CaseId, by: By, note: Note, db: CasesUrl = DEFAULT_CASES_URL) -> None:
    """Dismisses a case: the entity is benign (a false positive)."""
    _verb(case_id, db, by, note, "dismiss")


@app.command("escalate")
def escalate_case(case_id: CaseId, by: By, note: Note, db: CasesUrl = DEFAULT_CASES_URL) -> None:
    """Escalates a case (to legal, to the data-protection officer)."""
    _verb(case_id, db, by, note, "escalate")


@app.command("lift")
def lift_case(
    case_id: CaseId,
    by: By,
    note: Note,
    db: CasesUrl = DEFAULT_CASES_URL,
    decisions: Annotated[
        str | None,
        typer.Option(
            envvar="HARVESTGUARD_REDIS_URL",
            help="The shared decision store (redis://...) to lift the case's decisions from.",
        ),
    ] = None,
) -> None:
    """Lifts a case's enforcement: its status, and its keys' decisions when --decisions is given."""
    store = _store(db)
    table = None
    if decisions:
        from harvestguard.enforce.table import DecisionTable

        try:
            table = DecisionTable.from_url(decisions)
        except Exception as error:  # a bad URL, or any error of the Redis client
            _fail(f"cannot reach the decision store {decisions}: {error}")
    try:
        case = store.lift(case_id, by, note, decisions=table)
    except CaseError as error:
        _fail(str(error))
    finally:
        if table is not None:
            table.close()
    details = store.audit(case_id)[-1].details
    removed = details.get("decisions_removed")
    suffix = "" if removed is None else f"; {removed} decision records removed"
    console.print(f"{case.id} is now {case.status.value}{suffix}", highlight=False)


@app.command("notice")
def notice_command(
    case_id: CaseId,
    by: By,
    partner_name: Annotated[str, typer.Option(help="The partner's registered name.")],
    partner_email: Annotated[str, typer.Option(help="The partner's registered contact.")],
    db: CasesUrl = DEFAULT_CASES_URL,
    client_id: Annotated[
        str | None,
        typer.Option(help="The partner app; needed only when the case holds several."),
    ] = None,
    partner_purpose: Annotated[str, typer.Option(help="The app's registered purpose.")] = "",
    platform: Annotated[str, typer.Option(help="The platform sending the notice.")] = "photoshare",
    signatory: Annotated[str, typer.Option(help="Who signs it.")] = "Trust and Safety",
    reply_to: Annotated[str, typer.Option(help="Where the certificate of deletion goes.")] = "",
    deadline_days: Annotated[
        int, typer.Option(min=1, help="Days the partner has to certify the deletion.")
    ] = DEFAULT_DEADLINE_DAYS,
    out: Annotated[Path, typer.Option(help="Folder for the HTML and PDF.")] = Path("."),
) -> None:
    """Writes the cease-and-desist notice of a confirmed case to a partner app (HTML + PDF)."""
    store = _store(db)
    try:
        case = store.get(case_id)
        if client_id is None:
            if len(case.clients) != 1:
                held = ", ".join(case.clients) or "none"
                _fail(f"case {case_id} holds partner apps: {held}; choose one with --client-id")
            client_id = case.clients[0]
        partner = PartnerInfo(client_id, partner_name, partner_email, partner_purpose)
        notice = build_notice(
            case,
            partner,
            Sender(platform, signatory, reply_to),
            deadline_days=deadline_days,
        )
        with console.status("rendering the PDF"):
            html_path, pdf_path = notice.write(out)
        notice.record(store, by, pdf_path)
    except CaseError as error:
        _fail(str(error))
    except OSError as error:
        _fail(f"cannot write the notice: {error}")
    console.print(
        f"notice {notice.reference}: certify deletion by {notice.certify_by:%Y-%m-%d}\n"
        f"  {html_path}\n  {pdf_path}",
        highlight=False,
    )


@app.command("incident")
def incident_command(
    case_id: CaseId,
    events: EventStore,
    by: By,
    db: CasesUrl = DEFAULT_CASES_URL,
    out: Annotated[Path, typer.Option(help="Folder for the report and the accounts list.")] = Path(
        "."
    ),
) -> None:
    """Writes the incident report of a case for the data-protection officer: HTML, PDF, JSON and
    the affected accounts as CSV."""
    store = _store(db)
    try:
        case = store.get(case_id)
        with console.status("finding the affected accounts"):
            report = build_incident(case, events)
        with console.status("rendering the PDF"):
            paths = report.write(out)
        assessment = report.assessment
        report.record(store, by, paths["pdf"])
    except CaseError as error:
        _fail(str(error))
    except (ValueError, OSError, duckdb.Error) as error:
        _fail(f"cannot build the incident report from {events}: {error}")
    deadline = assessment.authority_deadline
    console.print(
        f"{len(report.accounts):,} affected accounts; {assessment.level}; "
        + (
            f"notify the authority by {deadline:%Y-%m-%d %H:%M} UTC"
            if deadline
            else "no notification"
        )
        + ("; notify the members" if assessment.notify_individuals else ""),
        highlight=False,
    )
    for path in paths.values():
        console.print(f"  {path}", highlight=False)
