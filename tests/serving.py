"""`watcher serve` as a real process for the slow tests: started on a free port, its address read
from its first line, stopped with SIGTERM (and its exit checked) at the end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.conftest import PROJECT_ROOT
from tests.workspace import CSRF


def env() -> dict[str, str]:
    found = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    found["PYTHONPATH"] = str(PROJECT_ROOT)
    return found


def watcher(feeds: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watcher", "--config", str(feeds), *args], input=stdin, env=env(),
                          capture_output=True, text=True, timeout=120)


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    output: list[str]  # everything it printed, once stopped


@contextmanager
def serving(feeds: Path, *args: str) -> Iterator[Served]:
    process = subprocess.Popen([sys.executable, "-m", "watcher", "--config", str(feeds), *args, "serve", "--port", "0"],
                               env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    found = re.search(r"(http://127\.0\.0\.1:\d+/)", first)
    if not found:
        process.kill()
        raise AssertionError(f"watcher serve did not start: {first}{process.communicate()[0][-2000:]}")
    served = Served(found.group(1), process, [first])
    try:
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
        served.output.append(rest)


def session_with_token(url: str, page: str = "queue") -> tuple[requests.Session, str]:
    """A client of the local user: its session cookie and the CSRF token of a page."""
    client = requests.Session()
    html = client.get(url + page, timeout=30).text
    found = CSRF.search(html)
    assert found, html[:500]
    return client, found.group(1)
