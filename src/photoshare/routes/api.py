"""The partner API (/api/v1): JSON for registered apps holding an OAuth2 bearer token.

Every object goes out through ``deps.show`` with the partner viewer, so the policy decides both
whether the app may see it (its owner authorised the app) and which fields its token's scopes grant.
An object the app may not see is answered exactly like one that does not exist. Stories have no
endpoint at all.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2, SecurityScopes
from pydantic import AwareDatetime
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from harvestguard import context
from harvestguard.canaries import CanaryKind
from photoshare import compliance
from photoshare.api_models import (
    MAX_LOOKUP,
    ApiError,
    CommentItem,
    CommentPage,
    ComplianceEventItem,
    ComplianceEventPage,
    Location,
    LookupResult,
    MediaItem,
    MediaPage,
    PartnerAppInfo,
    UsernameLookup,
    UserPage,
    UserProfile,
)
from photoshare.canaries import canary_ids
from photoshare.deps import DB, CurrentPartner, show
from photoshare.models import Comment, PartnerApp, PartnerAuthorisation, Post, User, Venue
from photoshare.queries import active_user, post_objects, profile_objects
from photoshare.routes.api_errors import ApiProblem, PartnerRoute, not_found
from photoshare.serialize import comment_dict, served_list, venue_dict
from photoshare.viewer import Viewer

# What a partner is told each scope is for; the fields themselves are the policy's to decide.
SCOPE_DESCRIPTIONS = {
    "profile:basic": "Profiles: id, username, display name, avatar, business and private flags.",
    "profile:bio": "The bio of a profile.",
    "profile:insights": "Follower, following and post counts.",
    "contact:read": "The e-mail address of a profile.",
    "media:read": "Posts (image, caption, time, counts) and their comments.",
    "location:read": "Venues, and the venue and coordinates of posts.",
    "compliance:read": "The deletion-compliance feed: ids of deleted objects to delete too. "
    "Every app holds it.",
}

partner_oauth = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(
            tokenUrl="/oauth/token", scopes=SCOPE_DESCRIPTIONS
        )
    ),
    scheme_name="partner",
    description="OAuth2 client credentials: POST /oauth/token, then `Authorization: Bearer …`.",
    auto_error=False,
)


def _partner(
    security_scopes: SecurityScopes,
    viewer: CurrentPartner,
    _authorization: Annotated[str | None, Security(partner_oauth)],
) -> Viewer:
    """The calling app, if its token carries every scope the endpoint requires."""
    if not set(security_scopes.scopes) <= viewer.token_scopes:
        scope = security_scopes.scope_str
        raise ApiProblem(
            403,
            "insufficient_scope",
            f"this endpoint requires the scopes: {scope}",
            scope=scope,
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )
    return viewer


def _partner_with(*scopes: str) -> Any:
    return Security(_partner, scopes=list(scopes))


AnyScope = Annotated[Viewer, _partner_with()]
ProfileReader = Annotated[Viewer, _partner_with("profile:basic")]
MediaReader = Annotated[Viewer, _partner_with("media:read")]
LocationReader = Annotated[Viewer, _partner_with("location:read")]
LocationMediaReader = Annotated[Viewer, _partner_with("location:read", "media:read")]
ComplianceReader = Annotated[Viewer, _partner_with("compliance:read")]

# SQLite and PostgreSQL integers are 64-bit; larger ids would fail in the driver, not say 404.
MAX_KEY = 2**63 - 1
ObjectId = Annotated[int, Path(ge=1, le=MAX_KEY)]
Limit = Annotated[int, Query(ge=1, le=100, description="Items per page, 1 to 100.")]
Cursor = Annotated[
    str | None, Query(max_length=64, description="The `next_cursor` of the previous page.")
]


def _error(description: str) -> dict[str, Any]:
    return {"model": ApiError, "description": description}


router = APIRouter(
    prefix="/api/v1",
    route_class=PartnerRoute,
    # client generators name their methods after these: user_by_id, location_media, ...
    generate_unique_id_function=lambda route: route.name,
    responses={
        401: _error("No bearer token, or an invalid, expired or revoked one."),
        403: _error("The token lacks a scope this endpoint requires (`insufficient_scope`)."),
        422: _error("Invalid parameters (`invalid_request`)."),
    },
)

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: _error("No such object, or its owner has not authorised this app.")
}


def _encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"k{key}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        digits = text[1:]
        # a forged cursor may hold any digits: non-ASCII ones, or a key past the 64-bit ids
        if text.startswith("k") and digits.isascii() and digits.isdigit():
            key = int(digits)
            if key <= MAX_KEY:
                return key
    except ValueError:  # binascii.Error, UnicodeDecodeError; non-ASCII text (schemathesis)
        pass
    raise ApiProblem(400, "invalid_request", "malformed cursor")


_Row = TypeVar("_Row", Post, User, Comment)


def _keyset_page(
    db: Session,
    query: Select[_Row],
    key: Any,
    limit: int,
    cursor: str | None,
    *,
    newest_first: bool,
) -> tuple[list[_Row], str | None]:
    """One page of ``query`` by keyset on ``key`` (an id column), and the cursor of the next one.

    The cursor is the key of the last row scanned, whether the policy then shows that row or not.
    """
    last = _decode_cursor(cursor)
    if last is not None:
        query = query.where(key < last if newest_first else key > last)
    rows = list(db.scalars(query.order_by(key.desc() if newest_first else key).limit(limit + 1)))
    page = rows[:limit]
    return page, _encode_cursor(page[-1].id) if len(rows) > limit else None


def _app(viewer: Viewer) -> PartnerApp:
    assert viewer.app is not None, "get_partner only returns viewers with an app"
    return viewer.app


def _authorising_owners(viewer: Viewer) -> Select[int]:
    """The accounts that authorised the app: lists are narrowed to them before the policy judges."""
    app_id = _app(viewer).id
    return select(PartnerAuthorisation.user_id).where(PartnerAuthorisation.app_id == app_id)


def _active_users() -> Select[User]:
    return select(User).where(User.disabled.is_(False))


def _posts() -> Select[Post]:
    return (
        select(Post)
        .join(Post.owner)
        .where(User.disabled.is_(False))
        .options(selectinload(Post.owner), selectinload(Post.media), selectinload(Post.venue))
    )


def _shown(
    request: Request, db: Session, viewer: Viewer, resource: str, objs: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    shown = [data for obj in objs if (data := show(request, db, viewer, resource, obj)) is not None]
    return served_list(request, shown)


def _profile_or_404(
    request: Request, db: Session, viewer: Viewer, user: User | None
) -> UserProfile:
    if user is None or user.disabled:
        raise not_found("user")
    data = show(request, db, viewer, "profile", profile_objects(db, [user])[0])
    if data is None:
        raise not_found("user")
    return UserProfile.model_validate(data)


def _visible_post(request: Request, db: Session, viewer: Viewer, post_id: int) -> MediaItem:
    post = db.scalar(_posts().where(Post.id == post_id))
    data = None if post is None else show(request, db, viewer, "post", post_objects(db, [post])[0])
    if data is None:
        raise not_found("media")
    return MediaItem.model_validate(data)


def _media_page(
    request: Request,
    db: Session,
    viewer: Viewer,
    query: Select[Post],
    limit: int,
    cursor: str | None,
) -> MediaPage:
    """Newest first."""
    page, next_cursor = _keyset_page(db, query, Post.id, limit, cursor, newest_first=True)
    items = _shown(request, db, viewer, "post", post_objects(db, page))
    return MediaPage(
        items=[MediaItem.model_validate(item) for item in items], next_cursor=next_cursor
    )


@router.get(
    "/me",
    tags=["app"],
    summary="The calling app",
    description="The app the token belongs to, and the scopes of this token.",
)
def me(viewer: AnyScope) -> PartnerAppInfo:
    app = _app(viewer)
    context.annotate(resource="api")
    return PartnerAppInfo(
        client_id=app.client_id,
        name=app.name,
        purpose=app.purpose,
        scopes=sorted(viewer.token_scopes),
    )


@router.get(
    "/users/search",
    tags=["users"],
    summary="Search users",
    description="Users whose username or display name contains `q` (case-insensitive), among "
    "the accounts that authorised this app. Requires profile:basic.",
    response_model_exclude_unset=True,
)
def search_users(
    request: Request,
    db: DB,
    viewer: ProfileReader,
    q: Annotated[str, Query(min_length=1, max_length=80, description="Text to look for.")],
    limit: Limit = 20,
    cursor: Cursor = None,
) -> UserPage:
    context.annotate(resource="search")
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = _active_users().where(
        User.id.in_(_authorising_owners(viewer)),
        User.id.not_in(canary_ids(CanaryKind.ACCOUNT)),
        User.username.ilike(pattern, escape="\\") | User.display_name.ilike(pattern, escape="\\"),
    )
    page, next_cursor = _keyset_page(db, query, User.id, limit, cursor, newest_first=False)
    items = _shown(request, db, viewer, "profile", profile_objects(db, page))
    return UserPage(
        items=[UserProfile.model_validate(item) for item in items], next_cursor=next_cursor
    )


@router.post(
    "/users/lookup",
    tags=["users"],
    summary="Look up users by username",
    description=f"Resolves up to {MAX_LOOKUP} usernames at once. Requires profile:basic.",
    responses={
        400: _error("The body is not valid JSON (`invalid_request`)."),
        413: {"description": "The body is larger than 16 KiB."},
    },
    max_body_size=16 * 1024,
    response_model_exclude_unset=True,
)
def lookup_users(
    request: Request, db: DB, viewer: ProfileReader, body: UsernameLookup
) -> LookupResult:
    wanted = list(dict.fromkeys(body.usernames))
    found = list(db.scalars(_active_users().where(User.username.in_(wanted)).order_by(User.id)))
    shown: dict[str, dict[str, Any]] = {}
    for user, obj in zip(found, profile_objects(db, found), strict=True):
        data = show(request, db, viewer, "profile", obj)
        if data is not None:
            shown[user.username] = data
    return LookupResult(
        users=[UserProfile.model_validate(shown[name]) for name in wanted if name in shown],
        not_found=[name for name in wanted if name not in shown],
    )


@router.get(
    "/users/by-username/{username}",
    tags=["users"],
    summary="A user, by username",
    description="Requires profile:basic; bio, counts and e-mail need their own scopes.",
    responses=_NOT_FOUND,
    response_model_exclude_unset=True,
)
def user_by_username(
    request: Request,
    db: DB,
    viewer: ProfileReader,
    username: Annotated[str, Path(min_length=1, max_length=30)],
) -> UserProfile:
    return _profile_or_404(request, db, viewer, active_user(db, username))


@router.get(
    "/users/{user_id}",
    tags=["users"],
    summary="A user",
    description="Requires profile:basic; bio, counts and e-mail need their own scopes.",
    responses=_NOT_FOUND,
    response_model_exclude_unset=True,
)
def user_by_id(request: Request, db: DB, viewer: ProfileReader, user_id: ObjectId) -> UserProfile:
    return _profile_or_404(request, db, viewer, db.get(User, user_id))


@router.get(
    "/users/{user_id}/media",
    tags=["users", "media"],
    summary="A user's posts",
    description="Newest first. Requires media:read; venue fields need location:read.",
    responses=_NOT_FOUND,
    response_model_exclude_unset=True,
)
def user_media(
    request: Request,
    db: DB,
    viewer: MediaReader,
    user_id: ObjectId,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> MediaPage:
    user = db.get(User, user_id)
    # An owner who has not authorised the app must look exactly like an unknown one, not like
    # an account with no posts.
    if user is None or user.disabled or not viewer.audience_for(db, user.id).authorised:
        raise not_found("user")
    return _media_page(request, db, viewer, _posts().where(Post.owner_id == user.id), limit, cursor)


@router.get(
    "/media/{post_id}",
    tags=["media"],
    summary="A post",
    description="Requires media:read; venue fields need location:read.",
    responses=_NOT_FOUND,
    response_model_exclude_unset=True,
)
def media_item(request: Request, db: DB, viewer: MediaReader, post_id: ObjectId) -> MediaItem:
    return _visible_post(request, db, viewer, post_id)


@router.get(
    "/media/{post_id}/comments",
    tags=["media"],
    summary="The comments of a post",
    description="Oldest first; only comments whose authors authorised the app. Requires "
    "media:read.",
    responses=_NOT_FOUND,
    response_model_exclude_unset=True,
)
def media_comments(
    request: Request,
    db: DB,
    viewer: MediaReader,
    post_id: ObjectId,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> CommentPage:
    _visible_post(request, db, viewer, post_id)
    query = (
        select(Comment)
        .join(Comment.author)
        .where(Comment.post_id == post_id, User.disabled.is_(False))
        .options(selectinload(Comment.author))
    )
    page, next_cursor = _keyset_page(db, query, Comment.id, limit, cursor, newest_first=False)
    items = _shown(request, db, viewer, "comment", (comment_dict(c) for c in page))
    return CommentPage(
        items=[CommentItem.model_validate(item) for item in items], next_cursor=next_cursor
    )


def _location_or_404(request: Request, db: Session, viewer: Viewer, venue_id: int) -> Location:
    venue = db.get(Venue, venue_id)
    data = None if venue is None else show(request, db, viewer, "location", venue_dict(venue))
    if data is None:
        raise not_found("location")
    return Location.model_validate(data)


@router.get(
    "/locations/{venue_id}",
    tags=["locations"],
    summary="A venue",
    description="Requires location:read.",
    responses=_NOT_FOUND,
    response_model_exclude_unset=True,
)
def location(request: Request, db: DB, viewer: LocationReader, venue_id: ObjectId) -> Location:
    return _location_or_404(request, db, viewer, venue_id)


@router.get(
    "/locations/{venue_id}/media",
    tags=["locations", "media"],
    summary="Posts at a venue",
    description="Newest first; only posts of accounts that authorised the app. Requires "
    "location:read and media:read.",
    responses=_NOT_FOUND,
    response_model_exclude_unset=True,
)
def location_media(
    request: Request,
    db: DB,
    viewer: LocationMediaReader,
    venue_id: ObjectId,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> MediaPage:
    _location_or_404(request, db, viewer, venue_id)
    query = _posts().where(
        Post.venue_id == venue_id, Post.owner_id.in_(_authorising_owners(viewer))
    )
    return _media_page(request, db, viewer, query, limit, cursor)


@router.get(
    "/compliance",
    tags=["compliance"],
    summary="Deletions to honour",
    description="The deletion-compliance feed: deleted posts, expired and deleted stories, "
    "revoked authorisations of this app and deleted accounts, oldest first. Start with `since` "
    "(or from the oldest kept event), then follow `next_cursor`, which is never null: keep the "
    "last one and poll with it for new events. Requires compliance:read, which every app holds.",
    responses={400: _error("A malformed `cursor` (`invalid_request`).")},
)
def compliance_feed(
    db: DB,
    viewer: ComplianceReader,
    since: Annotated[
        AwareDatetime | None,
        Query(description="Only events at or after this time (ISO 8601 with a zone)."),
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> ComplianceEventPage:
    # A keyset page of its own rather than _keyset_page: a stream's cursor is never null, and a
    # short page moves it to the end of the feed (see compliance.read_feed).
    context.annotate(resource="api")
    page = compliance.read_feed(
        db, _app(viewer).id, after=_decode_cursor(cursor), since=since, limit=limit
    )
    return ComplianceEventPage(
        items=[
            ComplianceEventItem.model_validate(event, from_attributes=True) for event in page.events
        ],
        next_cursor=_encode_cursor(page.position),
        has_more=page.has_more,
    )
