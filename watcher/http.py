"""One requests.Session for every upstream: per-request timeouts, a whole-response deadline,
per-host pacing, retries that honour Retry-After, conditional GET, size limits on the
decompressed body, and secrets redacted from every URL and message this module produces.

Nothing here raises a requests/urllib3 exception: failures leave as one-line `FetchError`s
with no chained cause or context (those would carry the raw URL, api_key included). A failure
reads "<host>: <reason> (…, GET <path>?…)": the whole URL (redacted) is its `url`, for the log
at DEBUG level only (a query can be a kilobyte long).

A host that cannot be reached at all (its name does not resolve, or it refuses connections) is
noted in an `UnreachableHosts` shared by every client of one poll: every later request to it in
that poll fails at once with the same reason, without another network try.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import math
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, urljoin, urlsplit

import requests
import tenacity
import urllib3
from requests.structures import CaseInsensitiveDict

from .errors import FetchError

log = logging.getLogger(__name__)
# urllib3 logs every request URL at DEBUG, api_key included; `--log-level DEBUG` must not leak it.
logging.getLogger("urllib3").setLevel(logging.INFO)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 5
SECRET_PARAMS = frozenset({"api_key", "api-key", "apikey", "token", "access_token"})
CHUNK = 64 * 1024
SNIPPET_BYTES = 4096  # enough of an error body to find its message; the rest is never read
SNIPPET_CHARS = 200
NOT_RESOLVED = "host name not resolved"
REFUSED = "connection refused"
# Reasons that say the host cannot be reached at all, not that one answer went wrong. Offline,
# both come back at once, so the usual tries with backoff (2 + 4 + 8 s and more per request,
# for every request to the host) only make a poll slow. One quick retry still mends a blip (a
# resolver restarting, a server restarting its listener); a longer outage is the next poll's
# business, and the failure is shown in `status` and the digest meanwhile.
UNREACHABLE = frozenset({NOT_RESOLVED, REFUSED})
UNREACHABLE_TRIES = 2
UNREACHABLE_WAIT = 1.0  # seconds before that one retry: no doubling, no jitter

T = TypeVar("T")
Params = Mapping[str, Any] | Iterable[tuple[str, Any]] | None
# Asked of a 429/5xx answer (its status and the first SNIPPET_BYTES of its body): True when it is
# final, e.g. openFDA's 500 SERVER_ERROR for a malformed query, which no retry can mend.
NotRetried = Callable[[int, bytes], bool]


@dataclass(frozen=True)
class HttpPolicy:
    """How to treat one upstream. Times are seconds."""

    user_agent: str
    accept: str | None = None
    timeout: float = 30.0  # per socket operation (connect, and each read)
    deadline: float = 300.0  # one whole response, body included: a trickling server can't hold us
    max_bytes: int = 200 * 1024 * 1024  # decompressed body
    retries: int = 4  # total tries, not extra ones
    backoff: float = 2.0  # first backoff; doubles per try, plus up to this much jitter
    max_retry_after: float = 120.0  # no wait (Retry-After or backoff) is longer than this
    rate: float = 1.0  # requests per second to one host, retries and redirects included

    def __post_init__(self) -> None:
        for name in ("timeout", "deadline", "rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"HttpPolicy.{name} must be > 0")
        if self.max_bytes < 1 or self.retries < 1 or self.backoff < 0 or self.max_retry_after < 0:
            raise ValueError("HttpPolicy: max_bytes and retries must be >= 1, backoff and max_retry_after >= 0")


def host_of(url: str) -> str:
    """The host a person is told about and requests are paced by: with its port, without any user info."""
    return urlsplit(url).netloc.rpartition("@")[2].lower()


@dataclass(frozen=True)
class Target:
    """A request as a person is shown it: the host, and the path up to its query."""

    host: str  # "eutils.ncbi.nlm.nih.gov", with the port when one is given
    where: str  # "GET /entrez/eutils/efetch.fcgi?…"
    url: str  # the whole URL, secrets redacted: for the log

    @classmethod
    def of(cls, url: str, redact: Callable[[str], str] = str) -> Target:
        parts = urlsplit(url)
        host = host_of(url) or "(no host)"
        path = parts.path or "/"
        return cls(host, f"GET {redact(path)}{'?…' if parts.query else ''}", redact(url))

    def error(self, reason: str) -> FetchError:
        return FetchError(reason, host=self.host, url=self.url)


@dataclass(frozen=True)
class Response:
    """A whole response. `url` is the final URL after redirects, with secrets redacted."""

    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes = field(repr=False)
    url: str
    redirects: int = 0
    target: Target = field(default_factory=lambda: Target("(no host)", "GET /", ""), repr=False, compare=False)
    detail: str = field(default="", repr=False, compare=False)  # the gist of a 4xx body, redacted

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 or self.status == 304

    @property
    def final_path(self) -> str:
        """Where a redirect led, path only: "/apology_objects/abuse-detection-apology.html"."""
        return Target.of(self.url).where.removeprefix("GET ")

    def failure(self, reason: str | None = None, *, detail: str | None = None) -> FetchError:
        """"host: HTTP 404 after a redirect to /x (GET /path?…): Not Found"; `reason` replaces the
        status, `detail` the gist of the body."""
        said = reason or f"HTTP {self.status}"
        if self.redirects and reason is None:
            said += f" after a redirect to {self.final_path}"
        said += f" ({self.target.where})"
        shown = self.detail if detail is None else detail
        return self.target.error(f"{said}: {shown}" if shown else said)

    def expect(self, *statuses: int) -> Response:
        """Raise the one-line failure unless the status is one of `statuses` (none given: 2xx or 304)."""
        if not (self.status in statuses if statuses else self.ok):
            raise self.failure()
        return self


# ---- redaction ----

# `name=value` in URLs and `"name": "value"` in JSON bodies (NCBI echoes "api-key" in its 429 body).
_SECRET_FIELD = re.compile(r"""(?i)(\b(?:api[_-]?key|access_token|token)["']?\s*[=:]\s*["']?)[^\s&#"',;}]+""")
_USERINFO = re.compile(r"(//[^/@\s:]+):[^/@\s]+@")


class _Redactor:
    """Replaces known secrets (raw and percent-encoded) and secret-looking fields by ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = frozenset(s for s in secrets if s)
        # Every form a value may take in a URL or message, whichever encoder produced it.
        encoders = (str, lambda s: quote(s, safe=""), quote, quote_plus, lambda s: quote_plus(s, safe="/"))
        forms = {encode(s) for s in self.secrets for encode in encoders}
        self._forms = sorted(forms, key=len, reverse=True)  # longest first: hide a secret whole

    def extended(self, more: Iterable[str]) -> _Redactor:
        more = frozenset(s for s in more if s) - self.secrets
        return _Redactor(self.secrets | more) if more else self

    def __call__(self, text: str) -> str:
        text = _USERINFO.sub(r"\1:***@", _SECRET_FIELD.sub(r"\1***", text))
        for form in self._forms:
            text = text.replace(form, "***")
        return text


