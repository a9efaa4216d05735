"""submissions.idempotency_key: the client's Idempotency-Key header, unique per user, so
that a retried POST returns the submission the first try created instead of a second one.

Revision ID: e7c1a9d35f42
Revises: b4d2e8a6c913
Create Date: 2026-12-07 08:40:00

This file deliberately does not import ``grader``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "e7c1a9d35f42"
down_revision: str | Sequence[str] | None = "b4d2e8a6c913"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column (NULL for submissions made without a key: NULLs never collide) and its constraint."""
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch.create_unique_constraint("uq_submissions_user_idempotency_key", ["user_id", "idempotency_key"])


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("submissions") as batch:
        batch.drop_constraint("uq_submissions_user_idempotency_key", type_="unique")
        batch.drop_column("idempotency_key")
