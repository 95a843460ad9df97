"""The weekly digest by mail, through a real SMTP server on 127.0.0.1 (aiosmtpd): multipart text
and HTML, sent once per week and recipient set, failures retried and shown, the password nowhere."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import trustme

from tests.configs import write_config, write_feeds
from tests.smtp import PASSWORD, USER, SmtpServer, free_port
from watcher.digest.mail import due_weeks, message_id, send_due, send_week
from watcher.digest.publish import publish_week
from watcher.model import Hit, Item, Match
from watcher.status import status
from watcher.store import PollRecord, Store
from watcher.weeks import Week, utc_iso

CHICAGO = ZoneInfo("America/Chicago")
W47 = datetime(2026, 11, 17, 9, tzinfo=CHICAGO)  # Tuesday of 2026-W47
NOW = datetime(2026, 11, 24, 8, tzinfo=CHICAGO)  # Tuesday of 2026-W48: W47 has ended
ENV = {"WATCHER_SMTP_USER": USER, "WATCHER_SMTP_PASSWORD": PASSWORD}
TO = ["editor@clinic.example", "staff@clinic.example"]


def email_block(port: int, security: str = "starttls") -> dict:
    return {"host": "127.0.0.1", "port": port, "security": security, "from": "watch@clinic.example", "to": TO}


def history(store: Store, config, weeks: int = 1) -> None:
    """`weeks` complete weeks ending with W47, each with a healthy poll, an item and its final digest."""
    for back in range(weeks - 1, -1, -1):
        when = W47 - timedelta(weeks=back)
        n = 100 + back
        item = Item(id=f"pubmed:{n}", source="pubmed", url=f"https://pubmed.ncbi.nlm.nih.gov/{n}/", title=f"Ketamine trial {n}",
                    abstract="Esketamine & depression.", publication_types=("Randomized Controlled Trial",))
        store.save_batch("pubmed", [(item, Match(True, ("t",), (Hit("any", "*", "title", "Ketamine"),)))], now=when)
        store.record_poll(PollRecord("pubmed", utc_iso(when), True, 1, 1, 1))
        week = f"2026-W{47 - back}"
        publish_week(store, config, Week.parse(week), now=when + timedelta(days=7))  # written after the week ended: final


@pytest.fixture
def store(tmp_path):
    """The database `write_config(tmp_path, …)` names (opened before the config, which needs the server's port)."""
    with Store.open(tmp_path / "watcher.db") as opened:
        yield opened


@pytest.fixture
def ca():
    return trustme.CA()


@pytest.fixture
def trusted(ca, tmp_path, monkeypatch):
    """Our client trusts the test CA the way it would trust a real one: the default certificate store."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    return path


def test_the_ended_week_arrives_once_as_text_and_html(tmp_path, ca, trusted, store, caplog):
    with SmtpServer(tls=ca) as smtp:
        config = write_config(tmp_path, email=email_block(smtp.port), site_url="https://clinic.example/watch/")
        history(store, config)
        with caplog.at_level(logging.DEBUG):
            first = send_due(store, config, now=NOW, env=ENV)
            again = send_due(store, config, now=NOW + timedelta(hours=1), env=ENV)
    assert [(r.week, r.ok) for r in first] == [("2026-W47", True)] and again == []
    [(envelope_to, raw)] = smtp.inbox.messages
    [msg] = smtp.inbox.parsed()
    assert sorted(envelope_to) == TO
    assert msg["Subject"] == "Literature watch 2026-W47: 1 new item"
    assert msg["From"] == "watch@clinic.example" and msg["To"] == ", ".join(TO)
    assert msg["Message-ID"] == message_id(Week.parse("2026-W47"), config.email)
    assert msg.get_content_type() == "multipart/alternative"
    text, page = (part.get_content() for part in msg.iter_parts())
    text = text.replace("\r\n", "\n")
    # Text written for reading: the headline first, no Markdown (no escapes, no link syntax), bare URLs.
    assert text.startswith("Literature watch 2026-W47\n=========================\n\n"
                           "1 new item from Mon 16 Nov 2026 to Sun 22 Nov 2026: 1 randomised trial.\n")
    assert "\\" not in text and "**" not in text and "](" not in text and "|---" not in text
    assert ("Randomised controlled trials (1)\n--------------------------------\n\n1.  Ketamine trial 100\n"
            "    Randomized Controlled Trial · matched ketamine in the title\n    “Esketamine & depression.”\n"
            "    https://pubmed.ncbi.nlm.nih.gov/100/\n") in text
    assert "\nThis week's page: https://clinic.example/watch/2026-W47.html\n" in text
    assert all(len(line) <= 76 for line in text.splitlines() if "https://" not in line)
    assert text != (config.digests / "2026-W47.md").read_text()
    # The HTML part is the week's page: the headline is the first thing after the title.
    assert page.startswith("<!DOCTYPE html>") and "Ketamine trial 100" in page and "Esketamine &amp; depression." in page
    assert re.search(r'<h1 id="top">Literature watch 2026-W47</h1>\r?\n<section id="headline" class="headline">\r?\n'
                     r'<p class="lead"><strong>1 new item</strong> from Mon 16 Nov 2026 to Sun 22 Nov 2026: 1 randomised trial\.</p>', page)
    assert '<a href="https://clinic.example/watch/index.html">All weeks</a>' in page  # absolute: a mail has no folder
    # The password went to the server in AUTH only: not in the mail, the store, the log.
    assert PASSWORD.encode() not in raw
    assert PASSWORD.encode() not in Path(config.database).read_bytes()
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)
    report = status(store, config, NOW)
    assert report.ok and report.last_mail is not None and report.last_mail.week == "2026-W47"


def test_a_source_failing_that_week_is_in_the_subject(tmp_path, ca, trusted, store):
    with SmtpServer(tls=ca) as smtp:
        config = write_config(tmp_path, email=email_block(smtp.port))
        history(store, config)
        store.record_poll(PollRecord("pubmed", utc_iso(W47 + timedelta(days=1)), False, error="down"))
        publish_week(store, config, Week.parse("2026-W47"), now=NOW)
        send_due(store, config, now=NOW, env=ENV)
    assert smtp.inbox.parsed()[0]["Subject"] == "Literature watch 2026-W47: 1 new item, 1 source failing"


def test_a_refused_connection_is_a_clear_failure_then_a_later_send(tmp_path, ca, trusted, store):
    port = free_port()  # nothing listens yet
    config = write_config(tmp_path, email=email_block(port))
    history(store, config)
    [failed] = send_due(store, config, now=NOW, env=ENV)
    assert not failed.ok and failed.error == f"127.0.0.1:{port}: connection refused"
    report = status(store, config, NOW)
    assert not report.ok and [(m.week, m.error) for m in report.mail_failures] == [("2026-W47", failed.error)]
    with SmtpServer(tls=ca, port=port) as smtp:  # the address the config names, now answering
        [sent] = send_due(store, config, now=NOW + timedelta(hours=6), env=ENV)
    assert sent.ok and len(smtp.inbox.messages) == 1
    assert smtp.inbox.parsed()[0]["Message-ID"] == message_id(Week.parse("2026-W47"), config.email)  # the retry threads with the first
    assert status(store, config, NOW + timedelta(hours=7)).ok


def test_a_wrong_password_is_an_authentication_failure(tmp_path, ca, trusted, store):
    with SmtpServer(tls=ca) as smtp:
        config = write_config(tmp_path, email=email_block(smtp.port))
        history(store, config)
        [failed] = send_due(store, config, now=NOW, env={**ENV, "WATCHER_SMTP_PASSWORD": "not-the-password"})
        assert not failed.ok and failed.error.startswith(f"127.0.0.1:{smtp.port}: authentication failed (535")
        assert "not-the-password" not in failed.error
        [sent] = send_due(store, config, now=NOW + timedelta(hours=1), env=ENV)
    assert sent.ok and len(smtp.inbox.messages) == 1


def test_a_5xx_on_data_is_a_refused_message_then_a_later_send(tmp_path, ca, trusted, store):
    with SmtpServer(tls=ca) as smtp:
        config = write_config(tmp_path, email=email_block(smtp.port))
        history(store, config)
        smtp.inbox.refuse_data = True
        [failed] = send_due(store, config, now=NOW, env=ENV)
        assert failed.error == f"127.0.0.1:{smtp.port}: the server refused the message (554 5.6.0 Message rejected by policy)"
        smtp.inbox.refuse_data = False
        [sent] = send_due(store, config, now=NOW + timedelta(hours=1), env=ENV)
    assert sent.ok and len(smtp.inbox.messages) == 1


def test_an_untrusted_certificate_is_refused(tmp_path, ca, store):
    # No SSL_CERT_FILE: the test CA is not trusted, and the password is never sent.
    with SmtpServer(tls=ca) as smtp:
        config = write_config(tmp_path, email=email_block(smtp.port))
        history(store, config)
        [failed] = send_due(store, config, now=NOW, env=ENV)
    assert not failed.ok and "TLS failed: CERTIFICATE_VERIFY_FAILED" in failed.error and not smtp.inbox.messages


def test_plain_smtp_on_a_trusted_network(tmp_path, store):
    with SmtpServer() as smtp:
        config = write_config(tmp_path, email=email_block(smtp.port, security="none"))
        history(store, config)
        assert [r.ok for r in send_due(store, config, now=NOW, env=ENV)] == [True]


def test_first_mail_sends_the_latest_week_only_then_every_week_after(tmp_path, ca, trusted, store):
    with SmtpServer(tls=ca) as smtp:
        config = write_config(tmp_path, email=email_block(smtp.port))
        history(store, config, weeks=3)  # W45, W46, W47 before mail was configured
        assert due_weeks(store, config, NOW) == [Week(2026, 47)]
        send_due(store, config, now=NOW, env=ENV)
        # The job is down for two weeks; the catch-up writes W48 and W49; both are mailed, once each.
        later = NOW + timedelta(weeks=2)
        for week in ("2026-W48", "2026-W49"):
            publish_week(store, config, Week.parse(week), now=later)
        assert due_weeks(store, config, later) == [Week(2026, 48), Week(2026, 49)]
        send_due(store, config, now=later, env=ENV)
        assert due_weeks(store, config, later) == []
    assert [m["Subject"].split(":")[0] for m in smtp.inbox.parsed()] == [
        "Literature watch 2026-W47", "Literature watch 2026-W48", "Literature watch 2026-W49"]


def test_send_on_demand_sends_again(tmp_path, ca, trusted, store):
    with SmtpServer(tls=ca) as smtp:
        config = write_config(tmp_path, email=email_block(smtp.port))
        history(store, config)
        send_due(store, config, now=NOW, env=ENV)
        assert send_week(store, config, Week.parse("2026-W47"), now=NOW, env=ENV).ok
    assert len(smtp.inbox.messages) == 2


@pytest.mark.parametrize(("block", "message"), [
    ({"host": "smtp.example", "from": "a@b.example"}, "email.to: is required but missing"),
    ({"host": "smtp.example", "from": "not an address", "to": ["x@y.example"]}, "email.from: must be an e-mail address"),
    ({"host": "smtp.example", "from": "a@b.example", "to": ["x@y.example"], "security": "tls"}, "email.security: must be one of starttls, ssl, none"),
    ({"host": "smtp.example", "from": "a@b.example", "to": "x@y.example", "port": 0}, "email.port: must be from 1 to 65535"),
])
def test_email_config_errors_name_the_key(tmp_path, block, message):
    from watcher.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        write_config(tmp_path, email=block)


@pytest.mark.slow
def test_run_once_and_status_say_a_failed_send_and_exit_1(tmp_path, ca, trusted):
    port = free_port()
    config = write_config(tmp_path, email=email_block(port))
    with Store.open(config.database) as store:
        history(store, config)
    feeds = write_feeds(tmp_path, email=email_block(port))

    def watcher(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "watcher", "--config", str(feeds), *args], capture_output=True,
                              text=True, timeout=120, env={"PATH": "/usr/bin:/bin", **ENV})

    sent = watcher("send", "--week", "2026-W47")
    assert sent.returncode == 1 and f"mail 2026-W47: FAILED: 127.0.0.1:{port}: connection refused" in sent.stdout
    shown = watcher("status")
    assert shown.returncode == 1 and "MAIL FAILING: 2026-W47 not sent" in shown.stdout
    assert PASSWORD not in sent.stdout + sent.stderr + shown.stdout + shown.stderr
    missing = watcher("send", "--week", "2026-W40")
    assert missing.returncode == 2 and "no digest of 2026-W40 has been written" in missing.stderr
