"""watcher.http against real HTTP on 127.0.0.1: pytest-httpserver for well-formed answers, the
stand-in server of tests/upstreams for the misbehaving ones (resets, silence, trickles, a gzip
bomb on the wire). Waits go to a fake sleep."""

from __future__ import annotations

import gzip
import json
import logging
import socket
import time
import tracemalloc
from collections.abc import Iterator
from email.utils import formatdate

import pytest
from werkzeug import Response as WerkzeugResponse

from tests.fakes import FakeTime
from tests.upstreams import faults
from tests.upstreams.server import Reply, Server
from watcher.errors import FetchError
from watcher.http import HttpClient, HttpPolicy

NCBI_429 = {"error": "API rate limit exceeded", "api-key": "203.0.113.7", "count": "4", "limit": "3"}
OPENFDA_404 = {"error": {"code": "NOT_FOUND", "message": "No matches found!"}}



@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def server(httpserver_ipv4):  # 127.0.0.1, never "localhost" (which may resolve to ::1)
    yield httpserver_ipv4
    httpserver_ipv4.clear()


def make_client(fake: FakeTime | None = None, *, secrets: tuple[str, ...] = (), **overrides) -> HttpClient:
    # A huge rate keeps pacing out of the way unless a test is about pacing.
    settings = {"user_agent": "watcher-tests/1", "rate": 1e9, "backoff": 2.0, **overrides}
    timing = {"sleep": fake.sleep, "clock": fake.clock} if fake else {}
    return HttpClient(HttpPolicy(**settings), secrets=secrets, **timing)


# ---- behaviour no well-behaved HTTP server shows: the stand-in server, and a fault ----


def misbehaving(server: Server, path: str, fault: faults.Fault, reply: Reply | None = None) -> str:
    """A route on the stand-in server whose every answer is `fault`, played over `reply`."""
    url = server.static(path, reply or Reply(200, b"ok", "text/plain"), label="raw")
    server.arm("raw", fault)
    return url


# ---- retries ----


def test_retry_after_seconds_is_honoured(server, fake):
    server.expect_ordered_request("/e").respond_with_json(NCBI_429, status=429, headers={"Retry-After": "3"})
    server.expect_ordered_request("/e").respond_with_data(b"ok")
    response = make_client(fake).get(server.url_for("/e"))
    assert (response.status, response.body) == (200, b"ok")
    assert fake.waits == [3.0]


def test_retry_after_http_date_is_honoured(server, fake):
    # Measured against the response's Date header (the server's clock), which werkzeug sends.
    later = formatdate(time.time() + 30, usegmt=True)
    server.expect_ordered_request("/e").respond_with_data(b"busy", status=503, headers={"Retry-After": later})
    server.expect_ordered_request("/e").respond_with_data(b"ok")
    assert make_client(fake).get(server.url_for("/e")).status == 200
    assert len(fake.waits) == 1 and 28 <= fake.waits[0] <= 31


def test_retry_after_is_capped(server, fake):
    server.expect_ordered_request("/e").respond_with_data(b"", status=429, headers={"Retry-After": "86400"})
    server.expect_ordered_request("/e").respond_with_data(b"ok")
    assert make_client(fake, max_retry_after=120).get(server.url_for("/e")).status == 200
    assert fake.waits == [120.0]


def test_429_without_retry_after_backs_off_exponentially(server, fake):
    for _ in range(2):
        server.expect_ordered_request("/e").respond_with_json(NCBI_429, status=429)
    server.expect_ordered_request("/e").respond_with_data(b"ok")
    assert make_client(fake, backoff=2.0).get(server.url_for("/e")).status == 200
    first, second = fake.waits
    assert 2 <= first <= 4 and 4 <= second <= 6  # 2·2^(n-1) plus up to 2 s of jitter


def test_503_then_502_then_200(server, fake):
    server.expect_ordered_request("/e").respond_with_data(b"down", status=503)
    server.expect_ordered_request("/e").respond_with_data(b"bad gateway", status=502)
    server.expect_ordered_request("/e").respond_with_data(b"<eSearchResult/>")
    response = make_client(fake).get(server.url_for("/e"))
    assert (response.status, response.body) == (200, b"<eSearchResult/>")
    assert len(fake.waits) == 2
    server.check_assertions()


