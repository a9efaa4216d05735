"""Mail: invitations and password-reset links, sent through an outbox with retries.

With ``LOSSGRADER_SMTP_URL`` set (``smtp://user:pass@host:587?starttls=1``, ``smtps://…``
for TLS from the start; ``timeout=`` seconds), a mail is written to the ``outbox_mails``
table in the same transaction as its link, then sent by :func:`deliver_due` (the web
process runs it in a :class:`Postman` thread; the CLI once before it exits). A failed
attempt is kept with its error and tried again later (1, 5, 15, 60 and 180 minutes),
then given up; the instructor pages show both. Each address gets at most
``LOSSGRADER_MAIL_PER_ADDRESS_PER_HOUR`` mails an hour, so nobody can flood a mailbox.
Without SMTP nothing is queued and the links are shown or exported instead.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import smtplib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from grader.config import Config
from grader.db.models import OutboxMail, User, utcnow
from grader.service.signin import INVITATION, IssuedLink

log = logging.getLogger(__name__)

RETRY_MINUTES = (1, 5, 15, 60, 180)  # waits after the 1st, 2nd... failure; then the mail is given up
MAX_ATTEMPTS = len(RETRY_MINUTES) + 1
LEASE = dt.timedelta(minutes=2)  # one sender owns a mail while it tries it
DEFAULT_TIMEOUT = 20.0


class MailRefused(ValueError):
    """A mail that is not queued (rate limit, no address); the message is for people."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to hand mails over (from ``LOSSGRADER_SMTP_URL``)."""

    host: str
    port: int
    security: str  # "none", "starttls" or "tls"
    username: str | None = None
    password: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """Parse ``smtp://[user:pass@]host[:port][?starttls=1&timeout=20]`` or ``smtps://…``."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"LOSSGRADER_SMTP_URL must look like smtp://user:pass@host:587?starttls=1, got {url!r}")
        query = {k: v[-1].strip().lower() for k, v in parse_qs(parts.query).items()}
        unknown = sorted(set(query) - {"starttls", "timeout"})
        if unknown:
            raise ValueError(f"LOSSGRADER_SMTP_URL: unknown option(s) {', '.join(unknown)} (use starttls, timeout)")
        try:
            port = parts.port
            timeout = float(query.get("timeout") or DEFAULT_TIMEOUT)
        except ValueError as exc:
            raise ValueError(f"LOSSGRADER_SMTP_URL: {exc}") from None
        if parts.scheme == "smtps":
            security = "tls"
        else:
            security = "starttls" if query.get("starttls") in ("1", "true", "yes", "on") else "none"
        return cls(
            host=parts.hostname,
            port=port or (465 if security == "tls" else 587 if security == "starttls" else 25),
            security=security,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=timeout,
        )


def mail_enabled(config: Config) -> bool:
    """Whether mails are sent (``LOSSGRADER_SMTP_URL`` is set)."""
    return bool((config.smtp_url or "").strip())


def check_settings(config: Config) -> None:
    """ValueError with one line when the mail settings cannot work."""
    if not mail_enabled(config):
        return
    SmtpSettings.from_url(config.smtp_url or "")
    _name, address = parseaddr(config.mail_from)
    if "@" not in address:
        raise ValueError(f"LOSSGRADER_MAIL_FROM is not an address: {config.mail_from!r}")


# --- writing mails -----------------------------------------------------------------------


def _when(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def compose_link_mail(user: User, issued: IssuedLink, course_title: str | None = None) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the mail carrying ``issued``."""
    name = user.display_name or user.username
    where = f" for {course_title}" if course_title else ""
    if issued.purpose == INVITATION:
        subject = f"Your lossgrader account{where}"
        lines = [
            f"Hello {name},",
            "",
            f"You have an account on lossgrader, the autograder of your labs{where}.",
            f"Your username is {user.username}. Open this link to choose your password and sign in:",
            "",
            issued.url,
            "",
            f"The link works once, until {_when(issued.expires_at)}.",
            "If it has expired, ask your instructor for a new one.",
        ]
        action = "Choose your password"
    else:
        subject = "Reset your lossgrader password"
        lines = [
            f"Hello {name},",
            "",
            f"Someone asked to reset the password of the lossgrader account {user.username}.",
            "Open this link to choose a new password:",
            "",
            issued.url,
            "",
            f"The link works once, until {_when(issued.expires_at)}.",
            "If you did not ask for this, ignore this mail: your password stays as it is.",
        ]
        action = "Choose a new password"
    text = "\n".join(lines) + "\n"
    paragraphs = "\n".join(
        f"<p>{html.escape(line)}</p>" if line != issued.url else
        f'<p><a href="{html.escape(issued.url, quote=True)}" '
        f'style="display:inline-block;padding:10px 16px;background:#1d4ed8;color:#fff;'
        f'text-decoration:none;border-radius:6px">{action}</a></p>'
        f'<p style="font-size:90%;color:#555">Or copy this address: {html.escape(issued.url)}</p>'
        for line in lines
        if line
    )  # fmt: skip
    body = f'<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">{paragraphs}</body></html>'
    return subject, text, body


def recent_count(session: Session, address: str, now: dt.datetime) -> int:
    """Mails queued to ``address`` in the last hour."""
    since = now - dt.timedelta(hours=1)
    return int(
        session.scalar(
            select(func.count(OutboxMail.id)).where(
                func.lower(OutboxMail.to_address) == address.lower(), OutboxMail.created_at > since
            )
        )
        or 0
    )


