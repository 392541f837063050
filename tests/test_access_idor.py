"""IDOR: no account or partner app reaches another's private objects by guessing ids.

The routes come from the app itself (its router tree and its OpenAPI document): every route that
names an object in its path has a case in ``CASES`` below or a reason in ``PUBLIC``, and every
other route a reason in ``SELF`` or ``PUBLIC``, so a new route fails ``test_every_route_is_
classified`` until somebody decides how it must treat other people's ids.

Each case attacks as ``mallory``, a logged-in business account that follows nobody, or as her
partner app, against the objects of ``alice`` (private, with a follower and a pending request)
and of ``bob`` (public, who authorised another app). An object she may not see must be answered
exactly like one that does not exist (same status, same body: no existence oracle), must not
show up in her responses, and must be left as it was by her form posts. Every case also checks
that the rightful viewer does get the object, so that a case which could never fail is caught.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute, Mount, Route

from photoshare import accounts
from photoshare.app import create_app
from photoshare.db import utcnow
from photoshare.deps import SESSION_COOKIE
from photoshare.models import (
    Comment,
    Follow,
    FollowStatus,
    Like,
    PartnerApp,
    PartnerAuthorisation,
    PartnerToken,
    Post,
    Story,
    User,
    WebSession,
)
from photoshare.partners import SCOPES
from photoshare.security import new_token, token_hash
from photoshare.serialize import media_url
from photoshare.settings import Settings
from tests.factories import World
from tests.partner_helpers import Partner, bearer

MISSING_ID = 999_999
MISSING_KEY = "0" * 32


# ---------------------------------------------------------------------------------------------
# The app's routes, read from the app itself


def _walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path template) of every route, through included routers and mounts."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:  # FastAPI keeps included routers as branches of the tree
            context = getattr(route, "include_context", None)
            yield from _walk(original.routes, prefix + getattr(context, "prefix", ""))
        elif isinstance(route, APIRoute | Route):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    yield method, prefix + route.path_format
        elif isinstance(route, Mount):
            yield "GET", prefix + route.path_format


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every route the app answers, from its router tree and from its OpenAPI document."""
    found = set(_walk(app.routes))
    for path, operations in app.openapi()["paths"].items():
        found.update((method.upper(), path) for method in operations)
    return found


def has_path_parameter(path: str) -> bool:
    return "{" in path


# ---------------------------------------------------------------------------------------------
# Routes that need no IDOR case, and why


PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/static/{path}"): "the platform's own CSS and scripts, nobody's data",
    ("GET", "/openapi.json"): "the API description, nobody's data",
    ("GET", "/docs"): "the API explorer page, nobody's data",
    ("GET", "/docs/oauth2-redirect"): "the API explorer's OAuth helper, nobody's data",
    ("GET", "/redoc"): "the API reference page, nobody's data",
    ("GET", "/robots.txt"): "crawler rules, nobody's data",
    ("GET", "/signup"): "the sign-up form",
    ("POST", "/signup"): "creates a new account; names no existing object",
    ("GET", "/login"): "the log-in form",
    ("POST", "/login"): "authenticates by password; names no object",
    ("POST", "/logout"): "ends the caller's own session only",
    ("POST", "/oauth/token"): "client credentials: the app authenticates itself (tests/test_oauth)",
    (
        "GET",
        "/search",
    ): "profiles through the policy; every result is checked by test_policy_routes",
    ("GET", "/search/locations"): "venues are public places owned by nobody",
    ("GET", "/api/v1/locations/{venue_id}"): "a venue is a public place owned by nobody "
    "(policy: owner none); its posts are the case of /api/v1/locations/{venue_id}/media",
}

