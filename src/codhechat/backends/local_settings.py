"""Local mode's settings: given whole (the shell commands, the tests) or as
DeferredSettings (`codhechat` itself, first_settings.py), whose first-frame part is all
the first frame needs and whose rest is loaded after it (`load_settings`, off the event
loop) or by the first call that needs it. A mixin of LocalBackend (backends/local.py)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from codhechat.errors import ConfigError
from codhechat.first_settings import DeferredSettings, FirstFrame
from codhechat.llm import ModelClient
from codhechat.providers import Providers

if TYPE_CHECKING:
    from codhechat.config import Settings


class LocalSettings:
    _deferred: DeferredSettings[Settings] | None
    _settings: Settings | None
    _client: ModelClient | None
    _providers: Providers | None

    @property
    def settings(self) -> Settings:
        """The whole settings: loaded here, at once, if load_settings() has not yet."""
        if self._settings is None:
            assert self._deferred is not None
            self._loaded(self._deferred.get())
        assert self._settings is not None
        return self._settings

    async def load_settings(self) -> list[str]:
        """Load the whole settings off the event loop (after the first frame); returns
        their warnings (ConfigError if they are invalid)."""
        if self._settings is None and self._deferred is not None:
            settings = await asyncio.to_thread(self._deferred.get)
            if self._settings is None:
                self._loaded(settings)
        return self.settings.warnings

    def _loaded(self, settings: Settings) -> None:
        if self._deferred is not None and FirstFrame.of(settings) != self._deferred.first:
            raise ConfigError(  # first_settings.py reads as pydantic-settings does (its tests say so)
                "The settings read for the first frame differ from the whole settings.",
                "Please report this, with `codhechat config`.",
            )
        self._settings = settings
        self._settings_loaded(settings)

    def _settings_loaded(self, settings: Settings) -> None:
        """What the backend makes of them (LocalBackend: the MCP tools' ability)."""

    @property
    def providers(self) -> Providers:
        """The endpoints (Providers), made from the settings when first needed."""
        if self._providers is None:
            self._providers = Providers(self.settings, self._client)
        return self._providers
