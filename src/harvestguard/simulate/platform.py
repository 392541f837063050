"""What photoshare would answer an intent, and what the guard would record about it.

Mirrors the routes of photoshare (``photoshare.routes``) closely enough that simulated events look
like the middleware's: the same status codes (401 for logged-out visitors of pages that need an
account, 403 for a missing scope, 404 for what the viewer may not see), the resource and audience
of the first object shown (``RequestContext.claim``), and every owner whose data went out with the
data classes the policy disclosed (``DisclosureTable``). Lists are cut as photoshare cuts them.

Simplifications, documented in docs/simulator.md: the feed shows the posts and stories of the first
30 accounts followed; comments are not modelled; a location search matches city names only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from harvestguard.events import AudienceKind, Resource
from harvestguard.simulate.disclosure import Classes, DisclosureTable
from harvestguard.simulate.intents import Identity, Intent
from harvestguard.simulate.world import Post, Story, World

FEED_LIMIT = 30
SEARCH_LIMIT = 20
API_PAGE = 20
GRID_LIMIT = 60

_ANON, _AUTH, _FOLLOWER, _OWNER, _PARTNER = (
    AudienceKind.ANONYMOUS,
    AudienceKind.AUTHENTICATED,
    AudienceKind.FOLLOWER,
    AudienceKind.OWNER,
    AudienceKind.PARTNER,
)
_OTHER, _API = Resource.OTHER.value, Resource.API.value


class Response(NamedTuple):
    status: int
    resource: str
    object_id: str | None
    audience: str | None
    owners: tuple[str, ...]
    classes: Classes


_NOTHING: Classes = ()


def _plain(status: int, resource: str) -> Response:
    return Response(status, resource, None, None, (), _NOTHING)


class _Shown:
    """Collects what one response disclosed, like the guard's RequestContext."""

    __slots__ = ("audience", "classes", "object_id", "owners", "resource")

    def __init__(self) -> None:
        self.resource: str | None = None
        self.object_id: str | None = None
        self.audience: str | None = None
        self.owners: set[str] = set()
        self.classes: set[str] = set()

    def claim(self, resource: str, object_id: object, kind: AudienceKind) -> None:
        if self.resource is None:
            self.resource, self.object_id, self.audience = resource, str(object_id), kind.value

    def add(self, owner: int | None, classes: Classes | None) -> None:
        if classes:
            if owner is not None:
                self.owners.add(str(owner))
            self.classes.update(classes)

    def response(self, status: int, default_resource: str) -> Response:
        return Response(
            status,
            self.resource or default_resource,
            self.object_id,
            self.audience,
            tuple(sorted(self.owners)),
            tuple(sorted(self.classes)),
        )


