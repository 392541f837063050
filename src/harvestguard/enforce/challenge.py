"""The challenge interstitial: what a challenged client sees instead of the page it asked for.

An anonymous client gets a proof-of-work page: a signed challenge bound to its address and device
pseudonyms, and a few lines of JavaScript that search for a counter whose SHA-256 (over
``challenge:counter``) starts with ``bits`` zero bits, then post it back. The server checks the
signature, the age, the binding, the work, and that the challenge was not used before, and answers
with a short-lived signed pass (a cookie) for that address and device. A human's browser pays
a second or two once; a harvester pays it on every address it rotates to.

A logged-in client is asked to log in again instead: the page ends the app's session cookie in the
browser (``session_cookie``) and remembers, in a signed cookie, the session it was shown to; a
request of the same account from a newer session passes.

The guard middleware asks ``admits`` before refusing a challenged request, and sends every
request for ``path`` here, so a solution is accepted even after the challenge itself expired.
"""

from __future__ import annotations

import hashlib
import html
import secrets
import threading
import time
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any, Protocol
from urllib.parse import parse_qs, quote

import redis
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from starlette.types import Receive, Scope, Send

from harvestguard.actor import ActorKeys
from harvestguard.middleware import KEYS_SCOPE_KEY

CHALLENGE_PATH = "/.well-known/harvestguard/challenge"
PASS_COOKIE = "hg_pass"
REAUTH_COOKIE = "hg_reauth"
SOLVE_SECONDS = 300  # how long a challenge may take to solve
_MAX_FORM = 4096


class UsedChallenges(Protocol):
    def first_use(self, nonce: str, ttl: int) -> bool: ...


class MemoryUsedChallenges:
    """Nonces of solved challenges in this process, until they could no longer verify."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._used: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def first_use(self, nonce: str, ttl: int) -> bool:
        now = self._clock()
        with self._lock:
            if len(self._used) > 10_000:
                self._used = {n: t for n, t in self._used.items() if t > now}
            if self._used.get(nonce, 0) > now:
                return False
            self._used[nonce] = now + ttl
            return True


class RedisUsedChallenges:
    """Nonces of solved challenges shared by every instance (SET NX with the time to live);
    while Redis is unreachable, this instance's memory stands in."""

    def __init__(self, url: str) -> None:
        self._client: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0
        )
        self._fallback = MemoryUsedChallenges()

    def first_use(self, nonce: str, ttl: int) -> bool:
        try:
            key = f"harvestguard:challenge:used:{nonce}"
            return bool(self._client.set(key, 1, nx=True, ex=ttl))
        except redis.RedisError:
            return self._fallback.first_use(nonce, ttl)


class Outcome:
    """Why a solution was refused (or ``OK``); the page tells the client only to try again."""

    OK = "ok"
    BAD_SIGNATURE = "bad signature"
    EXPIRED = "expired"
    OTHER_CLIENT = "issued to another client"
    NOT_SOLVED = "not enough work"
    REPLAYED = "already used"


