"""Stand-ins for the upstreams watcher polls, all on one local server (server.Server on 127.0.0.1).

- server.py   the raw-socket threaded server: routes by path, request log, per-label faults
- faults.py   the catalogue of faults any route can be made to answer with
- eutils.py   PubMed E-utilities: esearch (history server, date windows, ids), efetch (by history, by id)
- openfda.py  openFDA: drug/drugsfda, drug/label, drug/enforcement, paged by Link headers
- feeds.py    RSS/Atom feeds: conditional GET, redirects, pages that are not feeds
- pages.py    a web page (the clinic's article): ETag / Last-Modified, 304, a body that changes
- ctgov.py    ClinicalTrials.gov API v2: /api/v2/studies, paged by nextPageToken; text/plain 400s
- europepmc.py Europe PMC REST search: cursorMark paging, FIRST_IDATE windows

Each stand-in serves healthy replies and, on the same server, any fault armed for its labels.
"""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture(*parts: str) -> bytes:
    """A file of the project's own fixtures (tests/fixtures)."""
    return FIXTURES.joinpath(*parts).read_bytes()
