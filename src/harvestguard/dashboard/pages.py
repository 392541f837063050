"""The dashboard's routes: log-in and log-out, the overview, the detectors and the policy pages,
and the access log; the case pages are in ``case_pages``."""

from __future__ import annotations

from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from harvestguard.dashboard import case_pages, charts
from harvestguard.dashboard.accounts import SESSION_LIFETIME, AccountStore, Role, Session
from harvestguard.dashboard.queries import Window
from harvestguard.dashboard.rendering import base_path, render, when
from harvestguard.dashboard.security import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    client_of,
    current_session,
    new_token,
    requires,
    safe_next,
    set_cookie,
)
from harvestguard.detect.registry import load_detectors
from harvestguard.enforce.case_models import Case, CaseStatus, Verdict
from harvestguard.events import AudienceKind
from harvestguard.policy.model import ResourcePolicy, Rule

OVERVIEW_HOURS = 24.0
RISKIEST = 10
# cases whose entity is still a concern: not found benign, not let back in
_FLAGGED = (CaseStatus.OPEN, CaseStatus.CONFIRMED, CaseStatus.ESCALATED)


# -- log-in ---------------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    if current_session(request) is not None:
        return RedirectResponse(
            safe_next(request.query_params.get("next"), base_path(request)), status_code=303
        )
    return _login_form(request, "", 200)


