"""Per-conversation model (F5) and system prompt (F9), editing an earlier message and
resending it (F12), and the conversation's token total, driven with Pilot against the
loopback model server."""

from __future__ import annotations

from textual.widgets import Input, OptionList, TextArea

from codhechat import paths
from codhechat.models import MessageStatus
from codhechat.ui.screens.conversation_settings import ChooseOrType, EditText
from codhechat.ui.screens.dialogs import Confirm, PickOne
from codhechat.ui.widgets.messages import PendingUserView, ReplyView
from codhechat.ui.widgets.status import StatusBar
from tests.fake_openai import FakeOpenAI, Reply
from tests.ui.conftest import AppFactory, type_text, wait_until
from tests.ui.test_chat import SIZE, last_reply, reply_views, screen_of, send, stored
from tests.ui.test_power import converse, notices


def status(app) -> StatusBar:  # type: ignore[no-untyped-def]
    return app.query_one(StatusBar)


async def reply_to(pilot, app, text: str) -> None:  # type: ignore[no-untyped-def]
    """Send `text` in the open conversation and wait for the reply to finish."""
    before = len(stored(app, screen_of(app).conversation_id))
    await send(pilot, text)
    await wait_until(
        pilot,
        lambda: len(stored(app, screen_of(app).conversation_id)) == before + 2 and last_reply(app).status is not None,
    )


async def test_f5_picks_the_conversations_model_from_the_endpoint_or_typed(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.models = ["gpt-4o", "llama3"]
    app = make_app(model="gpt-4o-mini")  # chosen: the app does not ask for one at start
    async with app.run_test(size=SIZE) as pilot:
        conversation_id = await converse(pilot, app, "hi")
        other = await converse(pilot, app, "another conversation")
        await screen_of(app).open_conversation(conversation_id)
        assert status(app).model == "gpt-4o-mini"
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, ChooseOrType))
        dialog = app.screen
        await wait_until(pilot, lambda: ("gpt-4o", "gpt-4o") in dialog.choices)  # from /v1/models
        assert [value for _, value in dialog.choices] == ["", "gpt-4o", "llama3"]
        await pilot.press("down", "down", "enter")  # the list; past "(the default)" to gpt-4o
        await wait_until(pilot, lambda: app.backend.store.get_conversation(conversation_id).model == "gpt-4o")
        assert status(app).model == "gpt-4o"
        await reply_to(pilot, app, "which model?")
        assert fake_openai.requests[-1]["body"]["model"] == "gpt-4o"
        assert stored(app, conversation_id)[-1].model == "gpt-4o"
        # Only this conversation: the other one keeps the default.
        await screen_of(app).open_conversation(other)
        assert status(app).model == "gpt-4o-mini"
        await screen_of(app).open_conversation(conversation_id)
        assert status(app).model == "gpt-4o"
        # A model the endpoint does not list: type it.
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, ChooseOrType))
        assert app.screen.query_one(Input).value == "gpt-4o"
        await pilot.press("ctrl+u")
        await type_text(pilot, "my-own-model")
        assert app.screen.query_one(OptionList).option_count == 0  # filtered: nothing matches
        await pilot.press("enter")
        await wait_until(pilot, lambda: status(app).model == "my-own-model")
        assert app.backend.store.get_conversation(conversation_id).model == "my-own-model"
        # Esc changes nothing.
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, ChooseOrType))
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert app.backend.store.get_conversation(conversation_id).model == "my-own-model"


async def test_f5_lists_every_providers_models_grouped_and_filters_as_you_type(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.models = ["llama3.1"]
    with FakeOpenAI("key-for-router", models=["vendor/model-a", "vendor/model-b"]) as router:
        config = paths.config_file()
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f'[providers.router]\nbase_url = "{router.base_url}"\napi_key = "key-for-router"\n\n'
                          '[providers.down]\nbase_url = "http://127.0.0.1:9/v1"\n')  # fmt: skip
        config.chmod(0o600)
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            conversation_id = await converse(pilot, app, "hi")
            await pilot.press("f5")
            await wait_until(pilot, lambda: isinstance(app.screen, ChooseOrType))
            dialog = app.screen
            await wait_until(pilot, lambda: ("  router/vendor/model-b", "router/vendor/model-b") in dialog.choices)
            headings = [label for label, value in dialog.choices if value is None]
            assert [h.split()[0] for h in headings] == ["default", "down", "router"]  # the default first, then by name
            assert "(" in headings[1]  # the provider that did not answer says why
            listed = dialog.query_one(OptionList)
            await type_text(pilot, "model-b")
            labels = [str(listed.get_option_at_index(i).prompt) for i in range(listed.option_count)]
            assert [label.split()[0] for label in labels] == ["router", "router/vendor/model-b"]
            await pilot.press("down", "enter")  # the list skips the heading: to model-b
            await wait_until(pilot, lambda: app.backend.store.get_conversation(conversation_id).model
                             == "router/vendor/model-b")  # fmt: skip
            router.enqueue(Reply("From the router."))
            await reply_to(pilot, app, "which provider?")
            assert router.requests[-1]["body"]["model"] == "vendor/model-b"


async def test_f5_still_takes_a_typed_model_when_the_endpoint_cannot_list_them(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = make_app(base_url=fake_openai.base_url + "/nowhere")
    async with app.run_test(size=SIZE) as pilot:
        conversation = app.backend.store.create_conversation("typed")
        screen_of(app).load_conversations()
        await wait_until(pilot, lambda: screen_of(app).session.conversation(conversation.id) is not None)
        await screen_of(app).open_conversation(conversation.id)
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, ChooseOrType))
        hint = app.screen.query_one("#choose-hint")
        await wait_until(pilot, lambda: "does not list its models" in str(hint.render()))
        await pilot.press("ctrl+u")
        await type_text(pilot, "llama3")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.backend.store.get_conversation(conversation.id).model == "llama3")


