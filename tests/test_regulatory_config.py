"""feeds.yaml `regulatory`: every error names its key path and says what to write, through the
real loader (tests/configs.py writes the file)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import yaml

from tests import configs
from watcher.config import load
from watcher.errors import ConfigError
from watcher.regulatory.settings import Fact, Product

FDA = "https://api.fda.gov/"
PRODUCT = {"name": "Brand (generic) nasal spray", "application": "NDA211243"}
FACT = {"statement": "A fact.", "date": "2022-02", "source": "https://fda.example/a", "checked": "2026-11-30"}
UNCHECKED = {k: v for k, v in FACT.items() if k != "checked"}


def load_with(tmp_path, block: Any, sources: list[dict[str, Any]] | None = None):
    return configs.write_config(tmp_path, sources if sources is not None else [configs.openfda(FDA)], regulatory=block)


@pytest.mark.parametrize(("block", "message"), [
    ([PRODUCT], "regulatory: must be a mapping of keys to values, not a list"),
    ({"products": [PRODUCT], "product": 1}, "regulatory.product: unknown key; expected one of: facts, products, source"),
    ({"facts": [FACT]}, "regulatory.products: is required but missing"),
    ({"products": []}, "regulatory.products: must be a non-empty list, not an empty list"),
    ({"products": PRODUCT}, "regulatory.products: must be a non-empty list, not a mapping"),
    ({"products": ["NDA211243"]}, "regulatory.products[0]: must be a mapping with name and application, not text 'NDA211243'"),
    ({"products": [{"name": "x"}]}, "regulatory.products[0].application: is required but missing"),
    ({"products": [{"application": "NDA211243"}]}, "regulatory.products[0].name: is required but missing"),
    ({"products": [{**PRODUCT, "name": "two\nlines"}]}, "regulatory.products[0].name: must be a single line"),
    ({"products": [{**PRODUCT, "url": "x"}]}, "regulatory.products[0].url: unknown key; expected one of: application, name"),
    ({"products": [{**PRODUCT, "application": "211243"}]},
     "regulatory.products[0].application: must be an application number as Drugs@FDA writes it: NDA, ANDA or BLA and six"
     " digits, e.g. NDA016812, not text '211243'"),
    ({"products": [{**PRODUCT, "application": "NDA16812"}]}, "regulatory.products[0].application: must be an application number"),
    ({"products": [{**PRODUCT, "application": 211243}]}, "regulatory.products[0].application: must be an application number"),
    ({"products": [PRODUCT, {**PRODUCT, "name": "again"}]}, "regulatory.products[1].application: NDA211243 is already products[0]"),
    ({"products": [PRODUCT], "source": "pubmed"}, "regulatory.source: 'pubmed' is not a source of type openfda; one of: openfda"),
    ({"products": [PRODUCT], "facts": FACT}, "regulatory.facts: must be a list, not a mapping"),
    ({"products": [PRODUCT], "facts": [{**FACT, "checked": ""}]}, "regulatory.facts[0].checked: must be the day a person checked"),
    ({"products": [PRODUCT], "facts": [{k: v for k, v in FACT.items() if k != "source"}]},
     "regulatory.facts[0].source: is required but missing"),
    ({"products": [PRODUCT], "facts": [{**FACT, "statement": ""}]}, "regulatory.facts[0].statement: must not be empty"),
    ({"products": [PRODUCT], "facts": [FACT, {**FACT, "date": "March 2019"}]},
     "regulatory.facts[1].date: must be a date YYYY-MM-DD or a month YYYY-MM, e.g. 2022-02, not text 'March 2019'"),
    ({"products": [PRODUCT], "facts": [{**FACT, "date": "2019-13"}]}, "regulatory.facts[0].date: must be a date YYYY-MM-DD or a month"),
    ({"products": [PRODUCT], "facts": [{**FACT, "date": "2019-02-30"}]},
     "regulatory.facts[0].date: '2019-02-30' is not a day of the calendar; write it as YYYY-MM-DD, e.g. 2019-03-05"),
    ({"products": [PRODUCT], "facts": [{**FACT, "date": 2019}]}, "regulatory.facts[0].date: must be a date YYYY-MM-DD or a month"),
    ({"products": [PRODUCT], "facts": [{**FACT, "source": "fda.gov/x"}]},
     "regulatory.facts[0].source: must be a full http(s) URL with a host, e.g. https://example.org/path, not 'fda.gov/x'"),
    ({"products": [PRODUCT], "facts": [{**FACT, "source": "javascript:alert(1)"}]}, "regulatory.facts[0].source: must be a full http(s) URL"),
    ({"products": [PRODUCT], "facts": [{**FACT, "checked": "2026-11"}]},
     "regulatory.facts[0].checked: must be the day a person checked the fact against its source, YYYY-MM-DD, e.g. 2026-11-30,"
     " not text '2026-11'"),
    ({"products": [PRODUCT], "facts": [{**FACT, "checked": "2026-11-31"}]},
     "regulatory.facts[0].checked: '2026-11-31' is not a day of the calendar"),
    ({"products": [PRODUCT], "facts": [{**FACT, "by": "me"}]},
     "regulatory.facts[0].by: unknown key; expected one of: checked, contradicts, date, source, statement, supports"),
])
def test_bad_regulatory_blocks_name_the_key(tmp_path, block, message):
    with pytest.raises(ConfigError) as caught:
        load_with(tmp_path, block)
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_source_must_be_an_openfda_one(tmp_path):
    with pytest.raises(ConfigError, match=r"^regulatory\.source: is required: name the openfda source whose URL and key to use"
                                          r" \(add a source of type openfda first\)$"):
        load_with(tmp_path, {"products": [PRODUCT]}, sources=[configs.pubmed()])
    with pytest.raises(ConfigError, match=r"^regulatory\.source: 'openfda' is not a source of type openfda; none is configured"):
        load_with(tmp_path, {"products": [PRODUCT], "source": "openfda"}, sources=[configs.pubmed()])
    two = [configs.openfda(FDA), configs.openfda(FDA, name="mirror")]
    with pytest.raises(ConfigError, match=r"^regulatory\.source: is required: .* \(openfda, mirror\)$"):
        load_with(tmp_path, {"products": [PRODUCT]}, sources=two)
    assert load_with(tmp_path, {"products": [PRODUCT], "source": "mirror"}, sources=two).regulatory.source == "mirror"


def test_no_source_may_take_the_boards_name(tmp_path):
    sources = [configs.openfda(FDA), configs.rss("https://fda.example/rss.xml", name="regulatory")]
    with pytest.raises(ConfigError, match=r"^regulatory: a source is named 'regulatory', the name the board's fetches are recorded"):
        load_with(tmp_path, {"products": [PRODUCT]}, sources=sources)


def test_a_good_block_is_typed(tmp_path):
    config = load_with(tmp_path, {"products": [PRODUCT, {"name": "Other", "application": " anda 074549 "}],
                                  "facts": [FACT, {**FACT, "date": date(2019, 3, 5), "checked": date(2026, 12, 1)},
                                            UNCHECKED, {**UNCHECKED, "checked": None}]})
    settings = config.regulatory
    assert settings.source == "openfda"  # the only openfda source, when none is named
    assert settings.products == (Product("Brand (generic) nasal spray", "NDA211243"), Product("Other", "ANDA074549"))
    assert settings.facts == (Fact("A fact.", "2022-02", "https://fda.example/a", date(2026, 11, 30)),
                              Fact("A fact.", "2019-03-05", "https://fda.example/a", date(2026, 12, 1)),
                              Fact("A fact.", "2022-02", "https://fda.example/a", None),  # nobody has read the source yet
                              Fact("A fact.", "2022-02", "https://fda.example/a", None))


def test_without_the_block_there_is_no_board(tmp_path):
    assert configs.write_config(tmp_path).regulatory is None


def test_the_default_feeds_yaml_watches_both_products_with_sourced_facts():
    config = load(configs.__file__.replace("tests/configs.py", "feeds.yaml"))
    assert config.regulatory is not None
    assert [(p.application, p.name.split()[0]) for p in config.regulatory.products] == [("NDA211243", "Spravato"), ("NDA016812", "Ketalar")]
    assert len(config.regulatory.facts) >= 3
    for fact in config.regulatory.facts:
        assert fact.source.startswith("https://www.fda.gov/"), fact  # FDA's own pages
    raw = yaml.safe_load(config.path.read_text(encoding="utf-8"))
    compounded = next(f for f in raw["regulatory"]["facts"] if "nasal spray" in f["statement"] and f["date"] == "2022-02")
    assert compounded["source"] == ("https://www.fda.gov/drugs/human-drug-compounding/fda-alerts-health-care-professionals"
                                    "-potential-risks-associated-compounded-ketamine-nasal-spray")
    # `checked` says a person read the page on that day: nobody here has read these pages.
    assert [f for f in raw["regulatory"]["facts"] if "checked" in f] == []
    assert all(fact.checked is None for fact in config.regulatory.facts)
