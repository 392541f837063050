"""compliance events: the tombstones of the partner deletion-compliance feed

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 08:20:00

``sqlite_autoincrement`` makes SQLite never hand out an id again once its event is purged (a
plain rowid table restarts after its highest row when the newest rows are gone); the feed's
cursor is an id, and a reused one would hide new events behind an old cursor. PostgreSQL
sequences never go back, and ignore the option.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_TYPES = (
    "post.deleted",
    "story.expired",
    "story.deleted",
    "authorisation.revoked",
    "account.deleted",
)


def upgrade() -> None:
    op.create_table(
        "compliance_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "type",
            sa.Enum(*EVENT_TYPES, name="complianceeventtype", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "app_id",
            sa.Integer(),
            sa.ForeignKey("partner_apps.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_compliance_events_app_id", "compliance_events", ["app_id"])
    op.create_index("ix_compliance_events_occurred_at", "compliance_events", ["occurred_at"])


def downgrade() -> None:
    op.drop_table("compliance_events")
