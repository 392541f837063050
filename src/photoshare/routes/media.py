"""Uploading photos (posts, stories, avatars), deleting them, and serving them to those who may
see them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from harvestguard import context
from photoshare import csrf, deletions, web
from photoshare.db import utcnow
from photoshare.deps import DB, CurrentViewer, get_settings, show
from photoshare.media import (
    ImageRejected,
    NotAnImage,
    commit_or_discard,
    discard_file,
    ingest_image,
    is_media_key,
    media_path,
)
from photoshare.models import Media, Post, Story, User, Venue
from photoshare.serialize import media_url, served_photo
from photoshare.settings import Settings
from photoshare.viewer import Viewer

# web pages: the OpenAPI document says so (it said application/json; found by schemathesis)
router = APIRouter(default_response_class=HTMLResponse)

MAX_CAPTION = 2200
# The image bytes of a photo never change, but who may see them does (an account turns private,
# a story expires): browsers may keep them briefly, shared caches never.
MAX_AGE_SECONDS = 300

AppSettings = Annotated[Settings, Depends(get_settings)]
Field = Annotated[str, Form()]
Upload = Annotated[UploadFile | None, File()]


def _upload_form(
    request: Request,
    db: Session,
    settings: Settings,
    kind: str,
    *,
    problems: list[str] | None = None,
    caption: str = "",
    venue_id: int | None = None,
    status_code: int = 200,
) -> Response:
    # Venues are public places owned by nobody, and the form is for logged-in accounts, who may
    # see every venue (the policy's location resource): names and cities only, no coordinates.
    venues = [
        {"id": venue.id, "name": venue.name, "city": venue.city}
        for venue in db.scalars(select(Venue).order_by(Venue.city, Venue.name))
    ]
    page = {
        "venues": venues,
        "problems": problems or [],
        "caption": caption,
        "venue_id": venue_id,
        "max_caption": MAX_CAPTION,
        "max_megabytes": settings.max_upload_bytes // (1024 * 1024),
        "story_ttl_hours": settings.story_ttl_hours,
    }
    return web.render(request, f"new_{kind}.html", page, status_code=status_code)


def _read_upload(upload: UploadFile | None, settings: Settings) -> bytes:
    """The uploaded bytes, reading one byte past the limit so that too large is seen as such."""
    if upload is None or not upload.filename:
        raise NotAnImage("choose a photo to upload")
    return upload.file.read(settings.max_upload_bytes + 1)


def _venue_choice(db: Session, venue_id: str) -> tuple[int | None, str | None]:
    """The chosen venue's id, or a problem with the choice."""
    if not venue_id.strip():
        return None, None
    if not venue_id.strip().isdigit() or db.get(Venue, int(venue_id)) is None:
        return None, "that place does not exist"
    return int(venue_id), None


def _ingest_unless(
    problems: list[str], image: UploadFile | None, user: User, settings: Settings, db: Session
) -> tuple[Media | None, list[str], int]:
    """Stores the uploaded image when the form has no other problem: the media, or the problems
    and the status to answer them with."""
    if problems:
        return None, problems, 400
    try:
        media = ingest_image(
            _read_upload(image, settings), owner_id=user.id, settings=settings, db=db
        )
    except ImageRejected as rejected:
        return None, [rejected.reason], rejected.status
    return media, [], 400


@router.get("/new/post")
def new_post_form(
    request: Request, db: DB, settings: AppSettings, _user: web.BrowserUser
) -> Response:
    return _upload_form(request, db, settings, "post")


@router.post("/new/post", dependencies=[csrf.SessionCsrf])
def create_post(
    request: Request,
    db: DB,
    settings: AppSettings,
    user: web.BrowserUser,
    image: Upload = None,
    caption: Field = "",
    venue_id: Field = "",
) -> Response:
    caption = caption.strip()
    venue, venue_problem = _venue_choice(db, venue_id)
    problems = [venue_problem] if venue_problem else []
    if len(caption) > MAX_CAPTION:
        problems.append(f"the caption is longer than {MAX_CAPTION} characters")
    media, problems, status_code = _ingest_unless(problems, image, user, settings, db)
    if media is not None:
        post = Post(owner_id=user.id, media_id=media.id, caption=caption, venue_id=venue)
        db.add(post)
        commit_or_discard(db, media, settings.media_dir)
        return RedirectResponse(f"/p/{post.id}", status_code=303)
    return _upload_form(
        request,
        db,
        settings,
        "post",
        problems=problems,
        caption=caption,
        venue_id=venue,
        status_code=status_code,
    )


@router.get("/new/story")
def new_story_form(
    request: Request, db: DB, settings: AppSettings, _user: web.BrowserUser
) -> Response:
    return _upload_form(request, db, settings, "story")


@router.post("/new/story", dependencies=[csrf.SessionCsrf])
def create_story(
    request: Request,
    db: DB,
    settings: AppSettings,
    user: web.BrowserUser,
    image: Upload = None,
    venue_id: Field = "",
) -> Response:
    venue, venue_problem = _venue_choice(db, venue_id)
    problems = [venue_problem] if venue_problem else []
    media, problems, status_code = _ingest_unless(problems, image, user, settings, db)
    if media is not None:
        created = utcnow()
        story = Story(
            owner_id=user.id,
            media_id=media.id,
            venue_id=venue,
            created_at=created,
            expires_at=created + timedelta(hours=settings.story_ttl_hours),
        )
        db.add(story)
        commit_or_discard(db, media, settings.media_dir)
        return RedirectResponse(f"/stories/{story.id}", status_code=303)
    return _upload_form(
        request, db, settings, "story", problems=problems, venue_id=venue, status_code=status_code
    )


