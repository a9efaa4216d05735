"""Getting students in: invitations after a roster import, resends, and reset links.

Each function issues one-time links (:mod:`grader.service.signin`) and, when mail is
configured, queues the mails that carry them (:mod:`grader.service.mail`); without mail
the links come back to be shown or exported. Every link issued is recorded as an
:class:`~grader.db.models.AuditEvent` (who, for whom, which kind, which course; never the
link or its token). Nothing here commits.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.config import Config
from grader.db.models import AuditEvent, Enrolment, SignInLink, User, utcnow
from grader.service.mail import MailRefused, mail_enabled, mail_link
from grader.service.signin import INVITATION, RESET, IssuedLink, has_signed_in, issue_link

CSV_FIELDS = ("username", "email", "name", "link")
#: The audit trail's action for a link of each purpose.
AUDIT_ACTIONS = {INVITATION: "invitation_issue", RESET: "reset_link_issue"}


@dataclass
class SentLink:
    """A link issued to one person, and what became of its mail."""

    username: str
    email: str
    name: str
    link: IssuedLink
    mailed: bool = False  # queued for sending
    problem: str | None = None  # why it was not mailed (no address, rate limit), when mail is on


def needs_invitation(user: User) -> bool:
    """Active students who cannot sign in yet (no password, no single sign-on)."""
    return user.active and user.role == "student" and not has_signed_in(user)


def _send(
    session: Session,
    config: Config,
    user: User,
    purpose: str,
    base_url: str | None,
    created_by: str,
    course_title: str | None,
    mail: bool,
    course_id: int | None = None,
    actor_id: int | None = None,
) -> SentLink:
    issued = issue_link(session, user, purpose, config, base_url=base_url, created_by=created_by)
    sent = SentLink(user.username, user.email or "", user.display_name or "", issued)
    if mail and mail_enabled(config):
        try:
            mail_link(session, config, user, issued, course_title)
            sent.mailed = True
        except MailRefused as exc:
            sent.problem = str(exc)
    _audit(session, user, sent, created_by, course_id, actor_id)
    return sent


def _audit(
    session: Session, user: User, sent: SentLink, created_by: str, course_id: int | None, actor_id: int | None
) -> None:
    """Record who issued which kind of link for ``user``: the link and its token stay out of the trail."""
    if course_id is None:  # not said by the caller: the student's course, when they have exactly one
        courses = session.scalars(
            select(Enrolment.course_id).where(Enrolment.user_id == user.id, Enrolment.role == "student").limit(2)
        ).all()
        course_id = courses[0] if len(courses) == 1 else None
    session.add(
        AuditEvent(
            actor_id=actor_id,
            actor_label=created_by[:200],
            action=AUDIT_ACTIONS[sent.link.purpose],
            course_id=course_id,
            user_id=user.id,
            new={
                "kind": sent.link.purpose,
                "user": user.username,
                "expires_at": sent.link.expires_at.isoformat(),
                "mailed": sent.mailed,
            },
            note=sent.problem or "",
        )
    )


def invite(
    session: Session,
    config: Config,
    usernames: Iterable[str],
    *,
    base_url: str | None = None,
    created_by: str = "system",
    course_title: str | None = None,
    mail: bool = True,
    course_id: int | None = None,
    actor_id: int | None = None,
) -> list[SentLink]:
    """Invitations for those of ``usernames`` who need one (see :func:`needs_invitation`) and hold no
    invitation that still works (importing the roster again does not replace the links already sent;
    :func:`resend_invitation` does), in order. ``course_id`` and ``actor_id`` go into the audit trail."""
    wanted = list(dict.fromkeys(usernames))
    if not wanted:
        return []
    found = {u.username: u for u in session.scalars(select(User).where(User.username.in_(wanted)))}
    live = live_invitations(session, [u.id for u in found.values()])
    return [
        _send(session, config, found[name], INVITATION, base_url, created_by, course_title, mail, course_id, actor_id)
        for name in wanted
        if name in found and needs_invitation(found[name]) and found[name].id not in live
    ]


def live_invitations(session: Session, user_ids: list[int]) -> set[int]:
    """Those of ``user_ids`` with an invitation that still works (unused, not replaced, not expired)."""
    if not user_ids:
        return set()
    query = select(SignInLink.user_id).where(
        SignInLink.user_id.in_(user_ids),
        SignInLink.purpose == INVITATION,
        SignInLink.used_at.is_(None),
        SignInLink.revoked_at.is_(None),
        SignInLink.expires_at > utcnow(),
    )
    return set(session.scalars(query))


def resend_invitation(
    session: Session,
    config: Config,
    user: User,
    *,
    base_url: str | None = None,
    created_by: str = "system",
    course_title: str | None = None,
    course_id: int | None = None,
    actor_id: int | None = None,
) -> SentLink:
    """A new invitation for ``user`` (the old link stops working); ValueError if they can sign in already."""
    if has_signed_in(user):
        raise ValueError(f"{user.username} has accepted the invitation already; issue a reset link instead")
    return _send(session, config, user, INVITATION, base_url, created_by, course_title, True, course_id, actor_id)


def reset_link(
    session: Session,
    config: Config,
    user: User,
    *,
    base_url: str | None = None,
    created_by: str = "system",
    mail: bool = True,
    course_id: int | None = None,
    actor_id: int | None = None,
) -> SentLink:
    """A password-reset link for ``user``, mailed when mail is on and ``mail``."""
    return _send(session, config, user, RESET, base_url, created_by, None, mail, course_id, actor_id)


def write_links_csv(links: Iterable[SentLink], sink: IO[str]) -> int:
    """``username,email,name,link`` rows (header first); returns how many links."""
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    count = 0
    for sent in links:
        writer.writerow([sent.username, sent.email, _safe_cell(sent.name), sent.link.url])
        count += 1
    return count


def _safe_cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
