"""What a reply tells the user beyond its text, driven with Pilot against the loopback
model server: why it stopped (and F7 to continue a length cut), a reasoning model's
thinking in its own folded section, how long it took, and the files a prompt carried."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from textual.widgets import Collapsible

from codhechat.attachments import read_file
from codhechat.models import MessageStatus
from codhechat.ui.widgets.messages import MessageView, ReplyView
from codhechat.ui.widgets.prompt import PromptInput
from codhechat.ui.widgets.thinking_text import ThinkingText
from tests.fake_openai import FakeOpenAI, Recorded, Reply
from tests.ui.conftest import AppFactory, palette_titles, type_text, wait_until

SIZE = (110, 36)


def replies(app) -> list[ReplyView]:  # type: ignore[no-untyped-def]
    return list(app.query(ReplyView))


def settled(app) -> bool:  # type: ignore[no-untyped-def]
    """The last reply has ended and its task is done (a new command may start)."""
    return bool(replies(app)) and replies(app)[-1].status is not None and not app.screen.session.live


def shown(renderable) -> str:  # type: ignore[no-untyped-def]
    console = Console(file=io.StringIO(), width=100)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def notice_of(view: ReplyView) -> str:
    return str(view.query_one(".notice").render())


async def send(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await type_text(pilot, text)
    await pilot.press("enter")


async def test_a_length_cut_says_so_and_f7_continues_it_in_place(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply("The first half", finish_reason="length"), Reply(" and the rest."))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "tell me")
        await wait_until(pilot, lambda: settled(app))
        assert "length limit" in notice_of(replies(app)[-1]) and "F7 continues" in notice_of(replies(app)[-1])
        assert "Continue reply" in await palette_titles(app)

        await pilot.press("f7")
        await wait_until(pilot, lambda: len(fake_openai.requests) == 2 and settled(app))
        # The model was shown what it had written, as the start of its own answer ...
        sent = fake_openai.requests[-1]["body"]["messages"]
        assert sent[-2]["role"] == "assistant" and sent[-2]["content"] == "The first half"
        assert sent[-1]["role"] == "user" and "Continue it exactly where it stopped" in sent[-1]["content"]
        # ... and the one reply on screen (and in the store) is now whole.
        assert [v.text for v in replies(app)] == ["The first half and the rest."]
        assert replies(app)[-1].status == MessageStatus.COMPLETE
        assert not replies(app)[-1].query_one(".notice").display
        conversation = (await app.backend.list_conversations())[0]
        stored = await app.backend.get_messages(conversation.id)
        assert [(m.role, m.content) for m in stored] == [
            ("user", "tell me"),
            ("assistant", "The first half and the rest."),
        ]


async def test_f7_without_a_cut_reply_is_the_prompts_select_all(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply("Whole."))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await wait_until(pilot, lambda: settled(app))
        assert "Continue reply" not in await palette_titles(app)
        assert await app.screen.session.continue_reply() == "The last reply is complete: there is nothing to continue."
        await type_text(pilot, "draft")
        await pilot.press("f7")
        await pilot.pause()
        assert app.query_one(PromptInput).selected_text == "draft"
        assert len(fake_openai.requests) == 1


async def test_thinking_streams_into_its_own_section_which_folds_when_the_answer_begins(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Recorded("llama.cpp/stream-reasoning-deepseek.http"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Think first")
        await wait_until(pilot, lambda: settled(app))
        view = replies(app)[-1]
        section = view.query_one(".thinking", Collapsible)
        assert section.display and section.collapsed  # the answer began: the thinking folded away
        assert " applying" not in view.text  # the thinking is not the answer
        assert section.title.startswith("Thought")
        section.collapsed = False
        await pilot.pause()
        thinking = section.query_one(".thinking-text", ThinkingText)
        painted = [thinking.render_line(y).text for y in range(thinking.size.height)]
        assert "applying" in " ".join(painted)

        # Reopened from the store, the thinking is one line that a click unfolds.
        await app.screen.session.open(app.screen.session.conversation_id)
        await pilot.pause()
        stored = [v for v in app.query(MessageView) if v.message.role == "assistant"][-1]
        assert "applying" not in shown(stored._build())
        await pilot.click(stored, offset=(2, 1))
        await pilot.pause()
        assert stored.show_thinking and "applying" in shown(stored._build())


async def test_a_reply_header_says_how_long_it_took_and_how_fast(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply("one two three four"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "count")
        await wait_until(pilot, lambda: settled(app))
        header = str(replies(app)[-1].query_one(".header").render())
        assert "tokens" in header and " s" in header and "tokens/s" in header


async def test_a_prompts_files_show_as_chips(make_app: AppFactory, fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    notes = tmp_path / "notes [draft].txt"
    notes.write_text("remember the milk\n")
    fake_openai.enqueue(Reply("Noted."))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.screen.session.send("read this", [read_file(notes)])
        await wait_until(pilot, lambda: settled(app))
        assert "remember the milk" in str(fake_openai.last_messages[-1]["content"])
        await app.screen.session.open(app.screen.session.conversation_id)
        await pilot.pause()
        user = [v for v in app.query(MessageView) if v.message.role == "user"][-1]
        assert "📎 notes [draft].txt (18 B)" in shown(user._build())


async def test_thinking_holds_exactly_what_the_model_thought(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply("Four.", reasoning="Two plus two [is] four, so: four."))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "2+2?")
        await wait_until(pilot, lambda: settled(app))
        conversation_id = app.screen.session.conversation_id
        reply = (await app.backend.get_messages(conversation_id))[-1]
        assert (reply.content, reply.reasoning) == ("Four.", "Two plus two [is] four, so: four.")
        assert reply.thinking_ms is not None
        view = replies(app)[-1]
        assert view.text == "Four." and view.query_one(".thinking", Collapsible).title.startswith("Thought for")