# Routes without ids that answer with the caller's own data: which objects they return is
# decided by who is asking, and test_access_partner checks the ones that list others' objects.
SELF: dict[tuple[str, str], str] = {
    ("GET", "/"): "the caller's feed: accounts the caller follows",
    ("GET", "/settings"): "the caller's own profile",
    ("POST", "/settings"): "changes the caller's own profile",
    ("GET", "/settings/apps"): "the app directory and the caller's own authorisations",
    ("POST", "/settings/avatar"): "changes the caller's own avatar",
    ("POST", "/settings/delete-account"): "deletes the caller's own account (password again)",
    ("GET", "/requests"): "follow requests to the caller only",
    ("GET", "/new/post"): "the caller's upload form",
    ("POST", "/new/post"): "a post owned by the caller",
    ("GET", "/new/story"): "the caller's upload form",
    ("POST", "/new/story"): "a story owned by the caller",
    ("GET", "/api/v1/me"): "the calling app itself",
    ("GET", "/api/v1/users/search"): "accounts that authorised the calling app",
    ("POST", "/api/v1/users/lookup"): "accounts that authorised the calling app",
    ("GET", "/api/v1/compliance"): "tombstones addressed to the calling app or to every app",
}


# ---------------------------------------------------------------------------------------------
# The world every case attacks


@dataclass
class Scene:
    app: FastAPI
    db: Session
    users: dict[str, User]
    alice_post: Post
    alice_story: Story
    alice_expired: Story
    bob_post: Post
    bob_story: Story
    pete_request: Follow
    venue_id: int
    apps: dict[str, Partner]  # "bob_app" (authorised by bob), "mallory_app" (by mallory)
    client: TestClient  # one client for every identity: each request names its own
    sessions: dict[str, tuple[str, str]] = field(default_factory=dict)  # cookie, CSRF token

    def _session(self, name: str) -> tuple[str, str]:
        """The session cookie and CSRF token of ``name`` ("anonymous": none), made once."""
        if name not in self.sessions:
            user = self.users.get(name)
            if user is None:
                self.sessions[name] = ("", "")
            else:
                token = accounts.start_session(self.db, user, timedelta(hours=1))
                row = self.db.scalars(
                    select(WebSession).where(WebSession.token_hash == token_hash(token))
                ).one()
                self.sessions[name] = (f"{SESSION_COOKIE}={token}", row.csrf_token)
        return self.sessions[name]

    def _headers(self, name: str) -> dict[str, str]:
        cookie, _ = self._session(name)
        return {"Cookie": cookie} if cookie else {}

    def get(self, name: str, url: str) -> Response:
        return self.client.get(url, headers=self._headers(name))

    def post(self, name: str, url: str, **data: str) -> Response:
        form = {"csrf_token": self._session(name)[1], **data}
        return self.client.post(url, data=form, headers=self._headers(name), follow_redirects=False)

    def api(self, app_name: str, url: str) -> Response:
        return self.client.get(url, headers=self.apps[app_name].headers)

    def count(self, model: type[Any], *conditions: Any) -> int:
        self.db.expire_all()
        return int(self.db.scalar(select(func.count()).select_from(model).where(*conditions)) or 0)


def quick_partner(world: World, name: str, *, authorised_by: list[User]) -> Partner:
    """An app holding every scope and a live bearer token, written straight to the database:
    the token endpoint's argon2 checks cost seconds per app (tests/test_oauth covers them)."""
    app = PartnerApp(
        client_id=new_token()[:24],
        client_secret_hash="not used: tokens are issued below",
        name=name,
        purpose="tests",
        contact_email="legal@example.org",
        scopes=" ".join(sorted(SCOPES)),
    )
    world.db.add(app)
    world.db.commit()
    for user in authorised_by:
        world.authorise(app, user)
    token = new_token()
    world.db.add(
        PartnerToken(
            app_id=app.id,
            token_hash=token_hash(token),
            scopes=app.scopes,
            expires_at=utcnow() + timedelta(hours=1),
        )
    )
    world.db.commit()
    return Partner(app, "", bearer(token))


SECRET_CAPTION = "alice-private-caption-5c1e"
SECRET_COMMENT = "fred-comment-in-private-9d2a"
PUBLIC_CAPTION = "bob-public-caption-77af"


