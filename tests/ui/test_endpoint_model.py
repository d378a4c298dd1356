"""With no model chosen and an endpoint that does not serve the default (Ollama, vLLM,
llama.cpp answer with their own), the app says which model it uses, or asks once."""

from __future__ import annotations

from codhechat.ui.screens.dialogs import PickOne
from codhechat.ui.widgets.messages import ReplyView
from codhechat.ui.widgets.status import StatusBar
from tests.fake_openai import FakeOpenAI, Reply
from tests.ui.conftest import AppFactory, type_text, wait_until

SIZE = (110, 36)


def notices(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(n.message) for n in app._notifications]


async def test_the_endpoints_only_model_is_used_and_named(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    fake_openai.models = ["tiny-llama.gguf"]
    fake_openai.enqueue(Reply("Hi."))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: any("Using tiny-llama.gguf" in n for n in notices(app)))
        assert app.query_one(StatusBar).model == "tiny-llama.gguf"
        await type_text(pilot, "hello")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query(ReplyView) and app.query(ReplyView).last().status is not None)
        assert fake_openai.requests[-1]["body"]["model"] == "tiny-llama.gguf"


async def test_several_models_and_none_chosen_asks_once(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    fake_openai.models = ["llama3.2:3b", "qwen2.5:7b"]
    fake_openai.enqueue(Reply("Hi."))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, PickOne))
        await pilot.press("up", "enter")  # the list starts on the last one
        await wait_until(pilot, lambda: not isinstance(app.screen, PickOne))
        assert app.query_one(StatusBar).model == "llama3.2:3b"
        await type_text(pilot, "hello")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query(ReplyView) and app.query(ReplyView).last().status is not None)
        assert fake_openai.requests[-1]["body"]["model"] == "llama3.2:3b"
        assert any("Using llama3.2:3b" in n for n in notices(app))
