"""The clinic's page watched: on each poll one conditional GET of feeds.yaml's `article.url`,
through the same HTTP client and limits as every source, reduced to its visible text
(`page_text`). A copy is stored (a snapshot of kind "article", keyed by the URL) only when the
text differs from the latest one, so the latest copy's time is the day the page last changed and
its sha256 the page's hash. The claims are located on the copies when the digest is written.

A page that cannot be fetched, is not a web page or shows no text is a failed poll under the name
"article" (in `status` and the digest header, like a failing source); the copy stored before
stands, and no claim is dropped.

Without `article.url`, a local copy named by `article.file` is read the same way on every poll (no
network): its snapshots are keyed "file:<path>", and a file that cannot be read fails the same poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bs4 import ParserRejectedMarkup

from ..errors import SourceError, os_reason
from ..http import host_of
from ..sources.base import SourceContext, client_for
from ..store import PollRecord, Store
from ..text import describe_exception
from ..weeks import utc_iso
from .claims import ARTICLE, FILE_KEY
from .page_text import media_type, page_text

log = logging.getLogger(__name__)

MAX_BYTES = 5 * 1024 * 1024  # a clinic's article is tens of kB; a bigger answer is not that page
ACCEPT = "text/html, application/xhtml+xml;q=0.9, text/plain;q=0.5"
RATE = 1.0  # requests per second: one page, once per poll
PAGE_TYPES = ("", "text/html", "application/xhtml+xml", "text/plain")


@dataclass(frozen=True, slots=True)
class PageCheck:
    ok: bool
    changed: bool = False  # a new copy was stored (the first one counts)
    error: str | None = None


def watch_page(url: str, store: Store, context: SourceContext, clock: Callable[[], datetime], *,
               run_id: int | None = None) -> PageCheck:
    """Fetch the page, keep a copy when its text changed, and record the poll as "article"."""
    copies = store.latest_snapshot(ARTICLE, url)
    state = store.source_state(ARTICLE)
    # Validators only for a URL we hold a copy of: after `article.url` changes, the old page's
    # ETag must not make the new one answer 304.
    etag, modified = (state.etag, state.last_modified) if copies else (None, None)
    host = host_of(url)
    text = None
    validators = None
    try:
        with client_for(context, rate=RATE, accept=ACCEPT, max_bytes=MAX_BYTES) as client:
            response = client.get(url, etag=etag, last_modified=modified)
        if response.status == 304 and not copies:  # nothing was asked to be "not modified"
            raise response.failure("answered 304 Not Modified to a request without validators", detail="")
        if response.status != 304:
            response.expect(200)
            kind = response.headers.get("content-type")
            if media_type(kind) not in PAGE_TYPES:
                raise response.failure(f"not a web page (Content-Type {media_type(kind)})", detail="")
            text = page_text(response.body, kind)
            if not text:
                raise response.failure("the page shows no text (only scripts or markup?)", detail="")
            validators = (response.headers.get("etag"), response.headers.get("last-modified"))
    except SourceError as exc:
        return failed(store, clock, run_id, str(exc.at(host)))
    except (ParserRejectedMarkup, RecursionError) as exc:  # a page the HTML parser gives up on
        return failed(store, clock, run_id, f"{host}: the page could not be read as HTML ({type(exc).__name__})")
    except Exception as exc:  # a bug or an unforeseen page must not stop the poll (the sources are stored)
        log.debug("poll %s: unexpected error", ARTICLE, exc_info=True)
        return failed(store, clock, run_id, f"internal error: {describe_exception(exc)}")
    return kept(store, clock, run_id, url, {"url": url}, text, validators)


def watch_file(path: Path, store: Store, clock: Callable[[], datetime], *, run_id: int | None = None) -> PageCheck:
    """Read the local copy of the page, keep a copy of its text when it changed, record the poll."""
    try:
        body = path.read_bytes()
    except OSError as exc:
        return failed(store, clock, run_id, f"{path}: cannot read the article's local copy: {os_reason(exc)}")
    kind = "text/html" if path.suffix.lower() in (".html", ".htm") else "text/plain"
    text = page_text(body[:MAX_BYTES], kind)
    if not text:
        return failed(store, clock, run_id, f"{path}: the article's local copy shows no text")
    return kept(store, clock, run_id, FILE_KEY + str(path), {"file": str(path)}, text, None)


def kept(store: Store, clock: Callable[[], datetime], run_id: int | None, key: str, where: dict[str, str],
         text: str | None, validators: tuple[str | None, str | None] | None) -> PageCheck:
    """A successful check: the text stored when it differs from the latest copy; `text` None: not modified."""
    latest = store.latest_snapshot(ARTICLE, key)
    changed = text is not None and (latest is None or not isinstance(latest.data, dict) or latest.data.get("text") != text)
    if changed:
        store.save_snapshot(ARTICLE, key, {**where, "text": text}, now=clock())
    store.save_batch(ARTICLE, [], now=clock(), validators=validators, final=True)
    store.record_poll(PollRecord(ARTICLE, utc_iso(clock()), True, fetched=int(text is not None), new=int(changed)),
                      run_id=run_id)
    log.info("poll %s: ok, %s", ARTICLE, "not modified" if text is None else "changed" if changed else "unchanged")
    return PageCheck(True, changed=changed)


def failed(store: Store, clock: Callable[[], datetime], run_id: int | None, error: str) -> PageCheck:
    log.error("poll %s: failed: %s", ARTICLE, error)
    store.record_poll(PollRecord(ARTICLE, utc_iso(clock()), False, error=error), run_id=run_id)
    return PageCheck(False, error=error)