def _build(world: World) -> dict[str, Any]:
    """The world every case starts from; returns the ids and tokens a case needs."""
    names = ("alice", "fred", "pete", "gina", "bob", "mallory")
    users = {
        name: world.user(
            name,
            private=name == "alice",
            business=name in ("bob", "mallory"),
            email=f"{name}-mail-3e1@example.org",
        )
        for name in names
    }
    alice, fred, pete, gina, bob, mallory = (users[name] for name in names)
    venue = world.venue("Hotel Idorhof", "Idorburg")
    alice_post = world.post(alice, caption=SECRET_CAPTION, venue=venue)
    bob_post = world.post(bob, caption=PUBLIC_CAPTION, venue=venue)
    stories = {
        "alice_story": world.story(alice, venue=venue),
        "alice_expired": world.story(alice, venue=venue, age=timedelta(hours=30)),
        "bob_story": world.story(bob, venue=venue),
    }
    world.follow(fred, alice)
    world.follow(alice, gina)
    pete_request = world.follow(pete, alice, approved=False)
    world.db.add(Comment(post_id=alice_post.id, author_id=fred.id, text=SECRET_COMMENT))
    world.db.add(Like(post_id=alice_post.id, user_id=fred.id))
    world.db.commit()
    apps = {
        "bob_app": quick_partner(world, "Bob Analytics", authorised_by=[bob]),
        "mallory_app": quick_partner(world, "Harvest", authorised_by=[mallory]),
    }
    return {
        "users": {name: user.id for name, user in users.items()},
        "posts": {"alice_post": alice_post.id, "bob_post": bob_post.id},
        "stories": {name: story.id for name, story in stories.items()},
        "pete_request": pete_request.id,
        "venue_id": venue.id,
        "apps": {name: (made.app.id, made.headers) for name, made in apps.items()},
    }


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The world, built once (argon2 and migrations cost seconds); each case gets a copy."""
    data_dir = tmp_path_factory.mktemp("idor") / "photoshare"
    app = create_app(Settings(data_dir=data_dir, secret_key="test-secret", guard=False))
    with app.state.sessionmaker() as db:
        ids = _build(World(db=db, media_dir=app.state.settings.media_dir))
    app.state.engine.dispose()
    return data_dir, ids


@pytest.fixture
def scene(tmp_path: Path, template: tuple[Path, dict[str, Any]]) -> Iterator[Scene]:
    source, ids = template
    data_dir = tmp_path / "photoshare"
    shutil.copytree(source, data_dir)
    # the real middleware (and its limits) in front, as in production
    app = create_app(Settings(data_dir=data_dir, secret_key="test-secret"))
    with ExitStack() as stack:
        client = stack.enter_context(TestClient(app, base_url="https://testserver"))
        db = stack.enter_context(app.state.sessionmaker())
        made = Scene(
            app=app,
            db=db,
            users={name: db.get_one(User, user_id) for name, user_id in ids["users"].items()},
            alice_post=db.get_one(Post, ids["posts"]["alice_post"]),
            alice_story=db.get_one(Story, ids["stories"]["alice_story"]),
            alice_expired=db.get_one(Story, ids["stories"]["alice_expired"]),
            bob_post=db.get_one(Post, ids["posts"]["bob_post"]),
            bob_story=db.get_one(Story, ids["stories"]["bob_story"]),
            pete_request=db.get_one(Follow, ids["pete_request"]),
            venue_id=ids["venue_id"],
            apps={
                name: Partner(db.get_one(PartnerApp, app_id), "", headers)
                for name, (app_id, headers) in ids["apps"].items()
            },
            client=client,
        )
        yield made


def assert_like_missing(hidden: Response, missing: Response, what: str) -> None:
    """A hidden object is answered exactly like one that does not exist."""
    assert hidden.status_code == missing.status_code, what
    assert hidden.status_code in (303, 401, 404), f"{what}: {hidden.status_code}"
    assert hidden.content == missing.content, f"{what}: the answer tells hidden from missing"


def assert_none_in(response: Response, *secrets: str | None) -> None:
    body = response.content.decode("utf-8", errors="replace")
    for secret in secrets:
        assert secret and secret not in body, f"{response.request.url} shows {secret!r}"


def media_key(obj: Post | Story) -> str:
    url = media_url(obj.media)
    assert url is not None
    return url.removeprefix("/media/")


# ---------------------------------------------------------------------------------------------
# The cases: one per route that names an object in its path

Case = Callable[[Scene], None]
CASES: dict[tuple[str, str], Case] = {}


def case(method: str, path: str) -> Callable[[Case], Case]:
    def register(check: Case) -> Case:
        assert (method, path) not in CASES, f"two cases for {method} {path}"
        CASES[(method, path)] = check
        return check

    return register


@case("GET", "/p/{post_id}")
def _post_page(s: Scene) -> None:
    for attacker in ("mallory", "pete", "anonymous"):
        hidden = s.get(attacker, f"/p/{s.alice_post.id}")
        assert_like_missing(hidden, s.get(attacker, f"/p/{MISSING_ID}"), f"{attacker} post")
        assert_none_in(hidden, SECRET_CAPTION, SECRET_COMMENT)
    shown = s.get("fred", f"/p/{s.alice_post.id}")
    assert shown.status_code == 200 and SECRET_CAPTION in shown.text
    assert SECRET_COMMENT in shown.text


@case("GET", "/stories/{story_id}")
def _story_page(s: Scene) -> None:
    live, expired = s.alice_story.id, s.alice_expired.id
    for attacker in ("mallory", "pete", "anonymous"):
        missing = s.get(attacker, f"/stories/{MISSING_ID}")
        for story_id in (live, expired):
            hidden = s.get(attacker, f"/stories/{story_id}")
            assert_like_missing(hidden, missing, f"{attacker} story {story_id}")
            assert_none_in(hidden, media_key(s.alice_story), media_key(s.alice_expired))
    # an expired story is gone for everyone, its owner and her followers included
    for viewer in ("alice", "fred"):
        gone = s.get(viewer, f"/stories/{expired}")
        assert_like_missing(gone, s.get(viewer, f"/stories/{MISSING_ID}"), f"{viewer} expired")
    shown = s.get("fred", f"/stories/{live}")
    assert shown.status_code == 200 and media_key(s.alice_story) in shown.text


@case("GET", "/media/{key}")
def _media(s: Scene) -> None:
    keys = [media_key(obj) for obj in (s.alice_post, s.alice_story, s.alice_expired)]
    for attacker in ("mallory", "pete", "anonymous"):
        missing = s.get(attacker, f"/media/{MISSING_KEY}")
        assert missing.status_code == 404
        for key in keys:
            assert_like_missing(s.get(attacker, f"/media/{key}"), missing, f"{attacker} {key}")
    expired_key = media_key(s.alice_expired)
    owner_missing = s.get("alice", f"/media/{MISSING_KEY}")
    assert_like_missing(s.get("alice", f"/media/{expired_key}"), owner_missing, "owner expired")
    for key in keys[:2]:
        shown = s.get("fred", f"/media/{key}")
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    # a partner token opens no browser session: to an app, alice's images are not there either
    partner_missing = s.api("bob_app", f"/media/{MISSING_KEY}")
    for key in keys:
        assert_like_missing(s.api("bob_app", f"/media/{key}"), partner_missing, "app")


@case("GET", "/u/{username}")
def _profile(s: Scene) -> None:
    for attacker in ("mallory", "pete", "anonymous"):
        page = s.get(attacker, "/u/alice")
        assert page.status_code == 200 and "This account is private" in page.text
        assert_none_in(page, SECRET_CAPTION, media_key(s.alice_post), "alice-mail-3e1@example.org")
    shown = s.get("fred", "/u/alice")
    assert media_key(s.alice_post) in shown.text


@case("GET", "/u/{username}/followers")
def _followers(s: Scene) -> None:
    for attacker in ("mallory", "pete", "anonymous"):
        assert_none_in(s.get(attacker, "/u/alice/followers"), "/u/fred")
    assert "/u/fred" in s.get("alice", "/u/alice/followers").text
    assert "/u/fred" in s.get("fred", "/u/alice/followers").text
    # a pending request is nobody's follower yet, not even on the owner's own list
    assert "/u/pete" not in s.get("alice", "/u/alice/followers").text


@case("GET", "/u/{username}/following")
def _following(s: Scene) -> None:
    for attacker in ("mallory", "pete", "anonymous"):
        assert_none_in(s.get(attacker, "/u/alice/following"), "/u/gina")
    assert "/u/gina" in s.get("fred", "/u/alice/following").text


@case("GET", "/u/{username}/stories")
def _user_stories(s: Scene) -> None:
    keys = (media_key(s.alice_story), media_key(s.alice_expired))
    for attacker in ("mallory", "pete", "anonymous"):
        assert_none_in(s.get(attacker, "/u/alice/stories"), *keys)
    for viewer in ("fred", "alice"):
        page = s.get(viewer, "/u/alice/stories")
        assert keys[0] in page.text
        assert_none_in(page, keys[1])  # expired: gone for the owner too


@case("GET", "/explore/locations/{venue_id}")
def _location(s: Scene) -> None:
    url = f"/explore/locations/{s.venue_id}"
    for viewer in ("mallory", "pete", "fred"):
        page = s.get(viewer, url)
        assert page.status_code == 200 and PUBLIC_CAPTION in page.text
        assert_none_in(page, SECRET_CAPTION, media_key(s.alice_story), media_key(s.alice_post))
    anonymous = s.get("anonymous", url)
    missing = s.get("anonymous", f"/explore/locations/{MISSING_ID}")
    assert anonymous.status_code == 401 and anonymous.content == missing.content.replace(
        str(MISSING_ID).encode(), str(s.venue_id).encode()
    )


@case("POST", "/u/{username}/follow")
def _follow(s: Scene) -> None:
    mallory = s.users["mallory"]
    assert s.post("mallory", "/u/alice/follow").status_code == 303
    status = s.db.scalar(select(Follow.status).where(Follow.follower_id == mallory.id))
    assert status == FollowStatus.PENDING  # a private account approves its followers itself
    hidden = s.get("mallory", f"/p/{s.alice_post.id}")
    assert_like_missing(hidden, s.get("mallory", f"/p/{MISSING_ID}"), "pending follower")
    # asking again cannot turn the request into a follow
    assert s.post("mallory", "/u/alice/follow").status_code == 303
    assert (
        s.count(Follow, Follow.follower_id == mallory.id, Follow.status == FollowStatus.APPROVED)
        == 0
    )


@case("POST", "/u/{username}/unfollow")
def _unfollow(s: Scene) -> None:
    before = s.count(Follow)
    # unfollowing acts on the caller's own follow only: fred's follow of alice stays
    assert s.post("mallory", "/u/alice/unfollow").status_code == 303
    assert s.post("mallory", "/u/gina/unfollow").status_code == 303
    assert s.count(Follow) == before
    assert s.post("fred", "/u/alice/unfollow").status_code == 303
    assert s.count(Follow) == before - 1


def _request_form(s: Scene, action: str) -> None:
    mallory = s.users["mallory"]
    s.post("mallory", "/u/alice/follow")
    own_request = s.db.scalar(select(Follow.id).where(Follow.follower_id == mallory.id))
    assert own_request is not None
    missing = s.post("mallory", f"/requests/{MISSING_ID}/{action}")
    for follow_id in (s.pete_request.id, own_request):
        hidden = s.post("mallory", f"/requests/{follow_id}/{action}")
        assert_like_missing(hidden, missing, f"{action} request {follow_id}")
    for requester in ("pete", "mallory"):  # not even her own request to alice
        hidden = s.post(requester, f"/requests/{own_request}/{action}")
        assert hidden.status_code == 404
    assert (
        s.count(
            Follow, Follow.followee_id == s.users["alice"].id, Follow.status == FollowStatus.PENDING
        )
        == 2
    )
    assert s.post("alice", f"/requests/{s.pete_request.id}/{action}").status_code == 303
    assert (
        s.count(
            Follow, Follow.followee_id == s.users["alice"].id, Follow.status == FollowStatus.PENDING
        )
        == 1
    )


@case("POST", "/requests/{follow_id}/approve")
def _approve(s: Scene) -> None:
    _request_form(s, "approve")


@case("POST", "/requests/{follow_id}/reject")
def _reject(s: Scene) -> None:
    _request_form(s, "reject")


@case("POST", "/p/{post_id}/like")
def _like(s: Scene) -> None:
    missing = s.post("mallory", f"/p/{MISSING_ID}/like")
    hidden = s.post("mallory", f"/p/{s.alice_post.id}/like")
    assert_like_missing(hidden, missing, "like")
    assert s.count(Like, Like.user_id == s.users["mallory"].id) == 0
    assert s.post("fred", f"/p/{s.alice_post.id}/like").status_code == 303


@case("POST", "/p/{post_id}/unlike")
def _unlike(s: Scene) -> None:
    hidden = s.post("mallory", f"/p/{s.alice_post.id}/unlike")
    missing = s.post("mallory", f"/p/{MISSING_ID}/unlike")
    assert (hidden.status_code, missing.status_code) == (303, 303)
    assert hidden.content == missing.content  # a redirect to the post, whatever it is
    assert s.count(Like, Like.post_id == s.alice_post.id) == 1  # fred's like is fred's
    assert s.post("fred", f"/p/{s.alice_post.id}/unlike").status_code == 303
    assert s.count(Like, Like.post_id == s.alice_post.id) == 0


@case("POST", "/p/{post_id}/comments")
def _comment(s: Scene) -> None:
    missing = s.post("mallory", f"/p/{MISSING_ID}/comments", text="hello")
    hidden = s.post("mallory", f"/p/{s.alice_post.id}/comments", text="hello")
    assert_like_missing(hidden, missing, "comment")
    assert s.count(Comment, Comment.author_id == s.users["mallory"].id) == 0
    assert s.post("fred", f"/p/{s.alice_post.id}/comments", text="hi").status_code == 303


@case("POST", "/p/{post_id}/delete")
def _delete_post(s: Scene) -> None:
    for post in (s.alice_post, s.bob_post):  # hidden from her, and visible to her
        for attacker in ("mallory", "fred"):
            gone = s.post(attacker, f"/p/{MISSING_ID}/delete")
            assert_like_missing(s.post(attacker, f"/p/{post.id}/delete"), gone, "delete post")
    assert s.count(Post) == 2
    assert s.post("bob", f"/p/{s.bob_post.id}/delete").status_code == 303
    assert s.count(Post) == 1


@case("POST", "/stories/{story_id}/delete")
def _delete_story(s: Scene) -> None:
    for story in (s.alice_story, s.alice_expired, s.bob_story):
        for attacker in ("mallory", "fred"):
            gone = s.post(attacker, f"/stories/{MISSING_ID}/delete")
            hidden = s.post(attacker, f"/stories/{story.id}/delete")
            assert_like_missing(hidden, gone, "delete story")
    assert s.count(Story) == 3
    assert s.post("alice", f"/stories/{s.alice_story.id}/delete").status_code == 303
    assert s.count(Story) == 2


@case("POST", "/settings/apps/{app_id}/authorise")
def _authorise(s: Scene) -> None:
    bob_app = s.apps["bob_app"].app
    before = {(a.app_id, a.user_id) for a in s.db.scalars(select(PartnerAuthorisation))}
    assert s.post("mallory", f"/settings/apps/{bob_app.id}/authorise").status_code == 303
    after = {(a.app_id, a.user_id) for a in s.db.scalars(select(PartnerAuthorisation))}
    # the caller authorises for herself only, and only what she owns becomes readable
    assert after - before == {(bob_app.id, s.users["mallory"].id)}
    hidden = s.api("bob_app", f"/api/v1/users/{s.users['alice'].id}/media")
    assert_like_missing(hidden, s.api("bob_app", f"/api/v1/users/{MISSING_ID}/media"), "app")
    # a person cannot authorise an app on anyone's behalf, and a revoked app is not there
    assert s.post("fred", f"/settings/apps/{bob_app.id}/authorise").status_code == 403
    revoked = s.apps["mallory_app"].app
    revoked.revoked = True
    s.db.commit()
    gone = s.post("mallory", f"/settings/apps/{MISSING_ID}/authorise")
    assert_like_missing(s.post("mallory", f"/settings/apps/{revoked.id}/authorise"), gone, "app")


@case("POST", "/settings/apps/{app_id}/revoke")
def _revoke(s: Scene) -> None:
    bob_app = s.apps["bob_app"]
    bob_id = s.users["bob"].id
    assert s.post("mallory", f"/settings/apps/{bob_app.app.id}/revoke").status_code == 303
    assert s.count(PartnerAuthorisation, PartnerAuthorisation.user_id == bob_id) == 1
    assert s.api("bob_app", f"/api/v1/users/{bob_id}").status_code == 200
    assert s.post("bob", f"/settings/apps/{bob_app.app.id}/revoke").status_code == 303
    assert s.api("bob_app", f"/api/v1/users/{bob_id}").status_code == 404


def _api_pair(s: Scene, template: str, hidden_value: object, missing_value: object) -> None:
    """The attacker's app asks for bob's object (authorised to bob's app only) and for none."""
    hidden = s.api("mallory_app", template.format(hidden_value))
    missing = s.api("mallory_app", template.format(missing_value))
    assert_like_missing(hidden, missing, template)
    assert_none_in(hidden, PUBLIC_CAPTION, "bob-mail-3e1@example.org")
    shown = s.api("bob_app", template.format(hidden_value))
    assert shown.status_code == 200, template


@case("GET", "/api/v1/users/{user_id}")
def _api_user(s: Scene) -> None:
    _api_pair(s, "/api/v1/users/{}", s.users["bob"].id, MISSING_ID)
    for name in ("alice", "fred"):  # authorised by nobody
        hidden = s.api("bob_app", f"/api/v1/users/{s.users[name].id}")
        assert_like_missing(hidden, s.api("bob_app", f"/api/v1/users/{MISSING_ID}"), name)


@case("GET", "/api/v1/users/by-username/{username}")
def _api_user_by_name(s: Scene) -> None:
    hidden = s.api("mallory_app", "/api/v1/users/by-username/bob")
    missing = s.api("mallory_app", "/api/v1/users/by-username/nobody_here")
    assert_like_missing(hidden, missing, "by username")
    assert s.api("bob_app", "/api/v1/users/by-username/bob").status_code == 200


@case("GET", "/api/v1/users/{user_id}/media")
def _api_user_media(s: Scene) -> None:
    _api_pair(s, "/api/v1/users/{}/media", s.users["bob"].id, MISSING_ID)
    assert PUBLIC_CAPTION in s.api("bob_app", f"/api/v1/users/{s.users['bob'].id}/media").text


@case("GET", "/api/v1/media/{post_id}")
def _api_media(s: Scene) -> None:
    _api_pair(s, "/api/v1/media/{}", s.bob_post.id, MISSING_ID)
    hidden = s.api("bob_app", f"/api/v1/media/{s.alice_post.id}")
    assert_like_missing(hidden, s.api("bob_app", f"/api/v1/media/{MISSING_ID}"), "alice post")


@case("GET", "/api/v1/media/{post_id}/comments")
def _api_comments(s: Scene) -> None:
    s.db.add(Comment(post_id=s.bob_post.id, author_id=s.users["fred"].id, text=SECRET_COMMENT))
    s.db.add(Comment(post_id=s.bob_post.id, author_id=s.users["bob"].id, text="bob-reply-41"))
    s.db.commit()
    _api_pair(s, "/api/v1/media/{}/comments", s.bob_post.id, MISSING_ID)
    shown = s.api("bob_app", f"/api/v1/media/{s.bob_post.id}/comments")
    # fred never authorised the app: his comment stays out of the list
    assert "bob-reply-41" in shown.text
    assert_none_in(shown, SECRET_COMMENT)


@case("GET", "/api/v1/locations/{venue_id}/media")
def _api_location_media(s: Scene) -> None:
    url = f"/api/v1/locations/{s.venue_id}/media"
    seen = s.api("mallory_app", url)
    assert seen.status_code == 200 and seen.json()["items"] == []
    shown = s.api("bob_app", url)
    assert [item["caption"] for item in shown.json()["items"]] == [PUBLIC_CAPTION]


# ---------------------------------------------------------------------------------------------
# The tests


def test_every_route_is_classified(app: FastAPI) -> None:
    routes = app_routes(app)
    assert ("GET", "/p/{post_id}") in routes and ("GET", "/api/v1/me") in routes
    unclassified = sorted(
        f"{method} {path}"
        for method, path in routes
        if (method, path) not in CASES
        and (method, path) not in PUBLIC
        and ((method, path) not in SELF or has_path_parameter(path))
    )
    assert not unclassified, (
        "routes with no IDOR case here, nor a reason in PUBLIC or SELF: " + ", ".join(unclassified)
    )
    stale = sorted(f"{m} {p}" for m, p in [*CASES, *PUBLIC, *SELF] if (m, p) not in routes)
    assert not stale, f"classified routes the app no longer has: {stale}"


def test_the_route_walk_sees_a_new_route(app: FastAPI) -> None:
    """The classification can fail: a route added to the app is found, with or without schema."""

    @app.get("/u/{username}/close-friends", include_in_schema=False)
    def close_friends(username: str) -> dict[str, str]:
        return {"username": username}

    assert ("GET", "/u/{username}/close-friends") in app_routes(app)
    assert all(("GET", "/u/{username}/close-friends") not in table for table in (CASES, PUBLIC))


@pytest.mark.parametrize("route", sorted(CASES), ids=lambda route: f"{route[0]} {route[1]}")
def test_idor(scene: Scene, route: tuple[str, str]) -> None:
    CASES[route](scene)


def _guess_every_id(
    s: Scene, browser: str, app_name: str, secrets: list[str]
) -> tuple[set[str], set[str]]:
    """Walks every id-taking GET route over every id from 0 to past the largest, web pages as
    ``browser`` and the API as ``app_name``; returns the secrets that came back on each."""
    top = max(s.count(model) for model in (User, Post, Story, Follow, PartnerApp)) + 3
    templates = [path for method, path in CASES if method == "GET" and re.search(r"_id}", path)]
    assert len(templates) >= 8
    found: tuple[set[str], set[str]] = (set(), set())
    for template in templates:
        for guess in range(top + 1):
            url = re.sub(r"{\w+_id}", str(guess), template)
            api = url.startswith("/api/")
            response = s.api(app_name, url) if api else s.get(browser, url)
            assert response.status_code < 500, url
            found[api].update(secret for secret in secrets if secret in response.text)
    return found


def test_guessing_every_id_shows_nothing_private(scene: Scene) -> None:
    s = scene
    alice_secrets = [
        SECRET_CAPTION,
        SECRET_COMMENT,
        media_key(s.alice_post),
        media_key(s.alice_story),
        media_key(s.alice_expired),
        "alice-mail-3e1@example.org",
    ]
    bob_secrets = [PUBLIC_CAPTION, "bob-mail-3e1@example.org"]
    web, api = _guess_every_id(s, "mallory", "mallory_app", alice_secrets + bob_secrets)
    assert web == {PUBLIC_CAPTION}  # bob is public: his caption is everyone's to read
    assert api == set()  # but bob authorised another app, not mallory's
    # the walk is sharp: the rightful viewers find what mallory could not
    web, api = _guess_every_id(s, "fred", "bob_app", alice_secrets + bob_secrets)
    assert web == {SECRET_CAPTION, SECRET_COMMENT, PUBLIC_CAPTION, *alice_secrets[2:4]}
    assert api == set(bob_secrets)  # bob's app holds contact:read
