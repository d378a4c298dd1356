"""Several endpoints at once: OpenAI, a local Ollama or llama.cpp, OpenRouter...

The top-level `api_key`/`base_url` (or OPENAI_*) settings are the default provider,
so nothing changes for a user with one endpoint. Each `[providers.NAME]` table adds
one; its models are named `NAME/MODEL`. Model ids contain slashes of their own
(`vendor/model-a`), so a prefix is split off only when it names a configured provider;
any other name goes, whole, to the default provider.

Every provider has its own ModelClient, so a request carries that provider's URL, key
and headers only: a key is never sent to another provider's endpoint.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codhechat.errors import CodheError
from codhechat.llm import ModelClient
from codhechat.models import ProviderModels

if TYPE_CHECKING:
    from codhechat.config import Settings

DEFAULT = "default"  # what `codhechat models` calls the default provider
LIST_TIMEOUT_S = 5.0  # `codhechat models` and F5: a provider that is down must not hold up the rest


@dataclass(frozen=True, slots=True)
class Route:
    """Where a model name goes: its provider (None: the default one) and its name there."""

    provider: str | None
    model: str
    client: ModelClient


class Providers:
    def __init__(self, settings: Settings, default: ModelClient | None = None) -> None:
        self.settings = settings
        self.default = default or ModelClient(
            api_key=settings.api_key.get_secret_value() if settings.api_key else None,
            base_url=settings.base_url,
            timeout=settings.request_timeout,
            max_retries=settings.max_retries,
        )
        self._clients: dict[str, ModelClient] = {}
        self._listed: dict[str | None, ProviderModels] = {}  # the answers, kept for the session

    @property
    def names(self) -> list[str]:
        return sorted(self.settings.providers)

    def client(self, provider: str | None) -> ModelClient:
        if provider is None:
            return self.default
        if provider not in self._clients:
            config = self.settings.providers[provider]
            key, _ = config.key()
            self._clients[provider] = ModelClient(
                api_key=key, base_url=config.base_url, timeout=self.settings.request_timeout,
                max_retries=self.settings.max_retries, provider=provider, headers=config.headers,
                models=config.models,
            )  # fmt: skip
        return self._clients[provider]

    def route(self, model: str) -> Route:
        prefix, slash, rest = model.partition("/")
        if slash and rest and prefix in self.settings.providers:
            return Route(prefix, rest, self.client(prefix))
        return Route(None, model, self.default)

    def full_name(self, route: Route, model: str | None = None) -> str:
        """The name a reply is labelled with: as chosen, with the model the endpoint named."""
        name = model or route.model
        return f"{route.provider}/{name}" if route.provider else name

    async def catalogue(self) -> list[ProviderModels]:
        """Every provider's models, asked at once with a short timeout. A provider's list is
        kept for the session once it answered; one that did not is asked again next time."""
        providers = [None, *self.names]
        missing = [p for p in providers if p not in self._listed]
        answers = dict(zip(missing, await asyncio.gather(*(self._models_of(p) for p in missing)), strict=True))
        self._listed |= {p: listed for p, listed in answers.items() if listed.error is None}
        return [self._listed.get(p) or answers[p] for p in providers]

    async def _models_of(self, provider: str | None) -> ProviderModels:
        client = self.client(provider)
        name = provider or DEFAULT
        try:
            async with asyncio.timeout(LIST_TIMEOUT_S):
                models = await client.list_models()
        except TimeoutError:
            return ProviderModels(name, client.endpoint, [], f"did not answer within {LIST_TIMEOUT_S:g} s")
        except CodheError as exc:
            return ProviderModels(name, client.endpoint, [], exc.message)
        full = [f"{provider}/{m}" if provider else m for m in models]
        return ProviderModels(name, client.endpoint, full)

    def replace_default(self, client: ModelClient) -> None:
        self.default = client

    async def aclose(self) -> None:
        for client in [self.default, *self._clients.values()]:
            await client.aclose()
