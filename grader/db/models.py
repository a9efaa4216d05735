"""Typed SQLAlchemy 2 models: the source of truth for everything a course cares about.

Nothing a student submitted is ever deleted by the application: submissions keep their
source text; regrading replaces a submission's fixture results in one transaction and
records old → new scores in the audit trail.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names, so Alembic migrations are the same on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("student", "instructor", "admin")
#: A person's role in one course (``users.role`` is the service-wide role: admins manage every course).
COURSE_ROLES = ("student", "grader", "instructor")
SUBMISSION_STATUSES = ("queued", "running", "graded", "error")
LATE_POLICIES = ("none", "percent_per_day", "zero_after_deadline")
COUNTING = ("last", "best")


def utcnow() -> dt.datetime:
    """Timezone-aware now, in UTC."""
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        """Store UTC; refuse naive datetimes, which would be ambiguous."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use timezone-aware datetimes")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        """Always hand back an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON}


class User(Base):
    """A person: student, instructor or admin. Students carry their roster fields."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20), default="student")
    password_hash: Mapped[str | None] = mapped_column(String(256))
    student_number: Mapped[str | None] = mapped_column(String(64), unique=True)  # the roster's "student id"
    sis_user_id: Mapped[str | None] = mapped_column(String(64))
    sis_login_id: Mapped[str | None] = mapped_column(String(150))
    section: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sso_subject: Mapped[str | None] = mapped_column(String(255), unique=True)  # the OIDC provider's "sub"

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")

    __table_args__ = (Index("ix_users_role_section", "role", "section"),)


class ApiToken(Base):
    """An API token for the CLI; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="cli")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # shown to people to tell tokens apart
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class Course(Base):
    """A course as one term runs it: its labs (:class:`CourseLab`), enrolments, scores and audit trail.

    ``code`` names the course in URLs (``/courses/<code>/…``) and commands (``--course CODE``),
    so it is unique across terms (``dl101-2027s``); ``timezone`` is an IANA name for its pages.
    """

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    term: Mapped[str] = mapped_column(String(64), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CourseLab(Base):
    """A lab of the library as one course runs it: that course's due date and policy."""

    __tablename__ = "course_labs"

    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    lab_id: Mapped[str] = mapped_column(ForeignKey("labs.id", ondelete="RESTRICT"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)  # order in the course's gradebook
    due_at: Mapped[dt.datetime | None]
    hard_deadline_at: Mapped[dt.datetime | None]  # no submissions accepted after it
    late_policy: Mapped[str] = mapped_column(String(30), default="none")
    late_percent_per_day: Mapped[float] = mapped_column(Float, default=0.0)
    max_submissions: Mapped[int | None]
    min_interval_seconds: Mapped[int | None]
    counting: Mapped[str] = mapped_column(String(10), default="last")
    # Whether a file that could not be loaded (does not parse, raised while loading, lacks
    # the functions) uses up an attempt and can replace the counted score; off by default.
    unloadable_counts: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    lab: Mapped[Lab] = relationship(lazy="joined")

    __table_args__ = (Index("ix_course_labs_lab", "lab_id"),)

    # The library's fields, so a course's lab reads like a lab in pages and policies.
    @property
    def id(self) -> str:
        """The lab's id."""
        return self.lab_id

    @property
    def title(self) -> str:
        """The lab's title."""
        return self.lab.title

    @property
    def version(self) -> str:
        """The lab definition's version."""
        return self.lab.version

    @property
    def max_score(self) -> float:
        """The lab's maximum score."""
        return self.lab.max_score


class Enrolment(Base):
    """One person's role in one course (student, grader or instructor), and their section there."""

    __tablename__ = "enrolments"

    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), default="student")
    section: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_enrolments_user", "user_id", "course_id"),
        Index("ix_enrolments_course_role", "course_id", "role", "section"),
    )