async def test_f9_sets_the_system_prompt_from_a_preset_or_free_text(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = make_app(presets={"coder": "You write terse code.", "poet": "Answer in verse."})
    async with app.run_test(size=SIZE) as pilot:
        conversation_id = await converse(pilot, app, "hi")
        store = app.backend.store
        await pilot.press("f9")
        await wait_until(pilot, lambda: isinstance(app.screen, ChooseOrType))
        labels = [label for label, _ in app.screen.choices]
        assert labels[0].startswith("(default) You are a helpful assistant.")
        assert labels[1:] == ["coder: You write terse code.", "poet: Answer in verse."]
        await pilot.press("down", "down", "enter")  # the "coder" preset
        await wait_until(
            pilot, lambda: store.get_conversation(conversation_id).system_prompt == "You write terse code."
        )
        await reply_to(pilot, app, "code please")
        assert fake_openai.last_messages[0] == {"role": "system", "content": "You write terse code."}
        # Free text.
        await pilot.press("f9")
        await wait_until(pilot, lambda: isinstance(app.screen, ChooseOrType))
        assert app.screen.query_one(Input).value == "You write terse code."
        await pilot.press("ctrl+u")
        await type_text(pilot, "Talk like a pirate.")
        await pilot.press("enter")
        await wait_until(pilot, lambda: store.get_conversation(conversation_id).system_prompt == "Talk like a pirate.")
        await reply_to(pilot, app, "ahoy")
        assert fake_openai.last_messages[0]["content"] == "Talk like a pirate."
        # Empty: back to the configured one.
        await pilot.press("f9")
        await wait_until(pilot, lambda: isinstance(app.screen, ChooseOrType))
        await pilot.press("ctrl+u", "enter")
        await wait_until(pilot, lambda: store.get_conversation(conversation_id).system_prompt is None)
        assert "default system prompt" in notices(app)


async def test_f12_edits_an_earlier_message_and_continues_from_it(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        conversation_id = await converse(pilot, app, "first question")
        await reply_to(pilot, app, "second question")
        # Pick the first message, edit it: resent at once (the old version stays, one branch away).
        fake_openai.enqueue(Reply("A new answer"))
        await pilot.press("f12")
        await wait_until(pilot, lambda: isinstance(app.screen, PickOne))
        await pilot.press("up", "enter")  # the newest is highlighted; one up is the first
        await wait_until(pilot, lambda: isinstance(app.screen, EditText))
        assert app.screen.query_one(TextArea).text == "first question"
        await type_text(pilot, ", edited")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status == MessageStatus.COMPLETE)
        assert not isinstance(app.screen, Confirm)
        assert last_reply(app).text == "A new answer"
        assert [(m.role, m.content) for m in stored(app, conversation_id)] == [
            ("user", "first question, edited"), ("assistant", "A new answer")
        ]  # fmt: skip
        assert len(app.backend.store.all_messages(conversation_id)) == 6  # nothing deleted
        assert [m["content"] for m in fake_openai.last_messages[1:]] == ["first question, edited"]
        assert [text for _, text in screen_of(app).session.texts()] == ["first question, edited", "A new answer"]
        await wait_until(pilot, lambda: "< 2/2 >" in app.query_one(PendingUserView).header_line()[0].plain)
        # Esc in the editor cancels.
        await pilot.press("f12")
        await wait_until(pilot, lambda: isinstance(app.screen, PickOne))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EditText))
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert app.screen is screen_of(app)
        assert len(stored(app, conversation_id)) == 2


async def test_editing_the_last_unanswered_message_needs_no_confirmation(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        store = app.backend.store
        conversation = store.create_conversation("unanswered")
        store.add_message(conversation.id, "user", "typo hre")
        screen_of(app).load_conversations()
        await wait_until(pilot, lambda: screen_of(app).session.conversation(conversation.id) is not None)
        await screen_of(app).open_conversation(conversation.id)
        await pilot.press("f12")
        await wait_until(pilot, lambda: isinstance(app.screen, PickOne))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EditText))
        app.screen.query_one(TextArea).text = "typo here"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: len(app.query(ReplyView)) and last_reply(app).status == MessageStatus.COMPLETE)
        assert [m.content for m in stored(app, conversation.id)] == ["typo here", "Echo: typo here"]


async def test_the_status_line_shows_how_full_the_context_is(make_app: AppFactory) -> None:
    app = make_app(context_window=4096)
    async with app.run_test(size=SIZE) as pilot:

        def shown(conversation_id: int) -> str:
            last = [m for m in stored(app, conversation_id) if m.prompt_tokens is not None][-1]
            used = last.prompt_tokens + (last.completion_tokens or 0)
            return f"context {used:,}/4,096 tokens ({used / 4096:.0%})"

        conversation_id = await converse(pilot, app, "count my tokens")
        await wait_until(pilot, lambda: status(app).tokens == shown(conversation_id))
        first = shown(conversation_id)
        await reply_to(pilot, app, "and these")
        await wait_until(pilot, lambda: status(app).tokens == shown(conversation_id))
        assert shown(conversation_id) != first  # the second prompt held the first exchange too
        assert shown(conversation_id) in str(status(app).render())
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: status(app).tokens == "")  # nothing reported for a new chat
        await screen_of(app).open_conversation(conversation_id)
        await wait_until(pilot, lambda: status(app).tokens == shown(conversation_id))
