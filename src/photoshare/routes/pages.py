"""The pages people read: feed, profiles, posts, stories, places, search.

Every object carrying personal data goes through ``photoshare.deps.show`` and only its result
reaches a template; what the policy hides for this viewer is never rendered.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import selectinload

from harvestguard import context
from harvestguard.canaries import CanaryKind
from harvestguard.events import AudienceKind
from photoshare import queries, web
from photoshare.canaries import canary_ids
from photoshare.deps import DB, CurrentViewer, show
from photoshare.models import Comment, Follow, FollowStatus, Like, Post, Story, User, Venue
from photoshare.routes.api import MAX_KEY
from photoshare.serialize import comment_dict, connection_dict, story_dict, venue_dict
from photoshare.viewer import Viewer

# web pages: the OpenAPI document says so (it said application/json; found by schemathesis)
router = APIRouter(default_response_class=HTMLResponse)

FEED_LIMIT = 30
GRID_LIMIT = 60
LIST_LIMIT = 200
SEARCH_LIMIT = 20
MAX_QUERY = 100

ROBOTS_TXT = """\
User-agent: *
Disallow: /search
Disallow: /explore/
Disallow: /stories/
Disallow: /api/
Disallow: /u/*/stories
Allow: /u/
Allow: /p/
"""


def _visible(
    request: Request, db: DB, viewer: Viewer, resource: str, objects: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    shown = (show(request, db, viewer, resource, obj) for obj in objects)
    return [data for data in shown if data is not None]


def _story_ttl(request: Request) -> timedelta:
    return timedelta(hours=request.app.state.settings.story_ttl_hours)


def _locked(db: DB, viewer: Viewer, user: User) -> bool:
    """A private account the viewer neither owns nor follows."""
    kind = viewer.audience_for(db, user.id).kind
    return user.is_private and kind not in (AudienceKind.OWNER, AudienceKind.FOLLOWER)


def _follow_state(db: DB, viewer: Viewer, user: User) -> str | None:
    """The viewer's own follow of this account: None (no button), "none", "pending", "approved"."""
    if viewer.user is None or viewer.user.id == user.id:
        return None
    status = db.scalar(
        select(Follow.status).where(
            Follow.follower_id == viewer.user.id, Follow.followee_id == user.id
        )
    )
    return "none" if status is None else status.value


def _profile(
    request: Request, db: DB, viewer: Viewer, username: str
) -> tuple[User, dict[str, Any]] | None:
    """The account and what this viewer may see of its profile; None for a 404."""
    user = queries.active_user(db, username)
    if user is None:
        return None
    shown = show(request, db, viewer, "profile", queries.profile_object(db, user))
    return None if shown is None else (user, shown)


def _hidden_notice(db: DB, viewer: Viewer, user: User, what: str) -> tuple[str | None, int]:
    """Why nothing of this kind is shown, with the page's status; (None, 200) if there is none."""
    if viewer.user is None:
        return f"Log in to see {what}.", 401
    if _locked(db, viewer, user):
        return "This account is private.", 200
    return None, 200


@router.get("/")
def home(request: Request, db: DB, viewer: CurrentViewer) -> Response:
    if viewer.user is None:
        return web.render(request, "landing.html")
    followed = viewer.following(db)
    # a disabled (banned) account is gone from the site, its followers' feeds included
    stories = db.scalars(
        queries.live_stories_query(_story_ttl(request))
        .join(Story.owner)
        .where(Story.owner_id.in_(followed), User.disabled.is_(False))
        .limit(FEED_LIMIT)
    ).all()
    posts = db.scalars(
        queries.posts_query()
        .join(Post.owner)
        .where(Post.owner_id.in_(followed), User.disabled.is_(False))
        .limit(FEED_LIMIT)
    ).all()
    page = {
        "stories": _visible(request, db, viewer, "story", map(story_dict, stories)),
        "posts": _visible(request, db, viewer, "post", queries.post_objects(db, posts)),
    }
    return web.render(request, "feed.html", page)


@router.get("/u/{username}")
def profile(request: Request, db: DB, viewer: CurrentViewer, username: str) -> Response:
    found = _profile(request, db, viewer, username)
    if found is None:
        return web.not_found(request)
    user, shown = found
    posts = db.scalars(
        queries.posts_query().where(Post.owner_id == user.id).limit(GRID_LIMIT)
    ).all()
    page = {
        "profile": shown,
        "posts": _visible(request, db, viewer, "post", queries.post_objects(db, posts)),
        "locked": _locked(db, viewer, user),
        "follow": _follow_state(db, viewer, user),
    }
    return web.render(request, "profile.html", page)


def _connections(
    request: Request, db: DB, viewer: Viewer, username: str, direction: str
) -> Response:
    found = _profile(request, db, viewer, username)
    if found is None:
        return web.not_found(request)
    user, shown = found
    mine, theirs = (
        (Follow.followee_id, Follow.follower_id)
        if direction == "followers"
        else (Follow.follower_id, Follow.followee_id)
    )
    others = db.scalars(
        select(User)
        .join(Follow, theirs == User.id)
        .where(mine == user.id, Follow.status == FollowStatus.APPROVED, User.disabled.is_(False))
        .order_by(Follow.created_at.desc())
        .limit(LIST_LIMIT)
    ).all()
    entries = _visible(
        request,
        db,
        viewer,
        "connection",
        (connection_dict(user, other, direction) for other in others),
    )
    notice, status_code = (None, 200) if entries else _hidden_notice(db, viewer, user, direction)
    page = {
        "profile": shown,
        "direction": direction,
        "entries": entries,
        "notice": notice,
        "login_url": web.login_url(request.url.path),
    }
    return web.render(request, "connections.html", page, status_code=status_code)


@router.get("/u/{username}/followers")
def followers(request: Request, db: DB, viewer: CurrentViewer, username: str) -> Response:
    return _connections(request, db, viewer, username, "followers")


@router.get("/u/{username}/following")
def following(request: Request, db: DB, viewer: CurrentViewer, username: str) -> Response:
    return _connections(request, db, viewer, username, "following")


@router.get("/u/{username}/stories")
def user_stories(request: Request, db: DB, viewer: CurrentViewer, username: str) -> Response:
    found = _profile(request, db, viewer, username)
    if found is None:
        return web.not_found(request)
    user, shown = found
    stories = db.scalars(
        queries.live_stories_query(_story_ttl(request)).where(Story.owner_id == user.id)
    ).all()
    visible = _visible(request, db, viewer, "story", map(story_dict, stories))
    notice, status_code = (None, 200) if visible else _hidden_notice(db, viewer, user, "stories")
    page = {
        "profile": shown,
        "stories": visible,
        "notice": notice,
        "login_url": web.login_url(request.url.path),
    }
    return web.render(request, "user_stories.html", page, status_code=status_code)


@router.get("/p/{post_id:int}")
def post_page(request: Request, db: DB, viewer: CurrentViewer, post_id: int) -> Response:
    if post_id > MAX_KEY:
        return web.not_found(request)
    post = queries.post_with_parts(db, post_id)
    if post is None or post.owner.disabled:
        return web.not_found(request)
    shown = show(request, db, viewer, "post", queries.post_objects(db, [post])[0])
    if shown is None:
        return web.not_found(request)
    comments = db.scalars(
        select(Comment)
        .options(selectinload(Comment.author))
        .join(Comment.author)
        .where(Comment.post_id == post.id, User.disabled.is_(False))
        .order_by(Comment.created_at, Comment.id)
        .limit(LIST_LIMIT)
    ).all()
    liked = viewer.user is not None and db.scalar(
        select(Like.id).where(Like.post_id == post.id, Like.user_id == viewer.user.id)
    )
    page = {
        "post": shown,
        "comments": _visible(request, db, viewer, "comment", map(comment_dict, comments)),
        "liked": bool(liked),
        "logged_in": viewer.user is not None,
        "owned": viewer.user is not None and viewer.user.id == post.owner_id,
    }
    return web.render(request, "post.html", page)


@router.get("/stories/{story_id:int}")
def story_page(request: Request, db: DB, viewer: CurrentViewer, story_id: int) -> Response:
    if story_id > MAX_KEY:  # past SQLite's integers: an OverflowError, a 500 (schemathesis)
        return web.not_found(request)
    story = db.scalar(queries.live_stories_query(_story_ttl(request)).where(Story.id == story_id))
    if story is None or story.owner.disabled:
        return web.not_found(request)
    shown = show(request, db, viewer, "story", story_dict(story))
    if shown is None:
        return web.not_found(request)
    owned = viewer.user is not None and viewer.user.id == story.owner_id
    return web.render(request, "story.html", {"story": shown, "owned": owned})


@router.get("/explore/locations/{venue_id:int}")
def location_page(request: Request, db: DB, viewer: CurrentViewer, venue_id: int) -> Response:
    if venue_id > MAX_KEY:
        return web.not_found(request)
    venue = db.get(Venue, venue_id)
    shown = None if venue is None else show(request, db, viewer, "location", venue_dict(venue))
    if venue is None or shown is None:
        # Logged-out visitors learn nothing about places, not even whether this one exists.
        if viewer.user is None:
            return web.login_page(request, "Log in to see places and who posts from them.")
        return web.not_found(request)
    public_there = (User.is_private.is_(False), User.disabled.is_(False))
    posts = db.scalars(
        queries.posts_query()
        .join(Post.owner)
        .where(Post.venue_id == venue.id, *public_there)
        .limit(FEED_LIMIT)
    ).all()
    stories = db.scalars(
        queries.live_stories_query(_story_ttl(request))
        .join(Story.owner)
        .where(Story.venue_id == venue.id, *public_there)
        .limit(FEED_LIMIT)
    ).all()
    page = {
        "venue": shown,
        "posts": _visible(request, db, viewer, "post", queries.post_objects(db, posts)),
        "stories": _visible(request, db, viewer, "story", map(story_dict, stories)),
    }
    return web.render(request, "location.html", page)


def _query_text(q: str) -> str:
    return q.strip()[:MAX_QUERY]


@router.get("/search")
def search(request: Request, db: DB, viewer: CurrentViewer, q: str = "") -> Response:
    context.annotate(resource="search")
    text = _query_text(q)
    results: list[dict[str, Any]] = []
    if text:
        needle = text.lower()
        username, display_name = func.lower(User.username), func.lower(User.display_name)
        users = db.scalars(
            select(User)
            .where(
                User.disabled.is_(False),
                User.id.not_in(canary_ids(CanaryKind.ACCOUNT)),
                or_(
                    username.contains(needle, autoescape=True),
                    display_name.contains(needle, autoescape=True),
                ),
            )
            .order_by(
                case((username.startswith(needle, autoescape=True), 0), else_=1), User.username
            )
            .limit(SEARCH_LIMIT)
        ).all()
        results = _visible(request, db, viewer, "profile", queries.profile_objects(db, users))
    return web.render(request, "search.html", {"q": text, "results": results})


@router.get("/search/locations")
def search_locations(request: Request, db: DB, viewer: CurrentViewer, q: str = "") -> Response:
    context.annotate(resource="search")
    if viewer.user is None:
        return web.login_page(request, "Log in to search places.")
    text = _query_text(q)
    results: list[dict[str, Any]] = []
    if text:
        needle = text.lower()
        venues = db.scalars(
            select(Venue)
            .where(
                Venue.id.not_in(canary_ids(CanaryKind.VENUE)),
                or_(
                    func.lower(Venue.name).contains(needle, autoescape=True),
                    func.lower(Venue.city).contains(needle, autoescape=True),
                ),
            )
            .order_by(Venue.name, Venue.id)
            .limit(SEARCH_LIMIT)
        ).all()
        results = _visible(request, db, viewer, "location", map(venue_dict, venues))
    return web.render(request, "search_locations.html", {"q": text, "results": results})


@router.get("/robots.txt", response_class=PlainTextResponse)
def robots() -> Response:
    return PlainTextResponse(ROBOTS_TXT)
