"""Files attached to a message: what the model is sent, exactly, and what is stored."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from codhechat.attachments import prepare, read_file
from codhechat.backends.local import LocalBackend
from codhechat.config import load_settings
from codhechat.errors import UsageError
from codhechat.models import ReplyDone
from codhechat.store import Store
from tests.fake_openai import FakeOpenAI
from tests.support.files import pdf, png


@pytest.fixture
def backend(fake_openai: FakeOpenAI, tmp_path: Path) -> LocalBackend:
    return LocalBackend(
        load_settings({"base_url": fake_openai.base_url, "max_retries": 0}), Store.open(tmp_path / "c.db")
    )


async def run(events) -> list:  # type: ignore[no-untyped-def]
    return [event async for event in events]


async def test_text_images_and_pdfs_go_to_the_model_as_parts_and_again_as_history(
    backend: LocalBackend, fake_openai: FakeOpenAI
) -> None:
    image = png()
    files = [
        prepare("main.py", b"print('hi')\n"),
        prepare("dot.png", image),
        prepare("paper.pdf", pdf("Hello from a PDF")),
    ]
    events = await run(backend.stream_reply(None, "what are these?", attachments=files))
    assert isinstance(events[-1], ReplyDone)
    content = fake_openai.last_messages[-1]["content"]
    assert content == [
        {"type": "text", "text": "what are these?"},
        {"type": "text", "text": "File main.py:\n\nprint('hi')\n"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(image).decode()}},
        {"type": "text", "text": "File paper.pdf (the text of a PDF):\n\nHello from a PDF"},
    ]
    conversation_id = events[0].conversation.id
    await run(backend.stream_reply(conversation_id, "and now?"))
    history = fake_openai.last_messages
    assert history[1]["content"] == content  # sent again, within the history window
    assert history[-1] == {"role": "user", "content": "and now?"}

    [user, _, _, _] = backend.store.get_messages(conversation_id)
    assert [a.name for a in user.attachments] == ["main.py", "dot.png", "paper.pdf"]
    assert [a.kind for a in user.attachments] == ["text", "image", "pdf"]
    assert backend.store.attachment_data(user.attachments[1].sha256) == image


async def test_the_same_file_is_stored_once(backend: LocalBackend) -> None:
    data = b"same bytes\n" * 100
    first = await run(backend.stream_reply(None, "one", attachments=[prepare("a.txt", data)]))
    await run(backend.stream_reply(first[0].conversation.id, "two", attachments=[prepare("b.txt", data)]))
    assert backend.store.db.execute("select count(*) from blobs").fetchone() == (1,)
    assert backend.store.db.execute("select count(*) from attachments").fetchone() == (2,)
    await backend.delete_conversation(first[0].conversation.id)
    assert backend.store.db.execute("select count(*) from blobs").fetchone() == (0,)  # nothing left to keep


def test_what_cannot_be_sent_says_why(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="limited to 1 MB"):
        prepare("big.txt", b"x" * (1024 * 1024 + 1), max_mb=1)
    with pytest.raises(UsageError, match="neither text, a PDF, nor a PNG"):
        prepare("blob.bin", b"\x00\x01\x02binary")
    with pytest.raises(UsageError, match="The PDF cannot be read"):
        prepare("broken.pdf", b"%PDF-1.4\nnot really")
    with pytest.raises(UsageError, match="There is no file"):
        read_file(tmp_path / "missing.txt")
