"""A misbehaving upstream on 127.0.0.1: a raw threading socket server that plays E-utilities
(esearch + efetch), RSS feeds and openFDA, and on demand answers a chosen request with a fault.

pytest-httpserver (werkzeug) cannot reset a connection, stall, trickle or lie about its
Content-Length, so this server writes the bytes itself. Every connection gets one response and
is closed (`Connection: close`), which keeps the framing obvious.

Vocabulary:
- an *app* turns a request into a label ("esearch", "efetch:0", "openfda:2", "rss") and the
  healthy `Reply`;
- a *fault* is armed for a label (`server.arm("efetch:2", FAULTS["reset"](...))`) and then
  writes whatever it likes to the socket instead of, or around, the healthy reply.

Nothing here holds a big body in memory: the 50 MB body and the gzip stream that inflates to 1 GB
are generated chunk by chunk while they are sent, and stop as soon as the client hangs up.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from html import escape as html_escape
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit
from xml.sax.saxutils import escape as xml_escape

CHUNK = 64 * 1024
REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


# ---- requests and replies ----


@dataclass
class Request:
    method: str
    target: str  # the raw request target, query (and any api_key) included
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))


@dataclass
class Reply:
    status: int = 200
    body: bytes | Callable[[], Iterable[bytes]] = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    length: bool = True  # send Content-Length (bytes bodies only)

    def with_body(self, body: bytes, content_type: str | None = None) -> Reply:
        return Reply(self.status, body, content_type or self.content_type, dict(self.headers))


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
    length = len(reply.body) if isinstance(reply.body, bytes) and reply.length else None
    conn.sendall(head_bytes(reply.status, reply_headers(reply, length=length)))
    for part in chunks(reply):
        conn.sendall(part)


def rst(conn: socket.socket) -> None:
    """Make close() send a TCP RST instead of a FIN: the client sees "connection reset"."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# ---- the server ----


@dataclass
class Context:
    conn: socket.socket
    request: Request
    reply: Reply  # what the app would have answered
    server: FaultServer
    kind: str  # "pubmed" | "rss" | "openfda": what the request is for


Fault = Callable[[Context], None]
App = Callable[[Request, "FaultServer"], tuple[str, str, Reply]]  # → (label, kind, healthy reply)


@dataclass
class Armed:
    label: str
    fault: Fault
    remaining: int | None  # None: every time


class FaultServer:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.apps: dict[str, App] = {}
        self.armed: list[Armed] = []
        self.log: list[tuple[str, Request]] = []  # (label, request), in arrival order
        self.accepted = 0  # connections, counted before anything is read
        self.threads: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._serve, name=f"fault-server-{self.port}", daemon=True)
        self.thread.start()

    # -- set up --

    def route(self, path: str, app: App) -> str:
        self.apps[path] = app
        return self.base + path

    def arm(self, label: str, fault: Fault, times: int | None = None) -> None:
        """Answer the next `times` requests labelled `label` (None: all of them) with `fault`.
        Faults armed for one label are used in the order they were armed."""
        with self.lock:
            self.armed.append(Armed(label, fault, times))

    def disarm(self) -> None:
        with self.lock:
            self.armed.clear()

    def count(self, label: str) -> int:
        with self.lock:
            return sum(1 for seen, _ in self.log if seen == label)

    def labels(self) -> list[str]:
        with self.lock:
            return [label for label, _ in self.log]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()
        for t in list(self.threads):
            t.join(2)

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
                app = self.apps.get(request.path)
                if app is None:
                    with self.lock:
                        self.log.append(("unrouted", request))
                    send(conn, Reply(404, b"not here", "text/plain"))
                    return
                label, kind, reply = app(request, self)
                with self.lock:
                    self.log.append((label, request))
                    fault = self._take(label)
                if fault is None:
                    send(conn, reply)
                else:
                    fault(Context(conn, request, reply, self, kind))
            except OSError:
                pass  # the client hung up: expected whenever a limit cut it short

    def _take(self, label: str) -> Fault | None:
        for armed in self.armed:
            if armed.label == label and armed.remaining != 0:
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


# ---- the three upstreams, healthy ----


