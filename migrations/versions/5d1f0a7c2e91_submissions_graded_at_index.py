"""An index on submissions.graded_at: the recent grading rate that tells polling clients when to ask again.

Revision ID: 5d1f0a7c2e91
Revises: cc3079a79b22
Create Date: 2026-12-03 21:40:00

This file deliberately does not import ``grader``.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "5d1f0a7c2e91"
down_revision: str | Sequence[str] | None = "cc3079a79b22"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index(op.f("ix_submissions_graded_at"), "submissions", ["graded_at"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_submissions_graded_at"), table_name="submissions")
