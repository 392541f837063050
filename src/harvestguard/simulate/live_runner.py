"""The live runner: intents become the requests a real client would send.

Pages go with the client's own cookies (one ``httpx.AsyncClient`` per browser, all on one
loopback connection pool), log-ins through the real form with its CSRF token, sign-ups for the
accounts actors create, story uploads through the upload form as their owners, client-credentials
tokens for partner apps and Bearer calls to the API. The runner plays the reverse proxy: the
client's address goes in ``X-Forwarded-For``, the request id in ``X-Request-ID`` (the server must
trust 127.0.0.1 as a proxy). Virtual time runs ``speed`` times faster than real time, within hard
caps on real duration, requests, concurrency and rate.

Objects the world plans during the run (stories) get the server's ids when they are posted: the
upload's redirect names the story, the story page its photo; requests for them wait until then.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import io
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from PIL import Image

from harvestguard.events import Resource
from harvestguard.simulate import intents as p
from harvestguard.simulate.intents import Identity, Intent, Page
from harvestguard.simulate.live_http import (
    DEFAULT_LANGUAGE,
    LoopbackTransport,
    RateLimiter,
    client_headers,
    csrf_token,
    require_loopback,
)
from harvestguard.simulate.live_report import AccountLookup, LiveReport, LiveResult, TruthRecorder
from harvestguard.simulate.live_world import (
    PLANNED_MEDIA,
    LiveConfig,
    LivePlan,
    PartnerCredentials,
    match_credentials,
    own_password,
)
from harvestguard.simulate.world import Story

SESSION_COOKIE = "ps_session"
SIGNUP_FORM = Page("signup_form", "GET", "/signup", Resource.OTHER.value)
STORY_FORM = Page("story_form", "GET", "/new/story", Resource.OTHER.value)
# web pages whose handler never looks at the session cookie: the guard records no account
_NO_VIEWER = frozenset({"login", "signup", "robots"})
_USERNAME_PAGES = frozenset({"profile", "followers", "following", "user_stories", "follow"})
_STORY_LOCATION = re.compile(r"^/stories/([0-9]+)$")
_STORY_PHOTO = re.compile(r'<img src="/media/([^"/]+)"')

Progress = Callable[[LiveReport], None]


class _OutOfBudget(Exception):
    """The request cap or the deadline is reached: nothing more is sent."""


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
        self._browsers: dict[tuple[object, ...], _Browser] = {}
        self._partners: dict[tuple[object, ...], _Partner] = {}
        self._signed_up: dict[int, _Browser] = {}  # own account -> the browser that signed up
        self._sign_up_started: set[int] = set()
        self._created: set[int] = set()  # own accounts that exist on the server now
        self._account_locks: dict[int, asyncio.Lock] = {}
        self._real_usernames = {
            plan.world.users[uid].username: name for uid, name in plan.usernames.items()
        }
        self.truth = TruthRecorder(plan, config.key)
        # planned stories as the server knows them, once posted: ids, and photos' media keys
        self._story_ids: dict[int, int] = {}
        self._photo_keys: dict[str, str] = {}
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
        if self._expired(page, intent.target, intent.ts):
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
            if page is p.STORY_UPLOAD:
                await self._post_story(index, browser, ident, intent.target)
                return
            path = self._web_path(page, intent.target)
            if path is None:
                self.report.skipped["story not posted on the server"] += 1
                return
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
        if account in self.plan.seeded_accounts or account in self.plan.registered:
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

    def _web_path(self, page: Page, target: object) -> str | None:
        """The path for a page and its target; None for a planned story not posted yet."""
        if target is None:
            return page.path()
        text = str(target)
        if page.name in _USERNAME_PAGES:
            text = self._real_usernames.get(text, text)
        elif page is p.STORY and target in self.plan.planned_stories:
            posted = self._story_ids.get(int(str(target)))
            if posted is None:
                return None
            text = str(posted)
        elif page is p.MEDIA and text.startswith(PLANNED_MEDIA):
            text = self._photo_keys.get(text, "")
            if not text:
                return None
        return page.path(quote(text, safe=""))

    def _expired(self, page: Page, target: object, at: float) -> bool:
        """A story the world thinks live that the server has already let go. The server's
        clock is real time or the simulation's (faster): the later of the two is taken."""
        story_id: int | None = None
        if page is p.STORY and isinstance(target, int):
            story_id = target
        elif page is p.MEDIA and isinstance(self.plan.world.media.get(str(target)), Story):
            story_id = self.plan.world.media[str(target)].id
        expiry = None if story_id is None else self.plan.server.story_expiry.get(story_id)
        return expiry is not None and expiry <= max(at, time.time())

    async def _post_story(
        self, index: int, browser: _Browser, ident: Identity, target: object
    ) -> None:
        """Posts a planned story from the upload form, as its owner, then opens it (the
        redirect a browser follows): the server's story id and photo key, from then on."""
        story = self.plan.planned_stories.get(int(str(target)))
        if story is None or browser.session is None:
            self.report.skipped["story upload without its owner logged in"] += 1
            return
        form = await self._send(index, browser, ident, STORY_FORM, "/new/story")
        fields = {
            "csrf_token": "" if form is None else csrf_token(form.text) or "",
            "venue_id": "" if story.venue_id is None else str(story.venue_id),
        }
        photo = {"image": ("story.jpg", _photo(story.id), "image/jpeg")}
        response = await self._send(
            index, browser, ident, p.STORY_UPLOAD, "/new/story", data=fields, files=photo
        )
        location = None if response is None else response.headers.get("location", "")
        found = None if location is None else _STORY_LOCATION.match(location)
        if response is None or response.status_code != 303 or found is None:
            self.report.skipped["story upload refused"] += 1
            return
        self._story_ids[story.id] = int(found.group(1))
        page = await self._send(index, browser, ident, p.STORY, found.group(0))
        photo_key = None if page is None else _STORY_PHOTO.search(page.text)
        if photo_key is not None:
            self._photo_keys[story.media_key] = photo_key.group(1)

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
        self.truth.record(
            index,
            ident,
            request_id,
            ts,
            account,
            client,
            session,
            language,
            device,
            harvest=harvest,
        )
        self.report.answered += 1
        self.report.by_status[response.status_code] += 1
        self.report.by_actor_class[self.plan.actors[index].actor_class] += 1
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

    def _finish(self) -> LiveResult:
        scenario = self.plan.scenario.to_dict() | {
            "mode": "live",
            "base_url": str(self.base_url),
            "speed": self.config.speed,
        }
        return self.truth.finish(self.report, scenario, self.account_lookup)


def _numbered(index: int, intents: Iterator[Intent]) -> Iterator[tuple[float, int, int, Intent]]:
    """An actor's intents, keyed for merging: ties never compare the intents themselves."""
    for number, intent in enumerate(intents):
        yield intent.ts, index, number, intent


def _photo(seed: int) -> bytes:
    """A small photo of one colour wash per story: what a phone would upload, made here (Pillow
    is already photoshare's dependency) rather than read from files that would ship with it."""
    rng = random.Random(seed)
    start = tuple(rng.randrange(256) for _ in range(3))
    end = tuple(rng.randrange(256) for _ in range(3))
    mask = Image.linear_gradient("L").resize((320, 320))
    image = Image.composite(
        Image.new("RGB", (320, 320), start), Image.new("RGB", (320, 320), end), mask
    )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()
