"""A contact that is real: NCBI writes to `contact.email` before it blocks a tool, so an empty
address or one on a name reserved for examples (RFC 2606: example.org/.com/.net and their
subdomains, the .example, .invalid, .test and .localhost TLDs) is warned about by `watcher check`
(still exit 0: the file is valid) and once by every poll that sends it to NCBI."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.configs import CONTACT, pubmed, rss, write_config, write_feeds
from tests.polls import TODAY, run_poll
from tests.upstreams import eutils, feeds
from watcher import cli
from watcher.model import Contact

ROOT = Path(__file__).resolve().parent.parent
REAL = "editors@ketamine-clinic-watch.org"  # a name nobody reserved; the tests send it only to 127.0.0.1


@pytest.mark.parametrize("email", [
    "webmaster@example.org", "a@example.com", "a@EXAMPLE.NET", "a@mail.example.org", "a@example.org.",
    "a@clinic.example", "a@clinic.invalid", "a@clinic.test", "a@clinic.localhost", "a@b.c.TEST",
])
def test_an_address_on_a_reserved_name_is_a_placeholder(email):
    warning = Contact("watcher", email).warning
    assert warning is not None and email in warning and "placeholder" in warning
    assert "NCBI" in warning and "feeds.yaml" in warning  # who needs it, and where to put a real one


def test_an_empty_address_is_warned_about_too():
    warning = Contact("watcher", "").warning
    assert warning is not None and "contact.email is empty" in warning and "feeds.yaml" in warning


@pytest.mark.parametrize("email", [
    REAL, "a@example.org.au", "a@myexample.org", "a@example.organic", "a@test.clinic.org", "a@invalid.de", "a@localhost.net",
])
def test_a_real_looking_address_is_not(email):
    assert Contact("watcher", email).warning is None


def test_check_warns_about_the_shipped_placeholder_and_still_exits_0(capsys):
    assert cli.main(["--config", str(ROOT / "feeds.yaml"), "check"]) == cli.EXIT_OK
    out, err = capsys.readouterr()
    assert ": ok:" in out
    contact, feed = err.splitlines()  # and that the feed needs the site's address: the clinic's is not known here
    assert contact.startswith("watcher: warning: contact.email webmaster@example.org is a placeholder (example.org reaches no one)")
    assert "replace it in feeds.yaml with an address someone reads" in contact
    assert feed.startswith("watcher: warning: outputs include atom but site_url is not set")


def test_check_says_nothing_of_a_real_address(tmp_path, capsys):
    path = write_feeds(tmp_path, [pubmed()], contact={"tool": "watcher", "email": REAL}, site_url="https://clinic.example/watch/")
    assert cli.main(["--config", str(path), "check"]) == cli.EXIT_OK
    assert capsys.readouterr().err == ""


def test_the_shipped_feeds_yaml_says_to_replace_the_placeholder():
    text = (ROOT / "feeds.yaml").read_text(encoding="utf-8")
    contact = text[text.index("\ncontact:"): text.index("\nsources:")]
    assert "email: webmaster@example.org" in contact and "replace it" in contact.lower()


def contact_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "contact.email" in r.getMessage()]


@pytest.mark.parametrize(("email", "warned"), [("test@example.org", 1), ("", 1), (REAL, 0), (CONTACT["email"], 0)])
def test_a_poll_that_sends_the_contact_to_ncbi_warns_once_not_per_request(tmp_path, upstream, caplog, email, warned):
    papers = eutils.Eutils(upstream)
    papers.add(TODAY, eutils.articles(5))
    contact = {"tool": "watcher", "email": email} if email else {"tool": "watcher"}  # "" is written by leaving it out
    config = write_config(tmp_path, [pubmed(papers.url, batch_size=2)], contact=contact)
    with caplog.at_level(logging.WARNING):
        polled = run_poll(config)
    assert polled.source("pubmed").ok and len(upstream.requests()) >= 4  # an esearch and three efetch batches
    assert all(r.query.get("email", "") == email for r in upstream.requests())
    assert len(contact_warnings(caplog)) == warned
    if warned:
        assert contact_warnings(caplog)[0] == f"pubmed: {Contact('watcher', email).warning}"
    caplog.clear()
    run_poll(config)
    assert len(contact_warnings(caplog)) == warned  # and again at the next poll


def test_a_poll_that_sends_nothing_to_ncbi_does_not_warn(tmp_path, upstream, caplog):
    feed = feeds.Feed(upstream, items=feeds.entries(2))
    config = write_config(tmp_path, [rss(feed.url)], contact={"tool": "watcher", "email": "test@example.org"})
    with caplog.at_level(logging.WARNING):
        assert run_poll(config).source("fda-press").ok
    assert contact_warnings(caplog) == []
