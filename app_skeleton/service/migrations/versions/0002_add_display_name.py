"""Add users.display_name to a table that already has rows.

A NOT NULL column cannot simply be added to a table with rows: each existing row needs a value.
Three steps, in one transaction: add it nullable, backfill it (from username), then make it
NOT NULL. On SQLite the last step is a batch operation (the table is copied), because SQLite
cannot change a column's nullability in place; on PostgreSQL it is one ALTER TABLE.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ✏️ Exercise 09.3 — TODO: every existing row gets a display_name (its username), then the column is NOT NULL
    ### BEGIN SOLUTION
    op.add_column("users", sa.Column("display_name", sa.String(100), nullable=True))
    op.execute("UPDATE users SET display_name = username WHERE display_name IS NULL")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("display_name", existing_type=sa.String(100), nullable=False)
    ### END SOLUTION
    ### BEGIN STARTER
    # op.add_column("users", sa.Column("display_name", sa.String(100), nullable=True))
    ### END STARTER


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("display_name")
