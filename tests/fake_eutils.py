"""A small E-utilities stand-in for pytest-httpserver: esearch with a history server, efetch by slice.

Records are real PubmedArticle elements (from the shared corpus) given an Entrez date each, so a
test can say "N records, spread over these days" and the poller sees real XML over real HTTP.
"""

from __future__ import annotations

import copy
import itertools
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from lxml import etree
from werkzeug import Request, Response

# The poller's window ends on today's date in the configured zone (feeds.yaml default: Chicago),
# which differs from the machine's UTC date for part of every day.
LOCAL_TODAY = datetime.now(ZoneInfo("America/Chicago")).date()

HEADER = (
    b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN"'
    b' "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>\n'
)
FOOTER = b"</PubmedArticleSet>\n"


def corpus_articles(path: Path) -> list[bytes]:
    """Each PubmedArticle of an efetch file, serialised on its own."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.parse(str(path), parser).getroot()
    return [etree.tostring(el) for el in root.iter("PubmedArticle")]


def with_pmid(article: bytes, pmid: int) -> bytes:
    """A copy of a real record under another PMID, to make many distinct records from a few."""
    el = etree.fromstring(article)
    clone = copy.deepcopy(el)
    clone.find("MedlineCitation/PMID").text = str(pmid)
    for aid in clone.iterfind("PubmedData/ArticleIdList/ArticleId[@IdType='pubmed']"):
        aid.text = str(pmid)
    return etree.tostring(clone)


@dataclass
class Fault:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    endpoint: str = ""  # "" any, or "esearch" / "efetch"
    retstart: int | None = None  # only for the efetch of this batch


@dataclass
class FakeEutils:
    records: list[tuple[date, bytes]] = field(default_factory=list)  # (edat, PubmedArticle XML)
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[dict[str, str]] = field(default_factory=list)
    histories: dict[str, list[bytes]] = field(default_factory=dict)
    cap: int = 9999
    _keys: itertools.count = field(default_factory=lambda: itertools.count(1))

    def install(self, httpserver) -> str:
        httpserver.expect_request("/entrez/eutils/esearch.fcgi").respond_with_handler(self.esearch)
        httpserver.expect_request("/entrez/eutils/efetch.fcgi").respond_with_handler(self.efetch)
        return httpserver.url_for("/entrez/eutils/")

    def add(self, edat: date, articles: list[bytes]) -> None:
        self.records.extend((edat, a) for a in articles)

    def fault(self, endpoint: str) -> Response | None:
        request = self.requests[-1]
        request["endpoint"] = endpoint
        if not self.faults:
            return None
        first = self.faults[0]
        if first.endpoint in ("", endpoint) and first.retstart in (None, int(request.get("retstart", -1))):
            f = self.faults.popleft()
            return Response(f.body, status=f.status, headers=f.headers, content_type="text/xml")
        return None

    def esearch(self, request: Request) -> Response:
        self.requests.append(dict(request.args))
        if (injected := self.fault("esearch")) is not None:
            return injected
        args = request.args
        lo = datetime.strptime(args["mindate"], "%Y/%m/%d").date()
        hi = datetime.strptime(args["maxdate"], "%Y/%m/%d").date()
        hits = [xml for day, xml in self.records if lo <= day <= hi]
        key = f"MCID_fake{next(self._keys)}"
        self.histories[key] = hits
        body = (
            '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN"'
            ' "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
            f"<eSearchResult><Count>{len(hits)}</Count><RetMax>0</RetMax><RetStart>0</RetStart>"
            f"<QueryKey>1</QueryKey><WebEnv>{key}</WebEnv><IdList/></eSearchResult>\n"
        )
        return Response(body, content_type="text/xml; charset=UTF-8")

    def efetch(self, request: Request) -> Response:
        self.requests.append(dict(request.args))
        if (injected := self.fault("efetch")) is not None:
            return injected
        hits = self.histories[request.args["WebEnv"]]
        start = int(request.args["retstart"])
        if start >= self.cap:  # as NCBI does: no paging past the cap
            body = b"<eFetchResult><ERROR>Search Backend failed: retstart beyond 9999</ERROR></eFetchResult>"
            return Response(body, content_type="text/xml")
        chunk = hits[start : start + int(request.args["retmax"])]
        return Response(HEADER + b"\n".join(chunk) + FOOTER, content_type="text/xml; charset=UTF-8")

    def count(self, endpoint: str) -> int:
        return sum(1 for r in self.requests if r.get("endpoint") == endpoint)
