"""Live mode: the simulator's actors drive real HTTP traffic at a running photoshare + guard.

Every intent becomes the request a real client would send: pages with the client's own cookies
(one ``httpx.AsyncClient`` per browser, all on one loopback connection pool), log-ins through the
real form with its CSRF token, sign-ups for the accounts actors create, client-credentials tokens
for partner apps and Bearer calls to the API. The runner plays the reverse proxy: the client's
address goes in ``X-Forwarded-For``, the request id in ``X-Request-ID`` (the server must trust
127.0.0.1 as a proxy). Virtual time runs ``speed`` times faster than real time, within hard caps
on real duration, requests, concurrency and rate.

The ground truth has the format of event mode's, with the keys the guard records, predicted from
what was sent: the pseudonyms of the forwarded address under the server's key, the fingerprint of
the headers, the session hash of the cookie or token, the account and the partner app.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import json
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow as pa
import pyarrow.parquet as pq

from harvestguard.events import Resource
from harvestguard.pseudonym import Pseudonymiser
from harvestguard.simulate import intents as p
from harvestguard.simulate.groundtruth import ActorRecord, GroundTruth, KeyCounter
from harvestguard.simulate.intents import Identity, Intent, Page
from harvestguard.simulate.live_http import (
    DEFAULT_LANGUAGE,
    LoopbackTransport,
    RateLimiter,
    client_headers,
    csrf_token,
    guard_fingerprint,
    require_loopback,
)
from harvestguard.simulate.live_world import (
    LivePlan,
    PartnerCredentials,
    ServerWorld,
    fit_scenario,
    match_credentials,
    own_password,
)
from harvestguard.simulate.scenario import Scenario
from harvestguard.simulate.world import Story

SESSION_COOKIE = "ps_session"
UA_MAX_LENGTH = 256  # GuardConfig.ua_max_length
SIGNUP_FORM = Page("signup_form", "GET", "/signup", Resource.OTHER.value)
# web pages whose handler never looks at the session cookie: the guard records no account
_NO_VIEWER = frozenset({"login", "signup", "robots"})
_USERNAME_PAGES = frozenset({"profile", "followers", "following", "user_stories", "follow"})

Progress = Callable[["LiveReport"], None]
AccountLookup = Callable[[Sequence[str]], Mapping[str, int]]


class _OutOfBudget(Exception):
    """The request cap or the deadline is reached: nothing more is sent."""


@dataclass(frozen=True, slots=True)
class LiveConfig:
    base_url: str
    password: str  # of the server's seeded accounts
    key: bytes  # the server's HARVESTGUARD_PSEUDONYM_KEY
    credentials: tuple[PartnerCredentials, ...] = ()
    speed: float = 60.0  # virtual seconds per real second
    max_seconds: float = 60.0
    max_requests: int = 20_000
    max_concurrency: int = 32
    max_rate: float = 200.0  # requests per real second
    timeout: float = 30.0

    def __post_init__(self) -> None:
        require_loopback(self.base_url)
        if min(self.speed, self.max_seconds, self.max_rate, self.timeout) <= 0:
            raise ValueError("speed, max_seconds, max_rate and timeout must be positive")
        if self.max_requests < 1 or self.max_concurrency < 1:
            raise ValueError("max_requests and max_concurrency must be at least 1")


@dataclass(slots=True)
class LiveReport:
    """What the run did, as it goes (the progress bar reads it) and at the end."""

    max_seconds: float
    max_requests: int
    sent: int = 0
    answered: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    by_actor_class: Counter[str] = field(default_factory=Counter)
    hosts: Counter[str] = field(default_factory=Counter)
    signed_up: list[str] = field(default_factory=list)
    unresolved_accounts: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    virtual_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.answered / self.elapsed if self.elapsed else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests_sent": self.sent,
            "requests_answered": self.answered,
            "errors": dict(self.errors),
            "skipped_intents": dict(self.skipped),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_actor_class": dict(sorted(self.by_actor_class.items())),
            "hosts": dict(self.hosts),
            "signed_up": self.signed_up,
            "unresolved_accounts": self.unresolved_accounts,
            "elapsed_seconds": round(self.elapsed, 3),
            "virtual_seconds": round(self.virtual_seconds, 1),
            "requests_per_second": round(self.rate, 1),
            "max_seconds": self.max_seconds,
            "max_requests": self.max_requests,
        }


@dataclass(slots=True)
class LiveResult:
    report: LiveReport
    ground_truth: GroundTruth
    labels: pa.Table  # request_id -> actor_id of every answered request

    def write(self, directory: str | Path) -> None:
        """ground_truth.json, labels.parquet and live_report.json, as event mode writes them."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        self.ground_truth.write(target / "ground_truth.json")
        pq.write_table(self.labels, target / "labels.parquet")
        (target / "live_report.json").write_text(json.dumps(self.report.to_dict(), indent=2))