@dataclass
class Article:
    pmid: str
    title: str
    abstract: str = "Ketamine and esketamine in treatment-resistant depression."
    authors: tuple[tuple[str, str], ...] = (("Doe", "Jane"), ("Roe", "Richard"))
    journal: str = "Journal of Affective Disorders"
    doi: str | None = None
    publication_types: tuple[str, ...] = ("Journal Article",)
    keywords: tuple[str, ...] = ()


def article_xml(a: Article) -> bytes:
    e = xml_escape
    authors = "".join(f"<Author ValidYN=\"Y\"><LastName>{e(last)}</LastName><ForeName>{e(fore)}</ForeName></Author>"
                      for last, fore in a.authors)
    types = "".join(f"<PublicationType>{e(t)}</PublicationType>" for t in a.publication_types)
    keywords = "".join(f"<Keyword>{e(k)}</Keyword>" for k in a.keywords)
    doi = f'<ArticleId IdType="doi">{e(a.doi)}</ArticleId>' if a.doi else ""
    return (
        f"<PubmedArticle><MedlineCitation Status=\"MEDLINE\" Owner=\"NLM\"><PMID Version=\"1\">{a.pmid}</PMID>"
        f"<Article PubModel=\"Print\"><Journal><JournalIssue><PubDate><Year>2026</Year><Month>Nov</Month><Day>20</Day>"
        f"</PubDate></JournalIssue><Title>{e(a.journal)}</Title></Journal><ArticleTitle>{e(a.title)}</ArticleTitle>"
        f"<Abstract><AbstractText>{e(a.abstract)}</AbstractText></Abstract><AuthorList>{authors}</AuthorList>"
        f"<Language>eng</Language><PublicationTypeList>{types}</PublicationTypeList></Article>"
        f"{'<KeywordList>' + keywords + '</KeywordList>' if keywords else ''}</MedlineCitation>"
        f"<PubmedData><ArticleIdList><ArticleId IdType=\"pubmed\">{a.pmid}</ArticleId>{doi}</ArticleIdList></PubmedData>"
        f"</PubmedArticle>\n"
    ).encode("utf-8")


EFETCH_HEAD = (b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN"'
               b' "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>\n')
EFETCH_TAIL = b"</PubmedArticleSet>\n"


def articles(n: int, first_pmid: int = 41_000_000) -> list[Article]:
    return [Article(str(first_pmid + i), f"Ketamine for depression, study {i}") for i in range(n)]


class Eutils:
    """esearch (history server: every query finds all articles) and efetch by retstart/retmax."""

    def __init__(self, items: list[Article]) -> None:
        self.items = items

    def install(self, server: FaultServer, prefix: str = "/entrez/eutils/") -> str:
        server.route(prefix + "esearch.fcgi", self.esearch)
        server.route(prefix + "efetch.fcgi", self.efetch)
        return server.base + prefix

    def esearch(self, request: Request, server: FaultServer) -> tuple[str, str, Reply]:
        body = ('<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN"'
                ' "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
                f"<eSearchResult><Count>{len(self.items)}</Count><RetMax>0</RetMax><RetStart>0</RetStart>"
                "<QueryKey>1</QueryKey><WebEnv>MCID_fault</WebEnv><IdList/></eSearchResult>\n").encode()
        return "esearch", "pubmed", Reply(200, body, "text/xml; charset=UTF-8")

    def efetch(self, request: Request, server: FaultServer) -> tuple[str, str, Reply]:
        start, size = int(request.query.get("retstart", 0)), int(request.query.get("retmax", 500))
        body = EFETCH_HEAD + b"".join(article_xml(a) for a in self.items[start : start + size]) + EFETCH_TAIL
        return f"efetch:{start}", "pubmed", Reply(200, body, "text/xml; charset=UTF-8")

    def ids(self) -> set[str]:
        return {f"pubmed:{a.pmid}" for a in self.items}


@dataclass
class Entry:
    guid: str
    title: str
    link: str
    description: str = "Ketamine news for the clinic."
    author: str | None = None
    category: str | None = None


def entries(n: int, prefix: str = "fda") -> list[Entry]:
    return [Entry(f"{prefix}-{i}", f"Ketamine safety notice {i}", f"https://www.example.org/{prefix}/{i}") for i in range(n)]


