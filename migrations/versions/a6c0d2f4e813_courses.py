"""courses: a service for many courses. Courses, the labs each course runs (course_labs, with
that course's due date and policy), enrolments with a role per course; submissions, scores,
extensions and audit events carry their course.

Existing data moves into one course, code ``default`` (title "Course", the time zone of
``LOSSGRADER_TIMEZONE`` or UTC): every lab with its policy columns, every student and
instructor (with their section) as enrolments, and every submission, score, extension and
audit event. An empty database gets no course. The policy columns of ``labs`` stay as they
were (the pages that still read them move to course_labs later).

Revision ID: a6c0d2f4e813
Revises: a3f58c2d7e14
Create Date: 2026-12-07 07:50:00

This file deliberately does not import ``grader``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a6c0d2f4e813"
down_revision: str | Sequence[str] | None = "a3f58c2d7e14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_CODE = "default"
POLICY = (
    "due_at",
    "hard_deadline_at",
    "late_policy",
    "late_percent_per_day",
    "max_submissions",
    "min_interval_seconds",
    "counting",
    "unloadable_counts",
)
#: (table, old unique constraint and its columns, new one, ondelete of the course foreign key)
COURSE_TABLES = (
    ("submissions", "uq_submissions_user_lab_attempt", ("user_id", "lab_id", "attempt"), "RESTRICT"),
    ("scores", "uq_scores_user_lab", ("user_id", "lab_id"), "CASCADE"),
    ("extensions", "uq_extensions_user_lab", ("user_id", "lab_id"), "CASCADE"),
)


def _new_unique(table: str, columns: tuple[str, ...]) -> str:
    return f"uq_{table}_course_" + "_".join(c.removesuffix("_id") for c in columns)


def upgrade() -> None:
    """Create the tables, add the course columns, move existing data into one course, then constrain."""
    _create_tables()
    for table, _, _, _ in COURSE_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("course_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("course_id", sa.Integer(), nullable=True))
        batch.create_index("ix_audit_events_course", ["course_id", "at"])
    with op.batch_alter_table("submission_causes") as batch:
        batch.add_column(sa.Column("course_id", sa.Integer(), nullable=True))
    _move_into_one_course(op.get_bind())
    with op.batch_alter_table("submission_causes") as batch:
        batch.alter_column("course_id", existing_type=sa.Integer(), nullable=False)
    op.create_index(
        "ix_submission_causes_course_lab_user",
        "submission_causes",
        ["course_id", "lab_id", "user_id", "attempt", "key", "submitted_at", "submission_id"],
    )
    for table, old, columns, ondelete in COURSE_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("course_id", existing_type=sa.Integer(), nullable=False)
            batch.create_foreign_key(
                f"fk_{table}_course_id_courses", "courses", ["course_id"], ["id"], ondelete=ondelete
            )
            batch.drop_constraint(old, type_="unique")
            batch.create_unique_constraint(_new_unique(table, columns), ["course_id", *columns])
    op.create_index("ix_submissions_course_lab_time", "submissions", ["course_id", "lab_id", "submitted_at"])
    op.create_index("ix_scores_course_lab", "scores", ["course_id", "lab_id", "final"])


def _create_tables() -> None:
    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
        sa.UniqueConstraint("code", name=op.f("uq_courses_code")),
    )
    op.create_table(
        "course_labs",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("lab_id", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hard_deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late_policy", sa.String(length=30), nullable=False),
        sa.Column("late_percent_per_day", sa.Float(), nullable=False),
        sa.Column("max_submissions", sa.Integer(), nullable=True),
        sa.Column("min_interval_seconds", sa.Integer(), nullable=True),
        sa.Column("counting", sa.String(length=10), nullable=False),
        sa.Column("unloadable_counts", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_course_labs_course_id_courses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["lab_id"], ["labs.id"], name=op.f("fk_course_labs_lab_id_labs"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("course_id", "lab_id", name=op.f("pk_course_labs")),
    )
    op.create_index("ix_course_labs_lab", "course_labs", ["lab_id"])
    op.create_table(
        "enrolments",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("section", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_enrolments_course_id_courses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_enrolments_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("course_id", "user_id", name=op.f("pk_enrolments")),
    )
    op.create_index("ix_enrolments_user", "enrolments", ["user_id", "course_id"])
    op.create_index("ix_enrolments_course_role", "enrolments", ["course_id", "role", "section"])


def _move_into_one_course(connection: sa.Connection) -> None:
    """One course holding everything there is (nothing when the database is empty)."""
    labs = sa.table("labs", sa.column("id"), sa.column("position"), *(sa.column(name) for name in POLICY))
    users = sa.table("users", sa.column("id"), sa.column("role"), sa.column("section"))
    has_data = (
        connection.execute(sa.select(labs.c.id).limit(1)).first()
        or connection.execute(sa.select(users.c.id).limit(1)).first()
    )
    if not has_data:
        return
    now = dt.datetime.now(dt.timezone.utc)
    if connection.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # as the models store it there
    courses = sa.table(
        "courses", sa.column("id"), sa.column("code"), sa.column("title"), sa.column("term"),
        sa.column("timezone"), sa.column("created_at"),
    )  # fmt: skip
    timezone = (os.environ.get("LOSSGRADER_TIMEZONE") or "UTC").strip() or "UTC"
    connection.execute(
        courses.insert().values(code=DEFAULT_CODE, title="Course", term="", timezone=timezone, created_at=now)
    )
    course_id = connection.execute(sa.select(courses.c.id).where(courses.c.code == DEFAULT_CODE)).scalar_one()

    course_labs = sa.table(
        "course_labs", sa.column("course_id"), sa.column("lab_id"), sa.column("position"),
        sa.column("created_at"), sa.column("updated_at"), *(sa.column(name) for name in POLICY),
    )  # fmt: skip
    rows = [
        {"course_id": course_id, "lab_id": row.id, "position": row.position or 0, "created_at": now,
         "updated_at": now, **{name: getattr(row, name) for name in POLICY}}
        for row in connection.execute(sa.select(labs))
    ]  # fmt: skip
    for row in rows:  # the server default applies only when the column is left out
        row["unloadable_counts"] = bool(row["unloadable_counts"])
        row["late_policy"] = row["late_policy"] or "none"
        row["counting"] = row["counting"] or "last"
        row["late_percent_per_day"] = row["late_percent_per_day"] or 0.0
    if rows:
        connection.execute(course_labs.insert(), rows)

    enrolments = sa.table(
        "enrolments", sa.column("course_id"), sa.column("user_id"), sa.column("role"), sa.column("section"),
        sa.column("created_at"),
    )  # fmt: skip
    people = connection.execute(
        sa.select(users.c.id, users.c.role, users.c.section).where(users.c.role.in_(("student", "instructor")))
    ).all()
    if people:
        connection.execute(
            enrolments.insert(),
            [
                {"course_id": course_id, "user_id": p.id, "role": p.role, "section": p.section, "created_at": now}
                for p in people
            ],
        )
    for table in (*(t for t, _, _, _ in COURSE_TABLES), "audit_events", "submission_causes"):
        connection.execute(sa.table(table, sa.column("course_id")).update().values(course_id=course_id))


def downgrade() -> None:
    """Back to one implicit course (fails if two courses hold the same student's attempt at a lab)."""
    op.drop_index("ix_scores_course_lab", table_name="scores")
    op.drop_index("ix_submissions_course_lab_time", table_name="submissions")
    for table, old, columns, _ in COURSE_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(_new_unique(table, columns), type_="unique")
            batch.drop_constraint(f"fk_{table}_course_id_courses", type_="foreignkey")
            batch.create_unique_constraint(old, list(columns))
            batch.drop_column("course_id")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("ix_audit_events_course")
        batch.drop_column("course_id")
    op.drop_index("ix_submission_causes_course_lab_user", table_name="submission_causes")
    with op.batch_alter_table("submission_causes") as batch:
        batch.drop_column("course_id")
    op.drop_index("ix_enrolments_course_role", table_name="enrolments")
    op.drop_index("ix_enrolments_user", table_name="enrolments")
    op.drop_table("enrolments")
    op.drop_index("ix_course_labs_lab", table_name="course_labs")
    op.drop_table("course_labs")
    op.drop_table("courses")