@dataclass(slots=True)
class _Browser:
    """One browser: its cookie jar, and the account logged in with it."""

    client: httpx.AsyncClient
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    account: str | None = None  # an account id, or "@username" until the id is known
    session: str | None = None  # the guard's session key: 16 hex digits of the cookie's hash
    csrf: str | None = None
    failed: bool = False  # its log-in was refused: it browses logged out


@dataclass(slots=True)
class _Partner:
    """One partner-app client with its bearer token."""

    client: httpx.AsyncClient
    credentials: PartnerCredentials
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    token: str | None = None
    session: str | None = None
    failed: bool = False


def plan_live(
    scenario: Scenario,
    server: ServerWorld,
    *,
    key: bytes,
    speed: float,
    max_seconds: float,
    start: datetime | None = None,
) -> LivePlan:
    """The scenario fitted to the server's world, starting now, as long as the run can last."""
    moment = (start or datetime.now(UTC)).replace(microsecond=0)
    duration = timedelta(seconds=speed * max_seconds)
    return LivePlan.build(fit_scenario(scenario, server.world, moment, duration), server, key)


def run_live(
    plan: LivePlan,
    config: LiveConfig,
    *,
    truth_dir: str | Path | None = None,
    progress: Progress | None = None,
    account_lookup: AccountLookup | None = None,
) -> LiveResult:
    """Runs the plan against the server until a cap is reached or Ctrl-C; writes the truth."""

    async def main() -> LiveResult:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, stop.set)
            handled = True
        except (NotImplementedError, RuntimeError, ValueError):
            handled = False  # not the main thread: the caller stops us another way
        try:
            runner = LiveRunner(plan, config, account_lookup=account_lookup)
            return await runner.run(progress=progress, stop=stop)
        finally:
            if handled:
                loop.remove_signal_handler(signal.SIGINT)

    result = asyncio.run(main())
    if truth_dir is not None:
        result.write(truth_dir)
    return result


