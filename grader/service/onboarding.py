"""Getting students in: invitations after a roster import, resends, and reset links.

Each function issues one-time links (:mod:`grader.service.signin`) and, when mail is
configured, queues the mails that carry them (:mod:`grader.service.mail`); without mail
the links come back to be shown or exported. Nothing here commits.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.config import Config
from grader.db.models import SignInLink, User, utcnow
from grader.service.mail import MailRefused, mail_enabled, mail_link
from grader.service.signin import INVITATION, RESET, IssuedLink, has_signed_in, issue_link

CSV_FIELDS = ("username", "email", "name", "link")


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
) -> SentLink:
    issued = issue_link(session, user, purpose, config, base_url=base_url, created_by=created_by)
    sent = SentLink(user.username, user.email or "", user.display_name or "", issued)
    if mail and mail_enabled(config):
        try:
            mail_link(session, config, user, issued, course_title)
            sent.mailed = True
        except MailRefused as exc:
            sent.problem = str(exc)
    return sent


def invite(
    session: Session,
    config: Config,
    usernames: Iterable[str],
    *,
    base_url: str | None = None,
    created_by: str = "system",
    course_title: str | None = None,
    mail: bool = True,
) -> list[SentLink]:
    """Invitations for those of ``usernames`` who need one (see :func:`needs_invitation`) and hold no
    invitation that still works (importing the roster again does not replace the links already sent;
    :func:`resend_invitation` does), in order."""
    wanted = list(dict.fromkeys(usernames))
    if not wanted:
        return []
    found = {u.username: u for u in session.scalars(select(User).where(User.username.in_(wanted)))}
    live = live_invitations(session, [u.id for u in found.values()])
    return [
        _send(session, config, found[name], INVITATION, base_url, created_by, course_title, mail)
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
) -> SentLink:
    """A new invitation for ``user`` (the old link stops working); ValueError if they can sign in already."""
    if has_signed_in(user):
        raise ValueError(f"{user.username} has accepted the invitation already; issue a reset link instead")
    return _send(session, config, user, INVITATION, base_url, created_by, course_title, True)


def reset_link(
    session: Session,
    config: Config,
    user: User,
    *,
    base_url: str | None = None,
    created_by: str = "system",
    mail: bool = True,
) -> SentLink:
    """A password-reset link for ``user``, mailed when mail is on and ``mail``."""
    return _send(session, config, user, RESET, base_url, created_by, None, mail)


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
