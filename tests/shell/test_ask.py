"""`codhechat ask`: streaming to stdout, piped input, continuing, flags, exit codes,
interruption; every exchange stored as the app stores it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from codhechat.models import MessageStatus
from tests.fake_openai import Disconnect, Fail, FakeOpenAI, Gate, Reply
from tests.shell.conftest import no_traceback


def test_the_reply_goes_to_stdout_plain_and_the_exchange_is_stored(cli, db, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply("Paris is the **capital**.\n\n```py\nprint(1)\n```", tokens_per_chunk=2))
    result = cli("ask", "What is the capital of France?")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Paris is the **capital**.\n\n```py\nprint(1)\n```\n"
    assert "\x1b" not in result.stdout + result.stderr and result.stderr == ""
    store = db()
    [conversation] = store.list_conversations()
    assert conversation.title == "What is the capital of France?"
    user, reply = store.all_messages(conversation.id)
    assert (user.role, user.content) == ("user", "What is the capital of France?")
    assert (reply.role, reply.status, reply.model) == ("assistant", MessageStatus.COMPLETE, "gpt-4o-mini")
    assert reply.content.startswith("Paris is the **capital**.")


def test_piped_input_follows_the_prompt(cli, db, fake_openai: FakeOpenAI) -> None:
    diff = "diff --git a/x.py b/x.py\n+print('hi')\n"
    result = cli("ask", "review this", input=diff)
    assert result.returncode == 0, result.stderr
    sent = fake_openai.last_messages[-1]
    assert sent == {"role": "user", "content": "review this\n\ndiff --git a/x.py b/x.py\n+print('hi')"}
    [conversation] = db().list_conversations()
    assert conversation.title == "review this"  # named after the request, not the diff


def test_piped_input_alone_is_the_prompt(cli, fake_openai: FakeOpenAI) -> None:
    result = cli("ask", input="  just the piped text\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Echo: just the piped text\n"


def test_continue_and_conversation_id_continue_a_conversation(cli, db, fake_openai: FakeOpenAI) -> None:
    assert cli("ask", "first topic").returncode == 0
    assert cli("ask", "second topic").returncode == 0
    assert cli("ask", "-c", "more on second").returncode == 0
    sent = [(m["role"], m["content"]) for m in fake_openai.last_messages[1:]]
    assert sent == [("user", "second topic"), ("assistant", "Echo: second topic"), ("user", "more on second")]

    first_id = min(c.id for c in db().list_conversations())
    assert cli("ask", "--conversation", str(first_id), "back to first").returncode == 0
    assert [m["content"] for m in fake_openai.last_messages[1:]] == [
        "first topic",
        "Echo: first topic",
        "back to first",
    ]
    store = db()
    assert store.count_conversations() == 2
    assert len(store.all_messages(first_id)) == 4


def test_continue_with_no_conversations_starts_one(cli, db) -> None:
    assert cli("ask", "--continue", "hello").returncode == 0
    assert db().count_conversations() == 1


def test_model_and_system_prompt_per_invocation(cli, db, fake_openai: FakeOpenAI) -> None:
    result = cli("ask", "--model", "gpt-4o", "--system", "Answer in French.", "hi")
    assert result.returncode == 0, result.stderr
    body = fake_openai.requests[-1]["body"]
    assert body["model"] == "gpt-4o"
    assert body["messages"][0] == {"role": "system", "content": "Answer in French."}
    store = db()
    [conversation] = store.list_conversations()
    assert conversation.model == "gpt-4o"
    assert store.all_messages(conversation.id)[-1].model == "gpt-4o"
    # The global flag works too; continuing without one keeps the conversation's model, but
    # not the one-off system prompt (a conversation's own is set in the app, F9).
    assert cli("--model", "gpt-4o-mini", "ask", "-c", "again").returncode == 0
    assert fake_openai.requests[-1]["body"]["model"] == "gpt-4o-mini"
    assert cli("ask", "-c", "defaults").returncode == 0
    body = fake_openai.requests[-1]["body"]
    assert body["model"] == "gpt-4o" and body["messages"][0]["content"] == "You are a helpful assistant."


def test_usage_errors_exit_2(cli, db) -> None:
    for args in (["ask"], ["ask", "   "], ["ask", "-c", "--conversation", "1", "x"],
                 ["ask", "--conversation", "abc", "x"], ["ask", "--bogus"]):  # fmt: skip
        result = cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith(("codhechat: ", "usage: ")), result.stderr
        no_traceback(result)
    assert "give a prompt" in cli("ask").stderr
    assert db().count_conversations() == 0


def test_an_unknown_conversation_is_an_error_not_a_new_one(cli, db) -> None:
    result = cli("ask", "--conversation", "42", "hello")
    assert result.returncode == 1
    assert "codhechat: There is no conversation 42." in result.stderr
    assert "codhechat list" in result.stderr
    assert db().count_conversations() == 0


def test_endpoint_errors_exit_3_with_a_message_and_a_hint(cli, db, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Fail(404))
    result = cli("ask", "hello")
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.startswith("codhechat: Model 'gpt-4o-mini' was not found")
    assert "--model" in result.stderr
    no_traceback(result)

    fake_openai.enqueue(Fail(503))
    result = cli("ask", "-c", "again")
    assert result.returncode == 3
    assert "server error (503)" in result.stderr
    assert "Ctrl+R" not in result.stderr and "run the command again" in result.stderr

    store = db()
    [conversation] = store.list_conversations()
    statuses = [(m.role, m.status) for m in store.all_messages(conversation.id)]
    assert statuses == [("user", "complete"), ("assistant", "error")] * 2


def test_an_unreachable_endpoint_exits_3(cli, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = cli("ask", "hello", env={"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"})
    assert result.returncode == 3
    assert "Cannot connect to" in result.stderr
    no_traceback(result)


def test_a_reply_cut_off_mid_stream_keeps_what_arrived(cli, db, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Disconnect("one two three four five", after_chunks=2))
    result = cli("ask", "count")
    assert result.returncode == 3
    assert result.stdout == "one two \n"
    assert "cut off" in result.stderr
    [conversation] = db().list_conversations()
    reply = db().all_messages(conversation.id)[-1]
    assert (reply.content, reply.status) == ("one two ", MessageStatus.ERROR)


def test_a_reply_cut_short_exits_non_zero_and_is_stored_as_failed(cli, db, fake_openai: FakeOpenAI) -> None:
    """The stream ended cleanly but without a finish_reason (a proxy dropped it): not complete."""
    fake_openai.enqueue(Reply("one two three", finish_reason=None, done=False))
    result = cli("ask", "count")
    assert result.returncode == 3
    assert result.stdout == "one two three\n"
    assert "cut short" in result.stderr and "Run the command again" in result.stderr
    [conversation] = db().list_conversations()
    reply = db().all_messages(conversation.id)[-1]
    assert (reply.content, reply.status) == ("one two three", MessageStatus.ERROR)


SIGINT_DEFAULT_THEN_CODHECHAT = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'codhechat'; runpy.run_module('codhechat', run_name='__main__')"
)


def test_ctrl_c_streams_then_exits_130_and_keeps_the_partial_reply(
    shell_env, db, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    text = " ".join(f"w{i:03d}" for i in range(200))
    gate = Gate()  # held after 10 words, until the test is done
    fake_openai.enqueue(Reply(text, hold=gate, hold_after=10))
    proc = subprocess.Popen(
        # SIGINT's default action back, as in a terminal: a background job (CI's runner may be
        # one) starts its children with it ignored, which codhechat rightly keeps.
        [sys.executable, "-c", SIGINT_DEFAULT_THEN_CODHECHAT, "ask", "count slowly"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=shell_env, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = os.read(proc.stdout.fileno(), 100)  # the reply streams: bytes before the end
        assert first.startswith(b"w000") and proc.poll() is None
        gate.wait_reached(timeout=60)  # ceilings for one busy core shared with the whole suite
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    shown = (first + out).decode()
    assert "Traceback" not in err.decode() and "interrupted" in err.decode()
    [conversation] = db().list_conversations()
    user, reply = db().all_messages(conversation.id)
    assert user.content == "count slowly"
    assert reply.status == MessageStatus.PARTIAL
    assert reply.content and text.startswith(reply.content) and len(reply.content) < len(text)
    assert shown.strip() == reply.content.strip()


def test_a_reply_cut_at_the_length_limit_says_so_on_stderr(cli, db, fake_openai: FakeOpenAI) -> None:
    from tests.fake_openai import Recorded

    fake_openai.enqueue(Recorded("llama.cpp/stream-length.http"))
    result = cli("ask", "Say hello")
    assert result.returncode == 0
    assert "stopped at the length limit" in result.stderr
    [conversation] = db().list_conversations()
    assert db().all_messages(conversation.id)[-1].finish_reason == "length"


def test_ask_uses_the_endpoints_only_model_when_none_is_chosen(cli, fake_openai: FakeOpenAI) -> None:
    fake_openai.models_recording = "llama.cpp/models.http"
    result = cli("ask", "hi")
    assert result.returncode == 0
    assert "Using tiny-random.gguf" in result.stderr
    assert fake_openai.requests[-1]["body"]["model"] == "tiny-random.gguf"


def test_ask_attaches_files_and_stdin_keeping_the_prompt_separate(cli, db, fake_openai: FakeOpenAI, tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("remember the milk\n")
    result = cli("ask", "-a", "-", "-a", "notes.txt", "review this", input="diff --git a b\n+x\n")
    assert result.returncode == 0, result.stderr
    content = fake_openai.last_messages[-1]["content"]
    assert content == [
        {"type": "text", "text": "review this"},
        {"type": "text", "text": "File stdin:\n\ndiff --git a b\n+x\n"},
        {"type": "text", "text": "File notes.txt:\n\nremember the milk\n"},
    ]
    [conversation] = db().list_conversations()
    assert conversation.title == "review this"
    user = db().all_messages(conversation.id)[0]
    assert user.content == "review this" and [a.name for a in user.attachments] == ["stdin", "notes.txt"]


def test_ask_refuses_a_file_it_cannot_send_before_asking(cli, fake_openai: FakeOpenAI, tmp_path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01binary")
    result = cli("ask", "-a", "blob.bin", "what is it?")
    assert result.returncode == 2
    assert "cannot be sent" in result.stderr and fake_openai.requests == []
