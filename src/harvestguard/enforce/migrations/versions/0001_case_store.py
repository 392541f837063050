"""the case store: cases, their keys, and the append-only audit log

Revision ID: 0001
Revises:
Create Date: 2026-11-29 11:20:00

The schema ``create_all`` made before the store had migrations (such stores are stamped at this
revision when they are first opened). Triggers make the audit log append-only in the database
itself: on SQLite, UPDATE and DELETE abort; on PostgreSQL, UPDATE, DELETE and TRUNCATE. Other
databases get the tables; the store's API alone keeps their audit log append-only.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_MESSAGE = "hg_case_audit is append-only"

_TRIGGERS: dict[str, tuple[str, ...]] = {
    "sqlite": tuple(
        f"""
        CREATE TRIGGER IF NOT EXISTS hg_case_audit_no_{verb.lower()}
        BEFORE {verb} ON hg_case_audit
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END
        """
        for verb in ("UPDATE", "DELETE")
    ),
    "postgresql": (
        f"""
        CREATE OR REPLACE FUNCTION hg_case_audit_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END $$
        """,
        """
        CREATE OR REPLACE TRIGGER hg_case_audit_no_rewrite
        BEFORE UPDATE OR DELETE ON hg_case_audit
        FOR EACH ROW EXECUTE FUNCTION hg_case_audit_append_only()
        """,
        """
        CREATE OR REPLACE TRIGGER hg_case_audit_no_truncate
        BEFORE TRUNCATE ON hg_case_audit
        FOR EACH STATEMENT EXECUTE FUNCTION hg_case_audit_append_only()
        """,
    ),
}

_DROP_TRIGGERS: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "DROP TRIGGER IF EXISTS hg_case_audit_no_update",
        "DROP TRIGGER IF EXISTS hg_case_audit_no_delete",
    ),
    "postgresql": ("DROP FUNCTION IF EXISTS hg_case_audit_append_only() CASCADE",),
}


def upgrade() -> None:
    op.create_table(
        "hg_cases",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("verdict", sa.String(16)),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("detected_at", sa.DateTime()),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
    )
    op.create_index("ix_hg_cases_status", "hg_cases", ["status"])
    op.create_table(
        "hg_case_keys",
        sa.Column("case_id", sa.String(32), sa.ForeignKey("hg_cases.id"), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(256), primary_key=True),
    )
    op.create_index("ix_hg_case_keys_key", "hg_case_keys", ["kind", "value"])
    op.create_table(
        "hg_case_audit",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("hg_cases.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("by", sa.String(120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
    )
    op.create_index("ix_hg_case_audit_case_id", "hg_case_audit", ["case_id"])
    for statement in _TRIGGERS.get(op.get_bind().dialect.name, ()):
        op.execute(statement)


def downgrade() -> None:
    for statement in _DROP_TRIGGERS.get(op.get_bind().dialect.name, ()):
        op.execute(statement)
    op.drop_table("hg_case_audit")
    op.drop_table("hg_case_keys")
    op.drop_table("hg_cases")
