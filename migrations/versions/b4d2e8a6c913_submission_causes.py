"""submission_causes: each graded result's causes as rows (one row with the key "" for a
result with none), for the instructors' per-lab misconception counts; filled from
submissions.causes where results have them (results stored before causes get no rows).

Revision ID: b4d2e8a6c913
Revises: 3f7a9c1e5b20
Create Date: 2026-12-07 08:10:00

This file deliberately does not import ``grader``: the backfill repeats
``grader.service.insight.cause_rows`` (an exception's line is dropped from its key,
causes that then share a key become one row, a result with no cause gets the "" row).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "b4d2e8a6c913"
down_revision: str | Sequence[str] | None = "3f7a9c1e5b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
_EXCEPTION_LINE = re.compile(r"^(exception:[^:]*:[^:]*):-?\d+$")


def upgrade() -> None:
    """Create the table and its index, then backfill it from the graded results' causes."""
    causes = op.create_table(
        "submission_causes",
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("lab_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("mistake", sa.String(length=100), nullable=True),
        sa.Column("points_lost", sa.Float(), nullable=False),
        sa.Column("fixtures", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_causes_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("submission_id", "key", name=op.f("pk_submission_causes")),
    )
    op.create_index(
        "ix_submission_causes_lab_user",
        "submission_causes",
        ["lab_id", "user_id", "attempt", "key", "submitted_at", "submission_id"],
    )
    for rows in _backfill_batches(op.get_bind()):
        op.bulk_insert(causes, rows)


def _backfill_batches(connection: Any) -> Iterator[list[dict[str, Any]]]:
    submissions = sa.table(
        "submissions",
        sa.column("id", sa.Integer()),
        sa.column("lab_id", sa.String()),
        sa.column("user_id", sa.Integer()),
        sa.column("attempt", sa.Integer()),
        sa.column("submitted_at", sa.DateTime(timezone=True)),
        sa.column("status", sa.String()),
        sa.column("causes", sa.JSON()),
    )
    query = (
        sa.select(
            submissions.c.id,
            submissions.c.lab_id,
            submissions.c.user_id,
            submissions.c.attempt,
            submissions.c.submitted_at,
            submissions.c.causes,
        )
        .where(submissions.c.status == "graded", submissions.c.causes.is_not(None))
        .order_by(submissions.c.id)
    )
    batch: list[dict[str, Any]] = []
    for submission_id, lab_id, user_id, attempt, submitted_at, stored in connection.execute(query).yield_per(BATCH):
        same = {
            "submission_id": submission_id,
            "lab_id": lab_id,
            "user_id": user_id,
            "attempt": attempt,
            "submitted_at": submitted_at,
        }
        batch.extend({**same, **row} for row in _rows(stored))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _rows(stored: Any) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for cause in stored if isinstance(stored, list) else []:
        if not isinstance(cause, dict) or not cause.get("key") or not cause.get("kind"):
            continue
        kind = str(cause["kind"])
        key = str(cause["key"])
        if kind == "exception":
            key = _EXCEPTION_LINE.sub(r"\1", key)
        key = key[:255]
        fixtures = [str(name) for name in cause.get("fixtures") or []]
        lost = float(cause.get("points_lost") or 0.0)
        if key in rows:
            row = rows[key]
            row["points_lost"] += lost
            row["fixtures"] = row["fixtures"] + [name for name in fixtures if name not in row["fixtures"]]
            continue
        rows[key] = {
            "key": key,
            "kind": kind[:20],
            "mistake": cause.get("mistake"),
            "points_lost": lost,
            "fixtures": fixtures,
        }
    if not rows:
        return [{"key": "", "kind": "none", "mistake": None, "points_lost": 0.0, "fixtures": []}]
    return list(rows.values())


def downgrade() -> None:
    """Drop the table (the causes stay in submissions.causes)."""
    op.drop_index("ix_submission_causes_lab_user", table_name="submission_causes")
    op.drop_table("submission_causes")
