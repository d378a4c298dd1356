"""A conversation's generation parameters, set in the app and sent with its requests."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from codhechat.models import Generation
from codhechat.ui.screens.generation import GenerationForm, parse_generation
from tests.fake_openai import FakeOpenAI
from tests.ui.conftest import AppFactory, palette_titles, type_text, wait_until
from tests.ui.test_chat import SIZE, screen_of
from tests.ui.test_conversation_settings import reply_to
from tests.ui.test_power import converse


def test_the_form_takes_numbers_in_range_and_known_efforts() -> None:
    assert parse_generation({"temperature": " 0.3 ", "max_tokens": "64", "top_p": "", "seed": "-7",
                             "reasoning_effort": "HIGH"}) == Generation(0.3, None, 64, -7, "high")  # fmt: skip
    assert parse_generation({name: "" for name in ("temperature", "top_p")}) == Generation()
    for name, wrong, says in [("temperature", "3", "0 to 2"), ("top_p", "x", "0 to 1"), ("max_tokens", "0", "longest"),
                              ("seed", "1.5", "whole number"), ("reasoning_effort", "max", "medium")]:  # fmt: skip
        with pytest.raises(ValueError, match=says):
            parse_generation({name: wrong})


async def test_generation_settings_are_saved_and_sent(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        conversation_id = await converse(pilot, app, "hi")
        assert "temperature" not in fake_openai.requests[-1]["body"]
        assert "Generation settings…" in await palette_titles(app)
        screen_of(app).action_choose_generation()
        await wait_until(pilot, lambda: isinstance(app.screen, GenerationForm))
        await type_text(pilot, "3")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, GenerationForm)  # out of range: it says so and stays
        assert "0 to 2" in str(app.screen.query_one("#gen-hint").render())
        app.screen.query_one("#gen-temperature", Input).value = "0.2"
        app.screen.query_one("#gen-max_tokens", Input).value = "64"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.backend.store.get_conversation(conversation_id).generation
                         == Generation(temperature=0.2, max_tokens=64))  # fmt: skip
        await reply_to(pilot, app, "again")
        body = fake_openai.requests[-1]["body"]
        assert (body["temperature"], body["max_tokens"]) == (0.2, 64) and "seed" not in body