def enqueue(
    session: Session,
    config: Config,
    to_address: str,
    subject: str,
    text: str,
    html_body: str,
    kind: str,
    user_id: int | None = None,
    now: dt.datetime | None = None,
) -> OutboxMail:
    """Queue a mail (sent after the transaction commits); :class:`MailRefused` over the address's hourly limit."""
    now = now or utcnow()
    if recent_count(session, to_address, now) >= max(0, config.mail_per_address_per_hour):
        raise MailRefused(
            f"not sent: {to_address} already got {config.mail_per_address_per_hour} mails in the last hour; "
            "try again later"
        )
    mail = OutboxMail(
        to_address=to_address,
        user_id=user_id,
        kind=kind,
        subject=subject,
        text_body=text,
        html_body=html_body,
        status="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(mail)
    session.flush()
    return mail


def mail_link(
    session: Session, config: Config, user: User, issued: IssuedLink, course_title: str | None = None
) -> OutboxMail:
    """Queue the mail carrying ``issued`` to ``user`` (:class:`MailRefused` without an address or over the limit)."""
    if not user.email:
        raise MailRefused(f"{user.username} has no email address")
    subject, text, body = compose_link_mail(user, issued, course_title)
    return enqueue(session, config, user.email, subject, text, body, issued.purpose, user.id)


# --- sending -----------------------------------------------------------------------------


def build_message(config: Config, mail: OutboxMail) -> EmailMessage:
    """The MIME message of ``mail``: plain text with an HTML alternative."""
    message = EmailMessage()
    name, address = parseaddr(config.mail_from)
    message["From"] = formataddr((name, address)) if name else address
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    domain = address.rpartition("@")[2] or None
    message["Message-ID"] = make_msgid("lossgrader", domain=domain)
    message.set_content(mail.text_body)
    message.add_alternative(mail.html_body, subtype="html")
    return message


def send_message(settings: SmtpSettings, message: EmailMessage) -> None:
    """Hand ``message`` to the SMTP server (raises on any failure)."""
    context = ssl.create_default_context()
    if settings.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with client:
        client.ehlo()
        if settings.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if settings.username:
            client.login(settings.username, settings.password or "")
        client.send_message(message)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()[:500]


def deliver_due(
    sessions: sessionmaker[Session],
    config: Config,
    now: Callable[[], dt.datetime] = utcnow,
    limit: int = 100,
    send: Callable[[SmtpSettings, EmailMessage], None] = send_message,
) -> tuple[int, int]:
    """Try every mail that is due (at most ``limit``); returns (sent, failed attempts)."""
    if not mail_enabled(config):
        return 0, 0
    settings = SmtpSettings.from_url(config.smtp_url or "")
    sent = failed = 0
    with sessions() as session:
        due = session.scalars(
            select(OutboxMail.id)
            .where(OutboxMail.status == "pending", OutboxMail.next_attempt_at <= now())
            .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
            .limit(limit)
        ).all()
    for mail_id in due:
        with sessions() as session:
            moment = now()
            claimed = session.execute(
                update(OutboxMail)
                .where(
                    OutboxMail.id == mail_id,
                    OutboxMail.status == "pending",
                    (OutboxMail.lease_until.is_(None)) | (OutboxMail.lease_until < moment),
                )
                .values(lease_until=moment + LEASE)
            )
            session.commit()
            if claimed.rowcount != 1:
                continue  # another process has it
            mail = session.get(OutboxMail, mail_id)
            assert mail is not None
            try:
                send(settings, build_message(config, mail))
            except Exception as exc:  # any failure is kept and retried: the mail must not be lost
                mail.attempts += 1
                mail.last_error = _short(exc)
                if mail.attempts >= MAX_ATTEMPTS:
                    mail.status = "failed"
                else:
                    mail.next_attempt_at = now() + dt.timedelta(minutes=RETRY_MINUTES[mail.attempts - 1])
                log.warning("mail %s to %s failed (attempt %s): %s", mail.id, mail.to_address, mail.attempts, exc)
                failed += 1
            else:
                mail.attempts += 1
                mail.status = "sent"
                mail.sent_at = now()
                sent += 1
            mail.lease_until = None
            session.commit()
    return sent, failed


def retry_now(session: Session, mail_id: int) -> bool:
    """Send a pending or given-up mail again at once (the instructor's "retry"); True if there was one."""
    mail = session.get(OutboxMail, mail_id)
    if mail is None or mail.status == "sent":
        return False
    mail.status = "pending"
    mail.next_attempt_at = utcnow()
    if mail.attempts >= MAX_ATTEMPTS:
        mail.attempts = MAX_ATTEMPTS - 1  # one more try
    session.flush()
    return True


def undelivered(session: Session, limit: int = 200) -> list[OutboxMail]:
    """Mails that failed at least once and are not sent (waiting for a retry, or given up), newest first."""
    return list(
        session.scalars(
            select(OutboxMail)
            .where(OutboxMail.status != "sent", OutboxMail.attempts > 0)
            .order_by(OutboxMail.created_at.desc(), OutboxMail.id.desc())
            .limit(limit)
        )
    )


class Postman:
    """A daemon thread that sends due mails: woken when one is queued, else every ``interval`` seconds."""

    def __init__(self, sessions: sessionmaker[Session], config: Config, interval: float = 30.0) -> None:
        self.sessions = sessions
        self.config = config
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Postman:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lossgrader-postman", daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        """Look at the outbox now (a mail was queued)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                deliver_due(self.sessions, self.config)
            except Exception:  # the database may be away for a moment: try again at the next wake-up
                log.exception("sending mails failed")
            self._wake.wait(self.interval)


__all__ = [
    "MAX_ATTEMPTS",
    "MailRefused",
    "Postman",
    "SmtpSettings",
    "check_settings",
    "compose_link_mail",
    "deliver_due",
    "enqueue",
    "mail_enabled",
    "mail_link",
    "retry_now",
    "undelivered",
]
