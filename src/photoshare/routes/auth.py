"""Signing up, logging in and out, the account's own settings (profile, partner apps), and
deleting the account."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from photoshare import accounts, csrf, deletions, queries, web
from photoshare.deps import DB, SESSION_COOKIE, CurrentViewer, get_settings, show
from photoshare.models import PartnerApp, PartnerAuthorisation, User
from photoshare.security import verify_password
from photoshare.settings import Settings

# web pages: the OpenAPI document says so (it said application/json; found by schemathesis)
router = APIRouter(default_response_class=HTMLResponse)

AppSettings = Annotated[Settings, Depends(get_settings)]
Field = Annotated[str, Form()]


def _signed_form(
    request: Request, settings: Settings, name: str, context: dict[str, Any], status_code: int
) -> Response:
    signed = csrf.signed_token(request, settings)
    page = web.render(
        request, name, {**context, "csrf_token": signed.token}, status_code=status_code
    )
    return csrf.set_nonce_cookie(page, signed, settings)


def _logged_in(request: Request, db: DB, user: User, settings: Settings, to: str) -> Response:
    """Opens a fresh session (never reusing the browser's old token) and sends the browser on."""
    if old := request.cookies.get(SESSION_COOKIE):
        accounts.end_session(db, old)
    ttl = timedelta(hours=settings.session_ttl_hours)
    token = accounts.start_session(db, user, ttl)
    response = RedirectResponse(web.safe_next(to), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/signup")
def signup_form(request: Request, viewer: CurrentViewer, settings: AppSettings) -> Response:
    if viewer.user is not None:
        return RedirectResponse("/", status_code=303)
    return _signed_form(request, settings, "signup.html", {}, 200)


@router.post("/signup", dependencies=[csrf.SignedCsrf])
def signup(
    request: Request,
    db: DB,
    settings: AppSettings,
    username: Field = "",
    email: Field = "",
    password: Field = "",
) -> Response:
    username, email = username.strip().lower(), email.strip()
    problems = [
        problem
        for problem in (
            accounts.username_problem(username),
            accounts.email_problem(email),
            accounts.password_problem(password),
        )
        if problem
    ]
    if not problems:
        try:
            user = accounts.create_user(db, username=username, email=email, password=password)
        except accounts.UsernameTaken:
            problems.append("That username is taken.")
        else:
            return _logged_in(request, db, user, settings, "/")
    context = {"problems": problems, "username": username, "email": email}
    return _signed_form(request, settings, "signup.html", context, 400)


@router.get("/login")
def login_form(
    request: Request, viewer: CurrentViewer, settings: AppSettings, next: str = "/"
) -> Response:
    if viewer.user is not None:
        return RedirectResponse(web.safe_next(next), status_code=303)
    return _signed_form(request, settings, "login.html", {"next": web.safe_next(next)}, 200)


@router.post("/login", dependencies=[csrf.SignedCsrf])
def login(
    request: Request,
    db: DB,
    settings: AppSettings,
    username: Field = "",
    password: Field = "",
    next: Field = "/",
) -> Response:
    user = accounts.authenticate(db, username.strip().lower(), password)
    if user is None:
        context = {
            "problems": ["Wrong username or password."],
            "username": username,
            "next": web.safe_next(next),
        }
        return _signed_form(request, settings, "login.html", context, 401)
    return _logged_in(request, db, user, settings, next)


@router.post("/logout")
def logout(
    request: Request,
    db: DB,
    viewer: CurrentViewer,
    settings: AppSettings,
    csrf_token: csrf.FormToken = "",
) -> Response:
    session = request.state.web_session
    if viewer.user is not None and session is not None:
        csrf.check_session_token(session, csrf_token)
        db.delete(session)
        db.commit()
    return _logged_out(settings)


def _logged_out(settings: Settings) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=settings.secure_cookies, httponly=True, samesite="lax"
    )
    return response


def _settings_page(
    request: Request, db: DB, viewer: CurrentViewer, user: User, **extra: Any
) -> Response:
    profile = show(request, db, viewer, "profile", queries.profile_object(db, user))
    status_code = 400 if extra.get("problems") or extra.get("delete_problems") else 200
    return web.render(
        request, "settings.html", {"profile": profile, **extra}, status_code=status_code
    )


@router.get("/settings")
def settings_form(
    request: Request, db: DB, viewer: CurrentViewer, user: web.BrowserUser, saved: bool = False
) -> Response:
    return _settings_page(request, db, viewer, user, saved=saved)


@router.post("/settings", dependencies=[csrf.SessionCsrf])
def save_settings(
    request: Request,
    db: DB,
    viewer: CurrentViewer,
    user: web.BrowserUser,
    display_name: Field = "",
    bio: Field = "",
    email: Field = "",
    private: Annotated[bool, Form()] = False,
) -> Response:
    display_name, bio, email = display_name.strip(), bio.strip(), email.strip()
    if problems := accounts.profile_problems(display_name, bio, email):
        return _settings_page(request, db, viewer, user, problems=problems)
    user.display_name = display_name or user.username
    user.bio, user.email, user.is_private = bio, email, private
    db.commit()
    return RedirectResponse("/settings?saved=true", status_code=303)


@router.get("/settings/apps")
def partner_apps(request: Request, db: DB, user: web.BrowserUser) -> Response:
    authorised = set(
        db.scalars(
            select(PartnerAuthorisation.app_id).where(PartnerAuthorisation.user_id == user.id)
        )
    )
    apps = [
        {
            "id": app.id,
            "name": app.name,
            "purpose": app.purpose,
            "scopes": sorted(app.scope_set),
            "authorised": app.id in authorised,
        }
        for app in db.scalars(
            select(PartnerApp).where(PartnerApp.revoked.is_(False)).order_by(PartnerApp.name)
        )
    ]
    return web.render(
        request, "settings_apps.html", {"apps": apps, "is_business": user.is_business}
    )


@router.post("/settings/apps/{app_id:int}/authorise", dependencies=[csrf.SessionCsrf])
def authorise_app(request: Request, db: DB, user: web.BrowserUser, app_id: int) -> Response:
    app = db.get(PartnerApp, app_id)
    if app is None or app.revoked:
        return web.not_found(request)
    if not user.is_business:
        return web.error_page(
            request, 403, "Business accounts only", "Only business accounts can authorise apps."
        )
    exists = db.scalar(
        select(PartnerAuthorisation).where(
            PartnerAuthorisation.app_id == app.id, PartnerAuthorisation.user_id == user.id
        )
    )
    if exists is None:
        db.add(PartnerAuthorisation(app_id=app.id, user_id=user.id))
        db.commit()
    return RedirectResponse("/settings/apps", status_code=303)


@router.post("/settings/apps/{app_id:int}/revoke", dependencies=[csrf.SessionCsrf])
def revoke_app(db: DB, user: web.BrowserUser, app_id: int) -> Response:
    deletions.revoke_authorisation(db, user.id, app_id)
    return RedirectResponse("/settings/apps", status_code=303)


@router.post("/settings/delete-account", dependencies=[csrf.SessionCsrf])
def delete_account(
    request: Request,
    db: DB,
    viewer: CurrentViewer,
    settings: AppSettings,
    user: web.BrowserUser,
    password: Field = "",
) -> Response:
    """Deletes the account for good, once its password confirms that its holder asks."""
    if len(password) > accounts.MAX_PASSWORD or not verify_password(user.password_hash, password):
        problems = ["Wrong password: the account was not deleted."]
        return _settings_page(request, db, viewer, user, delete_problems=problems)
    deletions.delete_account(db, user, settings.media_dir)
    return _logged_out(settings)