class Platform:
    def __init__(self, world: World, table: DisclosureTable | None = None) -> None:
        self.world = world
        self.table = table or DisclosureTable()
        self._photo = self.table.field_class("post", "image_url")
        self._ephemeral = self.table.field_class("story", "image_url")
        self._feed_cache: dict[int, Response] = {}
        self._has_venue_post = {p.owner_id for p in world.posts.values() if p.venue_id is not None}
        self._handlers = {
            "feed": self._feed,
            "profile": self._profile,
            "followers": self._connections,
            "following": self._connections,
            "user_stories": self._user_stories,
            "post": self._post,
            "story": self._story,
            "location": self._location,
            "search": self._search,
            "search_locations": self._search_locations,
            "media": self._media,
            "oauth_token": self._oauth,
            "api_user": self._api_user,
            "api_user_by_name": self._api_user,
            "api_user_media": self._api_user_media,
            "api_media": self._api_media,
            "api_media_comments": self._api_media,
            "api_location": self._api_location,
            "api_location_media": self._api_location,
            "api_user_search": self._api_search,
            "api_user_lookup": self._api_lookup,
        }

    def respond(self, intent: Intent) -> Response:
        page = intent.page
        if page.channel == "api" and page.route is None:
            return _plain(404, _API)
        handler = self._handlers.get(page.name)
        if handler is None:  # log-in, sign-up, robots.txt, follow: no personal data
            return _plain(303 if page.method == "POST" else 200, _OTHER)
        if page.channel == "api" and page.name != "oauth_token":
            ident = intent.identity
            if ident.app is None:
                return _plain(401, _API)
            if not page.scopes <= ident.token_scopes:
                return _plain(403, _API)
        return handler(intent)

    def audience(self, ident: Identity, owner: int) -> AudienceKind:
        if ident.app is not None:
            return _PARTNER
        viewer = ident.user_id
        if viewer is None:
            return _ANON
        if viewer == owner:
            return _OWNER
        return _FOLLOWER if owner in self.world.following[viewer] else _AUTH

    # -- web pages ---------------------------------------------------------------------------

    def _feed(self, intent: Intent) -> Response:
        viewer = intent.identity.user_id
        if viewer is None:
            return _plain(200, _OTHER)
        cached = self._feed_cache.get(viewer)
        if cached is None:
            followed = sorted(self.world.following[viewer])[:FEED_LIMIT]
            shown = _Shown()
            for owner in followed:
                if owner in self.world.stories_of:
                    shown.claim("story", owner, _FOLLOWER)
                    shown.add(owner, self.table.classes("story", _FOLLOWER, False))
            for owner in followed:
                if owner in self.world.posts_of:
                    shown.claim("post", owner, _FOLLOWER)
                    venue = owner in self._has_venue_post
                    shown.add(owner, self.table.classes("post", _FOLLOWER, False, venue=venue))
            cached = shown.response(200, _OTHER)
            # the feed's first object is whoever comes first; keep the claim, drop its id
            cached = cached._replace(object_id=None)
            self._feed_cache[viewer] = cached
        return cached

    def _show_profile(self, shown: _Shown, ident: Identity, user_id: int) -> AudienceKind:
        user = self.world.users[user_id]
        kind = self.audience(ident, user_id)
        shown.claim("profile", user_id, kind)
        shown.add(user_id, self.table.classes("profile", kind, user.is_private))
        return kind

    def _locked(self, user_id: int, kind: AudienceKind) -> bool:
        return self.world.users[user_id].is_private and kind not in (_OWNER, _FOLLOWER)

    def _profile(self, intent: Intent) -> Response:
        user_id = self.world.by_username.get(str(intent.target))
        if user_id is None:
            return _plain(404, _OTHER)
        shown = _Shown()
        kind = self._show_profile(shown, intent.identity, user_id)
        timeline = self.world.posts_of.get(user_id)
        if timeline is not None and timeline.created_by(intent.ts):
            private = self.world.users[user_id].is_private
            venue = user_id in self._has_venue_post
            shown.add(user_id, self.table.classes("post", kind, private, venue=venue))
        return shown.response(200, _OTHER)

    def _connections(self, intent: Intent) -> Response:
        user_id = self.world.by_username.get(str(intent.target))
        if user_id is None:
            return _plain(404, _OTHER)
        shown = _Shown()
        kind = self._show_profile(shown, intent.identity, user_id)
        direction = (
            self.world.followers if intent.page.name == "followers" else self.world.following
        )
        entries = None
        if direction[user_id]:
            private = self.world.users[user_id].is_private
            entries = self.table.classes("connection", kind, private)
            shown.add(user_id, entries)
        status = 401 if not entries and kind is _ANON else 200
        return shown.response(status, _OTHER)

    def _user_stories(self, intent: Intent) -> Response:
        user_id = self.world.by_username.get(str(intent.target))
        if user_id is None:
            return _plain(404, _OTHER)
        shown = _Shown()
        kind = self._show_profile(shown, intent.identity, user_id)
        timeline = self.world.stories_of.get(user_id)
        live = () if timeline is None else timeline.live(intent.ts)
        visible = None
        if live:
            private = self.world.users[user_id].is_private
            venue = any(story.venue_id is not None for story in live)
            visible = self.table.classes("story", kind, private, venue=venue)
            shown.add(user_id, visible)
        status = 401 if visible is None and kind is _ANON else 200
        return shown.response(status, _OTHER)

    def _item_classes(
        self, resource: str, item: Post | Story, kind: AudienceKind
    ) -> Classes | None:
        private = self.world.users[item.owner_id].is_private
        return self.table.classes(resource, kind, private, venue=item.venue_id is not None)

    def _post(self, intent: Intent) -> Response:
        post = self.world.posts.get(_int(intent.target))
        if post is None or post.created_at > intent.ts:
            return _plain(404, _OTHER)
        kind = self.audience(intent.identity, post.owner_id)
        shown = _Shown()
        shown.claim("post", post.id, kind)
        classes = self._item_classes("post", post, kind)
        shown.add(post.owner_id, classes)
        return shown.response(404 if classes is None else 200, _OTHER)

    def _story(self, intent: Intent) -> Response:
        story = self.world.stories.get(_int(intent.target))
        if story is None or not self.world.is_live(story, intent.ts):
            return _plain(404, _OTHER)
        kind = self.audience(intent.identity, story.owner_id)
        shown = _Shown()
        shown.claim("story", story.id, kind)
        classes = self._item_classes("story", story, kind)
        shown.add(story.owner_id, classes)
        return shown.response(404 if classes is None else 200, _OTHER)

    def _location(self, intent: Intent) -> Response:
        venue_id = _int(intent.target)
        ident = intent.identity
        if venue_id not in self.world.venues:
            return _plain(401 if ident.user_id is None else 404, _OTHER)
        kind = _ANON if ident.user_id is None else _AUTH
        shown = _Shown()
        shown.claim("location", venue_id, kind)
        place = self.table.classes("location", kind, False)
        if place is None:
            return shown.response(401 if kind is _ANON else 404, _OTHER)
        shown.add(None, place)
        now = intent.ts
        posts = self.world.posts_at.get(venue_id)
        if posts is not None:
            recent = posts.items[: posts.created_by(now)][-FEED_LIMIT * 2 :]
            self._show_items(shown, ident, "post", (p for p in recent if self._public(p)))
        stories = self.world.stories_at.get(venue_id)
        if stories is not None:
            self._show_items(
                shown, ident, "story", (s for s in stories.live(now) if self._public(s))
            )
        return shown.response(200, _OTHER)

    def _public(self, item: Post | Story) -> bool:
        return not self.world.users[item.owner_id].is_private

    def _show_items(
        self, shown: _Shown, ident: Identity, resource: str, items: Iterable[Post | Story]
    ) -> None:
        for count, item in enumerate(items):
            if count == FEED_LIMIT:
                break
            kind = self.audience(ident, item.owner_id)
            shown.add(item.owner_id, self._item_classes(resource, item, kind))

    def _search(self, intent: Intent) -> Response:
        shown = _Shown()
        for name in self.world.usernames_starting(str(intent.target).lower(), SEARCH_LIMIT):
            self._show_profile(shown, intent.identity, self.world.by_username[name])
        return shown.response(200, "search")

    def _search_locations(self, intent: Intent) -> Response:
        if intent.identity.user_id is None:
            return _plain(401, "search")
        shown = _Shown()
        for venue_id in self.world.listed_venues(str(intent.target))[:SEARCH_LIMIT]:
            shown.claim("location", venue_id, _AUTH)
            shown.add(None, self.table.classes("location", _AUTH, False))
        return shown.response(200, "search")

    def _media(self, intent: Intent) -> Response:
        key = str(intent.target)
        item = self.world.media.get(key)
        if item is None or item.created_at > intent.ts:
            return _plain(404, "media")
        kind = self.audience(intent.identity, item.owner_id)
        is_story = isinstance(item, Story)
        if isinstance(item, Story) and not self.world.is_live(item, intent.ts):
            return Response(404, "media", key, kind.value, (), _NOTHING)
        visible = self._item_classes("story" if is_story else "post", item, kind)
        if visible is None:
            return Response(404, "media", key, kind.value, (), _NOTHING)
        image = self._ephemeral if is_story else self._photo
        classes: Classes = () if image is None else (image,)
        return Response(200, "media", key, kind.value, (str(item.owner_id),), classes)

    # -- partner API ------------------------------------------------------------------------

    def _oauth(self, intent: Intent) -> Response:
        app = self.world.apps.get(intent.identity.app or "")
        if app is None:
            return _plain(401, _API)
        asked = frozenset(str(intent.target).split()) if intent.target else frozenset()
        return _plain(200 if asked <= app.scopes else 400, _API)

    def _partner_show(
        self, shown: _Shown, ident: Identity, resource: str, owner: int, venue: bool = False
    ) -> Classes | None:
        app = self.world.apps[ident.app or ""]
        authorised = owner in app.authorised_by
        shown.claim(resource, owner, _PARTNER)
        private = self.world.users[owner].is_private
        classes = self.table.classes(
            resource,
            _PARTNER,
            private,
            venue=venue,
            scopes=ident.token_scopes,
            authorised=authorised,
        )
        shown.add(owner, classes)
        return classes

    def _api_user(self, intent: Intent) -> Response:
        if intent.page.name == "api_user":
            user_id: int | None = _int(intent.target)
            if user_id not in self.world.users:
                user_id = None
        else:
            user_id = self.world.by_username.get(str(intent.target))
        if user_id is None:
            return _plain(404, _API)
        shown = _Shown()
        classes = self._partner_show(shown, intent.identity, "profile", user_id)
        response = shown.response(404 if classes is None else 200, _API)
        return response._replace(object_id=str(user_id))

    def _api_user_media(self, intent: Intent) -> Response:
        user_id = _int(intent.target)
        app = self.world.apps[intent.identity.app or ""]
        if user_id not in self.world.users or user_id not in app.authorised_by:
            return _plain(404, _API)
        timeline = self.world.posts_of.get(user_id)
        shown = _Shown()
        if timeline is not None:
            newest = timeline.items[: timeline.created_by(intent.ts)][-API_PAGE:]
            for post in newest:
                classes = self._partner_show(
                    shown, intent.identity, "post", user_id, post.venue_id is not None
                )
                shown.object_id = str(newest[-1].id)
                if classes is None:
                    break
        return shown.response(200, _API)

    def _api_media(self, intent: Intent) -> Response:
        post = self.world.posts.get(_int(intent.target))
        if post is None or post.created_at > intent.ts:
            return _plain(404, _API)
        shown = _Shown()
        classes = self._partner_show(
            shown, intent.identity, "post", post.owner_id, post.venue_id is not None
        )
        shown.object_id = str(post.id)
        return shown.response(404 if classes is None else 200, _API)

    def _api_location(self, intent: Intent) -> Response:
        venue_id = _int(intent.target)
        if venue_id not in self.world.venues:
            return _plain(404, _API)
        ident = intent.identity
        shown = _Shown()
        shown.claim("location", venue_id, _PARTNER)
        place = self.table.classes("location", _PARTNER, False, scopes=ident.token_scopes)
        if place is None:
            return shown.response(404, _API)
        shown.add(None, place)
        if intent.page.name == "api_location_media":
            app = self.world.apps[ident.app or ""]
            posts = self.world.posts_at.get(venue_id)
            if posts is not None:
                recent = posts.items[: posts.created_by(intent.ts)]
                authorised = [p for p in recent if p.owner_id in app.authorised_by][-API_PAGE:]
                for post in authorised:
                    self._partner_show(shown, ident, "post", post.owner_id, True)
        return shown.response(200, _API)

    def _api_search(self, intent: Intent) -> Response:
        app = self.world.apps[intent.identity.app or ""]
        shown = _Shown()
        found = 0
        for name in self.world.usernames_starting(str(intent.target).lower(), 10 * API_PAGE):
            user_id = self.world.by_username[name]
            if user_id in app.authorised_by:
                self._partner_show(shown, intent.identity, "profile", user_id)
                found += 1
                if found == API_PAGE:
                    break
        return shown.response(200, "search")

    def _api_lookup(self, intent: Intent) -> Response:
        names = intent.target if isinstance(intent.target, tuple) else ()
        shown = _Shown()
        for name in names:
            user_id = self.world.by_username.get(str(name))
            if user_id is not None:
                self._partner_show(shown, intent.identity, "profile", user_id)
        return shown.response(200, _API)


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return -1
