"""The ASGI middleware: identify the actor, enforce the decision, record one AccessEvent per request.

A plain ASGI class in the style of Starlette's TrustedHostMiddleware, so it wraps FastAPI,
Starlette or any other ASGI app. Anything that is not HTTP (websockets, lifespan) passes straight
through. The event is submitted after the app has sent its response, to a non-blocking sink.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import time
from typing import Protocol, runtime_checkable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harvestguard import context
from harvestguard.actor import FINGERPRINT_HEADER, ActorIdentifier, ActorKeys, read_headers
from harvestguard.clock import SYSTEM_CLOCK, Clock
from harvestguard.config import GuardConfig
from harvestguard.decisions import ALLOW, AllowAll, DecisionStore, Verdict
from harvestguard.events import AccessEvent, Channel, Decision, Resource
from harvestguard.pseudonym import Pseudonymiser

logger = logging.getLogger(__name__)

VERDICT_SCOPE_KEY = "harvestguard.verdict"
KEYS_SCOPE_KEY = "harvestguard.keys"
# a challenged request that carries what clears its challenge (a solved proof of work, a new login)
CHALLENGE_PASSED = Verdict(Decision.ALLOW, reason="challenge passed")
DEFAULT_RETRY_AFTER = 60
# what a request gets when the decision store fails and the guard fails closed
STORE_DOWN = Verdict(Decision.BLOCK, retry_after=30, reason="decision store unavailable")
MAX_PATH_LENGTH = 1024
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")
_MESSAGES = {
    Decision.THROTTLE: (429, "too many requests; retry later"),
    Decision.CHALLENGE: (403, "verification required"),
    Decision.BLOCK: (403, "access denied"),
}


class EventSubmitter(Protocol):
    """The sink side the middleware needs: a submit that never blocks the response."""

    def submit(self, event: AccessEvent) -> None: ...


@runtime_checkable
class ChallengeGate(Protocol):
    """A challenge app that can also say whether a request has cleared its challenge
    (harvestguard.enforce.challenge.ChallengeApp); requests for ``path`` always go to it."""

    path: str

    def admits(self, scope: Scope, keys: ActorKeys, *, identity: bool) -> bool: ...


class _Exchange:
    """What the middleware learns about one request while the app serves it."""

    __slots__ = ("error", "headers", "keys", "status", "verdict", "withheld", "written")

    def __init__(self, verdict: Verdict, keys: ActorKeys) -> None:
        self.keys = keys
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.written = 0
        self.verdict = verdict
        self.withheld = False
        self.error = False


class GuardMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        config: GuardConfig,
        sink: EventSubmitter,
        decisions: DecisionStore | None = None,
        pseudonymiser: Pseudonymiser | None = None,
        challenge: ASGIApp | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """``challenge``: an ASGI app answering challenged web requests instead of a plain 403; it
        finds the verdict in ``scope["harvestguard.verdict"]`` and the actor's keys in
        ``scope["harvestguard.keys"]``. If it is a ``ChallengeGate`` too, a request that has cleared
        its challenge is served."""
        self.app = app
        self.config = config
        self.sink = sink
        self.decisions = decisions if decisions is not None else AllowAll()
        self.challenge = challenge
        self.clock = clock  # stamps the events; faster than real time only in simulations
        self._gate = challenge if isinstance(challenge, ChallengeGate) else None
        self.decision_errors = 0
        self._store_failing = False
        self.identifier = ActorIdentifier(
            config, pseudonymiser or Pseudonymiser.from_config(config)
        )
        self._proxy_header = config.proxy_header.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        ts = self.clock.now()
        config = self.config
        headers, proxy_values = read_headers(scope, self._proxy_header)
        client = scope.get("client")
        ip, net, via_trusted_proxy = self.identifier.address_keys(
            str(client[0]) if client else None, proxy_values
        )
        user_agent = headers.get(b"user-agent")
        ua = None if user_agent is None else user_agent[: config.ua_max_length]
        fingerprint = self.identifier.fingerprint(
            headers.get(FINGERPRINT_HEADER),
            headers.get(b"accept", ""),
            headers.get(b"accept-language", ""),
            user_agent or "",
        )
        request_id = headers.get(b"x-request-id")
        if not (via_trusted_proxy and request_id and _REQUEST_ID.fullmatch(request_id)):
            request_id = os.urandom(16).hex()
        path: str = scope["path"]
        channel = Channel.API if path.startswith(config.api_prefixes) else Channel.WEB
        enforced = not path.startswith(config.exempt_prefixes)

        network_keys = ActorKeys(ip=ip, net=net, ua=ua, fingerprint=fingerprint)
        verdict = self._check(network_keys) if enforced else ALLOW
        gate = self._gate
        if (
            gate is not None
            and verdict.decision == Decision.CHALLENGE
            and gate.admits(scope, network_keys, identity=False)
        ):
            verdict = CHALLENGE_PASSED
        if gate is not None and path == gate.path:
            # an answer to a challenge goes to the challenge app, whatever the verdict is now
            verdict = Verdict(Decision.CHALLENGE, reason="challenge answer")
        exchange = _Exchange(verdict, network_keys)
        ctx = context.RequestContext(request_id=request_id)
        root_path = scope.get("root_path", "")
        response_header = (b"x-request-id", request_id.encode())

        async def guarded_send(message: Message) -> None:
            kind = message["type"]
            if exchange.withheld:
                return
            if kind == "http.response.start":
                if enforced and exchange.verdict.decision == Decision.ALLOW and _identified(ctx):
                    exchange.keys = _full_keys(network_keys, ctx)
                    exchange.verdict = self._identified_verdict(scope, exchange.keys)
                    if exchange.verdict.decision != Decision.ALLOW:
                        # The app ran (it is what identified the actor) but its answer stays here.
                        exchange.withheld = True
                        ctx.owner_ids.clear()
                        ctx.data_classes.clear()
                        await self._refuse(scope, receive, counting_send, exchange, channel)
                        return
                message["headers"] = [*message.get("headers", ()), response_header]
            await counting_send(message)

        async def counting_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.body":
                exchange.written += len(message.get("body", b""))
            elif kind == "http.response.start":
                exchange.status = message["status"]
                exchange.headers = message.get("headers", [])
            elif kind == "http.response.pathsend":
                # the server sends the file itself; the app declared its length
                exchange.written += _content_length(exchange.headers)
            await send(message)

        # the app marks what it serves for this actor (harvestguard.attribute) from these keys
        scope[KEYS_SCOPE_KEY] = network_keys
        token = context.activate(ctx)
        try:
            if exchange.verdict.decision == Decision.ALLOW:
                await self.app(scope, receive, guarded_send)
            else:
                await self._refuse(scope, receive, counting_send, exchange, channel)
        except Exception:
            exchange.error = True
            raise
        finally:
            context.deactivate(token)
            self._emit(
                AccessEvent(
                    ts=ts,
                    request_id=request_id,
                    channel=channel.value,
                    actor_account=ctx.actor_account,
                    actor_client=ctx.actor_client,
                    session=ctx.session,
                    ip=ip,
                    net=net,
                    ua=ua,
                    fingerprint=ctx.fingerprint or fingerprint,
                    method=scope["method"],
                    route=_route_template(scope, root_path) or ctx.route,
                    path=path[:MAX_PATH_LENGTH],
                    status=500 if exchange.error else exchange.status,
                    bytes=0
                    if scope["method"] == "HEAD"
                    else exchange.written,  # servers drop HEAD bodies
                    duration_ms=(time.perf_counter() - started) * 1000.0,
                    resource=ctx.resource
                    or (Resource.API if channel is Channel.API else Resource.OTHER).value,
                    object_id=ctx.object_id,
                    owner_ids=sorted(ctx.owner_ids),
                    data_classes=sorted(ctx.data_classes),
                    audience=ctx.audience,
                    decision=str(exchange.verdict.decision),
                )
            )

    def _check(self, keys: ActorKeys) -> Verdict:
        try:
            verdict = self.decisions.check(keys)
        except Exception:
            self.decision_errors += 1
            if not self._store_failing:
                # logged once per outage, not once per request
                logger.exception("decision store failed; failing %s", self._failure_mode)
                self._store_failing = True
            return ALLOW if self.config.fail_open else STORE_DOWN
        if self._store_failing:
            logger.warning("decision store answers again")
            self._store_failing = False
        return verdict

    def _identified_verdict(self, scope: Scope, keys: ActorKeys) -> Verdict:
        verdict = self._check(keys)
        gate = self._gate
        if gate is None or verdict.decision != Decision.CHALLENGE:
            return verdict
        # the account (or session, or partner app) itself challenged: only a new login clears it
        identity = ActorKeys(account=keys.account, client=keys.client, session=keys.session)
        challenged = self._check(identity).decision == Decision.CHALLENGE
        return CHALLENGE_PASSED if gate.admits(scope, keys, identity=challenged) else verdict

    @property
    def _failure_mode(self) -> str:
        return "open" if self.config.fail_open else "closed"

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, exchange: _Exchange, channel: Channel
    ) -> None:
        verdict = exchange.verdict
        if (
            verdict.decision == Decision.CHALLENGE
            and self.challenge is not None
            and channel is Channel.WEB
        ):
            challenge_scope = {**scope, VERDICT_SCOPE_KEY: verdict, KEYS_SCOPE_KEY: exchange.keys}
            await self.challenge(challenge_scope, receive, send)
            return
        status, text = (
            (503, "temporarily unavailable")
            if verdict is STORE_DOWN
            else _MESSAGES[Decision(verdict.decision)]
        )
        if channel is Channel.API:
            body = json.dumps({"detail": text}).encode()
            content_type = b"application/json"
        else:
            body = text.encode()
            content_type = b"text/plain; charset=utf-8"
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        if status in (429, 503):
            retry_after = verdict.retry_after or DEFAULT_RETRY_AFTER
            headers.append((b"retry-after", str(retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _emit(self, event: AccessEvent) -> None:
        try:
            self.sink.submit(event)
        except Exception:
            # The response has gone out already; losing this event must not turn it into an error.
            logger.exception("could not submit the access event %s", event.request_id)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int:
    for name, value in headers:
        if name.lower() == b"content-length" and value.isdigit():
            return int(value)
    return 0


def _identified(ctx: context.RequestContext) -> bool:
    return ctx.actor_account is not None or ctx.actor_client is not None or ctx.session is not None


def _full_keys(network_keys: ActorKeys, ctx: context.RequestContext) -> ActorKeys:
    return dataclasses.replace(
        network_keys,
        account=ctx.actor_account,
        client=ctx.actor_client,
        session=ctx.session,
        fingerprint=ctx.fingerprint or network_keys.fingerprint,
    )


def _route_template(scope: Scope, root_path: str) -> str | None:
    """The template of the route that served the request, mount prefixes included."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return None
    mounted = scope.get("root_path", "")
    return mounted[len(root_path) :] + template if mounted.startswith(root_path) else template
