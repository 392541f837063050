"""What actors do: intents, each one request to photoshare's URL space, made by one identity.

An actor decides *what* to request; an ``Intent`` says it in terms an HTTP client can send (method,
path, route template, who is asking) and the event engine can judge (the resource and object). In
event mode ``platform.Platform`` turns an intent into the AccessEvent the guard would have recorded;
live mode sends the same intent as an HTTP request.

``Page.route`` is the template exactly as the guard records it (Starlette's, with convertors such
as ``{post_id:int}``); None for paths no route serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from harvestguard.events import Channel, Resource


@dataclass(frozen=True, slots=True)
class Page:
    name: str
    method: str
    route: str | None
    resource: str
    channel: str = Channel.WEB.value
    scopes: frozenset[str] = frozenset()  # API pages: what the token needs

    def path(self, value: object = None) -> str:
        """The concrete path for one object (or query), as a client sends it."""
        return _PATHS[self.name].format(value)


def _api(name: str, method: str, route: str | None, *scopes: str, resource: str = "api") -> Page:
    return Page(name, method, route, resource, Channel.API.value, frozenset(scopes))


FEED = Page("feed", "GET", "/", Resource.OTHER.value)
LOGIN_FORM = Page("login_form", "GET", "/login", Resource.OTHER.value)
LOGIN = Page("login", "POST", "/login", Resource.OTHER.value)
SIGNUP = Page("signup", "POST", "/signup", Resource.OTHER.value)
ROBOTS = Page("robots", "GET", "/robots.txt", Resource.OTHER.value)
PROFILE = Page("profile", "GET", "/u/{username}", Resource.PROFILE.value)
FOLLOWERS = Page("followers", "GET", "/u/{username}/followers", Resource.PROFILE.value)
FOLLOWING = Page("following", "GET", "/u/{username}/following", Resource.PROFILE.value)
USER_STORIES = Page("user_stories", "GET", "/u/{username}/stories", Resource.PROFILE.value)
FOLLOW = Page("follow", "POST", "/u/{username}/follow", Resource.OTHER.value)
POST = Page("post", "GET", "/p/{post_id:int}", Resource.POST.value)
STORY = Page("story", "GET", "/stories/{story_id:int}", Resource.STORY.value)
LOCATION = Page("location", "GET", "/explore/locations/{venue_id:int}", Resource.LOCATION.value)
SEARCH = Page("search", "GET", "/search", Resource.SEARCH.value)
SEARCH_LOCATIONS = Page("search_locations", "GET", "/search/locations", Resource.SEARCH.value)
MEDIA = Page("media", "GET", "/media/{key}", Resource.MEDIA.value)
# live mode only: a story posted from the upload form, as its owner (the world plans it)
STORY_UPLOAD = Page("story_upload", "POST", "/new/story", Resource.OTHER.value)
OAUTH_TOKEN = _api("oauth_token", "POST", "/oauth/token")
API_USER = _api("api_user", "GET", "/api/v1/users/{user_id}", "profile:basic")
API_USER_BY_NAME = _api(
    "api_user_by_name", "GET", "/api/v1/users/by-username/{username}", "profile:basic"
)
API_USER_MEDIA = _api("api_user_media", "GET", "/api/v1/users/{user_id}/media", "media:read")
API_MEDIA = _api("api_media", "GET", "/api/v1/media/{post_id}", "media:read")
API_MEDIA_COMMENTS = _api(
    "api_media_comments", "GET", "/api/v1/media/{post_id}/comments", "media:read"
)
API_LOCATION = _api("api_location", "GET", "/api/v1/locations/{venue_id}", "location:read")
API_LOCATION_MEDIA = _api(
    "api_location_media",
    "GET",
    "/api/v1/locations/{venue_id}/media",
    "location:read",
    "media:read",
)
API_USER_SEARCH = _api(
    "api_user_search", "GET", "/api/v1/users/search", "profile:basic", resource="search"
)
API_USER_LOOKUP = _api("api_user_lookup", "POST", "/api/v1/users/lookup", "profile:basic")
# stories are not in the API: no route serves this, the answer is a 404 before any app code runs
API_STORY = _api("api_story", "GET", None)

_PATHS: dict[str, str] = {
    "feed": "/",
    "login_form": "/login",
    "login": "/login",
    "signup": "/signup",
    "robots": "/robots.txt",
    "profile": "/u/{}",
    "followers": "/u/{}/followers",
    "following": "/u/{}/following",
    "user_stories": "/u/{}/stories",
    "follow": "/u/{}/follow",
    "post": "/p/{}",
    "story": "/stories/{}",
    "location": "/explore/locations/{}",
    "search": "/search?q={}",
    "search_locations": "/search/locations?q={}",
    "media": "/media/{}",
    "story_upload": "/new/story",
    "oauth_token": "/oauth/token",
    "api_user": "/api/v1/users/{}",
    "api_user_by_name": "/api/v1/users/by-username/{}",
    "api_user_media": "/api/v1/users/{}/media",
    "api_media": "/api/v1/media/{}",
    "api_media_comments": "/api/v1/media/{}/comments",
    "api_location": "/api/v1/locations/{}",
    "api_location_media": "/api/v1/locations/{}/media",
    "api_user_search": "/api/v1/users/search?q={}",
    "api_user_lookup": "/api/v1/users/lookup",
    "api_story": "/api/v1/stories/{}",
}


@dataclass(slots=True)
class Identity:
    """Who sends a request: the keys the guard would see. ``address`` is the raw client address
    (live mode binds or forwards it); ``ip`` and ``net`` are its pseudonyms, as the guard stores
    them. ``user_id`` is the logged-in account, ``app`` the partner app of a bearer token."""

    address: str
    ip: str
    net: str
    ua: str
    fingerprint: str
    session: str | None = None
    user_id: int | None = None
    app: str | None = None  # the partner app's client id
    token_scopes: frozenset[str] = frozenset()

    @property
    def account(self) -> str | None:
        return None if self.user_id is None else str(self.user_id)


class Intent(NamedTuple):
    """One request. ``target`` is what the path names: a username, an id, a media key, a query, or
    (for the lookup) the tuple of usernames in the body; ``harvest`` marks the requests an
    adversary makes to collect data (the ground truth's first harvesting request)."""

    ts: float
    identity: Identity
    page: Page
    target: object = None
    harvest: bool = False
