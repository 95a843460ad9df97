"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
def store(config):
    """An open store at the database of the module's own `config` fixture."""
    from watcher.store import Store

    with Store.open(config.database) as opened:
        yield opened
