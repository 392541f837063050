"""What accounts do to each other: follow and follow requests, likes, comments.

Every route needs a logged-in browser (others are sent to the log-in form) and every form post a
valid CSRF token; each post answers with a redirect to the page it came from.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import delete, select

from photoshare import csrf, queries, web
from photoshare.deps import DB, CurrentViewer, show
from photoshare.models import Comment, Follow, FollowStatus, Like, Post, User

# web pages: the OpenAPI document says so (it said application/json; found by schemathesis)
router = APIRouter(default_response_class=HTMLResponse)

MAX_COMMENT = 1000


def _back(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


@router.post("/u/{username}/follow", dependencies=[csrf.SessionCsrf])
def follow(request: Request, db: DB, user: web.BrowserUser, username: str) -> Response:
    target = queries.active_user(db, username)
    if target is None:
        return web.not_found(request)
    existing = db.scalar(
        select(Follow).where(Follow.follower_id == user.id, Follow.followee_id == target.id)
    )
    if target.id != user.id and existing is None:
        status = FollowStatus.PENDING if target.is_private else FollowStatus.APPROVED
        db.add(Follow(follower_id=user.id, followee_id=target.id, status=status))
        db.commit()
    return _back(f"/u/{target.username}")


@router.post("/u/{username}/unfollow", dependencies=[csrf.SessionCsrf])
def unfollow(request: Request, db: DB, user: web.BrowserUser, username: str) -> Response:
    target = queries.active_user(db, username)
    if target is None:
        return web.not_found(request)
    db.execute(delete(Follow).where(Follow.follower_id == user.id, Follow.followee_id == target.id))
    db.commit()
    return _back(f"/u/{target.username}")


@router.get("/requests")
def follow_requests(
    request: Request, db: DB, viewer: CurrentViewer, user: web.BrowserUser
) -> Response:
    pending = db.execute(
        select(Follow.id, User)
        .join(User, Follow.follower_id == User.id)
        .where(
            Follow.followee_id == user.id,
            Follow.status == FollowStatus.PENDING,
            User.disabled.is_(False),
        )
        .order_by(Follow.created_at)
    ).all()
    profiles = queries.profile_objects(db, [row.User for row in pending])
    requests = [
        {"follow_id": row.id, "profile": shown}
        for row, profile in zip(pending, profiles, strict=True)
        if (shown := show(request, db, viewer, "profile", profile)) is not None
    ]
    return web.render(request, "requests.html", {"requests": requests})


def _my_request(db: DB, user: User, follow_id: int) -> Follow | None:
    """A pending request to this account; anyone else's requests are not found."""
    return db.scalar(
        select(Follow).where(
            Follow.id == follow_id,
            Follow.followee_id == user.id,
            Follow.status == FollowStatus.PENDING,
        )
    )


@router.post("/requests/{follow_id:int}/approve", dependencies=[csrf.SessionCsrf])
def approve(request: Request, db: DB, user: web.BrowserUser, follow_id: int) -> Response:
    pending = _my_request(db, user, follow_id)
    if pending is None:
        return web.not_found(request)
    pending.status = FollowStatus.APPROVED
    db.commit()
    return _back("/requests")


@router.post("/requests/{follow_id:int}/reject", dependencies=[csrf.SessionCsrf])
def reject(request: Request, db: DB, user: web.BrowserUser, follow_id: int) -> Response:
    pending = _my_request(db, user, follow_id)
    if pending is None:
        return web.not_found(request)
    db.delete(pending)
    db.commit()
    return _back("/requests")


def _visible_post(request: Request, db: DB, viewer: CurrentViewer, post_id: int) -> Post | None:
    """The post, if this viewer may see it; one they may not see might as well not exist."""
    post = queries.post_with_parts(db, post_id)
    if post is None or post.owner.disabled:
        return None
    shown = show(request, db, viewer, "post", queries.post_objects(db, [post])[0])
    return None if shown is None else post


@router.post("/p/{post_id:int}/like", dependencies=[csrf.SessionCsrf])
def like(
    request: Request, db: DB, viewer: CurrentViewer, user: web.BrowserUser, post_id: int
) -> Response:
    post = _visible_post(request, db, viewer, post_id)
    if post is None:
        return web.not_found(request)
    if db.scalar(select(Like.id).where(Like.post_id == post.id, Like.user_id == user.id)) is None:
        db.add(Like(post_id=post.id, user_id=user.id))
        db.commit()
    return _back(f"/p/{post.id}")


@router.post("/p/{post_id:int}/unlike", dependencies=[csrf.SessionCsrf])
def unlike(db: DB, user: web.BrowserUser, post_id: int) -> Response:
    db.execute(delete(Like).where(Like.post_id == post_id, Like.user_id == user.id))
    db.commit()
    return _back(f"/p/{post_id}")


@router.post("/p/{post_id:int}/comments", dependencies=[csrf.SessionCsrf])
def comment(
    request: Request,
    db: DB,
    viewer: CurrentViewer,
    user: web.BrowserUser,
    post_id: int,
    text: Annotated[str, Form()] = "",
) -> Response:
    post = _visible_post(request, db, viewer, post_id)
    if post is None:
        return web.not_found(request)
    text = text.strip()
    if not text or len(text) > MAX_COMMENT:
        message = f"A comment has 1 to {MAX_COMMENT} characters."
        return web.error_page(request, 400, "Comment not posted", message)
    db.add(Comment(post_id=post.id, author_id=user.id, text=text))
    db.commit()
    return _back(f"/p/{post.id}")