def test_retries_exhausted_names_status_tries_and_message(server, fake):
    server.expect_request("/e").respond_with_json(NCBI_429, status=429)
    with pytest.raises(FetchError) as caught:
        make_client(fake, retries=4).get(server.url_for("/e"), params={"db": "pubmed", "tool": "watcher"})
    message = str(caught.value)
    host = server.url_for("/").split("/")[2]
    # The host and the reason first, the path up to its query; the whole URL is for the log.
    assert message == f"{host}: HTTP 429 after 4 tries (GET /e?…): API rate limit exceeded"
    assert caught.value.host == host and caught.value.url == server.url_for("/e") + "?db=pubmed&tool=watcher"
    assert len(server.log) == 4 and len(fake.waits) == 3


def test_html_error_body_becomes_a_short_clean_snippet(server, fake):
    page = "<html><head><title>503 Service\x1b[31m Unavailable</title></head><body>" + "x" * 5000 + "</body></html>"
    server.expect_request("/e").respond_with_data(page, status=503, content_type="text/html")
    with pytest.raises(FetchError) as caught:
        make_client(fake, retries=2).get(server.url_for("/e"))
    message = str(caught.value)
    assert "HTTP 503 after 2 tries (GET /e): 503 Service [31m Unavailable xxx" in message
    assert "\x1b" not in message and "\n" not in message and message.endswith("…")
    assert len(message) < 300


def test_404_is_returned_not_raised_nor_retried(server, fake):
    server.expect_request("/drug/event.json").respond_with_json(OPENFDA_404, status=404)
    response = make_client(fake).get(server.url_for("/drug/event.json"), params={"search": "x"})
    assert response.status == 404 and not response.ok
    assert json.loads(response.body) == OPENFDA_404
    assert fake.waits == [] and len(server.log) == 1
    with pytest.raises(FetchError, match=r": HTTP 404 \(GET /drug/event\.json\?…\): NOT_FOUND: No matches found!$"):
        response.expect()
    assert response.expect(200, 404) is response


def test_timeout_is_retried_then_reported(upstream):
    # The server never answers: only the timeout ends each try (benchmarks/time_bounds.py measures how soon).
    url = misbehaving(upstream, "/slow", faults.stall)
    with pytest.raises(FetchError) as caught:
        make_client(timeout=0.3, retries=2, backoff=0).get(url)
    assert str(caught.value) == f"{url.split('/')[2]}: timed out after 0.3 s (2 tries, GET /slow)"
    assert upstream.count("raw") == 2


def test_connection_reset_is_retried_then_reported(upstream, fake):
    url = misbehaving(upstream, "/x", faults.reset)
    with pytest.raises(FetchError) as caught:
        make_client(fake, retries=3).get(url)
    assert str(caught.value) == f"{url.split('/')[2]}: connection reset (3 tries, GET /x)"
    assert len(fake.waits) == 2 and upstream.count("raw") == 3


def test_connection_refused(fake):
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]  # bound then closed: nobody listens there
    with pytest.raises(FetchError, match=r"^127\.0\.0\.1:\d+: connection refused \(2 tries, GET /\)$"):
        make_client(fake, retries=2).get(f"http://127.0.0.1:{port}/")


# ---- limits ----


def test_trickling_body_hits_the_deadline(upstream):
    url = misbehaving(upstream, "/drip", faults.trickle(0.1), Reply(200, b"x" * 1000))  # 100 s at one byte per 0.1 s
    started = time.monotonic()
    with pytest.raises(FetchError, match=r": not complete within the 1 s deadline \(GET /drip\)$"):
        make_client(timeout=0.5, deadline=1.0).get(url)
    # Not before the deadline (a busy machine only makes it later); how soon after it is measured
    # by benchmarks/time_bounds.py.
    assert time.monotonic() - started >= 0.9


