"""What `codhechat serve` costs per relayed token: N sockets, each asking again as soon as
its reply completes, a model streaming T tokens at R tokens/s.

    python bench/server_load.py                      # 100 sockets, 20- and 200-token replies, both flavours
    python bench/server_load.py -n 100 -n 1000 --seconds 8 --mode delta
    python bench/server_load.py --src /tmp/old/src   # the same load on another checkout's server

Three processes: the model (a bare asyncio SSE server, so it costs little), the server
(`python -m codhechat.server`), and the clients (this one). The server's CPU is read
from /proc (user + system time of the whole process, its threads included) over the
measured window, after a warm-up. With two or more cores, the server is pinned to the
first and the model and clients to the rest (--no-pin to leave them be).

Prints per run: replies/s, server CPU-ms per reply and per token (all included), frames
per token as the clients got them, errors (a reply whose reassembled text is not the
model's exact text counts as one), bytes on the wire per reply (server to client, as
received: compressed when per-message deflate is on); then, from the two reply lengths, the fixed CPU per
reply and the CPU per extra token; then memory per open idle socket (RSS growth / N).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

REPO = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

MODEL = r'''
import asyncio, json, sys
TOKENS, RATE = int(sys.argv[2]), float(sys.argv[3])
HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n")
def event(obj):
    data = b"data: " + json.dumps(obj).encode() + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)
def chunk(delta, finish=None):
    return event({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                  "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
FIRST = chunk({"role": "assistant", "content": ""})
PIECES = [chunk({"content": f" t{i}"}) for i in range(TOKENS)]
LAST = chunk({}, "stop") + event({"id": "c", "object": "chat.completion.chunk", "created": 0,
    "model": "m", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": TOKENS,
    "total_tokens": TOKENS + 5}}) + b"%x\r\n%s\r\n" % (14, b"data: [DONE]\n\n") + b"0\r\n\r\n"
STREAMS = set()  # (writer, next piece index) of the replies streaming now
async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            writer.write(HEAD + FIRST)
            done = asyncio.get_running_loop().create_future()
            STREAMS.add((writer, done))
            await done
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()
async def tick():
    """Every 1/RATE s, the next token of every stream: one timer for all of them."""
    loop, sent = asyncio.get_running_loop(), {}
    due = loop.time()
    while True:
        due += 1 / RATE
        await asyncio.sleep(max(0.0, due - loop.time()))
        for stream in list(STREAMS):
            writer, done = stream
            i = sent.get(stream, 0)
            if writer.is_closing():
                STREAMS.discard(stream); sent.pop(stream, None); done.cancel(); continue
            if i < TOKENS:
                writer.write(PIECES[i]); sent[stream] = i + 1
            else:
                writer.write(LAST); STREAMS.discard(stream); sent.pop(stream, None); done.set_result(None)
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    asyncio.get_running_loop().create_task(tick())
    print("ready", flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
'''


def expected_text(tokens: int) -> str:
    return "".join(f" t{i}" for i in range(tokens))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system time of the process and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


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


class Tally:
    def __init__(self) -> None:
        self.replies = self.frames = self.errors = self.wire = 0
        self.counting = False
        self.stop = False


async def client(ws_url: str, token: str, delta: bool, want: str, tally: Tally) -> None:
    query = f"?token={token}" + ("&stream=delta" if delta else "")
    async with connect(ws_url + query, max_size=None, open_timeout=120, ping_interval=None,
                       close_timeout=1) as ws:  # fmt: skip
        receive_data = ws.protocol.receive_data

        def counted(data: bytes) -> None:  # the bytes as they came over the wire (compressed, or not)
            if tally.counting:
                tally.wire += len(data)
            receive_data(data)

        ws.protocol.receive_data = counted  # type: ignore[method-assign]
        n = 0
        while not tally.stop:
            n += 1
            await ws.send(json.dumps({"request_id": f"r{n}", "message": "go", "conversation_id": None}))
            text, frames = "", 0
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 120))
                kind = frame["type"]
                if kind == "chunk":
                    frames += 1
                    text = text + frame["delta"] if delta else frame["content"]
                elif kind == "complete":
                    break
                elif kind == "error":
                    text = None  # type: ignore[assignment]
                    break
            if tally.counting:  # replies that end in the window (its edges even out over many)
                tally.replies += 1
                tally.frames += frames
                tally.errors += text != want


async def tokens_for(base: str, n: int) -> list[str]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        return [(await http.post("/auth/guest")).json()["access_token"] for _ in range(n)]


async def load(base: str, server_pid: int, tokens: list[str], *, delta: bool, reply_tokens: int,
               warmup: float, seconds: float) -> dict[str, float]:  # fmt: skip
    ws_url = base.replace("http", "ws", 1) + "/ws"
    tally = Tally()
    want = expected_text(reply_tokens)
    tasks = [asyncio.create_task(client(ws_url, t, delta, want, tally)) for t in tokens]
    await asyncio.sleep(warmup)
    tally.counting = True
    cpu0, t0 = cpu_seconds(server_pid), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu1, t1 = cpu_seconds(server_pid), time.perf_counter()
    tally.counting, tally.stop = False, True
    done, pending = await asyncio.wait(tasks, timeout=30)
    for task in pending:
        task.cancel()
    failures = [t.exception() for t in done if not t.cancelled() and t.exception() is not None]
    if failures:
        print(f"  a client failed: {failures[0]!r}", file=sys.stderr)
    cpu_ms = (cpu1 - cpu0) * 1000
    replies = max(tally.replies, 1)
    return {
        "replies_per_s": tally.replies / (t1 - t0),
        "cpu_ms_per_reply": cpu_ms / replies,
        "cpu_ms_per_token": cpu_ms / (replies * reply_tokens),
        "frames_per_token": tally.frames / (replies * reply_tokens),
        "cpu_busy": (cpu1 - cpu0) / (t1 - t0),
        "bytes_per_reply": tally.wire / replies,
        "errors": tally.errors + len(failures),
    }


async def idle_memory(base: str, server_pid: int, tokens: list[str]) -> float:
    """Bytes of server RSS per open socket with no reply in progress."""
    ws_url = base.replace("http", "ws", 1) + "/ws"
    before = rss_bytes(server_pid)
    sockets = [await connect(f"{ws_url}?token={t}", max_size=None, open_timeout=120, ping_interval=None)
               for t in tokens]  # fmt: skip
    await asyncio.sleep(1)
    after = rss_bytes(server_pid)
    for ws in sockets:
        await ws.close()
    return (after - before) / len(tokens)


def pin(pid: int, cpus: set[int]) -> None:
    try:
        os.sched_setaffinity(pid, cpus)
    except OSError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, action="append", help="sockets (repeatable; default 100)")
    parser.add_argument("--tokens", type=int, action="append", help="reply lengths (default 20 and 200)")
    parser.add_argument("--rate", type=float, default=200.0, help="model tokens/s per reply (default 200)")
    parser.add_argument("--mode", choices=["classic", "delta", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=6.0, help="measured window per run")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--src", default=str(REPO / "src"), help="the codhechat source tree to serve")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--profile", metavar="FILE", help="py-spy record the server while measuring: FILE.TOKENS.txt")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server (repeatable)")
    args = parser.parse_args()
    sizes = args.n or [100]
    lengths = args.tokens or [20, 200]
    modes = ["classic", "delta"] if args.mode == "both" else [args.mode]
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus, other_cpus = ({cpus[0]}, set(cpus[1:])) if len(cpus) > 1 and not args.no_pin else (set(cpus),) * 2
    pin(0, other_cpus)
    tmp = Path(tempfile.mkdtemp(prefix="codhechat-bench-"))
    server_port = free_port()
    env = {
        **os.environ,
        "SECRET_KEY": "bench-" + "s" * 58,
        "DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'bench.db'}",
        "OPENAI_API_KEY": "bench",
        "MODEL_MAX_RETRIES": "0",
        "MODEL_TIMEOUT": "300",
        "MAX_WS_CONNECTIONS": "100000",
        "MAX_WS_CONNECTIONS_PER_USER": "100000",
        "MAX_WS_CONNECTIONS_PER_ADDRESS": "100000",  # every client here is 127.0.0.1
        "AUTH_RATE_LIMIT": "1000000",
        "DB_POOL_SIZE": "20",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": args.src,
        **dict(item.split("=", 1) for item in args.env),
    }
    load1, load5, _ = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load {load1:.1f} / {load5:.1f} (1 / 5 min); server on cpu "
          f"{sorted(server_cpus)}; src {args.src}")  # fmt: skip
    print(f"{'mode':<8}{'N':>6}{'tokens':>7}{'replies/s':>10}{'ms/reply':>9}{'ms/token':>9}"
          f"{'frames/tok':>11}{'busy':>6}{'errors':>7}{'wire B/reply':>13}")  # fmt: skip
    fits: dict[str, list[tuple[int, float]]] = {}  # run -> (reply length, CPU-ms per reply)
    for length in lengths:
        model_port = free_port()
        model = subprocess.Popen([sys.executable, "-c", MODEL, str(model_port), str(length), str(args.rate)],
                                 stdout=subprocess.PIPE)  # fmt: skip
        pin(model.pid, other_cpus)
        assert model.stdout is not None and model.stdout.readline().strip() == b"ready"
        env["OPENAI_BASE_URL"] = f"http://127.0.0.1:{model_port}/v1"
        server = subprocess.Popen(
            [sys.executable, "-m", "codhechat.server", "--host", "127.0.0.1", "--port", str(server_port)],
            env=env, cwd=tmp,
        )  # fmt: skip
        pin(server.pid, server_cpus)
        base = f"http://127.0.0.1:{server_port}"
        try:
            wait_http(base + "/health", server)
            for n in sizes:
                tokens = asyncio.run(tokens_for(base, n))
                if length == lengths[0]:  # on a fresh server, before any reply
                    per_socket = asyncio.run(idle_memory(base, server.pid, tokens))
                    print(f"memory per idle socket at N={n}: {per_socket / 1024:.0f} KB", flush=True)
                for mode in modes:
                    spy = None
                    if args.profile:
                        spy = subprocess.Popen(["py-spy", "record", "--nonblocking", "--gil", "-r", "200", "-p", str(server.pid), "-f", "raw", "-d",
                                                str(int(args.warmup + args.seconds)), "-o",
                                                f"{args.profile}.{length}.txt"], stdout=subprocess.DEVNULL)  # fmt: skip
                    r = asyncio.run(load(base, server.pid, tokens, delta=mode == "delta", reply_tokens=length,
                                         warmup=args.warmup, seconds=args.seconds))  # fmt: skip
                    if spy is not None:
                        spy.wait(60)
                    fits.setdefault(f"{mode} {n}", []).append((length, r["cpu_ms_per_reply"]))
                    print(f"{mode:<8}{n:>6}{length:>7}{r['replies_per_s']:>10.1f}{r['cpu_ms_per_reply']:>9.2f}"
                          f"{r['cpu_ms_per_token']:>9.4f}{r['frames_per_token']:>11.3f}{r['cpu_busy']:>6.0%}"
                          f"{r['errors']:>7}{r['bytes_per_reply']:>13,.0f}", flush=True)  # fmt: skip
        finally:
            for proc in (server, model):
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    print(f"machine load at the end: {os.getloadavg()[0]:.1f} (1 min)")
    for key, points in fits.items():
        if len(points) >= 2:
            (t1, c1), (t2, c2) = points[0], points[-1]
            per_token = (c2 - c1) / (t2 - t1)
            print(f"{key}: {c1 - per_token * t1:.2f} ms fixed per reply + {per_token:.4f} ms per token")


if __name__ == "__main__":
    main()
