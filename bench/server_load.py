"""Load on `codhechat serve`: N concurrent WebSocket clients, each streaming one
500-token reply from the loopback model server.

    python bench/server_load.py                 # N = 100 and 1000, legacy and delta frames
    python bench/server_load.py -n 100 --mode delta --database-url postgresql://...

The model (tests.fake_openai, echo replies) and the server (`python -m codhechat.server`,
caps raised) each run in their own process; the clients run here. Prints, per run:
replies per second, p50/p99 time between chunks as the clients saw it, errors, and
bytes on the wire per reply (WebSocket payload plus frame headers, server to client).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

REPO = Path(__file__).resolve().parents[1]
TOKENS = 500
PROMPT = " ".join(f"t{i}" for i in range(TOKENS - 1))  # the echo reply "Echo: " + prompt is 500 tokens

MODEL_SERVER = """
import socket, sys, time
sys.path.insert(0, {repo!r})
from tests.fake_openai import FakeOpenAI
srv = FakeOpenAI(port={port}).start()
srv._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # see tests/server/conftest.py
print("ready", flush=True)
while True:
    time.sleep(3600)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process for {url} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


def ws_frame_bytes(payload: str) -> int:
    n = len(payload.encode())
    return n + (2 if n < 126 else 4 if n < 65536 else 10)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one_client(ws_url: str, token: str, mode: str, gaps: list[float]) -> tuple[int, str]:
    """Stream one reply; (bytes on the wire, final text)."""
    query = f"?token={token}" + ("&stream=delta" if mode == "delta" else "")
    total, text = 0, ""
    async with connect(ws_url + query, max_size=None, open_timeout=60, ping_interval=None) as ws:
        await ws.send(json.dumps({"request_id": "r", "message": PROMPT, "conversation_id": None}))
        last = None
        while True:
            raw = await asyncio.wait_for(ws.recv(), 120)
            now = time.perf_counter()
            total += ws_frame_bytes(raw)
            frame = json.loads(raw)
            if frame["type"] == "chunk":
                if last is not None:
                    gaps.append(now - last)
                last = now
                text = text + frame["delta"] if mode == "delta" else frame["content"]
            elif frame["type"] == "complete":
                return total, text
            elif frame["type"] == "error":
                raise RuntimeError(frame["detail"])


async def run(base: str, n: int, mode: str) -> dict[str, float]:
    ws_url = base.replace("http", "ws", 1) + "/ws"
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        tokens = [(await client.post("/auth/guest")).json()["access_token"] for _ in range(n)]
    gaps: list[float] = []
    start = time.perf_counter()
    results = await asyncio.gather(
        *(one_client(ws_url, t, mode, gaps) for t in tokens), return_exceptions=True
    )
    elapsed = time.perf_counter() - start
    ok = [r for r in results if isinstance(r, tuple)]
    errors = [r for r in results if not isinstance(r, tuple)]
    expected = "Echo: " + PROMPT
    wrong = sum(1 for _, text in ok if text != expected)
    if errors:
        print(f"  first error: {errors[0]!r}", file=sys.stderr)
    return {
        "n": n,
        "replies_per_s": len(ok) / elapsed,
        "seconds": elapsed,
        "p50_ms": percentile(gaps, 0.50) * 1000,
        "p99_ms": percentile(gaps, 0.99) * 1000,
        "errors": len(errors) + wrong,
        "bytes_per_reply": statistics.mean(b for b, _ in ok) if ok else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, action="append", help="clients (repeatable; default 100 and 1000)")
    parser.add_argument("--mode", choices=["legacy", "delta", "both"], default="both")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    sizes = args.n or [100, 1000]
    modes = ["legacy", "delta"] if args.mode == "both" else [args.mode]

    tmp = Path(tempfile.mkdtemp(prefix="codhechat-bench-"))
    model_port, server_port = free_port(), free_port()
    model = subprocess.Popen([sys.executable, "-c", MODEL_SERVER.format(repo=str(REPO), port=model_port)],
                             stdout=subprocess.PIPE)  # fmt: skip
    assert model.stdout is not None and model.stdout.readline().strip() == b"ready"
    env = {
        **os.environ,
        "SECRET_KEY": "bench-" + "s" * 58,
        "DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'bench.db'}",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1",
        "OPENAI_API_KEY": "bench",
        "MODEL_MAX_RETRIES": "0",
        "MODEL_TIMEOUT": "300",
        "MAX_WS_CONNECTIONS": "100000",
        "MAX_WS_CONNECTIONS_PER_USER": "100000",
        "MAX_WS_CONNECTIONS_PER_ADDRESS": "100000",  # every client here is 127.0.0.1
        "AUTH_RATE_LIMIT": "1000000",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO / "src"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "codhechat.server", "--host", "127.0.0.1", "--port", str(server_port)],
        env=env, cwd=tmp,
    )  # fmt: skip
    base = f"http://127.0.0.1:{server_port}"
    try:
        wait_http(base + "/health", server)
        print(f"{'mode':<7} {'N':>5} {'replies/s':>10} {'p50 gap':>9} {'p99 gap':>9} {'errors':>7} {'bytes/reply':>12}")
        for n in sizes:
            for mode in modes:
                r = asyncio.run(run(base, n, mode))
                print(f"{mode:<7} {n:>5} {r['replies_per_s']:>10.1f} {r['p50_ms']:>7.2f}ms "
                      f"{r['p99_ms']:>7.2f}ms {r['errors']:>7} {r['bytes_per_reply']:>12,.0f}", flush=True)  # fmt: skip
    finally:
        for proc in (server, model):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
