"""A real SMTP server on 127.0.0.1 for the mail tests (aiosmtpd), which keeps what it accepts and
can refuse on demand: a wrong password, or every message at DATA."""

from __future__ import annotations

import email
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "clinic-digest", "s3cr3t-Pa55-for-smtp"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """The aiosmtpd handler: every accepted message, whole, with its envelope."""

    messages: list[tuple[list[str], bytes]] = field(default_factory=list)
    refuse_data: bool = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_data:
            return "554 5.6.0 Message rejected by policy"
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.original_content or envelope.content)))
        return "250 OK"

    def parsed(self) -> list[EmailMessage]:
        return [email.message_from_bytes(raw, policy=default) for _to, raw in self.messages]  # type: ignore[misc]


def authenticator(_server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == USER.encode() and data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


class SmtpServer:
    """`with SmtpServer(tls=ca) as smtp:` — STARTTLS with a certificate from the test CA (trustme),
    required, and AUTH after it; or plain, AUTH offered (a relay on a trusted network)."""

    def __init__(self, *, tls: Any = None, port: int | None = None) -> None:
        self.inbox = Inbox()
        self.port = port or free_port()
        context = None
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.issue_cert("127.0.0.1").configure_cert(context)
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, tls_context=context, require_starttls=tls is not None,
            authenticator=authenticator, auth_required=tls is not None, auth_require_tls=tls is not None,
        )

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
