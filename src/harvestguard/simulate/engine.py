"""Event mode: every actor on one virtual clock, merged in time order, as AccessEvent columns.

The hot path builds plain Python lists column by column and turns them into Arrow record batches
(``harvestguard.events.ARROW_SCHEMA``) every ``batch_size`` events; no AccessEvent object is made.
Everything random comes from generators seeded by the scenario seed, so a seed gives the same
events, the same keys and the same ground truth every time.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from harvestguard.events import ARROW_SCHEMA, SCHEMA_VERSION, Decision
from harvestguard.policy import Policy
from harvestguard.simulate.actors import Actor, SimContext, build_population
from harvestguard.simulate.disclosure import DisclosureTable
from harvestguard.simulate.generate import generate_world
from harvestguard.simulate.groundtruth import ActorRecord, GroundTruth, KeyCounter
from harvestguard.simulate.intents import Intent
from harvestguard.simulate.network import AddressSpace, Keys
from harvestguard.simulate.platform import Platform, Response
from harvestguard.simulate.scenario import Scenario
from harvestguard.simulate.world import World

DEFAULT_BATCH = 50_000
# bytes of a response by page, before jitter: a rough shape, enough for volume-based detectors
_SIZES = {"media": 90_000, "api": 900, "web": 7_000}
_NO_ACCOUNT_PAGES = frozenset({"login", "login_form", "signup"})

Progress = Callable[[int, float], None]  # (events so far, virtual time reached as a share)


@dataclass(slots=True)
class Batch:
    """One record batch of events and, aligned with it, the index of the actor of each event."""

    events: pa.RecordBatch
    actors: pa.Int32Array


def scenario_key(scenario: Scenario) -> bytes:
    """The scenario's pseudonym key: fixed by its seed, so a run can be reproduced."""
    return random.Random(f"key:{scenario.seed}").getrandbits(256).to_bytes(32, "big")


