"""A clock for code that waits: it moves only when slept on, and records every wait. The project's
own test helper (HTTP retries, the writer lock)."""

from __future__ import annotations


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(float(seconds))
        self.now += float(seconds)
