"""Several endpoints at once: routing by PROVIDER/MODEL, each provider's own key and
headers (never sent to another), the grouped model list, and failures kept apart.
Two loopback model servers play the providers, each requiring its own key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from codhechat import paths
from codhechat.backends.local import LocalBackend
from codhechat.config import effective_settings, load_settings
from codhechat.models import ReplyDone, ReplyFailed
from codhechat.store import Store
from tests.fake_openai import FakeOpenAI


@pytest.fixture
def two_servers() -> Iterator[tuple[FakeOpenAI, FakeOpenAI]]:
    with (
        FakeOpenAI("key-for-local", models=["llama3.1"]) as local,
        FakeOpenAI("key-for-router", models=["vendor/model-a"]) as router,
    ):
        yield local, router


def configure(local: FakeOpenAI, router: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    config = paths.config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'api_key = "key-for-local"\nbase_url = "{local.base_url}"\n\n'
        f'[providers.router]\nbase_url = "{router.base_url}"\napi_key_env = "ROUTER_API_KEY"\n'
        'headers = { "X-Title" = "codhechat" }\n'
    )
    config.chmod(0o600)
    monkeypatch.setenv("ROUTER_API_KEY", "key-for-router")


async def run(events) -> list:  # type: ignore[no-untyped-def]
    return [event async for event in events]


def keys_seen(server: FakeOpenAI) -> set[str]:
    return {request["headers"].get("authorization", "") for request in server.requests}


async def test_each_request_goes_to_its_provider_with_its_key_only(
    two_servers: tuple[FakeOpenAI, FakeOpenAI], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    local, router = two_servers
    configure(local, router, monkeypatch)
    backend = LocalBackend(load_settings({"model": "llama3.1", "max_retries": 0}), Store.open(tmp_path / "c.db"))
    first = await run(backend.stream_reply(None, "to the default"))
    assert isinstance(first[-1], ReplyDone) and first[-1].message.model == "llama3.1"

    conversation_id = (await run(backend.stream_reply(None, "to the router")))[0].conversation.id
    await backend.set_conversation_options(conversation_id, model="router/vendor/model-a", system_prompt=None)
    routed = await run(backend.stream_reply(conversation_id, "again"))
    assert isinstance(routed[-1], ReplyDone)
    assert routed[-1].message.model == "router/vendor/model-a"  # labelled with its provider
    assert router.requests[-1]["body"]["model"] == "vendor/model-a"  # the prefix is not sent
    assert router.requests[-1]["headers"]["x-title"] == "codhechat"
    assert keys_seen(local) == {"Bearer key-for-local"}
    assert keys_seen(router) == {"Bearer key-for-router"}  # neither key ever went to the other
    assert all("x-title" not in r["headers"] for r in local.requests)

    # A slash that names no provider is part of the model's own name, for the default one.
    other = (await run(backend.stream_reply(None, "vendor model")))[0].conversation.id
    await backend.set_conversation_options(other, model="meta/llama-3", system_prompt=None)
    await run(backend.stream_reply(other, "hi"))
    assert local.requests[-1]["body"]["model"] == "meta/llama-3"
    await backend.aclose()


async def test_the_model_list_is_grouped_and_a_provider_down_is_listed_with_the_reason(
    two_servers: tuple[FakeOpenAI, FakeOpenAI], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    local, router = two_servers
    configure(local, router, monkeypatch)
    backend = LocalBackend(load_settings({"max_retries": 0}), Store.open(tmp_path / "c.db"))
    groups = await backend.model_catalogue()
    assert [(g.provider, g.error) for g in groups] == [("default", None), ("router", None)]
    assert "llama3.1" in groups[0].models and "router/vendor/model-a" in groups[1].models
    assert "router/vendor/model-a" in await backend.list_models()

    router_url = router.base_url
    router.stop()  # the router goes down: only its conversations are affected
    fresh = LocalBackend(load_settings({"max_retries": 0, "request_timeout": 2}), Store.open(tmp_path / "d.db"))
    groups = await fresh.model_catalogue()
    assert groups[0].error is None and groups[1].error is not None
    assert groups[1].models == [] and groups[1].endpoint == router_url
    conversation_id = (await run(fresh.stream_reply(None, "still fine here")))[0].conversation.id
    assert isinstance((await run(fresh.stream_reply(conversation_id, "yes")))[-1], ReplyDone)
    await fresh.set_conversation_options(conversation_id, model="router/vendor/model-a", system_prompt=None)
    failed = (await run(fresh.stream_reply(conversation_id, "now?")))[-1]
    assert isinstance(failed, ReplyFailed)
    assert "provider 'router'" in failed.error.message  # the provider is named
    await backend.aclose()
    await fresh.aclose()


def test_config_shows_each_provider_its_key_masked_and_where_it_came_from(
    two_servers: tuple[FakeOpenAI, FakeOpenAI], monkeypatch: pytest.MonkeyPatch
) -> None:
    local, router = two_servers
    configure(local, router, monkeypatch)
    rows = {name: value for name, value, _ in effective_settings(load_settings())}
    assert rows["providers"] == "router"
    assert rows["providers.router"] == f"{router.base_url}  key: ...er (14 characters) from $ROUTER_API_KEY"
    assert "key-for-router" not in " ".join(rows.values())