class Simulation:
    """One run of a scenario: the world, the actors, and the stream of event batches."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        world: World | None = None,
        policy: Policy | None = None,
        key: bytes | None = None,
    ) -> None:
        self.scenario = scenario
        self.world = world if world is not None else generate_world(scenario)
        rng = random.Random(f"population:{scenario.seed}")
        self.keys = Keys(key or scenario_key(scenario), rng)
        self.ctx = SimContext(
            scenario=scenario,
            world=self.world,
            keys=self.keys,
            space=AddressSpace(rng),
            start=scenario.start.timestamp(),
            end=scenario.end.timestamp(),
        )
        self.actors: list[Actor] = build_population(self.ctx)
        self.platform = Platform(self.world, DisclosureTable(policy))
        self.first_harvest: dict[int, float] = {}
        self.events_per_actor = [0] * len(self.actors)
        self.key_counter = KeyCounter()
        self.count = 0

    def batches(
        self,
        *,
        batch_size: int = DEFAULT_BATCH,
        max_events: int | None = None,
        progress: Progress | None = None,
    ) -> Iterator[Batch]:
        start, end = self.ctx.start, self.ctx.end
        span = end - start
        rng = random.Random(f"events:{self.scenario.seed}")
        heap: list[tuple[float, int, Intent, Iterator[Intent]]] = []
        for index, actor in enumerate(self.actors):
            stream = actor.intents()
            first = next(stream, None)
            if first is not None:
                heap.append((first.ts, index, first, stream))
        heapq.heapify(heap)
        columns = _Columns()
        respond = self.platform.respond
        limit = max_events if max_events is not None else -1
        while heap:
            ts, index, intent, stream = heap[0]
            following = next(stream, None)
            if following is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (following.ts, index, following, stream))
            if ts < start or ts >= end:
                continue
            if intent.harvest and index not in self.first_harvest:
                self.first_harvest[index] = ts
            self.events_per_actor[index] += 1
            columns.add(intent, respond(intent), index, rng)
            self.count += 1
            if len(columns) >= batch_size:
                yield self._flush(columns)
                columns = _Columns()
                if progress is not None:
                    progress(self.count, (ts - start) / span)
            if self.count == limit:
                break
        if len(columns):
            yield self._flush(columns)
        if progress is not None:
            progress(self.count, 1.0)

    def _flush(self, columns: _Columns) -> Batch:
        batch = columns.batch()
        self.key_counter.add(batch.events, batch.actors)
        return batch

    def ground_truth(self) -> GroundTruth:
        ids = [actor.actor_id for actor in self.actors]
        actors = {}
        for index, actor in enumerate(self.actors):
            first = self.first_harvest.get(index)
            actors[actor.actor_id] = ActorRecord(
                actor_id=actor.actor_id,
                actor_class=actor.actor_class,
                adversary=actor.adversary,
                events=self.events_per_actor[index],
                first_harvest_at=None if first is None else datetime.fromtimestamp(first, UTC),
                parameters=dict(actor.parameters),
            )
        return GroundTruth(actors, self.key_counter.records(ids), self.scenario.to_dict())

    def actor_ids(self) -> list[str]:
        return [actor.actor_id for actor in self.actors]


class _Columns:
    """The rows of one batch under construction, turned into columns when the batch is full.

    One tuple per event and a single transpose per batch (``zip(*rows)``, in C) cost less than
    two dozen list appends per event.
    """

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, intent: Intent, response: Response, actor: int, rng: random.Random) -> None:
        status, resource, object_id, audience, owners, classes = response
        ident = intent.identity
        page = intent.page
        if page.channel == "api":
            # the client and token are known once the token was read: a route served the request
            # and it was not turned away for want of a token
            known = page.route is not None and status != 401
            account = None
            client = ident.app if known else None
            session = ident.session if known and page.name != "oauth_token" else None
            size = _SIZES["api"]
        else:
            logged_in = ident.user_id is not None and page.name not in _NO_ACCOUNT_PAGES
            account = ident.account if logged_in else None
            client = None
            session = ident.session if logged_in else None
            size = _SIZES["media" if page.name == "media" else "web"]
        target = intent.target
        self.rows.append(
            (
                int(intent.ts * 1_000_000),
                f"{rng.getrandbits(128):032x}",
                page.channel,
                account,
                client,
                session,
                ident.ip,
                ident.net,
                ident.ua,
                ident.fingerprint,
                page.method,
                page.route,
                page.path("" if isinstance(target, tuple) else target),
                status,
                int(size * (0.5 + rng.random())) if status == 200 else 180,
                2.0 + 30.0 * rng.random(),
                resource,
                object_id,
                owners,
                classes,
                audience,
                actor,
            )
        )

    def batch(self) -> Batch:
        size = len(self.rows)
        (
            ts,
            request_id,
            channel,
            account,
            client,
            session,
            ip,
            net,
            ua,
            fingerprint,
            method,
            route,
            path,
            status,
            sizes,
            duration,
            resource,
            object_id,
            owners,
            classes,
            audience,
            actors,
        ) = zip(*self.rows, strict=True)
        strings = pa.string()
        arrays = [
            pa.array(ts, pa.int64()).cast(ARROW_SCHEMA.field("ts").type),
            *(
                pa.array(column, strings)
                for column in (
                    request_id,
                    channel,
                    account,
                    client,
                    session,
                    ip,
                    net,
                    ua,
                    fingerprint,
                    method,
                    route,
                    path,
                )
            ),
            pa.array(status, pa.int32()),
            pa.array(sizes, pa.int64()),
            pa.array(duration, pa.float64()),
            pa.array(resource, strings),
            pa.array(object_id, strings),
            _list_array(owners),
            _list_array(classes),
            pa.array(audience, strings),
            pa.repeat(pa.scalar(Decision.ALLOW.value), size),
            pa.repeat(pa.scalar(SCHEMA_VERSION, pa.int16()), size),
        ]
        events = pa.RecordBatch.from_arrays(arrays, schema=ARROW_SCHEMA)
        return Batch(events, pa.array(actors, pa.int32()))


def _list_array(lists: tuple[tuple[str, ...], ...]) -> pa.ListArray[Any]:
    offsets = [0, *itertools.accumulate(map(len, lists))]
    values = pa.array(list(itertools.chain.from_iterable(lists)), pa.string())
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)
