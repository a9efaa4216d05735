"""A submission's notes: what the grader said about the file as handed in (a
notebook's dropped magics, the statements a forgiving load skipped), for the student.

Revision ID: 3f7a9c1e5b20
Revises: 8b2e4c6d1f30
Create Date: 2026-12-07 08:00:00

This file deliberately does not import ``grader``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "3f7a9c1e5b20"
down_revision: str | Sequence[str] | None = "8b2e4c6d1f30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add submissions.notes (NULL for results stored before notes existed, and when there are none)."""
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("notes", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("notes")
