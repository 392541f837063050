"""Builds small worlds in the database, for tests that need data before they call routes."""

from __future__ import annotations

import functools
import io
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy.orm import Session

from photoshare.db import utcnow
from photoshare.models import (
    Follow,
    FollowStatus,
    Media,
    PartnerApp,
    PartnerAuthorisation,
    Post,
    Story,
    User,
    Venue,
)
from photoshare.partners import register_partner
from photoshare.security import hash_password

PASSWORD = "correct horse battery staple"


@functools.cache
def _password_hash() -> str:
    """argon2 is slow by design; one hash serves every account a test makes."""
    return hash_password(PASSWORD)


def jpeg_bytes(
    color: tuple[int, int, int] = (200, 80, 40), size: tuple[int, int] = (32, 24)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


@dataclass
class World:
    db: Session
    media_dir: Path

    def user(
        self,
        username: str,
        *,
        private: bool = False,
        business: bool = False,
        email: str | None = None,
        bio: str = "",
    ) -> User:
        user = User(
            username=username,
            display_name=username.title(),
            bio=bio or f"bio of {username}",
            email=email or f"{username}@example.org",
            password_hash=_password_hash(),
            is_private=private,
            is_business=business,
        )
        self.db.add(user)
        self.db.commit()
        return user

    def media(self, owner: User) -> Media:
        data = jpeg_bytes()
        key = secrets.token_hex(16)
        (self.media_dir / f"{key}.jpg").write_bytes(data)
        media = Media(key=key, owner_id=owner.id, width=32, height=24, size=len(data))
        self.db.add(media)
        self.db.commit()
        return media

    def venue(self, name: str = "Hotel Adlon", city: str = "Berlin") -> Venue:
        venue = Venue(name=name, category="hotel", city=city, lat=52.5163, lon=13.3798)
        self.db.add(venue)
        self.db.commit()
        return venue

    def post(self, owner: User, *, caption: str = "a day out", venue: Venue | None = None) -> Post:
        post = Post(
            owner_id=owner.id,
            media_id=self.media(owner).id,
            caption=caption,
            venue_id=venue.id if venue else None,
        )
        self.db.add(post)
        self.db.commit()
        return post

    def story(
        self, owner: User, *, venue: Venue | None = None, age: timedelta = timedelta(hours=1)
    ) -> Story:
        created: datetime = utcnow() - age
        story = Story(
            owner_id=owner.id,
            media_id=self.media(owner).id,
            venue_id=venue.id if venue else None,
            created_at=created,
            expires_at=created + timedelta(hours=24),
        )
        self.db.add(story)
        self.db.commit()
        return story

    def follow(self, follower: User, followee: User, *, approved: bool = True) -> Follow:
        status = FollowStatus.APPROVED if approved else FollowStatus.PENDING
        follow = Follow(follower_id=follower.id, followee_id=followee.id, status=status)
        self.db.add(follow)
        self.db.commit()
        return follow

    def partner_app(
        self, name: str = "Acme Insights", scopes: str = "profile:basic media:read"
    ) -> tuple[PartnerApp, str]:
        """A registered app and its clear-text client secret."""
        return register_partner(
            self.db,
            name=name,
            purpose="analytics for business accounts",
            contact_email="legal@acme.example",
            scopes=set(scopes.split()),
        )

    def authorise(self, app: PartnerApp, user: User) -> None:
        self.db.add(PartnerAuthorisation(app_id=app.id, user_id=user.id))
        self.db.commit()
