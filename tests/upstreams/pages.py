"""A stand-in for a web page: the clinic's article as its CMS serves it.

One body on one path, given by the test (the shared article text inside the wrapper of
tests/article_page.py, or hostile bytes). With `validators` on (the default) it sends an ETag (a
hash of the body) and a Last-Modified, and answers a conditional GET whose validators still hold
with 304 Not Modified; `set` changes the body (and so the ETag) between polls.

Label: "page" (unless given); kind "plain", so every fault of faults.py can be armed on it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime

from .server import Answer, Reply, Request, Server

PATH = "/ketamine-for-depression"
HTML = "text/html; charset=utf-8"


class WebPage:
    def __init__(self, server: Server, body: bytes | str, *, path: str = PATH, content_type: str | None = HTML,
                 validators: bool = True, label: str = "page") -> None:
        self.server, self.path, self.label = server, path, label
        self.content_type, self.validators = content_type, validators
        self.changes = 0
        self.set(body)
        server.route(path, self.answer)

    @property
    def url(self) -> str:
        return self.server.url(self.path)

    def set(self, body: bytes | str, content_type: str | None = None) -> None:
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        if content_type is not None:
            self.content_type = content_type
        self.changes += 1
        self.etag = f'"{hashlib.sha256(self.body).hexdigest()[:16]}"'
        moment = datetime(2026, 11, 1, 12, 0, tzinfo=UTC).replace(day=min(self.changes, 28))
        self.last_modified = format_datetime(moment, usegmt=True)

    def headers(self) -> dict[str, str]:
        return {"ETag": self.etag, "Last-Modified": self.last_modified} if self.validators else {}

    def answer(self, request: Request) -> Answer:
        if self.validators and request.headers.get("if-none-match") == self.etag:
            return Answer(self.label, "plain", Reply(304, b"", None, self.headers()))
        return Answer(self.label, "plain", Reply(200, self.body, self.content_type, self.headers()))
