"""A submission's causes (why it lost points, one entry per cause) and the lab setting
that decides whether a file that could not be loaded counts as an attempt.

Revision ID: 8b2e4c6d1f30
Revises: 5d1f0a7c2e91
Create Date: 2026-12-07 07:00:00

This file deliberately does not import ``grader``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "8b2e4c6d1f30"
down_revision: str | Sequence[str] | None = "5d1f0a7c2e91"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add submissions.causes and labs.unloadable_counts (existing labs keep today's rule off)."""
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("causes", sa.JSON(), nullable=True))
    with op.batch_alter_table("labs") as batch:
        batch.add_column(sa.Column("unloadable_counts", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Drop both columns."""
    with op.batch_alter_table("labs") as batch:
        batch.drop_column("unloadable_counts")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("causes")
