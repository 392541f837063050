"""The dashboard's charts as Plotly figures (plain dicts, sent as JSON and drawn by the
plotly.js the package serves). Any text from the data is escaped here: Plotly reads a few HTML
tags in labels, and a user agent or a client id is the attacker's to choose."""

from __future__ import annotations

import html
import math
from typing import Any

from harvestguard.dashboard.queries import GRAPH_KINDS, Graph, Series
from harvestguard.enforce.case_models import AuditEntry, Case

Figure = dict[str, Any]

DECISION_COLOURS = {
    "allow": "#4c78a8",
    "throttle": "#f2cf5b",
    "challenge": "#f58518",
    "block": "#e45756",
}
KIND_COLOURS = {
    "client": "#e45756",
    "account": "#4c78a8",
    "session": "#72b7b2",
    "fingerprint": "#b279a2",
    "ip": "#f58518",
    "net": "#9d755d",
}


def _label(text: object) -> str:
    return html.escape(str(text), quote=True)


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": _label(title), "font": {"size": 15}},
        "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
        "height": 300,
        "legend": {"orientation": "h", "y": -0.2},
        "paper_bgcolor": "rgba(0,0,0,0)",
        **extra,
    }


def time_lines(series: Series, title: str, *, stacked: bool = False) -> Figure:
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": _label(name),
            "x": series.buckets,
            "y": counts,
            **({"stackgroup": "one"} if stacked else {}),
            **({"line": {"color": DECISION_COLOURS[name]}} if name in DECISION_COLOURS else {}),
        }
        for name, counts in series.lines.items()
    ]
    return {"data": data, "layout": _layout(title, yaxis={"rangemode": "tozero"})}


def time_bars(series: Series, title: str) -> Figure:
    data = [
        {
            "type": "bar",
            "name": _label(name),
            "x": series.buckets,
            "y": counts,
            **({"marker": {"color": DECISION_COLOURS[name]}} if name in DECISION_COLOURS else {}),
        }
        for name, counts in series.lines.items()
    ]
    return {"data": data, "layout": _layout(title, barmode="stack")}


def riskiest(cases: list[Case]) -> Figure:
    ordered = list(reversed(cases))
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": [c.risk for c in ordered],
                "y": [_label(f"{c.id} ({c.status.value})") for c in ordered],
                "text": [
                    _label(", ".join(d.detector for d in c.evidence.detectors)) for c in ordered
                ],
                "marker": {"color": "#e45756"},
            }
        ],
        "layout": _layout(
            "Riskiest entities now", xaxis={"range": [0, 1]}, margin={"l": 160, "t": 40}
        ),
    }


def records_by_class(cases: list[Case]) -> Figure:
    classes = sorted({name for c in cases for name in c.evidence.records_by_class})
    names = [_label(c.id) for c in cases]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": _label(name),
            "y": names,
            "x": [c.evidence.records_by_class.get(name, 0) for c in cases],
        }
        for name in classes
    ]
    return {
        "data": data,
        "layout": _layout(
            "Personal records disclosed to each flagged entity",
            barmode="stack",
            margin={"l": 110, "t": 40},
        ),
    }


def detectors_share(rows: list[dict[str, Any]]) -> Figure:
    names = [_label(r["id"]) for r in rows]
    data = [
        {"type": "bar", "name": label, "x": names, "y": [r[key] for r in rows], "marker": colour}
        for key, label, colour in (
            ("confirmed", "confirmed", {"color": "#e45756"}),
            ("dismissed", "dismissed", {"color": "#54a24b"}),
            ("undecided", "not judged", {"color": "#bab0ac"}),
        )
    ]
    return {"data": data, "layout": _layout("Cases per detector, by verdict", barmode="stack")}


def entity_graph(graph: Graph) -> Figure:
    """Keys in one column per kind, linked where a request carried both."""
    positions: list[tuple[float, float]] = []
    columns = [kind for kind in GRAPH_KINDS if any(n["kind"] == kind for n in graph.nodes)]
    for node in graph.nodes:
        same = [n for n in graph.nodes if n["kind"] == node["kind"]]
        row = same.index(node)
        positions.append((columns.index(node["kind"]), (row + 1) / (len(same) + 1)))
    widest = max((e["events"] for e in graph.edges), default=1)
    edges_x: list[float | None] = []
    edges_y: list[float | None] = []
    for edge in graph.edges:
        (x0, y0), (x1, y1) = positions[edge["source"]], positions[edge["target"]]
        edges_x += [x0, x1, None]
        edges_y += [y0, y1, None]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": edges_x,
            "y": edges_y,
            "hoverinfo": "skip",
            "line": {"color": "rgba(120,120,120,0.35)", "width": 1},
            "showlegend": False,
        }
    ]
    for kind in columns:
        members = [(i, n) for i, n in enumerate(graph.nodes) if n["kind"] == kind]
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": _label(kind),
                "x": [positions[i][0] for i, _ in members],
                "y": [positions[i][1] for i, _ in members],
                "text": [
                    _label(f"{kind}:{n['value']} ({n['events']} requests)") for _, n in members
                ],
                "hoverinfo": "text",
                "marker": {
                    "size": [8 + 14 * math.sqrt(n["events"] / max(1, widest)) for _, n in members],
                    "color": KIND_COLOURS[kind],
                },
            }
        )
    hidden = ", ".join(f"{n} more {kind}" for kind, n in graph.hidden.items())
    return {
        "data": data,
        "layout": _layout(
            "Linked actors" + (f" ({hidden} not drawn)" if hidden else ""),
            height=380,
            showlegend=False,
            xaxis={
                "tickvals": list(range(len(columns))),
                "ticktext": columns,
                "zeroline": False,
                "showgrid": False,
            },
            yaxis={"visible": False},
        ),
    }


def timeline(series: Series, audit: list[AuditEntry]) -> Figure:
    figure = time_bars(series, "Activity and actions")
    peak = max((sum(v) for v in zip(*series.lines.values(), strict=True)), default=0)
    figure["data"].append(
        {
            "type": "scatter",
            "mode": "markers",
            "name": "actions",
            "x": [entry.at.isoformat() for entry in audit],
            "y": [peak * 1.05 or 1 for _ in audit],
            "text": [_label(f"{e.action} by {e.by}: {e.reason}") for e in audit],
            "hoverinfo": "text+x",
            "marker": {"symbol": "diamond", "size": 10, "color": "#222"},
        }
    )
    return figure


def affected(by_class: dict[str, int]) -> Figure:
    return {
        "data": [
            {
                "type": "bar",
                "x": [_label(name) for name in by_class],
                "y": list(by_class.values()),
                "marker": {"color": "#4c78a8"},
            }
        ],
        "layout": _layout("Affected members per data class"),
    }
