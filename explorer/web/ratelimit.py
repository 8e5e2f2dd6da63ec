"""A token bucket per client, for routes that write (``/api/shorten``).

Each client key (the remote address) has a bucket of ``capacity`` tokens that refills at
``rate_per_minute`` tokens a minute; a request takes one token, and a client with an empty bucket
is told how many seconds until the next token. Buckets live in this process only (each gunicorn
worker keeps its own, so the effective limit is per worker); idle buckets that have refilled are
forgotten when many clients have been seen, so memory stays bounded.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable

MAX_CLIENTS = 10_000


class TokenBuckets:
    def __init__(self, rate_per_minute: float, capacity: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if rate_per_minute < 0:
            raise ValueError(f"rate must be zero (no limit) or positive, got {rate_per_minute}")
        self.rate = rate_per_minute / 60.0            # tokens a second
        self.capacity = float(capacity if capacity is not None else max(rate_per_minute, 1))
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}   # key -> (tokens, at)
        self._lock = threading.Lock()

    @property
    def unlimited(self) -> bool:
        return self.rate == 0

    def take(self, key: str) -> float:
        """0 when ``key`` may go ahead (a token is spent), else the seconds until it may."""
        if self.unlimited:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                if len(self._buckets) > MAX_CLIENTS:
                    self._forget_idle(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        full = [k for k, (tokens, at) in self._buckets.items()
                if tokens + (now - at) * self.rate >= self.capacity]
        for key in full:
            del self._buckets[key]


def retry_after(seconds: float) -> int:
    """Whole seconds for a Retry-After header (at least 1)."""
    return max(1, math.ceil(seconds))