class ChallengeApp:
    """An ASGI app to pass as ``GuardMiddleware(challenge=...)``."""

    path = CHALLENGE_PATH

    def __init__(
        self,
        secret: bytes,
        *,
        bits: int = 16,
        pass_seconds: int = 900,
        login_url: str = "/login",
        session_cookie: str | None = None,
        used: UsedChallenges | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the challenge secret needs at least 16 bytes")
        self.bits = bits
        self.pass_seconds = pass_seconds
        self.login_url = login_url
        self.session_cookie = session_cookie
        self._clock = clock
        self._used = used or MemoryUsedChallenges(clock)
        self._challenges = _serializer(secret, "hg-challenge", clock)
        self._passes = _serializer(secret, "hg-pass", clock)
        self._reauth = _serializer(secret, "hg-reauth", clock)
        self.results: dict[str, int] = {}  # verification outcome -> count

    # what the middleware asks

    def admits(self, scope: Scope, keys: ActorKeys, *, identity: bool) -> bool:
        """Whether the request carries what clears its challenge: a pass for its address and
        device, or (``identity``: its account itself is challenged) a login newer than the page."""
        cookies = _cookies(scope)
        if identity:
            data = self._load(self._reauth, cookies.get(REAUTH_COOKIE), self.pass_seconds)
            return (
                isinstance(data, dict)
                and keys.account is not None
                and data.get("a") == keys.account
                and data.get("s") != keys.session
            )
        data = self._load(self._passes, cookies.get(PASS_COOKIE), self.pass_seconds)
        return isinstance(data, dict) and data.get("c") == _client(keys)

    # the challenge itself

    def issue(self, keys: ActorKeys) -> str:
        """A challenge bound to the client's address and device pseudonyms."""
        payload = {"c": _client(keys), "n": secrets.token_urlsafe(12), "b": self.bits}
        token: str = self._challenges.dumps(payload)
        return token

    def verify(self, token: str, counter: str, keys: ActorKeys) -> str:
        data = self._load(self._challenges, token, SOLVE_SECONDS)
        if data is _EXPIRED:
            return Outcome.EXPIRED
        if not isinstance(data, dict):
            return Outcome.BAD_SIGNATURE
        if data.get("c") != _client(keys):
            return Outcome.OTHER_CLIENT
        if len(counter) > 32 or not counter.isdigit():
            return Outcome.NOT_SOLVED
        if leading_zero_bits(hashlib.sha256(f"{token}:{counter}".encode()).digest()) < int(
            data.get("b", self.bits)
        ):
            return Outcome.NOT_SOLVED
        if not self._used.first_use(str(data.get("n")), SOLVE_SECONDS):
            return Outcome.REPLAYED
        return Outcome.OK

    def grant(self, keys: ActorKeys) -> str:
        token: str = self._passes.dumps({"c": _client(keys)})
        return token

    # ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        keys: ActorKeys = scope.get(KEYS_SCOPE_KEY) or ActorKeys()
        if scope["path"] == self.path and scope["method"] == "POST":
            await self._answer(scope, receive, send, keys)
            return
        target = _target(scope)
        if keys.account is not None:
            reauth = self._reauth.dumps({"a": keys.account, "s": keys.session})
            cookies = [_cookie(REAUTH_COOKIE, reauth, self.pass_seconds, scope)]
            if self.session_cookie:
                cookies.append(_cookie(self.session_cookie, "", 0, scope))
            login = f"{self.login_url}?next={quote(target, safe='/')}"
            await _page(send, 403, _LOGIN_PAGE.format(login=html.escape(login)), cookies)
            return
        body = _POW_PAGE.format(
            token=html.escape(self.issue(keys)),
            bits=self.bits,
            action=html.escape(self.path),
            next=html.escape(target),
            script=_SCRIPT,
        )
        await _page(send, 403, body)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, keys: ActorKeys) -> None:
        form = await _form(receive)
        result = self.verify(form.get("token", ""), form.get("counter", ""), keys)
        self.results[result] = self.results.get(result, 0) + 1
        if result != Outcome.OK:
            await _page(send, 403, _FAILED_PAGE.format(next=html.escape(_safe_next(form))))
            return
        cookie = _cookie(PASS_COOKIE, self.grant(keys), self.pass_seconds, scope)
        headers = [(b"location", _safe_next(form).encode()), cookie, (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def _load(self, serializer: URLSafeTimedSerializer, value: str | None, max_age: int) -> Any:
        if not value:
            return None
        try:
            return serializer.loads(value, max_age=max_age)
        except SignatureExpired:
            return _EXPIRED
        except BadSignature:
            return None


_EXPIRED = object()


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def solve(token: str, bits: int) -> str:
    """What the page's script does, in Python: for tests and for API clients that are not bots."""
    counter = 0
    while leading_zero_bits(hashlib.sha256(f"{token}:{counter}".encode()).digest()) < bits:
        counter += 1
    return str(counter)


def _serializer(secret: bytes, salt: str, clock: Callable[[], float]) -> URLSafeTimedSerializer:
    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    return URLSafeTimedSerializer(secret, salt=salt, signer=ClockSigner)


def _client(keys: ActorKeys) -> str:
    material = f"{keys.ip or ''}|{keys.fingerprint or ''}"
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _cookies(scope: Scope) -> dict[str, str]:
    for name, value in scope["headers"]:
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:
                return {}
            return {key: morsel.value for key, morsel in jar.items()}
    return {}


def _cookie(name: str, value: str, max_age: int, scope: Scope) -> tuple[bytes, bytes]:
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    text = f"{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}"
    return (b"set-cookie", text.encode())


def _target(scope: Scope) -> str:
    path: str = scope.get("root_path", "") + scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def _safe_next(form: dict[str, str]) -> str:
    target = form.get("next", "/")
    # a local path only: never an open redirect
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def _form(receive: Receive) -> dict[str, str]:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > _MAX_FORM or not message.get("more_body"):
            break
    fields = parse_qs(body[:_MAX_FORM].decode("latin-1"))
    return {name: values[0] for name, values in fields.items()}


async def _page(
    send: Send, status: int, body_text: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = body_text.encode()
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# the page's work: the same search as ``solve``, with the browser's SHA-256
_SCRIPT = """
(async () => {
  const form = document.getElementById("hg-challenge");
  const token = form.token.value, bits = Number(form.dataset.bits), text = new TextEncoder();
  const zeros = (h) => { let n = 0; for (const b of h) { if (b === 0) { n += 8; continue; }
    return n + Math.clz32(b) - 24; } return n; };
  for (let counter = 0; ; counter++) {
    const digest = await crypto.subtle.digest("SHA-256", text.encode(token + ":" + counter));
    if (zeros(new Uint8Array(digest)) >= bits) { form.counter.value = counter; form.submit(); return; }
  }
})();
"""

_POW_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>One moment</title>
<meta name="robots" content="noindex"></head>
<body><main><h1>Checking your browser</h1>
<p>This takes a second or two. The page you asked for opens by itself.</p>
<form id="hg-challenge" method="post" action="{action}" data-bits="{bits}">
<input type="hidden" name="token" value="{token}">
<input type="hidden" name="counter" value="">
<input type="hidden" name="next" value="{next}">
<noscript><p>Please turn on JavaScript to continue.</p></noscript>
</form></main>
<script>{script}</script></body></html>
"""

_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Please log in again</title>
<meta name="robots" content="noindex"></head>
<body><main><h1>Please log in again</h1>
<p>We noticed unusual activity on your account. To keep it safe, please log in again.</p>
<p><a href="{login}">Log in again</a></p></main></body></html>
"""

_FAILED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Please try again</title></head>
<body><main><h1>That did not work</h1>
<p><a href="{next}">Try again</a></p></main></body></html>
"""
