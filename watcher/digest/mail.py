"""One week's digest as a mail (text: the week written for reading as plain text; HTML: the page;
both open with the headline), sent once to the configured recipients and recorded; a failed send
is retried at the next run.

What is due: every complete week whose digest is final and that has not been sent to this set of
recipients, from the week the first mail was tried onwards (so configuring mail for a database
with a year of history sends the latest week, not fifty-two). User name and password come from the
environment only and are never logged or stored.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from ..config import Config, EmailSettings
from ..errors import OutputError
from ..store import MailRecord, Store
from ..weeks import Week, utc_iso
from . import html, plaintext
from .missing import is_final
from .publish import PRIMARY
from .view import DigestView, build_view

log = logging.getLogger(__name__)

USER_ENV, PASSWORD_ENV = "WATCHER_SMTP_USER", "WATCHER_SMTP_PASSWORD"
TIMEOUT = 60.0  # seconds for each SMTP exchange


class MailError(OutputError):
    """A mail could not be sent; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class MailResult:
    week: str
    ok: bool
    error: str | None = None


def recipients(settings: EmailSettings) -> str:
    return ",".join(sorted(settings.to))


def message_id(week: Week, settings: EmailSettings) -> str:
    """Stable per week and recipient set: a resend after a crash threads with the first."""
    digest = hashlib.sha256(f"{week}\n{recipients(settings)}".encode()).hexdigest()[:20]
    domain = settings.sender.rpartition("@")[2]
    return f"<watcher.{week}.{digest}@{domain}>"


def subject(view: DigestView, settings: EmailSettings) -> str:
    return f"{settings.subject_prefix} {view.week}: {view.tally}"


def build_message(store: Store, config: Config, week: Week, settings: EmailSettings, *, now: datetime) -> EmailMessage:
    view = build_view(store, config, week)
    msg = EmailMessage()
    msg["Subject"] = subject(view, settings)
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.to)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(week, settings)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    msg.set_content(plaintext.render_week(view, base=config.site_url))
    msg.add_alternative(html.render_week(view, base=config.site_url), subtype="html")
    return msg


def due_weeks(store: Store, config: Config, now: datetime) -> list[Week]:
    """Complete weeks with a final digest not yet sent to these recipients, oldest first."""
    if config.email is None:
        return []
    current = Week.containing(now, config.timezone)
    final = sorted(w for r in store.outputs(PRIMARY) if is_final(r, config) and (w := Week.parse(r.week)) < current)
    if not final:
        return []
    to = recipients(config.email)
    tried = [m for m in store.mails() if m.recipients == to]
    sent = {m.week for m in tried if m.ok}
    start = min(Week.parse(m.week) for m in tried) if tried else final[-1]
    return [week for week in final if week >= start and week.label not in sent]


def send_week(store: Store, config: Config, week: Week, *, now: datetime, env: Mapping[str, str]) -> MailResult:
    """Send one week now and record the attempt; never raises for a failed send."""
    if config.email is None:
        raise MailError("no `email` block in feeds.yaml: nothing to send with")
    settings = config.email
    msg = build_message(store, config, week, settings, now=now)
    error = None
    try:
        refused = deliver(msg, settings, env)
        if refused:
            error = "recipient refused: " + "; ".join(f"{addr} ({code} {reply!r})" for addr, (code, reply) in sorted(refused.items()))
    except MailError as exc:
        store.record_mail(MailRecord(week.label, recipients(settings), msg["Message-ID"], utc_iso(now), False, str(exc)))
        log.error("mail %s: not sent: %s", week, exc)
        return MailResult(week.label, False, str(exc))
    # Accepted by the server (for some recipients at least): sent, never again automatically.
    store.record_mail(MailRecord(week.label, recipients(settings), msg["Message-ID"], utc_iso(now), True, error))
    log.info("mail %s: sent to %s%s", week, recipients(settings), f"; {error}" if error else "")
    return MailResult(week.label, True, error)


def send_due(store: Store, config: Config, *, now: datetime, env: Mapping[str, str]) -> list[MailResult]:
    return [send_week(store, config, week, now=now, env=env) for week in due_weeks(store, config, now)]


def deliver(msg: EmailMessage, settings: EmailSettings, env: Mapping[str, str]) -> dict[str, tuple[int, bytes]]:
    """Hand the message to the SMTP server; the recipients it refused (all refused: MailError)."""
    user, password = env.get(USER_ENV) or "", env.get(PASSWORD_ENV) or ""
    where = f"{settings.host}:{settings.port}"
    failure = None
    try:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=TIMEOUT, context=context)
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT)
        with smtp:
            if settings.security == "starttls":
                smtp.starttls(context=context)
            if user:
                smtp.login(user, password)
            return dict(smtp.send_message(msg))
    except smtplib.SMTPAuthenticationError as exc:
        failure = f"authentication failed ({exc.smtp_code} {reply(exc.smtp_error)})"
    except smtplib.SMTPRecipientsRefused as exc:
        failure = "recipient refused: " + "; ".join(f"{a} ({c} {reply(r)})" for a, (c, r) in sorted(exc.recipients.items()))
    except smtplib.SMTPSenderRefused as exc:
        failure = f"sender {exc.sender} refused ({exc.smtp_code} {reply(exc.smtp_error)})"
    except smtplib.SMTPDataError as exc:
        failure = f"the server refused the message ({exc.smtp_code} {reply(exc.smtp_error)})"
    except smtplib.SMTPNotSupportedError:
        failure = "the server does not offer STARTTLS; set email.security (ssl, or none on a trusted network)"
    except smtplib.SMTPException as exc:
        failure = f"SMTP error: {type(exc).__name__}: {exc}"
    except ssl.SSLError as exc:
        failure = f"TLS failed: {exc.reason or exc}"
    except ConnectionRefusedError:
        failure = "connection refused"
    except TimeoutError:
        failure = f"timed out after {TIMEOUT:g} s"
    except socket.gaierror:
        failure = "host name not resolved"
    except OSError as exc:
        failure = f"connection failed: {exc.strerror or exc}"
    # Outside the except blocks: no chained exception; the password never appears in a message.
    message = f"{where}: {failure}"
    raise MailError(message.replace(password, "***") if password else message)


def reply(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:200]
