"""Upstream protocols. Each module knows one protocol; the registry maps a feeds.yaml `type` to it."""