class LiveRunner:
    def __init__(
        self, plan: LivePlan, config: LiveConfig, *, account_lookup: AccountLookup | None = None
    ) -> None:
        self.plan = plan
        self.config = config
        self.base_url = require_loopback(config.base_url)
        self.account_lookup = account_lookup
        self.report = LiveReport(config.max_seconds, config.max_requests)
        self.credentials = match_credentials(plan.simulated_apps(), config.credentials)
        self._transport = LoopbackTransport(config.max_concurrency)
        self._rate = RateLimiter(config.max_rate)
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self._pseudonymiser = Pseudonymiser(config.key)
        self._browsers: dict[tuple[object, ...], _Browser] = {}
        self._partners: dict[tuple[object, ...], _Partner] = {}
        self._signed_up: dict[int, _Browser] = {}  # own account -> the browser that signed up
        self._sign_up_started: set[int] = set()
        self._created: set[int] = set()  # own accounts that exist on the server now
        self._account_locks: dict[int, asyncio.Lock] = {}
        self._address_keys: dict[str, tuple[str, str]] = {}
        self._fingerprints: dict[tuple[str, str, str | None], str] = {}
        self._real_usernames = {
            plan.world.users[uid].username: name for uid, name in plan.usernames.items()
        }
        self._rows: list[tuple[Any, ...]] = []
        self._first_harvest: dict[int, float] = {}
        self._answered_by_actor: Counter[int] = Counter()
        self._deadline = 0.0
        self._started = 0.0

    async def run(
        self, *, progress: Progress | None = None, stop: asyncio.Event | None = None
    ) -> LiveResult:
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        self._started = loop.time()
        self._deadline = self._started + self.config.max_seconds
        ticker = None if progress is None else asyncio.create_task(self._tick(progress))
        tasks: set[asyncio.Task[None]] = set()
        waiting = asyncio.Semaphore(self.config.max_concurrency * 4)
        virtual_start = self.plan.scenario.start.timestamp()
        try:
            for index, intent in self._intents():
                due = self._started + (intent.ts - virtual_start) / self.config.speed
                if stop.is_set() or due >= self._deadline or self._budget_spent():
                    break
                if due > loop.time():
                    try:
                        await asyncio.wait_for(stop.wait(), due - loop.time())
                        break
                    except TimeoutError:
                        pass
                await waiting.acquire()
                self.report.virtual_seconds = intent.ts - virtual_start
                task = asyncio.create_task(self._perform(index, intent))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                task.add_done_callback(lambda _: waiting.release())
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            self.report.elapsed = loop.time() - self._started
            if ticker is not None:
                ticker.cancel()
            await self._transport.aclose()
        self.report.hosts = Counter(self._transport.hosts)
        result = self._finish()
        if progress is not None:
            progress(self.report)
        return result

    def _intents(self) -> Iterator[tuple[int, Intent]]:
        start = self.plan.scenario.start.timestamp()
        end = self.plan.scenario.end.timestamp()
        streams = [
            _numbered(index, actor.intents()) for index, actor in enumerate(self.plan.actors)
        ]
        for ts, index, _, intent in heapq.merge(*streams):
            if ts >= end:
                return
            if ts >= start:
                yield index, intent

    async def _tick(self, progress: Progress) -> None:
        while True:
            self.report.elapsed = asyncio.get_running_loop().time() - self._started
            progress(self.report)
            await asyncio.sleep(0.25)

    def _budget_spent(self) -> bool:
        return (
            self.report.sent >= self.config.max_requests
            or asyncio.get_running_loop().time() >= self._deadline
        )

    async def _perform(self, index: int, intent: Intent) -> None:
        try:
            if intent.page.channel == "api":
                await self._api(index, intent)
            else:
                await self._web(index, intent)
        except _OutOfBudget:
            self.report.skipped["budget reached"] += 1

    # --- the web: browsers, log-ins and sign-ups -------------------------------------------

    async def _web(self, index: int, intent: Intent) -> None:
        ident, page = intent.identity, intent.page
        if self._expired(page, intent.target):
            self.report.skipped["story expired on the server"] += 1
            return
        if page is p.SIGNUP:
            account = self._next_to_sign_up(index)
            if account is None:
                self.report.skipped["no account left to sign up"] += 1
                return
            self._sign_up_started.add(account)
            browser = self._browser(index, ident, anonymous=True)
            async with browser.lock:
                await self._open_session(index, browser, ident, account)
                self._signed_up[account] = browser
            return
        browser = self._browser(index, ident)
        async with browser.lock:
            if ident.user_id is not None and browser.session is None and not browser.failed:
                if page is p.LOGIN_FORM:
                    await self._login_form(index, browser, ident)
                    return
                if page is p.LOGIN:
                    await self._log_in(index, browser, ident, ident.user_id)
                    return
                await self._open_session(index, browser, ident, ident.user_id)
            elif page in (p.LOGIN_FORM, p.LOGIN):
                self.report.skipped["log-in while logged in"] += 1
                return
            path = self._web_path(page, intent.target)
            await self._send(index, browser, ident, page, path, harvest=intent.harvest)

    def _browser(self, index: int, ident: Identity, *, anonymous: bool = False) -> _Browser:
        if ident.user_id is None or anonymous:
            key: tuple[object, ...] = ("visitor", index, ident.address, ident.fingerprint)
        else:
            key = ("account", index, ident.user_id, ident.session)
        browser = self._browsers.get(key)
        if browser is None:
            signed_up = None if anonymous else self._signed_up.pop(ident.user_id or -1, None)
            browser = signed_up or _Browser(self._client())
            self._browsers[key] = browser
        return browser

    def _next_to_sign_up(self, index: int) -> int | None:
        for account in self.plan.own_accounts.get(index, []):
            if account not in self._sign_up_started:
                return account
        return None

    async def _open_session(
        self, index: int, browser: _Browser, ident: Identity, account: int
    ) -> None:
        """Logs in; an actor's own account is signed up first, once, whichever browser asks."""
        if account in self.plan.seeded_accounts:
            await self._log_in(index, browser, ident, account)
            return
        self._sign_up_started.add(account)
        async with self._account_locks.setdefault(account, asyncio.Lock()):
            if account in self._created:
                await self._log_in(index, browser, ident, account)
            else:
                await self._sign_up(index, browser, ident, account)

    async def _login_form(self, index: int, browser: _Browser, ident: Identity) -> None:
        response = await self._send(index, browser, ident, p.LOGIN_FORM, "/login")
        if response is not None:
            browser.csrf = csrf_token(response.text)

    async def _log_in(self, index: int, browser: _Browser, ident: Identity, account: int) -> None:
        if browser.csrf is None:
            await self._login_form(index, browser, ident)
        username = self.plan.username(account)
        seeded = account in self.plan.seeded_accounts
        password = self.config.password if seeded else own_password(self.config.key, username)
        form = {"csrf_token": browser.csrf or "", "username": username, "password": password}
        response = await self._send(index, browser, ident, p.LOGIN, "/login", data=form)
        browser.csrf = None
        self._opened(browser, response, account)

    async def _sign_up(self, index: int, browser: _Browser, ident: Identity, account: int) -> None:
        form_page = await self._send(index, browser, ident, SIGNUP_FORM, "/signup")
        username = self.plan.username(account)
        form = {
            "csrf_token": "" if form_page is None else csrf_token(form_page.text) or "",
            "username": username,
            "email": f"{username}@example.net",
            "password": own_password(self.config.key, username),
        }
        response = await self._send(index, browser, ident, p.SIGNUP, "/signup", data=form)
        if response is not None and response.status_code == 303:
            self.report.signed_up.append(username)
            self._opened(browser, response, account)
        elif response is not None and response.status_code == 400:
            # taken: an earlier run with the same key signed it up, with the same password
            await self._log_in(index, browser, ident, account)
        else:
            browser.failed = True
        if browser.session is not None:
            self._created.add(account)

    def _opened(self, browser: _Browser, response: httpx.Response | None, account: int) -> None:
        cookie = browser.client.cookies.get(SESSION_COOKIE)
        if response is None or response.status_code != 303 or not cookie:
            browser.failed = True
            return
        browser.session = hashlib.sha256(cookie.encode()).hexdigest()[:16]
        browser.account = self._account_ref(account)

    def _account_ref(self, account: int) -> str:
        if account in self.plan.seeded_accounts:
            return str(account)
        return "@" + self.plan.username(account)

    def _web_path(self, page: Page, target: object) -> str:
        if target is None:
            return page.path()
        text = str(target)
        if page.name in _USERNAME_PAGES:
            text = self._real_usernames.get(text, text)
        return page.path(quote(text, safe=""))

    def _expired(self, page: Page, target: object) -> bool:
        """A story the world thinks live that the server has already let go (its clock is real)."""
        story_id: int | None = None
        if page is p.STORY and isinstance(target, int):
            story_id = target
        elif page is p.MEDIA and isinstance(self.plan.world.media.get(str(target)), Story):
            story_id = self.plan.world.media[str(target)].id
        expiry = None if story_id is None else self.plan.server.story_expiry.get(story_id)
        return expiry is not None and expiry <= time.time()

    # --- the partner API -------------------------------------------------------------------

    async def _api(self, index: int, intent: Intent) -> None:
        ident, page, target = intent.identity, intent.page, intent.target
        credentials = None if ident.app is None else self.credentials.get(ident.app)
        if credentials is None:
            self.report.skipped["no credentials for the partner app"] += 1
            return
        key = ("partner", index, ident.app, ident.session)
        partner = self._partners.get(key)
        if partner is None:
            partner = self._partners[key] = _Partner(self._client(), credentials)
        async with partner.lock:
            if page is p.OAUTH_TOKEN:
                scope = target if isinstance(target, str) else None
                await self._token(index, partner, ident, scope, harvest=intent.harvest)
                return
            if partner.token is None and not partner.failed:
                await self._token(index, partner, ident, None, harvest=False)
            headers = {} if partner.token is None else {"authorization": f"Bearer {partner.token}"}
            if page is p.API_USER_LOOKUP:
                names = [str(name) for name in target] if isinstance(target, tuple) else []
                body = {"usernames": names}
                await self._send(
                    index,
                    partner,
                    ident,
                    page,
                    page.path(),
                    harvest=intent.harvest,
                    headers=headers,
                    json=body,
                )
                return
            path = page.path(quote(str(target), safe=""))
            await self._send(
                index, partner, ident, page, path, harvest=intent.harvest, headers=headers
            )

    async def _token(
        self, index: int, partner: _Partner, ident: Identity, scope: str | None, *, harvest: bool
    ) -> None:
        form = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
        credentials = partner.credentials
        response = await self._send(
            index,
            partner,
            ident,
            p.OAUTH_TOKEN,
            "/oauth/token",
            harvest=harvest,
            data=form,
            auth=(credentials.client_id, credentials.client_secret),
        )
        if response is None:
            return
        if response.status_code == 200:
            token = str(response.json()["access_token"])
            partner.token = token
            partner.session = hashlib.sha256(token.encode()).hexdigest()[:16]
        elif response.status_code == 401:
            partner.failed = True

    # --- sending and recording -------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            transport=self._transport,
            timeout=self.config.timeout,
            follow_redirects=False,
            trust_env=False,
        )

    async def _send(
        self,
        index: int,
        holder: _Browser | _Partner,
        ident: Identity,
        page: Page,
        path: str,
        *,
        harvest: bool = False,
        headers: Mapping[str, str] | None = None,
        **request: Any,
    ) -> httpx.Response | None:
        if self._budget_spent():
            raise _OutOfBudget
        self.report.sent += 1
        await self._rate.wait()
        device, language = self.plan.keys.headers.get(ident.fingerprint, (None, DEFAULT_LANGUAGE))
        request_id = uuid.uuid4().hex
        sent_headers = client_headers(ident.address, ident.ua, language, device)
        sent_headers |= {"x-request-id": request_id, **(headers or {})}
        # what the guard will name, as the request leaves: the cookie or token it carries
        account, session = self._keys_before(holder, page)
        async with self._slots:
            ts = time.time()
            try:
                response = await holder.client.request(
                    page.method, path, headers=sent_headers, **request
                )
            except httpx.HTTPError as error:
                self.report.errors[type(error).__name__] += 1
                return None
        client = self._client_key(holder, page, response.status_code)
        if isinstance(holder, _Partner) and (client is None or page is p.OAUTH_TOKEN):
            session = None
        self._record(index, ident, request_id, ts, account, client, session, language, device)
        self.report.answered += 1
        self.report.by_status[response.status_code] += 1
        self.report.by_actor_class[self.plan.actors[index].actor_class] += 1
        self._answered_by_actor[index] += 1
        if harvest:
            self._first_harvest.setdefault(index, ts)
        return response

    def _keys_before(
        self, holder: _Browser | _Partner, page: Page
    ) -> tuple[str | None, str | None]:
        if isinstance(holder, _Partner):
            return None, holder.session
        if holder.session is None or page.name in _NO_VIEWER:
            return None, None
        return holder.account, holder.session

    def _client_key(self, holder: _Browser | _Partner, page: Page, status: int) -> str | None:
        """The partner app the guard names: once the token endpoint authenticated it (anything
        but 401), or once an API route read a valid token (anything but 401)."""
        if not isinstance(holder, _Partner) or page.route is None or status == 401:
            return None
        if page is not p.OAUTH_TOKEN and holder.token is None:
            return None
        return holder.credentials.client_id

    def _record(
        self,
        index: int,
        ident: Identity,
        request_id: str,
        ts: float,
        account: str | None,
        client: str | None,
        session: str | None,
        language: str,
        device: str | None,
    ) -> None:
        keys = self._address_keys.get(ident.address)
        if keys is None:
            keys = (self._pseudonymiser.ip(ident.address), self._pseudonymiser.net(ident.address))
            self._address_keys[ident.address] = keys
        ua = ident.ua[:UA_MAX_LENGTH]
        fingerprint = self._fingerprints.get((ua, language, device))
        if fingerprint is None:
            fingerprint = guard_fingerprint(ident.ua, language, device, self.config.key)
            self._fingerprints[(ua, language, device)] = fingerprint
        self._rows.append(
            (
                int(ts * 1_000_000),
                request_id,
                index,
                account,
                client,
                session,
                *keys,
                ua,
                fingerprint,
            )
        )

    def _finish(self) -> LiveResult:
        accounts = self._resolve_accounts()
        actor_ids = [actor.actor_id for actor in self.plan.actors]
        columns = list(zip(*self._rows, strict=True)) if self._rows else [()] * 10
        ts, request_ids, actors, account_refs, clients, sessions, ips, nets, uas, prints = columns
        strings = pa.string()
        batch = pa.RecordBatch.from_pydict(
            {
                "ts": pa.array(ts, pa.int64()),
                "actor_account": pa.array([accounts.get(a) for a in account_refs], strings),
                "actor_client": pa.array(clients, strings),
                "session": pa.array(sessions, strings),
                "ip": pa.array(ips, strings),
                "net": pa.array(nets, strings),
                "ua": pa.array(uas, strings),
                "fingerprint": pa.array(prints, strings),
            }
        )
        counter = KeyCounter()
        counter.add(batch, pa.array(actors, pa.int32()))
        records = {}
        for index, actor in enumerate(self.plan.actors):
            first = self._first_harvest.get(index)
            records[actor.actor_id] = ActorRecord(
                actor_id=actor.actor_id,
                actor_class=actor.actor_class,
                adversary=actor.adversary,
                events=self._answered_by_actor[index],
                first_harvest_at=None if first is None else datetime.fromtimestamp(first, UTC),
                parameters=dict(actor.parameters),
            )
        scenario = self.plan.scenario.to_dict() | {
            "mode": "live",
            "base_url": str(self.base_url),
            "speed": self.config.speed,
        }
        truth = GroundTruth(records, counter.records(actor_ids), scenario)
        labels = pa.table(
            {
                "request_id": pa.array(request_ids, strings),
                "actor_id": pa.array([actor_ids[i] for i in actors], strings),
            }
        )
        return LiveResult(self.report, truth, labels)

    def _resolve_accounts(self) -> dict[str | None, str]:
        """Account refs -> the ids the guard records; "@name" refs through ``account_lookup``."""
        refs = {ref for row in self._rows if (ref := row[3]) is not None}
        named = sorted(ref[1:] for ref in refs if ref.startswith("@"))
        found = dict(self.account_lookup(named)) if self.account_lookup and named else {}
        resolved: dict[str | None, str] = {ref: ref for ref in refs if not ref.startswith("@")}
        for name in named:
            if name in found:
                resolved["@" + name] = str(found[name])
        self.report.unresolved_accounts = [name for name in named if name not in found]
        return resolved


def _numbered(index: int, intents: Iterator[Intent]) -> Iterator[tuple[float, int, int, Intent]]:
    """An actor's intents, keyed for merging: ties never compare the intents themselves."""
    for number, intent in enumerate(intents):
        yield intent.ts, index, number, intent


__all__ = [
    "AccountLookup",
    "LiveConfig",
    "LivePlan",
    "LiveReport",
    "LiveResult",
    "LiveRunner",
    "PartnerCredentials",
    "ServerWorld",
    "plan_live",
    "run_live",
]
