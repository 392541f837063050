"""The dashboard's accounts, log-in sessions and access log, in their own small database.

Passwords are argon2id hashes (argon2-cffi: the library's parameters, rehashed on log-in when
they change). A session is a random token in a cookie; the database keeps only its SHA-256, so a
copy of the database opens no session, and log-out or a removed account ends it at once. The
access log (log-ins, failed log-ins, log-outs, account changes) is append-only in the database
itself, like the case audit log: triggers refuse any UPDATE or DELETE.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from harvestguard.enforce.case_schema import UTCDateTime, make_engine

SESSION_LIFETIME = timedelta(hours=8)
MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class Role(enum.IntEnum):
    """What a dashboard user may do; each role may do what the ones below it may."""

    VIEWER = 1  # read every page
    ANALYST = 2  # act on cases: confirm, dismiss, escalate, ban, lift, notices, incident reports
    ADMIN = 3  # read the access log

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            choices = ", ".join(role.label for role in cls)
            raise ValueError(f"unknown role {name!r}; expected one of {choices}") from None


class AccountError(ValueError):
    """An account change that cannot be made: a bad name, a short password, an unknown user."""


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: Role


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AccessEntry:
    seq: int
    at: datetime
    username: str
    action: str
    details: dict[str, Any]


metadata = MetaData()

users = Table(
    "hg_dashboard_users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

sessions = Table(
    "hg_dashboard_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "username",
        String(64),
        ForeignKey("hg_dashboard_users.username", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

access_log = Table(
    "hg_dashboard_access",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("username", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("details", JSON, nullable=False),
)

_APPEND_ONLY = "hg_dashboard_access is append-only"
_TRIGGERS: dict[str, tuple[str, ...]] = {
    "sqlite": tuple(
        f"""
        CREATE TRIGGER IF NOT EXISTS hg_dashboard_access_no_{verb.lower()}
        BEFORE {verb} ON hg_dashboard_access
        BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END
        """
        for verb in ("UPDATE", "DELETE")
    ),
    "postgresql": (
        f"""
        CREATE OR REPLACE FUNCTION hg_dashboard_access_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$
        """,
        """
        CREATE OR REPLACE TRIGGER hg_dashboard_access_no_rewrite
        BEFORE UPDATE OR DELETE ON hg_dashboard_access
        FOR EACH ROW EXECUTE FUNCTION hg_dashboard_access_append_only()
        """,
    ),
}


def default_accounts_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'dashboard.db'}"


class AccountStore:
    def __init__(self, url: str, *, hasher: PasswordHasher | None = None) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine: Engine = make_engine(url)
        self.hasher = hasher or PasswordHasher()
        metadata.create_all(self.engine)
        statements = _TRIGGERS.get(self.engine.dialect.name, ())
        with self.engine.begin() as db:
            for statement in statements:
                db.execute(text(statement))

    def close(self) -> None:
        self.engine.dispose()

    # -- accounts ---------------------------------------------------------------------------

    def add(self, username: str, password: str, role: Role, *, by: str) -> User:
        if not _USERNAME.match(username):
            raise AccountError(
                f"a user name is 1 to 64 letters, digits or . _ @ - (no spaces), not {username!r}"
            )
        _check_password(password)
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as db:
                db.execute(
                    insert(users).values(
                        username=username,
                        role=role.label,
                        password_hash=self.hasher.hash(password),
                        created_at=now,
                    )
                )
                self._log(db, now, by, "user_added", {"user": username, "role": role.label})
        except IntegrityError:
            raise AccountError(f"user {username!r} exists already") from None
        return User(username, role)

    def set_password(self, username: str, password: str, *, by: str) -> None:
        _check_password(password)
        self._change(username, {"password_hash": self.hasher.hash(password)}, by, "password_set")

    def set_role(self, username: str, role: Role, *, by: str) -> None:
        self._change(username, {"role": role.label}, by, "role_set", {"role": role.label})

    def remove(self, username: str, *, by: str) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as db:
            db.execute(delete(sessions).where(sessions.c.username == username))
            if db.execute(delete(users).where(users.c.username == username)).rowcount == 0:
                raise AccountError(f"no user {username!r}")
            self._log(db, now, by, "user_removed", {"user": username})

    def users(self) -> list[tuple[User, datetime]]:
        with self.engine.connect() as db:
            rows = db.execute(select(users).order_by(users.c.username)).all()
        return [(User(r.username, Role.parse(r.role)), r.created_at) for r in rows]

    def _change(
        self,
        username: str,
        values: dict[str, Any],
        by: str,
        action: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as db:
            changed = db.execute(update(users).where(users.c.username == username).values(values))
            if changed.rowcount == 0:
                raise AccountError(f"no user {username!r}")
            # a new password or role takes effect now: the user's sessions end
            db.execute(delete(sessions).where(sessions.c.username == username))
            self._log(db, now, by, action, {"user": username, **(details or {})})

    # -- sessions ---------------------------------------------------------------------------

    def log_in(self, username: str, password: str, client: str) -> tuple[str, Session] | None:
        """A new session (its cookie token and the session) when the password is right."""
        now = datetime.now(UTC)
        with self.engine.connect() as db:
            row = db.execute(select(users).where(users.c.username == username)).one_or_none()
        stored = row.password_hash if row is not None else _dummy_hash()
        try:
            self.hasher.verify(stored, password)
            verified = row is not None
        except (VerificationError, InvalidHashError):
            verified = False
        with self.engine.begin() as db:
            if not verified or row is None:
                # the name typed is logged as typed: it may be an attacker's string
                self._log(db, now, username[:64], "login_failed", {"client": client})
                return None
            if self.hasher.check_needs_rehash(row.password_hash):
                db.execute(
                    update(users)
                    .where(users.c.username == username)
                    .values(password_hash=self.hasher.hash(password))
                )
            token = secrets.token_urlsafe(32)
            session = Session(
                User(username, Role.parse(row.role)),
                secrets.token_urlsafe(32),
                now + SESSION_LIFETIME,
            )
            db.execute(delete(sessions).where(sessions.c.expires_at <= now))
            db.execute(
                insert(sessions).values(
                    token_hash=_digest(token),
                    username=username,
                    csrf_token=session.csrf_token,
                    created_at=now,
                    expires_at=session.expires_at,
                )
            )
            self._log(db, now, username, "login", {"client": client})
        return token, session

    def session(self, token: str) -> Session | None:
        now = datetime.now(UTC)
        query = (
            select(sessions.c.csrf_token, sessions.c.expires_at, users.c.username, users.c.role)
            .join(users, users.c.username == sessions.c.username)
            .where(sessions.c.token_hash == _digest(token), sessions.c.expires_at > now)
        )
        with self.engine.connect() as db:
            row = db.execute(query).one_or_none()
        if row is None:
            return None
        return Session(User(row.username, Role.parse(row.role)), row.csrf_token, row.expires_at)

    def log_out(self, token: str, client: str) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as db:
            row = db.execute(
                select(sessions.c.username).where(sessions.c.token_hash == _digest(token))
            ).one_or_none()
            if row is None:
                return
            db.execute(delete(sessions).where(sessions.c.token_hash == _digest(token)))
            self._log(db, now, row.username, "logout", {"client": client})

    # -- the access log ---------------------------------------------------------------------

    def record(self, username: str, action: str, details: dict[str, Any]) -> None:
        """Logs an action that belongs to no case (a refused request, say)."""
        with self.engine.begin() as db:
            self._log(db, datetime.now(UTC), username, action, details)

    def access_log(self, limit: int = 200) -> list[AccessEntry]:
        """The newest entries first."""
        query = select(access_log).order_by(access_log.c.seq.desc()).limit(limit)
        with self.engine.connect() as db:
            return [
                AccessEntry(r.seq, r.at, r.username, r.action, dict(r.details))
                for r in db.execute(query)
            ]

    @staticmethod
    def _log(db: Any, at: datetime, username: str, action: str, details: dict[str, Any]) -> None:
        db.execute(
            insert(access_log).values(at=at, username=username, action=action, details=details)
        )


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user name is unknown, so that a wrong name takes as long as a
    wrong password and the timing does not tell which names exist."""
    return PasswordHasher().hash(secrets.token_urlsafe(16))
