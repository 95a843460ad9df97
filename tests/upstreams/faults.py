"""The catalogue of faults an upstream can throw, played by server.Server on any route.

A fault is armed for a label (`server.arm("efetch:2", faults.reset)`) and then answers the
request instead of the stand-in: it gets the connection, the request and the healthy reply it
replaces (`Context`), so it can send part of that reply, a damaged copy, or something else.
Faults that build a hostile document (entity bombs, endless or deeply nested bodies) build it
for the route's kind: PubMed XML, an RSS feed, or the JSON of openFDA, ClinicalTrials.gov, Europe PMC or Crossref.

Nothing here holds a big body in memory: the 50 MB body and the gzip stream that inflates to
1 GB are generated chunk by chunk while they are sent, and stop as soon as the client hangs up.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import escape as html_escape

from .server import CHUNK, REASONS, Context, Fault, Reply, Server, head_bytes, reply_headers, send


def rst(conn: socket.socket) -> None:
    """Make close() send a TCP RST instead of a FIN: the client sees "connection reset"."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# ---- answers that are complete HTTP messages ----


def answer(status: int, body: bytes | str, content_type: str = "text/xml; charset=UTF-8",
           headers: dict[str, str] | None = None) -> Fault:
    """A canned answer instead of the healthy one (e.g. an error document inside HTTP 200)."""
    data = body.encode() if isinstance(body, str) else body

    def fault(ctx: Context) -> None:
        send(ctx.conn, Reply(status, data, content_type, dict(headers or {})))

    return fault


def status(code: int, *, retry_after: str | None = None, body: bytes | str | None = None) -> Fault:
    """An error status. Without `body`, it echoes the request the way real upstreams do: NCBI's
    429 names the api-key, an HTML 5xx page prints the request line (api_key included)."""

    def fault(ctx: Context) -> None:
        if body is not None:
            data, ctype = (body.encode() if isinstance(body, str) else body), "text/plain"
        elif code == 429:
            key = ctx.request.query.get("api_key", "")
            data = json.dumps({"error": "API rate limit exceeded", "api-key": key, "count": "11", "limit": "10"}).encode()
            ctype = "application/json"
        else:
            data = (f"<html><head><title>{code} {REASONS.get(code, '')}</title></head><body><h1>{code}</h1>"
                    f"<p>while serving GET {html_escape(ctx.request.target)}</p></body></html>").encode()
            ctype = "text/html"
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        send(ctx.conn, Reply(code, data, ctype, headers))

    return fault


def cycle_5xx() -> Fault:
    """500, 502, 503, 500, …: one after the other on every request it answers."""
    codes = [500, 502, 503]
    answered = 0
    lock = threading.Lock()

    def fault(ctx: Context) -> None:
        nonlocal answered
        with lock:
            code, answered = codes[answered % 3], answered + 1
        status(code)(ctx)

    return fault


MAINTENANCE = ("<!DOCTYPE html>\n<html><head><title>Scheduled maintenance</title></head><body>"
               "<h1>We'll be back soon</h1><p>This service is down for maintenance. Request: {target}</p></body></html>\n")


def html_200(ctx: Context) -> None:
    """A maintenance page with status 200."""
    page = MAINTENANCE.format(target=html_escape(ctx.request.target))
    send(ctx.conn, Reply(200, page.encode(), "text/html; charset=utf-8"))


def content_type(value: str | None) -> Fault:
    """The healthy answer under another Content-Type (None: none at all)."""

    def fault(ctx: Context) -> None:
        send(ctx.conn, Reply(ctx.reply.status, ctx.reply.body, value, dict(ctx.reply.headers)))

    return fault


