"""The system's Chromium, as the browser tests (and docs/demo.py's screenshots) start it: headless,
no sandbox (CI runs as root), and none of the background traffic that a closed network refuses."""

from __future__ import annotations

import shutil

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
