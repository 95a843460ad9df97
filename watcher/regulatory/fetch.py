"""A watched product's whole FDA record from openFDA, in two requests, not a date window:

    drug/drugsfda.json?search=application_number:"NDA211243"&limit=1
    drug/label.json?search=openfda.application_number:"NDA211243"&sort=effective_time:desc&limit=20

The first is the Drugs@FDA application with every submission; the second the current labels that
name it (the holder's and any repackager's; record.py picks the holder's latest). A 404
NOT_FOUND is an answer (openFDA knows no such application, or no label names it), not a failure.
The requests use the configured openfda source's URL, API key and limits; the mapping is pure, in
record.py.
"""

from __future__ import annotations

from typing import Any

from ..errors import ParseError
from ..http import HttpClient
from ..model import SourceConfig
from ..sources.base import SourceContext, client_for, folder
from ..sources.openfda import API_KEY_ENV, RATE, not_retried, read_answer
from .product import ProductSnapshot
from .record import snapshot_of

LABELS = 20  # labels per application asked for, newest first: the holder's and a few repackagers'


class ProductFetcher:
    @classmethod
    def build(cls, source: SourceConfig[Any], context: SourceContext) -> ProductFetcher:
        api_key = (context.env.get(API_KEY_ENV) or "").strip() or None
        client = client_for(context, rate=RATE, secrets=[api_key or ""], accept="application/json")
        return cls(source.url, api_key=api_key, client=client)

    def __init__(self, url: str, *, api_key: str | None, client: HttpClient) -> None:
        self.base = folder(url)
        self.api_key = api_key
        self.client = client

    def fetch(self, application: str) -> ProductSnapshot:
        """Both answers, or raise a SourceError: a snapshot is only ever made of a whole fetch."""
        record = self.search("drug/drugsfda", f'application_number:"{application}"', [("limit", "1")])
        labels = self.search("drug/label", f'openfda.application_number:"{application}"',
                             [("sort", "effective_time:desc"), ("limit", str(LABELS))])
        return snapshot_of(application, record, labels)

    def search(self, endpoint: str, search: str, more: list[tuple[str, str]]) -> list[Any] | None:
        params = [("search", search), *more, *([("api_key", self.api_key)] if self.api_key else [])]
        response = self.client.get(f"{self.base}{endpoint}.json", params=params, not_retried=not_retried)
        doc = read_answer(endpoint, response, self.api_key)
        if doc is None:
            return None
        results = doc.get("results")
        if not isinstance(results, list):
            raise ParseError(f"openFDA {endpoint}: the answer has no `results` list")
        return results

    def close(self) -> None:
        self.client.close()