def test_content_length_over_max_bytes_fails_at_once(server, fake):
    server.expect_request("/big").respond_with_data(b"x" * 5000)
    with pytest.raises(FetchError, match=r": body of 5000 bytes is over the 1000 bytes limit \(GET /big\)$"):
        make_client(fake, max_bytes=1000).get(server.url_for("/big"))
    assert fake.waits == [] and len(server.log) == 1


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    return gzip.compress(bytes(50 * 1024 * 1024), compresslevel=9)  # ~50 KB on the wire


@pytest.mark.parametrize("mode", ["get", "open"])
def test_gzip_bomb_fails_fast_with_bounded_memory(upstream, fake, gzip_bomb, mode):
    # Served by the stand-in server, from bytes made before tracemalloc starts: tracemalloc counts
    # every thread, and werkzeug's handling of the client hanging up mid-body costs ~10 MB of its
    # own, which is not what is measured here.
    url = upstream.static("/bomb", Reply(200, gzip_bomb, None, {"Content-Encoding": "gzip"}))
    client = make_client(fake, max_bytes=1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match=r": body larger than the 1 MB limit \(GET /bomb\)"):
            if mode == "get":
                client.get(url)
            else:
                with client.open(url) as (_status, _headers, stream):
                    while stream.read(64 * 1024):
                        pass
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024  # the 1 MB body read so far, plus a chunk or two: the rest was never inflated


def test_gzip_body_is_decompressed(server, fake):
    server.expect_request("/z").respond_with_data(gzip.compress(b"<rss/>" * 1000), headers={"Content-Encoding": "gzip"})
    assert make_client(fake).get(server.url_for("/z")).body == b"<rss/>" * 1000


# ---- conditional GET, redirects ----


def test_conditional_get_sends_validators_and_returns_304(server, fake):
    validators = {"If-None-Match": '"v1"', "If-Modified-Since": "Tue, 05 Dec 2023 21:59:37 GMT"}
    server.expect_request("/rss.xml", headers=validators).respond_with_data(b"", status=304)
    response = make_client(fake).get(server.url_for("/rss.xml"), etag='"v1"', last_modified=validators["If-Modified-Since"])
    assert response.status == 304 and response.ok and response.body == b""
    assert fake.waits == []


def test_redirect_exposes_the_final_url(server, fake):
    server.expect_request("/rss.xml").respond_with_data(b"", status=302, headers={"Location": "/apology?token=T0K3N"})
    server.expect_request("/apology").respond_with_data(b"<html>sorry</html>")
    response = make_client(fake).get(server.url_for("/rss.xml"))
    assert response.status == 200 and response.redirects == 1
    assert response.url == server.url_for("/apology") + "?token=***"


def test_at_most_five_redirects(server, fake):
    for n in range(6):
        server.expect_request(f"/r{n}").respond_with_data(b"", status=302, headers={"Location": f"/r{n + 1}"})
    server.expect_request("/r6").respond_with_data(b"end")
    client = make_client(fake)
    assert client.get(server.url_for("/r1")).redirects == 5
    with pytest.raises(FetchError, match=r": more than 5 redirects \(GET /r0\)$"):
        client.get(server.url_for("/r0"))


# ---- pacing ----


def test_requests_to_one_host_are_spaced(server, fake, upstream):
    server.expect_request("/e").respond_with_data(b"ok")
    other = upstream.static("/", Reply(200, b"ok", "text/plain"))
    client = make_client(fake, rate=2.0)
    for _ in range(3):
        client.get(server.url_for("/e"))
    assert fake.waits == [0.5, 0.5]
    client.get(other)  # another host (port) has its own spacing
    assert fake.waits == [0.5, 0.5]


def test_retries_are_paced_too(server, fake):
    server.expect_ordered_request("/e").respond_with_data(b"", status=503, headers={"Retry-After": "0"})
    server.expect_ordered_request("/e").respond_with_data(b"ok")
    assert make_client(fake, rate=1.0).get(server.url_for("/e")).status == 200
    assert fake.waits == [0.0, 1.0]  # Retry-After: 0, then the host's 1 s spacing


# ---- secrets ----

KEY = "k3y/with+odd=chars"


