"""The case pages: the list, one entity's case (graph, timeline, evidence, affected members,
decisions), and the analysts' actions on it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from harvestguard.dashboard import charts
from harvestguard.dashboard.accounts import Role, Session
from harvestguard.dashboard.actions import VERBS, CaseActions
from harvestguard.dashboard.queries import Window
from harvestguard.dashboard.rendering import base_path, render
from harvestguard.dashboard.security import Refused, requires
from harvestguard.enforce.case_models import Case
from harvestguard.enforce.cases import CaseError, CaseStore
from harvestguard.enforce.incident import affected_accounts
from harvestguard.enforce.ladder import Ladder
from harvestguard.enforce.levels import Level
from harvestguard.enforce.notices import PartnerInfo, Sender
from harvestguard.enforce.records import DecisionRecord

_DONE = {
    "confirm": "Case confirmed.",
    "dismiss": "Case dismissed.",
    "escalate": "Case escalated.",
    "ban": "Entity banned.",
    "lift": "Case and its decisions lifted.",
}
_TIMELINE_MARGIN = timedelta(minutes=30)


def _case(request: Request) -> Case:
    store: CaseStore = request.app.state.cases
    try:
        return store.get(request.path_params["case_id"])
    except CaseError as error:
        raise Refused(404, str(error)) from None


def _form_text(form: Any, name: str, limit: int = 2000) -> str:
    return str(form.get(name, "")).strip()[:limit]


@requires(Role.VIEWER)
async def case_list(request: Request, session: Session) -> Response:
    cases = request.app.state.cases.list()
    return render(request, "cases.html", session, cases=cases)


def _decisions(request: Request, case: Case) -> list[dict[str, Any]]:
    """The case's active decisions, grouped: one row per level, author, reason and expiry."""
    ladder: Ladder | None = request.app.state.ladder
    if ladder is None:
        return []
    groups: dict[tuple[Any, ...], Counter[str]] = {}
    for key in sorted(case.keys):
        for record in ladder.table.records_for(key):
            group = (record.level, record.by, record.reason, record.expires_at, record.shadow)
            groups.setdefault(group, Counter())[key[0]] += 1
    rows = []
    for (level, by, reason, expires, shadow), kinds in sorted(
        groups.items(), key=lambda item: (-item[0][0], str(item[0][3]))
    ):
        rows.append(
            {
                "level": level.name.lower() + (" (shadow)" if shadow else ""),
                "by": by,
                "reason": reason,
                "expires_at": expires,
                "targets": ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())),
            }
        )
    return rows


@requires(Role.VIEWER)
async def case_page(request: Request, session: Session) -> Response:
    case = _case(request)
    audit = request.app.state.cases.audit(case.id)
    partners = request.app.state.options.partners
    known = {client: partners(client) if partners else None for client in case.clients}
    kinds = Counter(kind for kind, _ in case.keys)
    return render(
        request,
        "case.html",
        session,
        case=case,
        audit=audit,
        kinds=sorted(kinds.items()),
        decisions=_decisions(request, case),
        decision_store=request.app.state.ladder is not None,
        ladder=request.app.state.ladder.settings if request.app.state.ladder else None,
        levels=[level for level in Level if level is not Level.ALLOW],
        top_level=_top_level(request, case),
        partners=known,
        sender=request.app.state.options.sender,
        done=_DONE.get(request.query_params.get("done", "")),
    )


def _top_level(request: Request, case: Case) -> Level | None:
    ladder: Ladder | None = request.app.state.ladder
    if ladder is None:
        return None
    levels = [r.level for key in case.keys for r in ladder.table.records_for(key) if not r.shadow]
    return max(levels, default=None)


@requires(Role.VIEWER, data=True)
async def case_data(request: Request, session: Session) -> Response:
    case = _case(request)
    events = request.app.state.events
    audit = [e for e in request.app.state.cases.audit(case.id) if e.action != "updated"]
    latest = events.latest() or datetime.now(UTC)
    start = (
        min([m for m in (case.evidence.first_seen, case.opened_at) if m is not None])
        - _TIMELINE_MARGIN
    )
    end = max(latest, *(e.at for e in audit))
    window = Window.ending(end, max(1.0, (end - start).total_seconds() / 3600))
    figures = {
        "graph": charts.entity_graph(events.graph(case.keys)),
        "timeline": charts.timeline(events.activity(window, case.keys), audit),
        "affected": charts.affected(_affected_by_class(request, case)),
    }
    return JSONResponse({"charts": figures})