@router.post("/p/{post_id:int}/delete", dependencies=[csrf.SessionCsrf])
def delete_post(
    request: Request, db: DB, settings: AppSettings, user: web.BrowserUser, post_id: int
) -> Response:
    """The owner deletes a post; to anyone else it is not there (as if it did not exist)."""
    post = db.get(Post, post_id)
    if post is None or post.owner_id != user.id:
        return web.not_found(request)
    deletions.delete_post(db, post, settings.media_dir)
    return RedirectResponse(f"/u/{user.username}", status_code=303)


@router.post("/stories/{story_id:int}/delete", dependencies=[csrf.SessionCsrf])
def delete_story(
    request: Request, db: DB, settings: AppSettings, user: web.BrowserUser, story_id: int
) -> Response:
    """The owner deletes a story before it expires; to anyone else it is not there."""
    story = db.get(Story, story_id)
    if story is None or story.owner_id != user.id:
        return web.not_found(request)
    deletions.delete_story(db, story, settings.media_dir)
    return RedirectResponse(f"/u/{user.username}/stories", status_code=303)


@router.post("/settings/avatar", dependencies=[csrf.SessionCsrf])
def upload_avatar(
    request: Request, db: DB, settings: AppSettings, user: web.BrowserUser, image: Upload = None
) -> Response:
    try:
        media = ingest_image(
            _read_upload(image, settings), owner_id=user.id, settings=settings, db=db
        )
    except ImageRejected as rejected:
        return web.error_page(
            request, rejected.status, "Photo not accepted", rejected.reason.capitalize() + "."
        )
    previous = db.get(Media, user.avatar_id) if user.avatar_id is not None else None
    user.avatar_id = media.id
    if previous is not None:
        db.delete(previous)
    commit_or_discard(db, media, settings.media_dir)
    if previous is not None:
        discard_file(settings.media_dir, previous.key)
    return RedirectResponse("/settings?saved=true", status_code=303)


class _Parent(NamedTuple):
    resource: str
    obj: dict[str, Any]
    field: str  # the field of ``obj`` that names the image
    expires_at: datetime | None = None


def _parent(db: Session, media: Media) -> _Parent | None:
    """The post, story or profile the image belongs to, as the policy judges it.

    Only the fields the decision needs are given: serving the image discloses the photo, not the
    caption or the place, and the guard records what was disclosed.
    """
    url = media_url(media)
    post = db.scalar(select(Post).where(Post.media_id == media.id))
    if post is not None:
        if post.owner.disabled:
            return None
        obj = {
            "id": post.id,
            "owner_id": post.owner_id,
            "owner_private": post.owner.is_private,
            "image_url": url,
            "created_at": post.created_at,
        }
        return _Parent("post", obj, "image_url")
    story = db.scalar(select(Story).where(Story.media_id == media.id))
    if story is not None:
        if story.owner.disabled or story.expires_at <= utcnow():
            return None
        obj = {
            "id": story.id,
            "owner_id": story.owner_id,
            "owner_private": story.owner.is_private,
            "image_url": url,
            "created_at": story.created_at,
        }
        return _Parent("story", obj, "image_url", story.expires_at)
    user = db.scalar(select(User).where(User.avatar_id == media.id))
    if user is not None and not user.disabled:
        obj = {"id": user.id, "avatar_url": url, "is_private": user.is_private}
        return _Parent("profile", obj, "avatar_url")
    return None


def _visible_parent(request: Request, db: Session, viewer: Viewer, media: Media) -> _Parent | None:
    parent = _parent(db, media)
    if parent is None:
        return None
    shown = show(request, db, viewer, parent.resource, parent.obj)
    # The request is about "media", so show() leaves the audience unnamed: name it here.
    owner_id = request.app.state.policy.owner_of(parent.resource, parent.obj)
    context.annotate(audience=viewer.audience_for(db, owner_id).kind.value)
    if shown is None or shown.get(parent.field) != media_url(media):
        return None
    return parent


@router.get("/media/{key}", response_class=Response)
def serve_media(request: Request, db: DB, viewer: CurrentViewer, key: str) -> Response:
    """The image bytes, to a viewer the policy shows the image's post, story or profile to.

    Anyone else gets the same 404 as for a key that does not exist, so that a URL copied out of
    a story stops working when the story expires, and a private account's photos stay private.
    Partner apps have no way in: this route knows only browser sessions.
    """
    context.annotate(resource="media")
    media = db.scalar(select(Media).where(Media.key == key)) if is_media_key(key) else None
    if media is None:
        return PlainTextResponse("not found", status_code=404)
    context.annotate(object_id=str(media.id))
    parent = _visible_parent(request, db, viewer, media)
    if parent is None:
        return PlainTextResponse("not found", status_code=404)
    try:
        data = media_path(request.app.state.settings.media_dir, media.key).read_bytes()
    except FileNotFoundError:
        return PlainTextResponse("not found", status_code=404)
    data = served_photo(request, media.key, data)
    max_age = MAX_AGE_SECONDS
    if parent.expires_at is not None:
        max_age = min(max_age, int((parent.expires_at - utcnow()).total_seconds()))
    headers = {
        "Cache-Control": f"private, max-age={max(0, max_age)}",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(data, media_type=media.content_type, headers=headers)