def truncated(ctx: Context) -> None:
    """A complete HTTP message whose document stops half way (Content-Length matches what is sent)."""
    body = ctx.reply.whole()
    send(ctx.conn, ctx.reply.with_body(body[: len(body) // 2]))


def invalid_utf8(ctx: Context) -> None:
    """The healthy answer with two bytes that are not UTF-8 inside the first title."""
    send(ctx.conn, ctx.reply.with_body(ctx.reply.whole().replace(b"Ketamine", b"Ket\xff\xfeamine", 1)))


# ---- broken connections ----


def redirect(location: str) -> Fault:
    """A 302 to `location`: a host that cannot be reached (nothing listens there, or its name
    does not resolve), as a retired mirror or a misconfigured CDN sends a client."""

    def fault(ctx: Context) -> None:
        send(ctx.conn, Reply(302, b"", "text/plain", {"Location": location}))

    return fault


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: bound, then closed, so a connect is refused."""
    with socket.create_server(("127.0.0.1", 0)) as s:
        return int(s.getsockname()[1])


def reset(ctx: Context) -> None:
    """A TCP reset instead of an answer."""
    rst(ctx.conn)


def reset_mid_body(ctx: Context) -> None:
    body = ctx.reply.whole()
    ctx.conn.sendall(head_bytes(200, reply_headers(ctx.reply, length=len(body))) + body[: len(body) // 2])
    rst(ctx.conn)


def short_body(ctx: Context) -> None:
    """Content-Length promises the whole body; half of it comes, then the connection closes."""
    body = ctx.reply.whole()
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


def trickle(interval: float = 0.05) -> Fault:
    """The healthy answer, one byte every `interval` seconds (each read well within a timeout)."""

    def fault(ctx: Context) -> None:
        body = ctx.reply.whole()
        ctx.conn.sendall(head_bytes(ctx.reply.status, reply_headers(ctx.reply, length=len(body))))
        for i in range(len(body)):
            if ctx.server.stop.wait(interval):
                return
            ctx.conn.sendall(body[i : i + 1])

    return fault


# ---- bodies too big to hold ----

# A document that opens a text field and never closes it: a parser reads on until a limit stops it.
ENDLESS_PREFIX = {
    "pubmed": b'<?xml version="1.0"?>\n<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>'
              b"<ArticleTitle>Ketamine ",
    "rss": b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>t</title><item><title>Ketamine ',
    "openfda": b'{"meta": {}, "results": [{"recall_number": "D-1", "product_description": "Ketamine ',
    "ctgov": b'{"totalCount": 1, "studies": [{"protocolSection": {"identificationModule": {"nctId": "NCT00000001", "briefTitle": "Ketamine ',
    "europepmc": b'{"version": "6.9", "hitCount": 1, "resultList": {"result": [{"id": "1", "source": "MED", "title": "Ketamine ',
    "crossref": b'{"status": "ok", "message-type": "work-list", "message": {"items": [{"DOI": "10.1/x", "title": ["Ketamine ',
    "plain": b"",
}


def big_body(total: int = 50 * 1024 * 1024, *, declared: bool) -> Fault:
    """`total` bytes of an endless document, with or without a Content-Length that says so."""

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
    (about 1 MB on the wire for 1 GB; the server never holds more than one block)."""

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


# ---- hostile XML: entity declarations put into the healthy answer ----
# One declaration a line, as attacks are written: feedparser's loose parser expands the entities of
# an internal subset laid out so (and keeps them as text when the subset is on one line).

ROOTS = {"pubmed": "PubmedArticleSet", "rss": "rss"}
FIRST_TITLE = {"pubmed": b"<ArticleTitle>", "rss": b"<item><title>"}
# JSON has no entities: an openFDA route gets this small feed with the DOCTYPE instead.
SMALL_FEED = (b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>t</title>'
              b"<item><title>Ketamine bomb</title><guid>bomb-0</guid></item></channel></rss>\n")


def with_doctype(ctx: Context, doctype: str, reference: bytes) -> bytes:
    """The healthy XML document with its DOCTYPE replaced by `doctype` and `reference` put into
    the first record's title."""
    kind = ctx.kind if ctx.kind in ROOTS else "rss"
    body = ctx.reply.whole() if ctx.kind in ROOTS else SMALL_FEED
    decl, _, rest = body.partition(b"?>")
    start = rest.find(b"<!DOCTYPE")
    if start >= 0:
        rest = rest[rest.index(b">", rest.index(ROOTS[kind].encode(), start)) + 1 :]
    doc = decl + b"?>\n" + doctype.format(root=ROOTS[kind]).encode() + rest
    tag = FIRST_TITLE[kind]
    return doc.replace(tag, tag + reference + b" ", 1)


def entity_fault(doctype: str, reference: bytes) -> Fault:
    def fault(ctx: Context) -> None:
        body = with_doctype(ctx, doctype, reference)
        xml = ctx.kind in ROOTS
        send(ctx.conn, Reply(200, body, ctx.reply.content_type if xml else "application/xml",
                             dict(ctx.reply.headers) if xml else {}))

    return fault


def billion_laughs() -> Fault:
    """10 levels of 10 entity references: a billion "lol"s if expanded."""
    subset = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">' for i in range(1, 10))
    return entity_fault("<!DOCTYPE {root} [\n" + subset + "\n]>", b"&lol9;")


def quadratic_blowup(value_bytes: int = 50_000, references: int = 10_000) -> Fault:
    """One long entity referenced many times (500 MB of text if expanded)."""
    return entity_fault("<!DOCTYPE {root} [\n<!ENTITY a \"" + "A" * value_bytes + "\">\n]>", b"&a;" * references)


def xxe_file(path: str) -> Fault:
    """An external entity naming a local file."""
    return entity_fault('<!DOCTYPE {root} [\n<!ENTITY xxe SYSTEM "file://' + path + '">\n]>', b"&xxe;")


def xxe_url(canary: str) -> Fault:
    """An external DTD, an external parameter entity and an external general entity, all on `canary`."""
    doctype = ('<!DOCTYPE {root} SYSTEM "' + canary + 'dtd" [\n<!ENTITY % pe SYSTEM "' + canary + 'pe"> %pe;\n'
               '<!ENTITY xxe SYSTEM "' + canary + 'xxe">\n]>')
    return entity_fault(doctype, b"&xxe;")


JSON_RECORDS = {"openfda": b'"results":', "ctgov": b'"studies":', "europepmc": b'"resultList":', "crossref": b'"message":'}


def deep_nesting(depth: int = 100_000) -> Fault:
    """Elements (or JSON arrays) nested `depth` deep inside the first record."""

    def fault(ctx: Context) -> None:
        body = ctx.reply.whole()
        if ctx.kind in ROOTS:
            tag = FIRST_TITLE[ctx.kind]
            body = body.replace(tag, tag + b"<i>" * depth + b"deep" + b"</i>" * depth, 1)
        else:  # a JSON answer: the arrays go before its list of records
            key = JSON_RECORDS.get(ctx.kind, b'"results":')
            body = body.replace(key, b'"deep": ' + b"[" * depth + b"]" * depth + b", " + key, 1)
        send(ctx.conn, ctx.reply.with_body(body))

    return fault


# ---- holding a request, for crash and signal tests: the test acts while the server waits ----


@dataclass
class Hold:
    """Answer healthily, but stop at `phase` ("head": before any byte; "mid": after half the body;
    "end": after the whole body, connection half-closed) and wait there until released."""

    phase: str
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def _wait(self, server: Server) -> None:
        self.reached.set()
        while not (self.release.is_set() or server.stop.is_set()):
            self.release.wait(0.05)

    def __call__(self, ctx: Context) -> None:
        if self.phase == "head":
            self._wait(ctx.server)
            send(ctx.conn, ctx.reply)  # a client still waiting (not killed) gets its answer
            return
        body = ctx.reply.whole()
        head = head_bytes(ctx.reply.status, reply_headers(ctx.reply, length=len(body)))
        if self.phase == "mid":
            ctx.conn.sendall(head + body[: len(body) // 2])
            self._wait(ctx.server)
            ctx.conn.sendall(body[len(body) // 2 :])
            return
        ctx.conn.sendall(head + body)
        ctx.conn.shutdown(socket.SHUT_WR)
        self._wait(ctx.server)  # "end": the client has it all and goes on to parse and commit
