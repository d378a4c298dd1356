"""In-process limits: a sliding-window rate limiter and the WebSocket connection registry.

Both are per process: with several replicas each enforces its own share.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque


class RateLimiter:
    """At most `limit` hits per `window` seconds per key."""

    def __init__(self, *, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def hit(self, key: str) -> float:
        """Record a hit; 0 when allowed, else the seconds until one is."""
        now = time.monotonic()
        hits = self._hits[key]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.window - now
        hits.append(now)
        if len(self._hits) > 10_000:  # forget idle addresses
            for stale in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
                del self._hits[stale]
        return 0.0


class SocketRegistry:
    """Counts open sockets, in total and per user."""

    def __init__(self, *, total: int, per_user: int) -> None:
        self.total = total
        self.per_user = per_user
        self._open: dict[int, int] = defaultdict(int)
        self._count = 0

    @property
    def count(self) -> int:
        return self._count

    def acquire(self, user_id: int) -> str | None:
        """None when admitted; otherwise why not."""
        if self._count >= self.total:
            return "The server has too many open connections; try again later."
        if self._open[user_id] >= self.per_user:
            return f"Too many open connections for this user (at most {self.per_user})."
        self._open[user_id] += 1
        self._count += 1
        return None

    def release(self, user_id: int) -> None:
        self._count -= 1
        self._open[user_id] -= 1
        if self._open[user_id] <= 0:
            del self._open[user_id]
