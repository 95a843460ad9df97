"""watcher: a literature watch that polls upstream sources and writes weekly digests."""

__version__ = "0.1.0"
