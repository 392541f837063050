"""The JSON shapes of the partner API and of the OAuth2 token endpoint, as OpenAPI publishes them.

Every personal-data field is optional: the policy decides, per token scope and per owner, which
fields go out, and a field it withholds is absent from the response (not null). These models only
name what may ever appear; a field they do not name is never sent, whatever the policy allows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from photoshare.models import ComplianceEventType

MAX_LOOKUP = 100

Username = Annotated[str, StringConstraints(min_length=1, max_length=30, strip_whitespace=True)]


class TokenResponse(BaseModel):
    """A successful access-token response (RFC 6749 section 5.1)."""

    access_token: str = Field(description="The bearer token; send it as `Authorization: Bearer …`.")
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")
    scope: str = Field(description="The space-separated scopes the token carries.")


class OAuthError(BaseModel):
    """An error of the token endpoint (RFC 6749 section 5.2)."""

    error: Literal["invalid_request", "invalid_client", "invalid_scope", "unsupported_grant_type"]
    error_description: str


class ApiError(BaseModel):
    """An error of the partner API, in the vocabulary of RFC 6750 section 3.1."""

    error: str = Field(
        description="invalid_request, invalid_token, insufficient_scope or not_found."
    )
    error_description: str | None = None
    scope: str | None = Field(
        default=None, description="With insufficient_scope: the scopes the endpoint requires."
    )
    errors: list[dict[str, object]] | None = Field(
        default=None, description="With invalid_request: which parameters were wrong, and why."
    )


class PartnerAppInfo(BaseModel):
    """The app that owns the token."""

    client_id: str
    name: str
    purpose: str
    scopes: list[str] = Field(description="The scopes of this token.")


class UserProfile(BaseModel):
    """A user's profile; the fields present depend on the token's profile and contact scopes."""

    id: int | None = None
    username: str | None = None
    display_name: str | None = None
    avatar_url: str | None = None
    is_business: bool | None = None
    is_private: bool | None = None
    bio: str | None = Field(default=None, description="With profile:bio.")
    follower_count: int | None = Field(default=None, description="With profile:insights.")
    following_count: int | None = Field(default=None, description="With profile:insights.")
    post_count: int | None = Field(default=None, description="With profile:insights.")
    email: str | None = Field(default=None, description="With contact:read.")


class MediaItem(BaseModel):
    """A post; venue fields only with location:read, and only when the post has a venue."""

    id: int | None = None
    owner_id: int | None = None
    owner_username: str | None = None
    image_url: str | None = None
    caption: str | None = None
    created_at: datetime | None = None
    like_count: int | None = None
    comment_count: int | None = None
    venue_id: int | None = Field(default=None, description="With location:read.")
    venue_name: str | None = Field(default=None, description="With location:read.")
    venue_city: str | None = Field(default=None, description="With location:read.")
    lat: float | None = Field(default=None, description="With location:read.")
    lon: float | None = Field(default=None, description="With location:read.")


class CommentItem(BaseModel):
    """A comment; shown only when its author also authorised the app."""

    id: int | None = None
    post_id: int | None = None
    owner_id: int | None = Field(default=None, description="The author.")
    owner_username: str | None = None
    text: str | None = None
    created_at: datetime | None = None


class Location(BaseModel):
    """A venue: a public place, not personal data."""

    id: int | None = None
    name: str | None = None
    category: str | None = None
    city: str | None = None
    lat: float | None = None
    lon: float | None = None


class _Page(BaseModel):
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class MediaPage(_Page):
    items: list[MediaItem]


class CommentPage(_Page):
    items: list[CommentItem]


class UserPage(_Page):
    items: list[UserProfile]


class UsernameLookup(BaseModel):
    """A batch of usernames to resolve."""

    model_config = ConfigDict(extra="forbid")

    usernames: list[Username] = Field(min_length=1, max_length=MAX_LOOKUP)


class LookupResult(BaseModel):
    users: list[UserProfile] = Field(description="The profiles found, in the order asked.")
    not_found: list[str] = Field(
        description="Usernames with no profile this app may see: unknown, or not authorised."
    )


class ComplianceEventItem(BaseModel):
    """A deletion the app must honour: it deletes what it holds of the object. Ids only."""

    id: int = Field(description="The event's id; ids grow in the order of the feed.")
    type: ComplianceEventType = Field(
        description="post.deleted, story.expired, story.deleted: delete the post or story. "
        "authorisation.revoked: delete what the app obtained of the account through its "
        "authorisation. account.deleted: delete everything of the account."
    )
    object_id: int = Field(
        description="The post, story, authorisation or account (for account.deleted, the "
        "account's id again)."
    )
    user_id: int = Field(description="The account the object belonged to.")
    occurred_at: datetime = Field(description="When the platform deleted it (UTC).")


class ComplianceEventPage(BaseModel):
    items: list[ComplianceEventItem]
    next_cursor: str = Field(
        description="Never null: pass as `cursor` for the next page, and keep it to poll for "
        "new events later."
    )
    has_more: bool = Field(description="True when more events are waiting now.")