def _login_form(request: Request, error: str, status: int) -> Response:
    token = new_token()
    response = render(
        request,
        "login.html",
        None,
        status_code=status,
        login_csrf=token,
        error=error,
        next=safe_next(request.query_params.get("next"), base_path(request)),
    )
    set_cookie(response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


async def login(request: Request) -> Response:
    form = await request.form()
    check_csrf(str(form.get(CSRF_FIELD, "")), request.cookies.get(LOGIN_CSRF_COOKIE, ""))
    accounts: AccountStore = request.app.state.accounts
    username = str(form.get("username", "")).strip()
    opened = accounts.log_in(username, str(form.get("password", "")), client_of(request))
    if opened is None:
        return _login_form(request, "Unknown user name or wrong password.", 401)
    token, _ = opened
    response = RedirectResponse(safe_next(form.get("next"), base_path(request)), status_code=303)
    set_cookie(response, SESSION_COOKIE, token, max_age=int(SESSION_LIFETIME.total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@requires(Role.VIEWER)
async def logout(request: Request, session: Session) -> Response:
    accounts: AccountStore = request.app.state.accounts
    accounts.log_out(request.cookies.get(SESSION_COOKIE, ""), client_of(request))
    response = RedirectResponse(f"{base_path(request)}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


# -- overview -------------------------------------------------------------------------------


def _flagged(request: Request) -> list[Case]:
    cases: list[Case] = request.app.state.cases.list()
    return sorted((c for c in cases if c.status in _FLAGGED), key=lambda c: (-c.risk, c.id))


def _window(request: Request) -> Window | None:
    try:
        hours = float(request.query_params.get("hours", OVERVIEW_HOURS))
    except ValueError:
        hours = OVERVIEW_HOURS
    hours = min(max(hours, 1.0), 24.0 * 30)
    span = request.app.state.events.span()
    return None if span is None else Window.ending(span[1], hours, earliest=span[0])


def _overview_data(request: Request) -> dict[str, Any]:
    flagged = _flagged(request)
    window = _window(request)
    keys = {key for case in flagged for key in case.keys}
    kpis: dict[str, Any] = {
        "flagged": len(flagged),
        "records": sum(c.evidence.records for c in flagged),
        "people": sum(c.evidence.owners for c in flagged),
    }
    figures: dict[str, Any] = {
        "riskiest": charts.riskiest(flagged[:RISKIEST]),
        "records": charts.records_by_class(flagged[:RISKIEST]),
    }
    if window is not None:
        events = request.app.state.events
        totals = events.totals(window)
        kpis |= {
            "requests": totals["requests"],
            "refused": sum(totals.get(d, 0) for d in ("throttle", "challenge", "block")),
            "window_end": when(window.end),
        }
        figures["traffic"] = charts.time_lines(
            events.traffic(window), "Requests by channel / audience", stacked=True
        )
        figures["refusals"] = charts.time_bars(
            events.refusals(window), "Requests throttled, challenged, blocked"
        )
        disclosed = events.records_disclosed(window, keys)
        figures["disclosed"] = charts.time_lines(
            disclosed, "Records disclosed to flagged entities, all together, over time"
        )
    return {"kpis": kpis, "charts": figures, "flagged": flagged[:RISKIEST]}


@requires(Role.VIEWER)
async def overview(request: Request, session: Session) -> Response:
    data = _overview_data(request)
    return render(
        request,
        "overview.html",
        session,
        kpis=data["kpis"],
        flagged=data["flagged"],
        refresh=request.app.state.options.refresh_seconds,
        query=request.url.query,
    )


@requires(Role.VIEWER, data=True)
async def overview_data(request: Request, session: Session) -> Response:
    data = _overview_data(request)
    data["flagged"] = [
        {"id": c.id, "risk": c.risk, "status": c.status.value} for c in data["flagged"]
    ]
    return JSONResponse(data)


# -- detectors ------------------------------------------------------------------------------


def detector_rows(cases: list[Case]) -> list[dict[str, Any]]:
    """Per shipped detector: the cases it fired in, the keys it flagged, and their verdicts."""
    fired: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    verdicts: dict[str, Counter[str]] = {}
    for case in cases:
        for evidence in case.evidence.detectors:
            fired[evidence.detector] += 1
            keys[evidence.detector] += evidence.keys
            verdict = "undecided" if case.verdict is None else case.verdict.value
            verdicts.setdefault(evidence.detector, Counter())[verdict] += 1
    rows = []
    for spec in load_detectors():
        counts = verdicts.get(spec.id, Counter())
        judged = counts[Verdict.CONFIRMED.value] + counts[Verdict.DISMISSED.value]
        rows.append(
            {
                "id": spec.id,
                "title": spec.title,
                "severity": spec.severity,
                "clause": spec.tos_clause,
                "cases": fired[spec.id],
                "keys_flagged": keys[spec.id],
                "confirmed": counts[Verdict.CONFIRMED.value],
                "dismissed": counts[Verdict.DISMISSED.value],
                "undecided": counts["undecided"],
                "confirmed_share": None
                if judged == 0
                else counts[Verdict.CONFIRMED.value] / judged,
            }
        )
    return rows


@requires(Role.VIEWER)
async def detectors(request: Request, session: Session) -> Response:
    rows = detector_rows(request.app.state.cases.list())
    return render(request, "detectors.html", session, rows=rows)


@requires(Role.VIEWER, data=True)
async def detectors_data(request: Request, session: Session) -> Response:
    rows = [r for r in detector_rows(request.app.state.cases.list()) if r["cases"]]
    return JSONResponse({"charts": {"detectors": charts.detectors_share(rows)}})


# -- policy ---------------------------------------------------------------------------------


def _rule_text(rule: Rule | None) -> str:
    if rule is None or rule.action == "hide":
        return "hidden"
    text = "shown" if rule.action == "show" else f"coarsened to {rule.geohash_precision}"
    if rule.ttl is not None:
        text += f" for {rule.ttl}"
    return text


def policy_matrix(resource: ResourcePolicy) -> dict[str, Any]:
    """Rows per field, a column per audience: what each audience sees of the field."""
    columns: list[tuple[str, dict[str, Rule] | None]] = [
        (kind.value, resource.audiences.get(kind))
        for kind in AudienceKind
        if kind is not AudienceKind.PARTNER
    ]
    if resource.private_field is not None:
        columns.append(("non-follower of a private owner", resource.private_rules))
    rows = []
    for name, spec in resource.fields.items():
        cells = [
            "not shown" if rules is None else _rule_text(rules.get(name)) for _, rules in columns
        ]
        scopes = sorted(scope for scope, names in resource.partner_scopes.items() if name in names)
        cells.append(", ".join(scopes) if scopes else "hidden")
        rows.append(
            {
                "field": name,
                "data_class": spec.data_class.value if spec.data_class else "",
                "cells": cells,
            }
        )
    return {
        "name": resource.name,
        "ttl": resource.ttl,
        "columns": [label for label, _ in columns] + ["partner (scopes granting it)"],
        "rows": rows,
    }


@requires(Role.VIEWER)
async def policy(request: Request, session: Session) -> Response:
    in_force = request.app.state.policy
    matrices = [policy_matrix(resource) for resource in in_force.resources.values()]
    return render(request, "policy.html", session, source=in_force.source, matrices=matrices)


# -- access log -----------------------------------------------------------------------------


@requires(Role.ADMIN)
async def access(request: Request, session: Session) -> Response:
    accounts: AccountStore = request.app.state.accounts
    return render(
        request,
        "access.html",
        session,
        entries=accounts.access_log(),
        users=accounts.users(),
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", overview),
        Route("/api/overview", overview_data),
        Route("/detectors", detectors),
        Route("/api/detectors", detectors_data),
        Route("/policy", policy),
        Route("/access", access),
        *case_pages.routes(),
    ]
