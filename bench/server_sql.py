"""What the server's database costs per reply, alone: a turn's transactions as
`codhechat serve` runs them (server/crud.py on SQLAlchemy + aiosqlite, SQLite in WAL):
the prompt's transaction (its conversation, the message in the tree, the history the
model sees, the history's files), the reply's row made by a batched save, and its final
save with the model and usage. Each conversation gets two turns: a first one (a new
conversation) and a follow-up (history read, the tree's leaf moved on).

    python bench/server_sql.py                     # 1,000 conversations (2,000 replies), this checkout
    python bench/server_sql.py --src /tmp/old/src  # the same on another checkout's server

Prints the process's CPU time per reply (user + system, the driver's thread included),
best of --repeat rounds, and the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


async def run(conversations: int, repeat: int) -> list[float]:
    from codhechat.server import attachment_store, crud
    from codhechat.server.db import make_engine, make_sessionmaker, migrate

    on_connection = "conn" in inspect.signature(crud.start_turn).parameters  # else: a session, as before
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await migrate(engine)
        sessions = make_sessionmaker(engine)
        async with sessions() as session:
            user = await crud.create_user(session, username="bench", hashed_password=None)
        assert user is not None

        def transaction() -> Any:
            return engine.begin() if on_connection else sessions()

        async def turn(conversation_id: int | None) -> int:
            async with transaction() as db:  # as ChatService.begin
                cid, prompt, earlier, _ = await crud.start_turn(
                    db, user_id=user.id, conversation_id=conversation_id, name="bench", content="go", history=20
                )
                await attachment_store.link(db, user_id=user.id, message_id=prompt, ids=())
                if not on_connection:
                    await db.commit()
                await attachment_store.parts_of(db, [prompt, *(m.id for m in earlier)])
            async with transaction() as db:  # the batched save that makes the reply's row
                (mid,) = await crud.save_replies(db, new=[(cid, "first piece", "partial")], changed=(),
                                                 parents=[prompt])  # fmt: skip
            async with transaction() as db:  # the final save
                extra = {"model": "bench", "prompt_tokens": 12, "completion_tokens": 20}
                await crud.update_message(db, message_id=mid, content="the whole reply", status="complete",
                                          extra=extra)  # fmt: skip
            return int(cid)

        async def conversation() -> None:
            await turn(await turn(None))

        for _ in range(50):  # warm-up: compiled statements cached
            await conversation()
        rounds = []
        for _ in range(repeat):
            start = time.process_time()
            for _ in range(conversations):
                await conversation()
            rounds.append((time.process_time() - start) * 1000 / (2 * conversations))
        await engine.dispose()
        return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--src", default=str(Path(__file__).resolve().parents[1] / "src"))
    args = parser.parse_args()
    sys.path.insert(0, args.src)
    load = os.getloadavg()
    rounds = asyncio.run(run(args.conversations, args.repeat))
    print(f"machine: {os.cpu_count()} cores, load {load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    print(f"src {args.src}: database CPU per reply {min(rounds):.3f} ms (rounds: "
          + ", ".join(f"{r:.3f}" for r in rounds) + ")")  # fmt: skip


if __name__ == "__main__":
    main()
