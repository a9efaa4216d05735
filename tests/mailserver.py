"""A real SMTP server for tests (aiosmtpd on 127.0.0.1, a port the system chooses).

:class:`MailCatcher` keeps every message it accepts; :meth:`MailCatcher.wait_for` waits on a
condition variable until one arrives (no sleeps). ``refuse`` makes it answer the next N
messages with a temporary failure (451), as a busy mail server would; ``login`` requires
AUTH with that (username, password) — allowed without TLS, on loopback only.
"""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class MailCatcher:
    """What the SMTP server received, and knobs to make it fail."""

    refuse: int = 0
    login: tuple[str, str] | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook name
        """Keep the message (or refuse it while ``refuse`` > 0)."""
        with self._changed:
            if self.refuse > 0:
                self.refuse -= 1
                return "451 4.3.0 Try again later"
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self._changed.notify_all()
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        """Accept exactly ``login``."""
        ok = (
            isinstance(data, LoginPassword)
            and self.login is not None
            and (data.login.decode(), data.password.decode()) == self.login
        )
        return AuthResult(success=ok, handled=False)

    def wait_for(self, predicate: Callable[[list[EmailMessage]], bool], timeout: float = 30.0) -> list[EmailMessage]:
        """Wait until ``predicate(messages)`` holds; the messages then."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self.messages), timeout=timeout):
                raise AssertionError(f"no such mail within {timeout} s; got {[m['Subject'] for m in self.messages]}")
            return list(self.messages)

    @property
    def url(self) -> str:
        """The ``LOSSGRADER_SMTP_URL`` that reaches this server."""
        user = f"{self.login[0]}:{self.login[1]}@" if self.login else ""
        return f"smtp://{user}{self.host}:{self.port}"


class _Controller(Controller):
    """aiosmtpd's controller on port 0: learns the port the system chose before testing the server."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@contextmanager
def smtp_server(login: tuple[str, str] | None = None) -> Iterator[MailCatcher]:
    """Run an SMTP server on 127.0.0.1 for the block."""
    catcher = MailCatcher(login=login)
    kwargs: dict[str, Any] = {}
    if login:
        kwargs = {"authenticator": catcher.authenticate, "auth_require_tls": False, "auth_required": True}
    controller = _Controller(catcher, hostname="127.0.0.1", port=0, ready_timeout=30, **kwargs)
    controller.start()
    catcher.port = controller.port
    try:
        yield catcher
    finally:
        controller.stop()


def text_and_html(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies of a message."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None, "expected a plain-text and an HTML part"
    return text.get_content(), html.get_content()
