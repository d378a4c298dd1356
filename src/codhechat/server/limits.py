"""Limits and turn order, counted in this process (the SQLite server, a single process).

`Limits` is what the routes use: the per-address rate limit, socket and reply leases
with their caps, and a first-come-first-served queue of turns per conversation. With
PostgreSQL, `limits_pg.DatabaseLimits` keeps the same counts in the database, so that
replicas behind one balancer share them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from codhechat.server.settings import ServerSettings

TurnKey = tuple[int, int]  # (user id, conversation id): only its owner can add to a conversation
# (settings, open in total, open for this user, open from this address) -> why not, or None
RefusalCheck = Callable[[ServerSettings, int, int, int], "str | None"]


class Refused(Exception):
    """Over a limit; `detail` says which, for the client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(eq=False)
class Lease:
    """One open socket or one reply in progress; released exactly once."""

    kind: str  # socket | reply
    user_id: int
    address: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


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


class TurnQueue:
    """Per conversation, turns run one at a time in the order they asked."""

    def __init__(self) -> None:
        self._queues: dict[TurnKey, deque[asyncio.Future[None]]] = {}

    def place(self, key: TurnKey) -> asyncio.Future[None]:
        """Join the queue now (synchronously, so arrival order is kept); await it to run."""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues.setdefault(key, deque())
        queue.append(ready)
        if len(queue) == 1:
            ready.set_result(None)
        return ready

    def leave(self, key: TurnKey, place: asyncio.Future[None]) -> None:
        queue = self._queues.get(key)
        if queue is None or place not in queue:
            return
        was_head = queue[0] is place
        queue.remove(place)
        if not queue:
            del self._queues[key]
        elif was_head:
            queue[0].set_result(None)


class TurnOrder:
    """`async with limits.turn_order(user, conversation):` runs the body in its turn.

    The place is taken when this object is made, not when it is entered, so turns keep
    the order in which they arrived. A turn that starts a new conversation `claim`s it
    as soon as it exists, before anyone can learn its id: later turns wait behind it."""

    def __init__(self, limits: Limits, user_id: int, conversation_id: int | None) -> None:
        self.limits = limits
        self.user_id = user_id
        self.key: TurnKey | None = None
        self._place: asyncio.Future[None] | None = None
        if conversation_id is not None:
            self._join(conversation_id)

    def _join(self, conversation_id: int) -> None:
        self.key = (self.user_id, conversation_id)
        self._place = self.limits.turns.place(self.key)

    async def __aenter__(self) -> TurnOrder:
        await self._wait()
        return self

    async def claim(self, conversation_id: int) -> None:
        """Hold the queue of a conversation this turn has just created."""
        if self.key is None:
            self._join(conversation_id)
            await self._wait()

    async def _wait(self) -> None:
        if self._place is not None:
            assert self.key is not None
            try:
                await asyncio.shield(self._place)
                await self.limits._turn_started(self.key)
            except BaseException:  # cancelled while waiting (the client left): give the place up
                await self.leave()
                raise

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.leave()

    async def leave(self) -> None:
        if self._place is not None and self.key is not None:
            place, self._place = self._place, None
            try:
                if place.done():
                    await asyncio.shield(self.limits._turn_ended(self.key))
            finally:
                self.limits.turns.leave(self.key, place)


class Limits:
    """Counts in this process; with several processes each enforces its own share."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.auth = RateLimiter(limit=settings.auth_rate_limit, window=settings.auth_rate_window)
        self.turns = TurnQueue()
        self._leases: set[Lease] = set()
        self._counts: Counter[tuple[str, str, object]] = Counter()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    # -- rate limit -------------------------------------------------------------
    async def auth_hit(self, address: str) -> float:
        """0 when allowed, else the seconds until the address may try again."""
        return self.auth.hit(address)

    # -- leases ------------------------------------------------------------------
    def count(self, kind: str, *, user_id: int | None = None, address: str | None = None) -> int:
        if user_id is not None:
            return self._counts[(kind, "user", user_id)]
        if address is not None:
            return self._counts[(kind, "address", address)]
        return self._counts[(kind, "all", None)]

    @staticmethod
    def _keys(lease: Lease) -> list[tuple[str, str, object]]:
        keys: list[tuple[str, str, object]] = [(lease.kind, "all", None), (lease.kind, "user", lease.user_id)]
        if lease.address:
            keys.append((lease.kind, "address", lease.address))
        return keys

    async def open_socket(self, user_id: int, address: str) -> Lease:
        """A lease for one more socket, or Refused saying which cap is full."""
        lease = Lease("socket", user_id, address)
        await self._admit(lease, socket_refusal)
        return lease

    async def open_reply(self, user_id: int) -> Lease:
        lease = Lease("reply", user_id)
        await self._admit(lease, reply_refusal)
        return lease

    async def _admit(self, lease: Lease, refusal: RefusalCheck) -> None:
        counts = (
            self.count(lease.kind),
            self.count(lease.kind, user_id=lease.user_id),
            self.count(lease.kind, address=lease.address) if lease.address else 0,
        )
        reason = refusal(self.settings, *counts)
        if reason:
            raise Refused(reason)
        self._leases.add(lease)
        self._counts.update(self._keys(lease))

    async def release(self, lease: Lease) -> None:
        if lease in self._leases:
            self._leases.remove(lease)
            self._counts.subtract(self._keys(lease))
            for key in self._keys(lease):
                if self._counts[key] <= 0:
                    del self._counts[key]

    # -- turn order ---------------------------------------------------------------
    def turn_order(self, user_id: int, conversation_id: int | None) -> TurnOrder:
        return TurnOrder(self, user_id, conversation_id)

    async def _turn_started(self, key: TurnKey) -> None:
        """Hook: the shared version also waits for the other replicas' turns here."""

    async def _turn_ended(self, key: TurnKey) -> None:
        """Hook: the shared version gives up its place in the database here."""


def socket_refusal(settings: ServerSettings, total: int, user: int, address: int) -> str | None:
    if total >= settings.max_ws_connections:
        return "The server has too many open connections; try again later."
    if user >= settings.max_ws_connections_per_user:
        return f"Too many open connections for this user (at most {settings.max_ws_connections_per_user})."
    if address >= settings.max_ws_connections_per_address:
        return f"Too many open connections from this address (at most {settings.max_ws_connections_per_address})."
    return None


def reply_refusal(settings: ServerSettings, total: int, user: int, address: int) -> str | None:
    if user >= settings.max_replies_per_user:
        return (
            f"Too many replies in progress for this user (at most {settings.max_replies_per_user}); "
            "wait for one to finish."
        )
    return None
