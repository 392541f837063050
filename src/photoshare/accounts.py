"""Accounts and browser sessions: the rules for signing up, checking a password, logging in and out."""

from __future__ import annotations

import functools
import re
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from photoshare.db import utcnow
from photoshare.models import User, WebSession
from photoshare.security import hash_password, new_token, token_hash, verify_password

USERNAME_RE = re.compile(r"[a-z0-9_.]{3,30}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MIN_PASSWORD = 10
MAX_PASSWORD = 1000  # argon2 takes any length; this only bounds the work one request can ask for
MAX_DISPLAY_NAME = 80
MAX_BIO = 300
MAX_EMAIL = 254


class UsernameTaken(Exception):
    pass


def username_problem(username: str) -> str | None:
    if not USERNAME_RE.fullmatch(username):
        return "Usernames have 3 to 30 characters: lowercase letters, digits, '_' and '.'."
    return None


def email_problem(email: str) -> str | None:
    if len(email) > MAX_EMAIL or not EMAIL_RE.fullmatch(email):
        return "Enter a valid email address."
    return None


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"Passwords have at least {MIN_PASSWORD} characters."
    if len(password) > MAX_PASSWORD:
        return f"Passwords have at most {MAX_PASSWORD} characters."
    return None


def profile_problems(display_name: str, bio: str, email: str) -> list[str]:
    problems = []
    if len(display_name) > MAX_DISPLAY_NAME:
        problems.append(f"Display names have at most {MAX_DISPLAY_NAME} characters.")
    if len(bio) > MAX_BIO:
        problems.append(f"Bios have at most {MAX_BIO} characters.")
    if problem := email_problem(email):
        problems.append(problem)
    return problems


def create_user(db: Session, *, username: str, email: str, password: str) -> User:
    """Creates an account whose fields already passed the checks above; raises UsernameTaken."""
    user = User(
        username=username,
        display_name=username,
        email=email,
        password_hash=hash_password(password),
    )
    db.add(user)
    try:
        db.commit()
    except IntegrityError as error:
        db.rollback()
        raise UsernameTaken(username) from error
    return user


@functools.cache
def _decoy_hash() -> str:
    return hash_password(new_token())


def authenticate(db: Session, username: str, password: str) -> User | None:
    """The enabled account with these credentials, or None.

    An unknown username costs one argon2 verification too, so timing does not reveal which
    usernames exist.
    """
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(_decoy_hash(), password)
        return None
    if not verify_password(user.password_hash, password) or user.disabled:
        return None
    return user


def start_session(db: Session, user: User, ttl: timedelta) -> str:
    """Opens a session and returns its token; only the token's hash is stored."""
    token = new_token()
    db.add(
        WebSession(
            token_hash=token_hash(token),
            user_id=user.id,
            csrf_token=new_token(),
            expires_at=utcnow() + ttl,
        )
    )
    db.commit()
    return token


def end_session(db: Session, token: str) -> None:
    db.execute(delete(WebSession).where(WebSession.token_hash == token_hash(token)))
    db.commit()