class Lab(Base):
    """A lab of the service's library: the definition's id, title and version (policy: :class:`CourseLab`).

    The policy columns still here are the pre-course values, kept until the instructor pages
    read :class:`CourseLab`; the courses migration copied them to every course's labs.
    """

    __tablename__ = "labs"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(32))  # hash of the lab's files (grader.grading.lab)
    max_score: Mapped[float] = mapped_column(Float, default=0.0)
    position: Mapped[int] = mapped_column(Integer, default=0)  # order in gradebooks
    due_at: Mapped[dt.datetime | None]
    hard_deadline_at: Mapped[dt.datetime | None]  # no submissions accepted after it
    late_policy: Mapped[str] = mapped_column(String(30), default="none")
    late_percent_per_day: Mapped[float] = mapped_column(Float, default=0.0)
    max_submissions: Mapped[int | None]
    min_interval_seconds: Mapped[int | None]
    counting: Mapped[str] = mapped_column(String(10), default="last")
    # Whether a file that could not be loaded (does not parse, raised while loading, lacks
    # the functions) uses up an attempt and can replace the counted score; off by default.
    unloadable_counts: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Submission(Base):
    """One attempt by one student at one lab. Committed before grading starts."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    lab_id: Mapped[str] = mapped_column(ForeignKey("labs.id", ondelete="RESTRICT"))
    attempt: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per (course, user, lab)
    filename: Mapped[str] = mapped_column(String(255), default="submission.py")
    source: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    seed: Mapped[int] = mapped_column(Integer)
    lab_version: Mapped[str | None] = mapped_column(String(32))  # version that graded it
    grading_attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[dt.datetime | None]  # a worker owns it until then
    worker: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)  # grader error (not the student's fault)
    submission_error: Mapped[str | None] = mapped_column(Text)  # the file itself is unusable
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)
    graded_at: Mapped[dt.datetime | None]
    execution_time: Mapped[float | None] = mapped_column(Float)
    output: Mapped[str | None] = mapped_column(Text)  # printed output (instructors only)
    causes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # Result.causes, most points lost first
    notes: Mapped[list[str] | None] = mapped_column(JSON)  # Result.student_notes(): about the file as handed in
    # The client's Idempotency-Key header: a retried POST with the same key gets this submission back.
    idempotency_key: Mapped[str | None] = mapped_column(String(255))

    course: Mapped[Course] = relationship()
    user: Mapped[User] = relationship()
    lab: Mapped[Lab] = relationship()
    results: Mapped[list[FixtureResult]] = relationship(
        back_populates="submission", cascade="all, delete-orphan", order_by="FixtureResult.position"
    )

    __table_args__ = (
        UniqueConstraint("course_id", "user_id", "lab_id", "attempt", name="uq_submissions_course_user_lab_attempt"),
        UniqueConstraint("user_id", "idempotency_key", name="uq_submissions_user_idempotency_key"),
        Index("ix_submissions_user_lab_time", "user_id", "lab_id", "submitted_at"),
        Index("ix_submissions_lab_time", "lab_id", "submitted_at"),
        Index("ix_submissions_course_lab_time", "course_id", "lab_id", "submitted_at"),
        Index("ix_submissions_status_lease", "status", "lease_until"),
        Index("ix_submissions_graded_at", "graded_at"),  # the recent grading rate (service.outlook)
    )


class FixtureResult(Base):
    """The verdict on one fixture for one submission (the current grading only)."""

    __tablename__ = "fixture_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    lab_id: Mapped[str] = mapped_column(String(100))  # denormalised for pass-rate queries
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    function: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(100))
    visibility: Mapped[str] = mapped_column(String(20))
    passed: Mapped[bool] = mapped_column(Boolean)
    stage: Mapped[str] = mapped_column(String(20))
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    feedback: Mapped[str] = mapped_column(Text)  # student-safe text
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # instructor view
    elapsed: Mapped[float | None] = mapped_column(Float)

    submission: Mapped[Submission] = relationship(back_populates="results")

    __table_args__ = (
        Index("ix_fixture_results_submission", "submission_id", "position"),
        Index("ix_fixture_results_lab_name", "lab_id", "name", "passed"),
    )


class SubmissionCause(Base):
    """One cause of one graded result (``submissions.causes`` as rows), for the instructors'
    misconception counts: aggregated per lab in the database instead of parsing JSON.

    A result with no cause has one row with the key ``""`` (kind ``none``), so the table
    lists every graded attempt (with its number and time) and the counts need nothing else.
    Replaced with the fixture results whenever the submission is (re)graded. ``key`` is the
    cause's key with an exception's line dropped (:func:`grader.service.insight.insight_key`).
    """

    __tablename__ = "submission_causes"

    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    course_id: Mapped[int] = mapped_column(Integer)  # the submission's, copied: a course's pages read its own
    lab_id: Mapped[str] = mapped_column(String(100))  # the submission's, copied: every query is per lab
    user_id: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(20))
    mistake: Mapped[str | None] = mapped_column(String(100))  # catalogue id (kind mistake or convention)
    points_lost: Mapped[float] = mapped_column(Float)
    fixtures: Mapped[list[str]] = mapped_column(JSON)  # names of the fixtures it explains

    __table_args__ = (
        # covers the per-lab reads: every attempt in order per student, its causes and time
        Index("ix_submission_causes_lab_user", "lab_id", "user_id", "attempt", "key", "submitted_at", "submission_id"),
        Index(
            "ix_submission_causes_course_lab_user",
            *("course_id", "lab_id", "user_id", "attempt", "key", "submitted_at", "submission_id"),
        ),
    )


class Score(Base):
    """The gradebook cell: one per (student, lab), kept up to date as attempts are graded."""

    __tablename__ = "scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    lab_id: Mapped[str] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id", ondelete="SET NULL"))
    raw: Mapped[float] = mapped_column(Float, default=0.0)
    penalty: Mapped[float] = mapped_column(Float, default=0.0)  # points taken off for lateness
    final: Mapped[float] = mapped_column(Float, default=0.0)
    max_score: Mapped[float] = mapped_column(Float, default=0.0)
    late_days: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    submitted_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("course_id", "user_id", "lab_id", name="uq_scores_course_user_lab"),
        Index("ix_scores_lab_final", "lab_id", "final"),
        Index("ix_scores_course_lab", "course_id", "lab_id", "final"),
    )


class Extension(Base):
    """A per-student due date for one lab."""

    __tablename__ = "extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    lab_id: Mapped[str] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"))
    due_at: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(Text, default="")
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("course_id", "user_id", "lab_id", name="uq_extensions_course_user_lab"),)


class AuditEvent(Base):
    """Who did what: regrades, due-date changes, extensions, imports; old → new values."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(200), default="system")  # "cli:root", "web:alice"
    action: Mapped[str] = mapped_column(String(50))
    course_id: Mapped[int | None] = mapped_column(Integer)  # kept when a course is deleted: the trail outlives it
    lab_id: Mapped[str | None] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(Integer)  # the student concerned, if any
    submission_id: Mapped[int | None] = mapped_column(Integer)
    old: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    new: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_audit_events_at", "at"),
        Index("ix_audit_events_lab", "lab_id", "at"),
        Index("ix_audit_events_course", "course_id", "at"),
    )


SIGN_IN_LINK_PURPOSES = ("invitation", "reset")
MAIL_STATUSES = ("pending", "sent", "failed")


class SignInLink(Base):
    """A one-time link that lets its holder choose a password and signs them in.

    Only the SHA-256 of the link's token is stored; the link works once, until ``expires_at``.
    """

    __tablename__ = "sign_in_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))  # invitation or reset
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]  # replaced by a newer link
    created_by: Mapped[str] = mapped_column(String(200), default="system")  # "cli:root", "web:alice"

    user: Mapped[User] = relationship()

    __table_args__ = (Index("ix_sign_in_links_user", "user_id", "purpose", "created_at"),)


class OutboxMail(Base):
    """A mail to send (invitation, password reset): kept, with each failure, until it is sent or given up."""

    __tablename__ = "outbox_mails"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(320))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))  # invitation or reset
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[dt.datetime | None]  # a sender owns it until then
    sent_at: Mapped[dt.datetime | None]

    __table_args__ = (
        Index("ix_outbox_mails_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_mails_to_created", "to_address", "created_at"),
    )
