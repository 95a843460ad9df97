"""The one stand-in server: a raw-socket, threaded HTTP/1.1 server on 127.0.0.1.

Every upstream stand-in (eutils.py, openfda.py, feeds.py) installs its routes on a `Server`, and
every fault (faults.py) is played by this same server, so a test can answer the second efetch
batch with a TCP reset and the rest healthily. A werkzeug-based server cannot reset a
connection, stall, trickle or lie about its Content-Length; this one writes the bytes itself.
Every connection gets one response and is closed (`Connection: close`): the framing stays obvious.

Vocabulary:
- a *route* turns a request into an `Answer`: a label ("esearch", "efetch:100",
  "enforcement:2", "rss"), the kind of upstream ("pubmed", "rss", "openfda", "plain") and the
  healthy `Reply`;
- a *fault* is armed for a label (`server.arm("efetch:100", faults.reset)`) and then writes
  whatever it likes to the socket instead of, or around, the healthy reply;
- the *log* holds every request in arrival order with its label, for counting and inspecting.

A label matches a pattern that is equal to it or is its prefix up to a colon: "efetch" matches
"efetch:0" and "efetch:100", "efetch:100" only itself.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, parse_qsl, urlsplit

CHUNK = 64 * 1024
REASONS = {200: "OK", 204: "No Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified",
           400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 410: "Gone",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


# ---- requests and replies ----


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # the raw request target, query (and any api_key) included
    headers: dict[str, str]  # names lower-cased

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def raw_query(self) -> str:
        return urlsplit(self.target).query

    @property
    def query(self) -> dict[str, str]:
        """Each parameter's last value."""
        return dict(parse_qsl(self.raw_query, keep_blank_values=True))

    @property
    def query_lists(self) -> dict[str, list[str]]:
        """Every value of each parameter, in order."""
        return parse_qs(self.raw_query, keep_blank_values=True)


@dataclass
class Reply:
    status: int = 200
    body: bytes | Callable[[], Iterable[bytes]] = b""  # a callable streams, chunk by chunk
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    length: bool = True  # send Content-Length (bytes bodies only)

    def with_body(self, body: bytes, content_type: str | None = None) -> Reply:
        return Reply(self.status, body, content_type or self.content_type, dict(self.headers))

    def whole(self) -> bytes:
        return b"".join(chunks(self))


@dataclass(frozen=True)
class Answer:
    """What a route makes of a request: how it is logged and armed, and the healthy reply."""

    label: str
    kind: str  # "pubmed" | "rss" | "openfda" | "ctgov" | "europepmc" | "plain": which hostile document a fault builds
    reply: Reply


@dataclass(frozen=True)
class Seen:
    label: str
    kind: str
    request: Request
    at: float  # time.perf_counter() when the request had been read


@dataclass
class Context:
    """What a fault gets: the connection, the request and what the route would have answered."""

    conn: socket.socket
    request: Request
    reply: Reply
    server: Server
    kind: str


Route = Callable[[Request], Answer]
Fault = Callable[[Context], None]


def head_bytes(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def reply_headers(reply: Reply, *, length: int | None = None) -> dict[str, str]:
    headers = {"Connection": "close"}
    if reply.content_type is not None:
        headers["Content-Type"] = reply.content_type
    headers.update(reply.headers)
    if length is not None:
        headers["Content-Length"] = str(length)
    return headers


def chunks(reply: Reply) -> Iterator[bytes]:
    if isinstance(reply.body, bytes):
        for i in range(0, len(reply.body), CHUNK):
            yield reply.body[i : i + CHUNK]
    else:
        yield from reply.body()


def send(conn: socket.socket, reply: Reply) -> None:
    bodyless = reply.status in (204, 304)  # RFC 9110: these carry no Content-Length and no body
    length = len(reply.body) if isinstance(reply.body, bytes) and reply.length and not bodyless else None
    conn.sendall(head_bytes(reply.status, reply_headers(reply, length=length)))
    for part in chunks(reply):
        conn.sendall(part)


def matches(label: str, pattern: str) -> bool:
    return label == pattern or label.startswith(pattern + ":")


# ---- the server ----


@dataclass
class Armed:
    pattern: str
    fault: Fault
    remaining: int | None  # None: every time


class Server:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.routes: dict[str, Route] = {}
        self.armed: list[Armed] = []
        self.log: list[Seen] = []
        self.accepted = 0  # connections, counted before anything is read
        self.errors: list[str] = []  # exceptions raised by a route or a fault: bugs of the stand-in
        self.threads: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._serve, name=f"upstream-{self.port}", daemon=True)
        self.thread.start()

    # -- set up --

    def url(self, path: str = "/") -> str:
        return self.base + path

    def route(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def static(self, path: str, reply: Reply, *, label: str | None = None, kind: str = "plain") -> str:
        """Answer every request for `path` with the same reply."""
        answer = Answer(label or path, kind, reply)
        return self.route(path, lambda request: answer)

    def arm(self, pattern: str, fault: Fault, times: int | None = None) -> None:
        """Answer the next `times` requests whose label matches `pattern` (None: all of them) with
        `fault`. Faults whose patterns match one label are used in the order they were armed."""
        with self.lock:
            self.armed.append(Armed(pattern, fault, times))

    def disarm(self) -> None:
        with self.lock:
            self.armed.clear()

    # -- what was asked --

    def seen(self, pattern: str | None = None, *, kind: str | None = None) -> list[Seen]:
        with self.lock:
            return [s for s in self.log
                    if (pattern is None or matches(s.label, pattern)) and (kind is None or s.kind == kind)]

    def requests(self, pattern: str | None = None, *, kind: str | None = None) -> list[Request]:
        return [s.request for s in self.seen(pattern, kind=kind)]

    def count(self, pattern: str) -> int:
        return len(self.seen(pattern))

    def labels(self) -> list[str]:
        return [s.label for s in self.seen()]

    # -- stopping --

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()
        for t in list(self.threads):
            t.join(2)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.close()
        if exc_type is None and self.errors:
            raise AssertionError(f"the stand-in server failed: {self.errors}")

    # -- serving --

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                self.accepted += 1
            t = threading.Thread(target=self._run, args=(conn,), daemon=True)
            self.threads = [x for x in self.threads if x.is_alive()] + [t]
            t.start()

    def _run(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(10)
                request = read_request(conn)
                if request is None:
                    return
                route = self.routes.get(request.path)
                answer = route(request) if route else Answer("unrouted", "plain", Reply(404, b"not here", "text/plain"))
                with self.lock:
                    self.log.append(Seen(answer.label, answer.kind, request, time.perf_counter()))
                    fault = self._take(answer.label)
                if fault is None:
                    send(conn, answer.reply)
                else:
                    fault(Context(conn, request, answer.reply, self, answer.kind))
            except OSError:
                pass  # the client hung up: expected whenever a limit cut it short
            except Exception as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def _take(self, label: str) -> Fault | None:
        for armed in self.armed:
            if matches(label, armed.pattern) and armed.remaining != 0:
                if armed.remaining is not None:
                    armed.remaining -= 1
                return armed.fault
        return None


def read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        part = conn.recv(4096)
        if not part:
            return None
        data += part
        if len(data) > 1 << 20:
            return None
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    first, *rest = head.split("\r\n")
    method, target, _version = first.split(" ", 2)
    headers = {}
    for line in rest:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Request(method, target, headers)
