"""Raw requests -> AccessEvents (Arrow, ``harvestguard.events.ARROW_SCHEMA``), a batch at a time.

What a log says becomes what the middleware would have recorded, as far as a log can tell:
``channel`` is ``log``; ``ip`` and ``net`` are the same keyed pseudonyms the middleware stores
(under the same key when ``HARVESTGUARD_PSEUDONYM_KEY`` is set); ``route``, ``resource``,
``object_id``, ``owner_ids`` and ``data_classes`` come from the route map; ``path`` is the
request target as logged, query string included (cache-busting and enumeration live there);
account, partner app, session, fingerprint and audience are unknown (null).

Pseudonymising and route matching are done once per distinct value of a batch (addresses and
URLs repeat), then spread over the rows with Arrow ``take``: per-row Python would be the cost.
The real address behind each pseudonym is kept in memory (``addresses``) for the operator's
report and ban lists, and never written with the events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from harvestguard.events import ARROW_SCHEMA, SCHEMA_VERSION, Channel, Decision
from harvestguard.ingest.addresses import AddressKeys
from harvestguard.ingest.crawlers import CrawlerRanges
from harvestguard.ingest.routes import RouteMap, RouteMatch
from harvestguard.pseudonym import Pseudonymiser

# distinct URLs remembered between batches; past this the memo starts afresh (memory bound)
ROUTE_MEMO = 500_000

T = TypeVar("T")


class EventBuilder:
    def __init__(
        self,
        pseudonymiser: Pseudonymiser,
        route_map: RouteMap,
        crawlers: CrawlerRanges | None = None,
        *,
        hide_ua: bool = False,
    ) -> None:
        self.pseudonymiser = pseudonymiser
        self.route_map = route_map
        self.crawlers = crawlers
        self.hide_ua = hide_ua
        self._keys = AddressKeys(pseudonymiser, crawlers)
        # ip pseudonym -> the address as the log gave it; ip pseudonym -> verified crawler label
        self.addresses, self.allowlist = self._keys.addresses, self._keys.allowlist
        self._routes: dict[str, RouteMatch] = {}
        self.events = 0

    def build(self, raw: pa.RecordBatch | pa.Table, source: str) -> pa.Table:
        rows = raw.num_rows
        remote: Any = raw.column("remote")
        if isinstance(remote, pa.ChunkedArray):
            remote = remote.combine_chunks()
        encoded: Any = pc.dictionary_encode(remote, null_encoding="encode")
        ip, net = self._keys.keys(encoded.dictionary)
        routes = _per_distinct(raw.column("target"), self._route)
        numbers = pa.array(range(self.events + 1, self.events + rows + 1), pa.int64())
        self.events += rows
        join: Any = pc.binary_join_element_wise  # the stubs lack the scalar-and-array form
        request_ids = join(pa.scalar(f"{source}#", pa.string()), pc.cast(numbers, pa.string()), "")
        null_text = pa.nulls(rows, pa.string())
        columns: dict[str, Any] = {
            "ts": pc.cast(raw.column("ts"), ARROW_SCHEMA.field("ts").type),
            "request_id": request_ids,
            "channel": pa.repeat(pa.scalar(Channel.LOG.value, pa.string()), rows),
            "actor_account": null_text,
            "actor_client": null_text,
            "session": null_text,
            "ip": ip.take(encoded.indices),
            "net": net.take(encoded.indices),
            "ua": null_text if self.hide_ua else raw.column("ua"),
            "fingerprint": null_text,
            "method": raw.column("method"),
            "route": _take([r.route for r in routes.values], routes.indices, pa.string()),
            "path": raw.column("target"),
            "status": pc.cast(raw.column("status"), pa.int32()),
            "bytes": pc.cast(raw.column("bytes"), pa.int64()),
            "duration_ms": pa.repeat(pa.scalar(0.0, pa.float64()), rows),
            "resource": _take([r.resource for r in routes.values], routes.indices, pa.string()),
            "object_id": _take([r.object_id for r in routes.values], routes.indices, pa.string()),
            "owner_ids": _take(
                [[r.owner] if r.owner else [] for r in routes.values],
                routes.indices,
                pa.list_(pa.string()),
            ),
            "data_classes": _take(
                [list(r.data_classes) for r in routes.values], routes.indices, pa.list_(pa.string())
            ),
            "audience": null_text,
            "decision": pa.repeat(pa.scalar(Decision.ALLOW.value, pa.string()), rows),
            "schema_version": pa.repeat(pa.scalar(SCHEMA_VERSION, pa.int16()), rows),
        }
        return pa.table(list(columns.values()), schema=ARROW_SCHEMA)

    def _route(self, target: str | None) -> RouteMatch:
        if target is None:
            return self.route_map.classify("")
        found = self._routes.get(target)
        if found is None:
            if len(self._routes) >= ROUTE_MEMO:
                self._routes.clear()
            found = self.route_map.classify(target)
            self._routes[target] = found
        return found


class _Distinct:
    __slots__ = ("indices", "values")

    def __init__(self, values: list[Any], indices: Any) -> None:
        self.values = values
        self.indices = indices


def _per_distinct(column: Any, compute: Callable[[Any], T]) -> _Distinct:
    """``compute`` applied once per distinct value; ``indices`` say which value each row has
    (nulls get their own slot at the end)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded: Any = pc.dictionary_encode(column, null_encoding="encode")
    dictionary = encoded.dictionary.to_pylist()
    values = [compute(value) for value in dictionary]
    return _Distinct(values, encoded.indices)


def _take(values: list[Any], indices: Any, kind: pa.DataType) -> Any:
    return pa.array(values, kind).take(indices)