class Feed:
    """One RSS 2.0 feed."""

    def __init__(self, items: list[Entry], label: str = "rss") -> None:
        self.items, self.label = items, label

    def install(self, server: FaultServer, path: str = "/rss-feeds/press-releases/rss.xml") -> str:
        return server.route(path, self.serve)

    def body(self) -> bytes:
        e = xml_escape
        parts = []
        for it in self.items:
            extra = f"<dc:creator>{e(it.author)}</dc:creator>" if it.author else ""
            extra += f"<category>{e(it.category)}</category>" if it.category else ""
            parts.append(f"<item><title>{e(it.title)}</title><link>{e(it.link)}</link><guid isPermaLink=\"false\">{e(it.guid)}</guid>"
                         f"<description>{e(it.description)}</description>{extra}"
                         f"<pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate></item>\n")
        return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
                "<channel><title>FDA press releases</title><link>https://www.example.org/</link>"
                "<description>news</description>\n" + "".join(parts) + "</channel></rss>\n").encode("utf-8")

    def serve(self, request: Request, server: FaultServer) -> tuple[str, str, Reply]:
        return self.label, "rss", Reply(200, self.body(), "application/rss+xml; charset=utf-8")

    def ids(self, source: str) -> set[str]:
        return {f"rss:{source}:{it.guid}" for it in self.items}


def recalls(n: int) -> list[dict[str, Any]]:
    return [{
        "recall_number": f"D-{1000 + i}-2026", "event_id": str(90000 + i), "report_date": "20261118",
        "classification": "Class II", "status": "Ongoing", "recall_initiation_date": "20261101",
        "product_description": f"Ketamine Hydrochloride Injection, lot {i}",
        "reason_for_recall": "Lack of sterility assurance", "recalling_firm": "Example Pharma",
        "distribution_pattern": "Nationwide", "openfda": {"generic_name": ["KETAMINE HYDROCHLORIDE"]},
    } for i in range(n)]


class OpenFDA:
    """drug/enforcement.json, paged by `limit` with `Link: <…search_after=OFFSET>; rel="next"`."""

    PATH = "/drug/enforcement.json"

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records

    def install(self, server: FaultServer) -> str:
        server.route(self.PATH, self.serve)
        return server.base + "/"

    def serve(self, request: Request, server: FaultServer) -> tuple[str, str, Reply]:
        q = request.query
        limit, offset = int(q.get("limit", 100)), int(q.get("search_after") or 0)
        page = self.records[offset : offset + limit]
        label = f"openfda:{offset // limit + 1}"
        doc = {"meta": {"results": {"skip": 0, "limit": limit, "total": len(self.records)}}, "results": page}
        headers = {}
        if offset + limit < len(self.records):
            nxt = f"{server.base}{self.PATH}?search={quote(q.get('search', ''))}&limit={limit}&search_after={offset + limit}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        body = json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
        return label, "openfda", Reply(200, body, "application/json; charset=utf-8", headers)

    def ids(self) -> set[str]:
        return {f"openfda:enforcement:{r['recall_number']}" for r in self.records}


# ---- faults ----


def status(code: int, *, retry_after: str | None = None, body: str = "ncbi") -> Fault:
    """An error status. The body echoes the request the way real upstreams do: NCBI's 429 names the
    api-key, an HTML 5xx page prints the request line (api_key included)."""

    def fault(ctx: Context) -> None:
        key = ctx.request.query.get("api_key", "")
        if body == "ncbi" and code == 429:
            text = json.dumps({"error": "API rate limit exceeded", "api-key": key, "count": "11", "limit": "10"})
            ctype = "application/json"
        else:
            text = (f"<html><head><title>{code} {REASONS.get(code, '')}</title></head><body><h1>{code}</h1>"
                    f"<p>while serving GET {html_escape(ctx.request.target)}</p></body></html>")
            ctype = "text/html"
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        send(ctx.conn, Reply(code, text.encode(), ctype, headers))

    return fault


def cycle_5xx() -> Fault:
    codes = [500, 502, 503]
    seen = []

    def fault(ctx: Context) -> None:
        seen.append(1)
        status(codes[(len(seen) - 1) % 3])(ctx)

    return fault


def reset(ctx: Context) -> None:
    rst(ctx.conn)


