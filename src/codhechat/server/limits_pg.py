"""The same limits, counted in PostgreSQL, so replicas behind one balancer share them.

Each replica registers a row in `replicas` and refreshes its heartbeat every few
seconds; its socket and reply leases and its turn tickets count only while that
heartbeat is fresh, so a replica that was killed stops counting on its own (its rows
are swept a while later). Admission is a short transaction under an advisory lock
(per user, per limit), so two replicas cannot both take the last slot; no connection
is held between statements or while a reply streams.

Turn order: in this process the `TurnQueue` keeps arrival order; the head of that
queue then takes a ticket in `turn_tickets` and waits until it is the lowest live
ticket for its conversation, polling the database (other replicas' turns on one
conversation are rare, so the wait is short and cheap).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from codhechat.server.db import is_database_failure
from codhechat.server.limits import Lease, Limits, RefusalCheck, Refused, TurnKey, reply_refusal, socket_refusal
from codhechat.server.settings import ServerSettings

log = logging.getLogger("codhechat.server.limits")

HEARTBEAT_S = 5.0
LIVE_S = 30.0  # a replica whose heartbeat is older than this no longer counts
SWEEP_S = 600.0  # ... and its rows are deleted after this long
POLL_S = (0.02, 0.5)  # turn-ticket polling: first and longest interval
# Advisory-lock namespaces (the first of pg_advisory_xact_lock's two int4 keys).
_SOCKETS, _REPLIES, _RATE = 0x636F0001, 0x636F0002, 0x636F0003
_LIVE = f"r.heartbeat_at > now() - interval '{LIVE_S:g} seconds'"


class DatabaseLimits(Limits):
    def __init__(self, settings: ServerSettings, engine: AsyncEngine) -> None:
        super().__init__(settings)
        self.engine = engine
        self.replica_id = uuid.uuid4().hex
        self._held: dict[str, Lease] = {}  # leases this replica holds (re-registered after a sweep)
        self._unreleased: set[str] = set()  # releases that failed (database down): retried
        self._tickets: dict[TurnKey, int] = {}
        self._inserting = 0  # ticket inserts in flight (their ids are not known yet)
        self._heartbeat: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        await self._beat()
        self._heartbeat = asyncio.create_task(self._beat_forever(), name="codhechat-heartbeat")

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(text("DELETE FROM replicas WHERE id = :id"), {"id": self.replica_id})
        except Exception as exc:  # the database is gone: the heartbeat ages out instead
            log.warning("could not deregister the replica", extra={"error": type(exc).__name__})

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self._beat()
            except Exception as exc:
                if not is_database_failure(exc):
                    raise
                log.warning("heartbeat failed: database unavailable", extra={"error": type(exc).__name__})

    async def _beat(self) -> None:
        async with self.engine.begin() as conn:
            created = await conn.scalar(
                text(
                    "INSERT INTO replicas (id, heartbeat_at) VALUES (:id, now()) "
                    "ON CONFLICT (id) DO UPDATE SET heartbeat_at = now() RETURNING (xmax = 0)"
                ),
                {"id": self.replica_id},
            )
            if created and self._held:  # swept while the database was away: count ours again
                for lease in self._held.values():
                    await self._insert(conn, lease)
            if self._unreleased:
                await conn.execute(text("DELETE FROM leases WHERE id = ANY(:ids)"), {"ids": list(self._unreleased)})
                self._unreleased.clear()
            if not self._inserting:  # ours that no turn knows of: a failed delete, a cancelled insert
                await conn.execute(
                    text("DELETE FROM turn_tickets WHERE replica_id = :id AND NOT (id = ANY(:known))"),
                    {"id": self.replica_id, "known": list(self._tickets.values())},
                )
            await conn.execute(
                text(f"DELETE FROM replicas WHERE heartbeat_at < now() - interval '{SWEEP_S:g} seconds'")
            )
            window = max(self.settings.auth_rate_window, 1.0)
            await conn.execute(
                text("DELETE FROM rate_hits WHERE at < now() - make_interval(secs => :w)"), {"w": window}
            )

    # -- rate limit ---------------------------------------------------------------
    async def auth_hit(self, address: str) -> float:
        key = f"auth:{address}"[:128]
        window, limit = self.settings.auth_rate_window, self.settings.auth_rate_limit
        async with self.engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:ns, hashtext(:key))"), {"ns": _RATE, "key": key})
            row = (
                await conn.execute(
                    text(
                        "SELECT count(*), extract(epoch FROM min(at) + make_interval(secs => :w) - now()) "
                        "FROM rate_hits WHERE key = :key AND at > now() - make_interval(secs => :w)"
                    ),
                    {"key": key, "w": window},
                )
            ).one()
            if row[0] >= limit:
                return max(float(row[1] or 0.0), 0.001)
            await conn.execute(text("INSERT INTO rate_hits (key, at) VALUES (:key, now())"), {"key": key})
        return 0.0

    # -- leases --------------------------------------------------------------------
    async def open_socket(self, user_id: int, address: str) -> Lease:
        lease = Lease("socket", user_id, address[:64])
        await self._admit_shared(lease, socket_refusal, lock=(_SOCKETS, 0))
        return lease

    async def open_reply(self, user_id: int) -> Lease:
        lease = Lease("reply", user_id)
        await self._admit_shared(lease, reply_refusal, lock=(_REPLIES, user_id))
        return lease

    async def _admit_shared(self, lease: Lease, refusal: RefusalCheck, *, lock: tuple[int, int]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": lock[0], "b": lock[1]})
            row = (
                await conn.execute(
                    text(
                        "SELECT count(*), count(*) FILTER (WHERE l.user_id = :user), "
                        "count(*) FILTER (WHERE l.address = :address) "
                        f"FROM leases l JOIN replicas r ON r.id = l.replica_id WHERE l.kind = :kind AND {_LIVE}"
                    ),
                    {"kind": lease.kind, "user": lease.user_id, "address": lease.address},
                )
            ).one()
            reason = refusal(self.settings, int(row[0]), int(row[1]), int(row[2]) if lease.address else 0)
            if reason:
                raise Refused(reason)
            await self._insert(conn, lease)
        self._held[lease.id] = lease

    async def _insert(self, conn: AsyncConnection, lease: Lease) -> None:
        await conn.execute(
            text(
                "INSERT INTO leases (id, replica_id, kind, user_id, address, created_at) "
                "VALUES (:id, :replica, :kind, :user, :address, now()) ON CONFLICT (id) DO NOTHING"
            ),
            {"id": lease.id, "replica": self.replica_id, "kind": lease.kind,
             "user": lease.user_id, "address": lease.address},
        )  # fmt: skip

    async def release(self, lease: Lease) -> None:
        if self._held.pop(lease.id, None) is None:
            return
        self._unreleased.add(lease.id)  # until deleted: a failure (or a cancel) leaves it to the heartbeat
        try:
            async with self.engine.begin() as conn:
                await conn.execute(text("DELETE FROM leases WHERE id = :id"), {"id": lease.id})
        except Exception as exc:
            if not is_database_failure(exc):
                raise
        else:
            self._unreleased.discard(lease.id)

    def count(self, kind: str, *, user_id: int | None = None, address: str | None = None) -> int:
        """This replica's own leases (the shared counts are in the database)."""
        return sum(
            1
            for lease in self._held.values()
            if lease.kind == kind
            and (user_id is None or lease.user_id == user_id)
            and (address is None or lease.address == address)
        )

    # -- turn order ----------------------------------------------------------------------
    async def _turn_started(self, key: TurnKey) -> None:
        user_id, conversation_id = key
        params: dict[str, Any] = {"replica": self.replica_id, "user": user_id, "conversation": conversation_id}
        self._inserting += 1
        try:
            async with self.engine.begin() as conn:
                ticket = int(await conn.scalar(
                    text(
                        "INSERT INTO turn_tickets (replica_id, user_id, conversation_id) "
                        "VALUES (:replica, :user, :conversation) RETURNING id"
                    ),
                    params,
                ))  # fmt: skip
            self._tickets[key] = ticket
        finally:
            self._inserting -= 1
        delay = POLL_S[0]
        while True:
            async with self.engine.connect() as conn:
                head = await conn.scalar(
                    text(
                        "SELECT min(t.id) FROM turn_tickets t JOIN replicas r ON r.id = t.replica_id "
                        f"WHERE t.user_id = :user AND t.conversation_id = :conversation AND {_LIVE}"
                    ),
                    params,
                )
            if head is None or head >= ticket:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, POLL_S[1])

    async def _turn_ended(self, key: TurnKey) -> None:
        ticket = self._tickets.pop(key, None)
        if ticket is None:
            return
        try:
            async with self.engine.begin() as conn:
                await conn.execute(text("DELETE FROM turn_tickets WHERE id = :id"), {"id": ticket})
        except Exception as exc:
            if not is_database_failure(exc):
                raise  # otherwise the next heartbeat that gets through deletes it
