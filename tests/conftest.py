"""Shared test fixtures, and the rule that keeps `pytest -m "not slow"` fast."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.upstreams.server import Server

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def corpus_root() -> Path:
    """Where the shared corpus of real upstream responses should be: $WATCHER_CORPUS, else ../shared/corpus."""
    configured = os.environ.get("WATCHER_CORPUS")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    path = corpus_root()
    if not path.is_dir():
        pytest.skip(f"shared corpus not found at {path}: set WATCHER_CORPUS")
    return path


@pytest.fixture
def upstream() -> Iterator[Server]:
    """The stand-in server on 127.0.0.1, for the stand-ins of tests/upstreams to install on."""
    with Server() as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    """The system's Chromium through Playwright, one per test module (skipped where there is none)."""
    from tests.chromium import ARGS, CHROMIUM

    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def store(config):
    """An open store at the database of the module's own `config` fixture."""
    from watcher.store import Store

    with Store.open(config.database) as opened:
        yield opened


# ---- a test that starts a process is slow ----
#
# An interpreter start-up costs ~0.2 s, and such tests wait on their child: every one must carry
# the `slow` marker, so that the inner loop, `pytest -m "not slow"`, stays fast without anyone
# keeping a list. Checked while each test runs, fixtures of any scope included.

_running: pytest.Item | None = None
_popen_init = subprocess.Popen.__init__


def _checked_popen_init(self, args, *rest, **kwargs):
    if _running is not None and _running.get_closest_marker("slow") is None:
        raise AssertionError(f"{_running.nodeid} starts a process ({args!r}): mark it @pytest.mark.slow")
    _popen_init(self, args, *rest, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    subprocess.Popen.__init__ = _checked_popen_init


def pytest_unconfigure(config: pytest.Config) -> None:
    subprocess.Popen.__init__ = _popen_init


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    global _running
    _running = item
    try:
        return (yield)
    finally:
        _running = None
