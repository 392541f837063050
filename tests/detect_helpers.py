"""Hand-built event tables for the detection tests: a few lines per behaviour."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from harvestguard.detect import DetectionEngine, DetectionReport, load_detectors
from harvestguard.events import AccessEvent, to_arrow

BASE = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
_ids = itertools.count()


def event(seconds: float, **fields: object) -> AccessEvent:
    """An event ``seconds`` after BASE; a web GET of nothing unless ``fields`` say otherwise."""
    values: dict[str, object] = {"status": 200, "channel": "web"}
    values.update(fields)
    return AccessEvent(ts=BASE + timedelta(seconds=seconds), request_id=f"r{next(_ids)}", **values)  # type: ignore[arg-type]


def view(
    seconds: float,
    owner: int,
    *,
    account: str | None = None,
    audience: str = "authenticated",
    ip: str = "ip-1",
    resource: str = "profile",
    **fields: object,
) -> AccessEvent:
    """A page showing one owner's profile (or post, story, media) to ``account``."""
    route = {
        "profile": "/u/{username}",
        "post": "/p/{post_id:int}",
        "story": "/stories/{story_id:int}",
        "media": "/media/{key}",
    }[resource]
    path = f"/u/user{owner:05d}" if resource == "profile" else f"/{resource}/{owner}"
    values: dict[str, object] = {
        "actor_account": account,
        "ip": ip,
        "net": f"net-of-{ip}",
        "route": route,
        "path": path,
        "resource": resource,
        "object_id": str(owner),
        "owner_ids": [str(owner)],
        "data_classes": ["identity", "photo"],
        "audience": audience if account is not None else "anonymous",
    }
    values.update(fields)
    return event(seconds, **values)


def table(events: Iterable[AccessEvent]) -> pa.Table:
    return to_arrow(events)


def run(
    detector_ids: str | Iterable[str],
    events: Iterable[AccessEvent],
    context: Mapping[str, pa.Table] | None = None,
    parameters: Mapping[str, Mapping[str, object]] | None = None,
) -> DetectionReport:
    """Only the named built-in detectors over ``events``."""
    wanted = {detector_ids} if isinstance(detector_ids, str) else set(detector_ids)
    specs = [spec for spec in load_detectors() if spec.id in wanted]
    assert {spec.id for spec in specs} == wanted, f"unknown detectors in {wanted}"
    engine = DetectionEngine(specs, parameters=parameters)
    return engine.run(table(events), context)


def fired(report: DetectionReport, detector: str) -> set[tuple[str, str]]:
    return {f.key for f in report.findings if f.detector == detector}
