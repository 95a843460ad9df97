"""Every fault of the catalogue (tests/test_faults.py) against the board's fetch: the label request
of the second product (its second request) answers with the fault. A failure saves nothing for that
product (its previous snapshot stands, the board says it is stale), the other product is still
fetched, the poll stays within the time and memory bounds, and the next healthy poll fetches both."""

from __future__ import annotations

import time
import tracemalloc
from datetime import timedelta

import pytest

from tests import configs
from tests.configs import DRUG_TOPIC
from tests.polls import NOW, run_poll
from tests.test_board import KETALAR, SPRAVATO, block_of, board_page, digest, line_of, records
from tests.test_faults import CASES, MEMORY_LIMIT, WALL_LIMIT, FaultCase
from tests.upstreams.openfda import OpenFDA
from tests.upstreams.server import Server
from watcher.regulatory.product import KIND
from watcher.store import Store

pytestmark = pytest.mark.slow  # stalls, trickles and 50 MB bodies


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_fault_on_the_boards_fetch(tmp_path, upstream, case: FaultCase):
    fake = OpenFDA(upstream)
    for application, (record, labels) in records().items():
        fake.product(application, record, labels)
    config = configs.write_config(tmp_path, [configs.openfda(fake.url, endpoints=["drug/enforcement"])], topics=DRUG_TOPIC,
                                  http={"timeout": 1, "deadline": 2, "max_mb": 1}, regulatory=configs.regulatory())
    run_poll(config)
    marker = tmp_path / "marker.txt"
    marker.write_text("MARKER-not-for-the-store\n")
    with Server() as canary:
        for fault, times in case.fault_for({"canary": canary.url("/"), "marker_path": str(marker)}):
            upstream.arm(f"label:{KETALAR}", fault, times)
        tracemalloc.start()
        started = time.monotonic()
        polled = run_poll(config, now=NOW + timedelta(hours=1))
        took = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert canary.count("unrouted") == 0 and not canary.seen()  # no external entity or DTD fetched
    assert took < WALL_LIMIT and peak < MEMORY_LIMIT
    step = polled.source("regulatory")
    with Store.open(config.database) as store:
        counts = [len(store.snapshots(KIND, a)) for a in (SPRAVATO, KETALAR)]
    expected_ok = case.expect["openfda"].ok
    assert step.ok == expected_ok, step.error
    if expected_ok:
        assert counts == [2, 2]
    else:
        assert counts == [2, 1]  # the previous snapshot of Ketalar stands; Spravato was still fetched
        assert step.error.startswith(f"{KETALAR}: 127.0.0.1:") and "\n" not in step.error
        assert "MARKER" not in step.error
        assert "> **Stale since 2026-11-24 13:00 CST" in block_of(board_page(config), KETALAR)
        assert "Stale" not in block_of(board_page(config), SPRAVATO)
        assert "**stale since 2026-11-24 13:00 CST" in line_of(digest(config), KETALAR)
    upstream.disarm()
    healthy = run_poll(config, now=NOW + timedelta(hours=2))
    assert healthy.source("regulatory").ok
    assert "Stale" not in block_of(board_page(config), KETALAR) and "stale" not in line_of(digest(config), KETALAR)
    assert b"MARKER" not in config.database.read_bytes()