# ---- describing failures in one line ----

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
_TAG = re.compile(r"<[^>]*>")


def _snippet(body: bytes, redact: _Redactor) -> str:
    """The gist of an error body: a JSON `error` message if there is one, else its text."""
    text = body[:SNIPPET_BYTES].decode("utf-8", "replace")
    message = _json_error(text)
    text = message if message is not None else _TAG.sub(" ", text)
    text = redact(" ".join(_CONTROL.sub(" ", text).split()))  # redact before cutting: no half secrets
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def _json_error(text: str) -> str | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    error = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(error, str):  # NCBI: {"error": "API rate limit exceeded", ...}
        return error
    if isinstance(error, dict):  # openFDA: {"error": {"code": "NOT_FOUND", "message": "No matches found!"}}
        parts = [error[k] for k in ("code", "message") if isinstance(error.get(k), str)]
        return ": ".join(parts) or None
    return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """exc and everything it wraps: requests and urllib3 nest the socket error several levels deep."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        nested = [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
        todo.extend(n for n in nested if isinstance(n, BaseException))


def _classify(exc: BaseException, timeout: float) -> tuple[str, bool]:
    """A short reason for a transport failure, and whether another try may help."""
    causes = list(_causes(exc))
    kinds = tuple(type(e) for e in causes)

    def has(*types: type[BaseException]) -> bool:
        return any(issubclass(k, types) for k in kinds)

    if has(requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
        return "invalid URL", False
    if has(ssl.SSLCertVerificationError):
        return "TLS certificate not trusted", False
    if has(requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError):
        return "body could not be decompressed", False
    if has(ConnectionResetError):
        return "connection reset", True
    if has(ConnectionRefusedError):
        return REFUSED, True
    if has(socket.gaierror, urllib3.exceptions.NameResolutionError):
        return NOT_RESOLVED, True
    # urllib3's NewConnectionError subclasses ConnectTimeoutError: only a real timeout counts here.
    if has(requests.Timeout, urllib3.exceptions.ReadTimeoutError, TimeoutError) or any(
        isinstance(e, urllib3.exceptions.ConnectTimeoutError) and not isinstance(e, urllib3.exceptions.NewConnectionError)
        for e in causes
    ):
        return f"timed out after {timeout:g} s", True
    if has(http.client.RemoteDisconnected):
        return "connection closed without a response", True
    if has(http.client.IncompleteRead, urllib3.exceptions.IncompleteRead):
        return "connection closed before the body was complete", True
    if has(requests.ConnectionError, requests.exceptions.ChunkedEncodingError, urllib3.exceptions.HTTPError,
           http.client.HTTPException, OSError):
        return f"connection failed ({type(causes[-1]).__name__})", True  # the deepest wrapped error
    return f"request failed ({type(exc).__name__})", False


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from Retry-After (delta-seconds or an HTTP-date), or None."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    except ValueError:
        pass
    when = _http_date(value)
    if when is None:
        return None
    sent = _http_date(headers.get("date") or "")  # the server's own clock: immune to our clock's skew
    now = sent if sent is not None else time.time()
    return max(0.0, when - now)


def _http_date(value: str) -> float | None:
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class UnreachableHosts:
    """The hosts found unreachable during one poll, and why: made by the poll, shared by all its
    clients, so that an outage costs one failed request per host rather than one per request."""

    def __init__(self) -> None:
        self._reasons: dict[str, str] = {}
        self._lock = threading.Lock()

    def reason(self, host: str) -> str | None:
        with self._lock:
            return self._reasons.get(host)

    def note(self, host: str, reason: str) -> None:
        with self._lock:
            self._reasons.setdefault(host, reason)

    def hosts(self) -> dict[str, str]:
        """host → reason, in the order they were found."""
        with self._lock:
            return dict(self._reasons)


class _Transient(Exception):
    """One try failed in a way another try may mend. Never leaves this module."""

    def __init__(self, target: Target, reason: str, *, detail: str = "", retry_after: float | None = None,
                 host: str | None = None) -> None:
        super().__init__(reason)
        self.target, self.reason, self.detail, self.retry_after = target, reason, detail, retry_after
        self.host = host or target.host  # the host that failed: a redirect may have led elsewhere

    @property
    def unreachable(self) -> bool:
        return self.reason in UNREACHABLE

    def final(self, tries: int) -> FetchError:
        counted = f"{tries} tries" if tries != 1 else "1 try"
        if self.reason.startswith("HTTP "):
            detail = f": {self.detail}" if self.detail else ""
            return self.target.error(f"{self.reason} after {counted} ({self.target.where}){detail}")
        return self.target.error(f"{self.reason}{_elsewhere(self.host, self.target)} ({counted}, {self.target.where})")


def _elsewhere(host: str, target: Target) -> str:
    """Where a failure happened when a redirect led away from the host the request named."""
    return f" at {host} after a redirect" if host != target.host else ""


# ---- the body, bounded ----


class BodyStream:
    """A file-like `read(n)` over the decompressed body that stops at max_bytes and the deadline.

    Reads use urllib3's read1(): each returns after one socket read (bounded by the timeout),
    so the deadline is checked even when a server sends one byte at a time, and each returns at
    most n decompressed bytes, so a gzip bomb never inflates more than one chunk into memory.
    """

    def __init__(self, raw: urllib3.HTTPResponse, *, target: Target, url: str, policy: HttpPolicy,
                 deadline_at: float, clock: Callable[[], float]) -> None:
        self.url = url  # final URL, redacted
        self.target = target
        self._raw, self._policy = raw, policy
        self._deadline_at, self._clock = deadline_at, clock
        self._count = 0
        self._eof = False
        self._pushed = b""  # the head of an error body, read to judge it, handed back first
        self.retrying = True  # while True a network failure is a _Transient; open()'s caller gets FetchError

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while part := self.read(CHUNK):
                parts.append(part)
            return b"".join(parts)
        if size == 0:
            return b""
        if self._pushed:
            data, self._pushed = self._pushed[:size], self._pushed[size:]
            return data
        if self._eof:
            return b""
        self._check_deadline()
        want = min(size, self._policy.max_bytes - self._count + 1)  # one byte over proves the excess
        failure = None
        try:
            data = self._raw.read1(want, decode_content=True) or b""
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError, ValueError) as exc:
            failure = _classify(exc, self._policy.timeout)
        if failure is not None:  # raised outside the except block: no __context__ to leak the URL
            self._eof = True
            reason, transient = failure
            if transient and self.retrying:
                raise _Transient(self.target, reason)
            raise self._error(f"{reason} while reading the body")
        self._count += len(data)
        if self._count > self._policy.max_bytes:
            self._eof = True
            raise self._error(f"body larger than the {_size(self._policy.max_bytes)} limit")
        self._eof = not data
        return data

    def readable(self) -> bool:
        return True

    def _error(self, reason: str) -> FetchError:
        return self.target.error(f"{reason} ({self.target.where})")

    def _check_deadline(self) -> None:
        if self._clock() > self._deadline_at:
            self._eof = True
            raise self._error(f"not complete within the {self._policy.deadline:g} s deadline")

    def push_back(self, data: bytes) -> None:
        """Bytes already read (and counted) that the next reads return first."""
        self._pushed = data + self._pushed

    def _head(self, n: int) -> bytes:
        """Up to n bytes for an error snippet; a failure here just means no snippet."""
        parts: list[bytes] = []
        got = 0
        try:
            while got < n and (part := self.read(n - got)):
                parts.append(part)
                got += len(part)
        except (FetchError, _Transient):
            pass
        return b"".join(parts)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n} bytes"


# ---- the client ----


@dataclass(frozen=True)
class _Request:
    url: str
    params: Params
    headers: CaseInsensitiveDict[str]
    target: Target
    redact: _Redactor
    not_retried: NotRetried | None = None


class HttpClient:
    """GETs with the policy's limits. One instance per upstream; not for use from several threads."""

    def __init__(self, policy: HttpPolicy, *, secrets: Iterable[str] = (),
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 unreachable: UnreachableHosts | None = None) -> None:
        self.policy = policy
        self._sleep, self._clock = sleep, clock
        self.unreachable = unreachable if unreachable is not None else UnreachableHosts()
        self._redact = _Redactor(secrets)
        self._session = requests.Session()
        self._session.headers["User-Agent"] = policy.user_agent
        if policy.accept:
            self._session.headers["Accept"] = policy.accept
        self._next_free: dict[str, float] = {}  # host → earliest moment of its next request
        self._lock = threading.Lock()
        # wait_exponential + wait_random rather than wait_exponential_jitter, whose arguments
        # changed within tenacity 9 (initial → multiplier); these two are stable since 8.x.
        self._backoff = tenacity.wait_exponential(multiplier=policy.backoff) + tenacity.wait_random(0, policy.backoff)
        self._retrying = tenacity.Retrying(
            sleep=sleep,
            stop=self._stop,
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Transient),
            before_sleep=self._log_retry,
            reraise=True,
        )

    # -- public --

    def get(self, url: str, params: Params = None, headers: Mapping[str, str] | None = None, *,
            etag: str | None = None, last_modified: str | None = None, not_retried: NotRetried | None = None) -> Response:
        """The whole response. 4xx and 304 are returned; 429/5xx are retried, unless `not_retried`
        says the answer is final (then it is returned too); the rest raise FetchError."""
        req = self._request(url, params, headers, etag, last_modified, not_retried)
        return self._retry(req, lambda: self._read(req))

    @contextmanager
    def open(self, url: str, params: Params = None, headers: Mapping[str, str] | None = None, *,
             etag: str | None = None, last_modified: str | None = None
             ) -> Iterator[tuple[int, Mapping[str, str], BodyStream]]:
        """(status, headers, stream) for parsing a big body as it arrives; closed on exit.

        Retries cover getting the response's head; a failure while the caller reads is final.
        """
        req = self._request(url, params, headers, etag, last_modified)
        resp, _hops, stream = self._retry(req, lambda: self._attempt(req))
        stream.retrying = False
        try:
            yield resp.status_code, _headers(resp), stream
        finally:
            resp.close()

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request, all tries --

    def _request(self, url: str, params: Params, headers: Mapping[str, str] | None,
                 etag: str | None, last_modified: str | None, not_retried: NotRetried | None = None) -> _Request:
        hdrs = CaseInsensitiveDict(headers or {})
        if etag:
            hdrs["If-None-Match"] = etag
        if last_modified:
            hdrs["If-Modified-Since"] = last_modified
        pairs = list(params.items() if isinstance(params, Mapping) else params or ())
        secret_values = [str(v) for k, v in pairs if str(k).lower() in SECRET_PARAMS]
        redact = self._redact.extended([*secret_values, hdrs.get("Authorization") or ""])
        failure = None
        try:
            full = requests.Request("GET", url, params=params).prepare().url or url
        except requests.RequestException as exc:
            full, failure = url, _classify(exc, self.policy.timeout)[0]
        target = Target.of(full, redact)
        if failure:
            raise target.error(f"{failure} ({target.where})")
        return _Request(url, params, hdrs, target, redact, not_retried)

    def _retry(self, req: _Request, attempt: Callable[[], T]) -> T:
        tries = 0

        def counted() -> T:
            nonlocal tries
            tries += 1
            return attempt()

        try:
            return self._retrying(counted)
        except _Transient as exc:
            if exc.unreachable:
                self.unreachable.note(exc.host, exc.reason)
            error = exc.final(tries)
        raise error  # outside the except block, so the chain stays empty

    def _tries(self, exc: BaseException | None) -> int:
        if isinstance(exc, _Transient) and exc.unreachable:
            return min(UNREACHABLE_TRIES, self.policy.retries)
        return self.policy.retries

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        return state.attempt_number >= self._tries(exc)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return min(exc.retry_after, self.policy.max_retry_after)
        if isinstance(exc, _Transient) and exc.unreachable:
            return min(UNREACHABLE_WAIT, self.policy.backoff)
        return min(self._backoff(state), self.policy.max_retry_after)

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        if isinstance(exc, _Transient):
            # The quick retry of an unreachable host explains no delay: the final failure says it all.
            level = logging.INFO if exc.unreachable else logging.WARNING
            log.log(level, "%s: %s; try %d of %d, next in %.1f s (%s)", exc.host, exc.reason,
                    state.attempt_number, self._tries(exc), wait, exc.target.where)
            log.debug("retrying %s", exc.target.url)

    # -- one try --

    def _read(self, req: _Request) -> Response:
        resp, hops, stream = self._attempt(req)
        with resp:
            body = stream.read()
        status = resp.status_code
        detail = _snippet(body, req.redact) if status >= 400 else ""
        return Response(status, _headers(resp), body, stream.url, hops, req.target, detail)

    def _attempt(self, req: _Request) -> tuple[requests.Response, int, BodyStream]:
        """Send, follow redirects, and stop at the head of the final response."""
        started = self._clock()
        resp, hops = self._follow(req)
        try:
            stream = BodyStream(resp.raw, target=req.target, url=req.redact(resp.url), policy=self.policy,
                                deadline_at=started + self.policy.deadline, clock=self._clock)
            stream._check_deadline()  # a server that trickled its headers
            status = resp.status_code
            if status in RETRY_STATUSES:
                head = stream._head(SNIPPET_BYTES)
                if req.not_retried is None or not req.not_retried(status, head):
                    raise _Transient(req.target, f"HTTP {status}", detail=_snippet(head, req.redact),
                                     retry_after=_retry_after(resp.headers))
                stream.push_back(head)  # a final answer: the caller reads it whole
            length = resp.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > self.policy.max_bytes:
                raise stream._error(f"body of {_size(int(length))} is over the {_size(self.policy.max_bytes)} limit")
        except BaseException:
            resp.close()
            raise
        return resp, hops, stream

    def _follow(self, req: _Request) -> tuple[requests.Response, int]:
        """Redirects by hand: each hop is paced, and no redirect body is ever read (requests
        would read it whole, unbounded)."""
        url, params, headers = req.url, req.params, req.headers.copy()
        for hop in range(MAX_REDIRECTS + 1):
            resp = self._send(req, url, params, headers)
            target = self._session.get_redirect_target(resp)
            if target is None:
                return resp, hop
            resp.close()
            target = urljoin(resp.url, target)
            if self._session.should_strip_auth(resp.url, target):  # type: ignore[no-untyped-call]  # untyped in requests
                headers.pop("Authorization", None)
            url, params = target, None
        raise req.target.error(f"more than {MAX_REDIRECTS} redirects ({req.target.where})")

    def _send(self, req: _Request, url: str, params: Params, headers: CaseInsensitiveDict[str]) -> requests.Response:
        host = host_of(url)
        known = self.unreachable.reason(host)
        if known is not None:  # failed earlier in this poll: no network try, no pacing wait
            raise req.target.error(f"{known}{_elsewhere(host, req.target)} (not tried again this poll, {req.target.where})")
        self._pace(url)
        try:
            return self._session.get(url, params=params, headers=headers, stream=True, allow_redirects=False,
                                     timeout=(self.policy.timeout, self.policy.timeout))
        except requests.RequestException as exc:
            reason, transient = _classify(exc, self.policy.timeout)
        if transient:  # raised outside the except block: no __context__ carrying the raw URL
            raise _Transient(req.target, reason, host=host)
        raise req.target.error(f"{reason} ({req.target.where})")

    def _pace(self, url: str) -> None:
        """Keep requests to one host at least 1/rate apart: reserve a slot, then wait outside the lock."""
        host = host_of(url)
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_free.get(host, now))
            self._next_free[host] = slot + 1.0 / self.policy.rate
        if slot > now:
            self._sleep(slot - now)


def _headers(resp: requests.Response) -> Mapping[str, str]:
    return MappingProxyType({name.lower(): value for name, value in resp.headers.items()})
