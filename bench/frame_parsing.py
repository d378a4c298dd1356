"""How fast the remote client reads /ws frames (it reads one frame per token).

Two measurements:

* parse: frames/s of the per-frame work alone, in this process, for a delta chunk (one
  token, codhechat serve), a whole-reply chunk (classic servers; the reply so far, here
  ~4 KB on average) and a `complete`. "before" is the client's hand-written reading as it
  was before codhechat.protocol (json.loads, then the isinstance checks of
  RemoteBackend._dispatch/_exchange/_piece, copied below as `legacy_read`); "after" is
  codhechat.protocol.parse_frame (one pydantic TypeAdapter, built at import). Also shown:
  the same union with a TypeAdapter built per frame, which is what "built once" saves.
* client: a RemoteBackend streams a reply of N frames from a loopback server in another
  process (`serve` below: it answers /auth/guest and blasts pre-encoded frames on /ws);
  printed are frames/s through stream_reply (wall time) and the client's CPU time per
  frame (time.process_time, so a slow sender does not count against the client). This
  part uses only RemoteBackend's public API, so the same script measures an older
  checkout too: PYTHONPATH=<old>/src python bench/frame_parsing.py --client-only

Usage: python bench/frame_parsing.py [--client-only] [--frames N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TOKEN = "tok "


def legacy_read(raw: str, seen: str) -> Any:
    """The per-frame reading of the client before codhechat.protocol, as it was."""
    try:
        frame = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return None
    request_id = frame.get("requestId")
    if request_id is None:
        return None
    extended = frame["type"] == "started" or "delta" in frame
    if not isinstance(request_id, str):
        return None
    kind = frame.get("type")
    conversation = frame.get("conversationId")
    if not isinstance(conversation, int):
        return None
    if kind == "chunk":
        delta = frame.get("delta")
        if isinstance(delta, str):
            return delta
        content = frame.get("content")
        if isinstance(content, str) and content.startswith(seen):
            return content[len(seen) :]
        return None
    if kind == "complete":
        message_id = frame.get("messageId")
        return message_id if isinstance(message_id, int) else extended
    return kind


def rate(work: Callable[[], object], *, seconds: float = 1.0) -> float:
    """Calls per second of `work`, best of three runs of about `seconds` each."""
    best = 0.0
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for _ in range(200):
                work()
            n += 200
        best = max(best, n / elapsed)
    return best


def parse_figures() -> None:
    head = {"requestId": "9f1c2b4e8a7d4c0e9b6a5f3e2d1c0b9a", "conversationId": 4242}
    seen = TOKEN * 999
    frames = {
        "delta chunk": (json.dumps({"type": "chunk", **head, "delta": TOKEN}), ""),
        "whole chunk, 4 KB": (json.dumps({"type": "chunk", **head, "content": seen + TOKEN}), seen),
        "complete": (json.dumps({"type": "complete", **head, "messageId": 7, "status": "complete"}), ""),
    }
    try:
        from pydantic import TypeAdapter

        from codhechat.protocol.frames import ServerFrame, parse_frame
    except ImportError:
        print("parse: codhechat.protocol is not in this checkout; only 'before' is measured")
        parse_frame = None  # type: ignore[assignment]
    print(f"{'parse (frames/s)':<22}{'before':>12}{'after':>12}{'per-frame adapter':>20}")
    for name, (raw, already) in frames.items():
        before = rate(lambda raw=raw, already=already: legacy_read(raw, already))
        after = rate(lambda raw=raw: parse_frame(raw)) if parse_frame else float("nan")
        rebuilt = (
            rate(lambda raw=raw: TypeAdapter(ServerFrame).validate_json(raw), seconds=0.3)
            if parse_frame
            else float("nan")
        )
        print(f"{name:<22}{before:>12,.0f}{after:>12,.0f}{rebuilt:>20,.0f}")


# -- the client over a loopback socket ---------------------------------------------------


def serve(frames: int, shape: str) -> None:
    """A server in its own process: /auth/guest, and /ws sending `frames` chunks per prompt,
    as deltas after `started` (shape "delta") or whole-reply chunks as classic servers do."""
    import socket

    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    async def guest(request: Any) -> JSONResponse:
        return JSONResponse({"access_token": "bench-token", "token_type": "bearer", "user_id": 1})

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        delta = shape == "delta"
        try:
            while True:
                request = json.loads(await websocket.receive_text())
                head = {"requestId": request["request_id"], "conversationId": 1}
                if delta:
                    await websocket.send_text(json.dumps({"type": "started", **head, "userMessageId": 1}))
                    encoded = [json.dumps({"type": "chunk", **head, "delta": TOKEN})] * frames
                else:
                    encoded = [json.dumps({"type": "chunk", **head, "content": TOKEN * (i + 1)}) for i in range(frames)]
                for text in encoded:
                    await websocket.send_text(text)
                await websocket.send_text(json.dumps({"type": "complete", **head}))
        except WebSocketDisconnect:
            pass

    app = Starlette(routes=[Route("/auth/guest", guest, methods=["POST"]), WebSocketRoute("/ws", ws)])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws_max_size=1 << 26)
    uvicorn.Server(config).run(sockets=[sock])


async def stream(url: str, *, frames: int) -> tuple[float, float]:
    from codhechat.backends.remote import RemoteBackend
    from codhechat.models import ReplyDelta, ReplyDone

    backend = RemoteBackend(url, token_folder=Path(tempfile.mkdtemp()))
    try:
        async for _ in backend.stream_reply(None, "warm up"):
            pass
        best_rate, best_cpu = 0.0, float("inf")
        for _ in range(3):
            deltas, cpu, wall = 0, time.process_time(), time.perf_counter()
            async for event in backend.stream_reply(None, "go"):
                deltas += isinstance(event, ReplyDelta)
                assert not isinstance(event, ReplyDone) or deltas == frames
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best_rate, best_cpu = max(best_rate, frames / wall), min(best_cpu, cpu / frames)
        return best_rate, best_cpu
    finally:
        await backend.aclose()


def client_figures(frames: int) -> None:
    for label, shape in (("delta (codhechat serve)", "delta"), ("whole-reply (classic)", "content")):
        count = frames if shape == "delta" else min(frames, 2000)  # whole-reply frames grow: O(n^2) bytes
        command = [sys.executable, __file__, "serve", str(count), shape]
        server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            port = int(server.stdout.readline())  # type: ignore[union-attr]
            url = f"http://127.0.0.1:{port}"
            per_s, cpu = asyncio.run(stream(url, frames=count))
        finally:
            server.terminate()
            server.wait(10)
        print(f"client, {label:<24} {count:>6} frames: {per_s:>9,.0f} frames/s, client CPU {cpu * 1e6:6.1f} us/frame")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "serve"])
    parser.add_argument("frames_arg", nargs="?", type=int, default=0)
    parser.add_argument("shape", nargs="?", default="delta", choices=["delta", "content"])
    parser.add_argument("--frames", type=int, default=20_000, help="chunks per reply for the client figures")
    parser.add_argument("--client-only", action="store_true")
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.frames_arg, args.shape)
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    if not args.client_only:
        parse_figures()
    client_figures(args.frames)


if __name__ == "__main__":
    main()