def _affected_by_class(request: Request, case: Case) -> dict[str, int]:
    evidence = case.evidence
    if evidence.first_seen is None or evidence.last_seen is None:
        return {}
    try:
        accounts = affected_accounts(
            request.app.state.config.sink_url, case.keys, evidence.first_seen, evidence.last_seen
        )
    except (ValueError, OSError, duckdb.Error):
        return {}
    counts: Counter[str] = Counter(name for a in accounts for name in a.data_classes)
    return dict(sorted(counts.items()))


# -- actions --------------------------------------------------------------------------------


def _back(request: Request, case_id: str, done: str) -> Response:
    return RedirectResponse(f"{base_path(request)}/cases/{case_id}?done={done}", status_code=303)


@requires(Role.ANALYST)
async def case_verb(request: Request, session: Session) -> Response:
    case = _case(request)
    verb = request.path_params["verb"]
    if verb not in VERBS:
        raise Refused(404, f"no action {verb!r}")
    form = await request.form()
    actions: CaseActions = request.app.state.actions
    try:
        actions.verb(case.id, verb, session.user.username, _form_text(form, "note"))
    except CaseError as error:
        raise Refused(409, str(error)) from None
    return _back(request, case.id, verb)


@requires(Role.ANALYST)
async def ban(request: Request, session: Session) -> Response:
    case = _case(request)
    form = await request.form()
    actions: CaseActions = request.app.state.actions
    try:
        records: list[DecisionRecord] = actions.ban(
            case.id, session.user.username, _form_text(form, "note")
        )
    except CaseError as error:
        raise Refused(409, str(error)) from None
    assert records
    return _back(request, case.id, "ban")


@requires(Role.ANALYST)
async def lift(request: Request, session: Session) -> Response:
    case = _case(request)
    form = await request.form()
    actions: CaseActions = request.app.state.actions
    try:
        actions.lift(case.id, session.user.username, _form_text(form, "note"))
    except CaseError as error:
        raise Refused(409, str(error)) from None
    return _back(request, case.id, "lift")


@requires(Role.ANALYST)
async def notice(request: Request, session: Session) -> Response:
    case = _case(request)
    form = await request.form()
    client_id = _form_text(form, "client_id", 256)
    name = _form_text(form, "partner_name", 200)
    email = _form_text(form, "partner_email", 200)
    if not name or not email:
        raise Refused(400, "the notice needs the partner's registered name and contact")
    default: Sender = request.app.state.options.sender
    sender = Sender(
        _form_text(form, "platform", 200) or default.platform,
        _form_text(form, "signatory", 200) or default.signatory,
        _form_text(form, "reply_to", 200) or default.contact_email,
    )
    partner = PartnerInfo(client_id, name, email, _form_text(form, "purpose", 500))
    actions: CaseActions = request.app.state.actions
    try:
        built = actions.notice(case.id, partner, sender, session.user.username)
    except CaseError as error:
        raise Refused(409, str(error)) from None
    return Response(
        built.pdf(),
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="notice-{case.id}.pdf"'},
    )


@requires(Role.ANALYST)
async def incident(request: Request, session: Session) -> Response:
    case = _case(request)
    actions: CaseActions = request.app.state.actions
    try:
        _, pdf = actions.incident(case.id, request.app.state.config.sink_url, session.user.username)
    except CaseError as error:
        raise Refused(409, str(error)) from None
    except (ValueError, OSError, duckdb.Error) as error:
        raise Refused(500, f"cannot build the incident report: {error}") from None
    return Response(
        pdf.read_bytes(),
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="incident-{case.id}.pdf"'},
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/cases", case_list),
        Route("/cases/{case_id}", case_page),
        Route("/api/cases/{case_id}", case_data),
        Route("/cases/{case_id}/ban", ban, methods=["POST"]),
        Route("/cases/{case_id}/lift", lift, methods=["POST"]),
        Route("/cases/{case_id}/notice", notice, methods=["POST"]),
        Route("/cases/{case_id}/incident", incident, methods=["POST"]),
        Route("/cases/{case_id}/{verb}", case_verb, methods=["POST"]),
    ]