def assert_clean(exc: BaseException, *secrets: str) -> None:
    seen = exc
    while seen is not None:
        for text in (str(seen), repr(seen), str(getattr(seen, "url", ""))):
            for secret in secrets:
                assert secret not in text
        seen = seen.__cause__ or seen.__context__
    assert exc.__cause__ is None and exc.__context__ is None


def test_secrets_never_appear_in_errors_or_logs(server, fake, caplog):
    echoed = {"error": "API rate limit exceeded", "api-key": KEY, "note": "hunter2"}
    server.expect_request("/e").respond_with_data(json.dumps(echoed) + " and more", status=429)  # not JSON: raw snippet
    client = make_client(fake, retries=2, secrets=("hunter2",))
    with caplog.at_level(logging.INFO), pytest.raises(FetchError) as caught:
        client.get(server.url_for("/e"), params={"db": "pubmed", "api_key": KEY},
                   headers={"Authorization": "Bearer s3ss10n"})
    message = str(caught.value)
    assert '"api-key": "***"' in message and "api_key=***" in caught.value.url
    assert_clean(caught.value, KEY, "k3y%2Fwith%2Bodd%3Dchars", "hunter2")
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("watcher")]
    assert ours and all(KEY not in m and "k3y%2F" not in m and "k3y/with%2B" not in m for m in ours)


def test_secrets_absent_from_transport_errors(fake):
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    with pytest.raises(FetchError) as caught:
        make_client(fake, retries=1, secrets=("hunter2",)).get(
            f"http://127.0.0.1:{port}/hunter2/esearch.fcgi", params={"api-key": KEY, "token": "t0k"})
    assert str(caught.value) == f"127.0.0.1:{port}: connection refused (1 try, GET /***/esearch.fcgi?…)"
    assert caught.value.url == f"http://127.0.0.1:{port}/***/esearch.fcgi?api-key=***&token=***"
    assert_clean(caught.value, KEY, "k3y%2F", "hunter2", "t0k")


def test_response_url_is_redacted(server, fake):
    server.expect_request("/e").respond_with_data(b"ok")
    response = make_client(fake).get(server.url_for("/e"), params={"api_key": KEY, "term": "ketamine"})
    assert response.url == server.url_for("/e") + "?api_key=***&term=ketamine"
    assert KEY not in repr(response)


# ---- streaming ----


def test_open_streams_the_body_in_chunks(server, fake):
    body = bytes(range(256)) * 2000  # 512 KB
    server.expect_request("/efetch").respond_with_data(body)
    with make_client(fake).open(server.url_for("/efetch")) as (status, headers, stream):
        assert status == 200 and headers["content-length"] == str(len(body))
        chunks = []
        while chunk := stream.read(8192):
            assert len(chunk) <= 8192
            chunks.append(chunk)
    assert b"".join(chunks) == body and len(chunks) >= len(body) // 8192


def test_open_enforces_max_bytes_without_content_length(server, fake):
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"y" * 10_000

    server.expect_request("/s").respond_with_response(WerkzeugResponse(chunks()))
    with (
        pytest.raises(FetchError, match=r": body larger than the 50000 bytes limit \(GET /[^)]*\)$"),
        make_client(fake, max_bytes=50_000).open(server.url_for("/s")) as (_status, headers, stream),
    ):
        assert "content-length" not in headers
        while stream.read(4096):
            pass


def test_open_returns_4xx_for_the_caller(server, fake):
    server.expect_request("/gone").respond_with_data(b"not here", status=404)
    with make_client(fake).open(server.url_for("/gone")) as (status, _headers, stream):
        assert (status, stream.read()) == (404, b"not here")


def test_open_retries_before_the_body(server, fake):
    server.expect_ordered_request("/e").respond_with_data(b"", status=500)
    server.expect_ordered_request("/e").respond_with_data(b"<PubmedArticleSet/>")
    with make_client(fake).open(server.url_for("/e")) as (status, _headers, stream):
        assert (status, stream.read()) == (200, b"<PubmedArticleSet/>")
    assert len(fake.waits) == 1