def reset_mid_body(ctx: Context) -> None:
    body = b"".join(chunks(ctx.reply))
    ctx.conn.sendall(head_bytes(200, reply_headers(ctx.reply, length=len(body))) + body[: len(body) // 2])
    rst(ctx.conn)


def short_body(ctx: Context) -> None:
    """Content-Length promises the whole body; half of it comes, then the connection closes."""
    body = b"".join(chunks(ctx.reply))
    ctx.conn.sendall(head_bytes(200, reply_headers(ctx.reply, length=len(body))) + body[: len(body) // 2])


def stall(ctx: Context) -> None:
    """Read the request, then say nothing until the client gives up (or the server stops)."""
    ctx.conn.settimeout(0.1)
    while not ctx.server.stop.is_set():
        try:
            if ctx.conn.recv(1) == b"":
                return  # the client closed
        except TimeoutError:
            continue


def trickle(ctx: Context) -> None:
    """The healthy answer, one byte every 50 ms."""
    body = b"".join(chunks(ctx.reply))
    ctx.conn.sendall(head_bytes(200, reply_headers(ctx.reply, length=len(body))))
    for i in range(len(body)):
        if ctx.server.stop.wait(0.05):
            return
        ctx.conn.sendall(body[i : i + 1])


def truncated(ctx: Context) -> None:
    """A complete HTTP message whose document stops half way (Content-Length matches what is sent)."""
    body = b"".join(chunks(ctx.reply))
    send(ctx.conn, ctx.reply.with_body(body[: len(body) // 2]))


MAINTENANCE = ("<!DOCTYPE html>\n<html><head><title>Scheduled maintenance</title></head><body>"
               "<h1>We'll be back soon</h1><p>This service is down for maintenance. Request: {target}</p></body></html>\n")


def html_200(ctx: Context) -> None:
    page = MAINTENANCE.format(target=html_escape(ctx.request.target))
    send(ctx.conn, Reply(200, page.encode(), "text/html; charset=utf-8"))


def content_type(value: str | None) -> Fault:
    def fault(ctx: Context) -> None:
        send(ctx.conn, Reply(ctx.reply.status, ctx.reply.body, value, dict(ctx.reply.headers)))
    return fault


def invalid_utf8(ctx: Context) -> None:
    """The healthy answer with two bytes that are not UTF-8 inside the first title."""
    body = b"".join(chunks(ctx.reply)).replace(b"Ketamine", b"Ket\xff\xfeamine", 1)
    send(ctx.conn, ctx.reply.with_body(body))


# A document that opens a text field and never closes it: a parser reads on until a limit stops it.
ENDLESS_PREFIX = {
    "pubmed": b'<?xml version="1.0"?>\n<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>'
              b"<ArticleTitle>Ketamine ",
    "rss": b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>t</title><item><title>Ketamine ',
    "openfda": b'{"meta": {}, "results": [{"recall_number": "D-1", "product_description": "Ketamine ',
}


def big_body(total: int = 50 * 1024 * 1024, *, declared: bool) -> Fault:
    def fault(ctx: Context) -> None:
        prefix = ENDLESS_PREFIX[ctx.kind]

        def body() -> Iterator[bytes]:
            yield prefix
            block, left = b"x" * CHUNK, total - len(prefix)
            while left > 0:
                yield block[:left]
                left -= CHUNK

        send(ctx.conn, Reply(200, body, ctx.reply.content_type, length=False,
                             headers={"Content-Length": str(total)} if declared else {}))

    return fault


def gzip_bomb(total: int = 1024 * 1024 * 1024) -> Fault:
    """Content-Encoding: gzip whose body inflates to `total` bytes, compressed as it is sent
    (about 1 MB on the wire; the server never holds more than one chunk)."""

    def fault(ctx: Context) -> None:
        prefix = ENDLESS_PREFIX[ctx.kind]

        def body() -> Iterator[bytes]:
            z = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
            yield z.compress(prefix)
            block, left = b"x" * (1024 * 1024), total - len(prefix)
            while left > 0:
                if out := z.compress(block[:left]):
                    yield out
                left -= len(block)
            yield z.flush()

        send(ctx.conn, Reply(200, body, ctx.reply.content_type, {"Content-Encoding": "gzip"}, length=False))

    return fault


# -- hostile XML: entity declarations put into the healthy answer --

ROOTS = {"pubmed": "PubmedArticleSet", "rss": "rss"}
FIRST_TITLE = {"pubmed": b"<ArticleTitle>", "rss": b"<item><title>"}


def with_doctype(ctx: Context, doctype: str, reference: bytes) -> bytes:
    """The healthy document (or, for openFDA, a small RSS document: JSON has no entities) with its
    DOCTYPE replaced by `doctype` and `reference` put into the first record's title."""
    kind = ctx.kind if ctx.kind in ROOTS else "rss"
    body = b"".join(chunks(ctx.reply)) if ctx.kind in ROOTS else Feed(entries(1, "bomb")).body()
    decl, _, rest = body.partition(b"?>")
    start = rest.find(b"<!DOCTYPE")
    if start >= 0:
        rest = rest[rest.index(b">", rest.index(b"PubmedArticleSet", start)) + 1 :]  # only efetch has one
    doc = decl + b"?>\n" + doctype.format(root=ROOTS[kind]).encode() + rest
    tag = FIRST_TITLE[kind]
    return doc.replace(tag, tag + reference + b" ", 1)


def entity_fault(doctype: str, reference: bytes) -> Fault:
    def fault(ctx: Context) -> None:
        body = with_doctype(ctx, doctype, reference)
        ctype = ctx.reply.content_type if ctx.kind in ROOTS else "application/xml"
        send(ctx.conn, Reply(200, body, ctype, dict(ctx.reply.headers) if ctx.kind in ROOTS else {}))
    return fault


def billion_laughs() -> Fault:
    subset = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">' for i in range(1, 10))
    return entity_fault("<!DOCTYPE {root} [" + subset + "]>", b"&lol9;")


def quadratic_blowup(value_bytes: int = 50_000, references: int = 10_000) -> Fault:
    return entity_fault("<!DOCTYPE {root} [<!ENTITY a \"" + "A" * value_bytes + "\">]>", b"&a;" * references)


def xxe_file(path: str) -> Fault:
    return entity_fault('<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "file://' + path + '">]>', b"&xxe;")


def xxe_url(canary: str) -> Fault:
    """An external DTD, an external parameter entity and an external general entity, all on `canary`."""
    doctype = ('<!DOCTYPE {root} SYSTEM "' + canary + 'dtd" [<!ENTITY % pe SYSTEM "' + canary + 'pe"> %pe; '
               '<!ENTITY xxe SYSTEM "' + canary + 'xxe">]>')
    return entity_fault(doctype, b"&xxe;")


def deep_nesting(depth: int = 100_000) -> Fault:
    """Elements (or JSON arrays) nested 100,000 deep inside the first record."""

    def fault(ctx: Context) -> None:
        body = b"".join(chunks(ctx.reply))
        if ctx.kind in ROOTS:
            tag = FIRST_TITLE[ctx.kind]
            body = body.replace(tag, tag + b"<i>" * depth + b"deep" + b"</i>" * depth, 1)
        else:
            body = body.replace(b'"results":', b'"deep": ' + b"[" * depth + b"]" * depth + b', "results":', 1)
        send(ctx.conn, ctx.reply.with_body(body))

    return fault


# -- holding a request, for crash tests: the test kills the client while the server waits --


@dataclass
class Hold:
    """Answer healthily, but stop at `phase` ("head": before any byte; "mid": after half the body;
    "end": after the whole body, connection closed) and wait there until released."""

    phase: str
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def _wait(self, server: FaultServer) -> None:
        self.reached.set()
        while not (self.release.is_set() or server.stop.is_set()):
            self.release.wait(0.05)

    def __call__(self, ctx: Context) -> None:
        if self.phase == "head":
            self._wait(ctx.server)
            return
        body = b"".join(chunks(ctx.reply))
        head = head_bytes(ctx.reply.status, reply_headers(ctx.reply, length=len(body)))
        if self.phase == "mid":
            ctx.conn.sendall(head + body[: len(body) // 2])
            self._wait(ctx.server)
            return
        ctx.conn.sendall(head + body)
        ctx.conn.shutdown(socket.SHUT_WR)
        self._wait(ctx.server)  # "end": the client has it all and goes on to parse and commit
