"""The model clients answers use: the settings' own, and one for each profile that names
another model, server, key or output limit.

A profile's client is made the first time a question needs it and kept (a handful at most:
one per distinct choice the profiles ever made); profiles on the same server and key share
one connection pool, the settings' own included. A profile's key variable was checked when
its file was read; should it be gone since, the server refuses the request and the asker is
told, as for any refused key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import openai

from slackgpt.config.profiles import Profile, inherit
from slackgpt.config.settings import Settings
from slackgpt.model.client import ModelClient, build_openai_client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Choice:
    """What a profile asks of the model: None leaves the settings' value."""

    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    max_output_tokens: int | None = None

    @classmethod
    def of(cls, profile: Profile) -> Choice:
        return cls(profile.model, profile.base_url, profile.api_key_env,
                   profile.max_output_tokens)


class Models:
    """The settings' model client, and the profiles' own, made when first needed."""

    def __init__(
        self,
        default: ModelClient,
        settings: Settings,
        environ: Mapping[str, str],
        make: Callable[[Settings], openai.AsyncOpenAI] = build_openai_client,
    ):
        self.default, self.settings, self.environ, self.make = default, settings, environ, make
        self._clients: dict[Choice, ModelClient] = {}
        self._own = (settings.openai_base_url, "OPENAI_API_KEY")  # the settings' pool
        self._pools: dict[tuple[str | None, str], openai.AsyncOpenAI] = {
            self._own: default.client
        }

    def for_profile(self, profile: Profile) -> ModelClient:
        """The model client for ``profile`` (the settings' own when it changes nothing)."""
        choice = normal(Choice.of(profile), self.settings)
        if choice == Choice():
            return self.default
        client = self._clients.get(choice)
        if client is None:
            client = self._clients[choice] = self._client(choice)
            client.named = _named(choice, profile.name)
            log.info("profile %s answers with %s at %s", profile.name, client.model_name,
                     client.where)
        return client

    async def close(self) -> None:
        """Release every connection pool (the settings' own included)."""
        await self.default.close()
        for key, pool in self._pools.items():
            if key != self._own:
                await pool.close()
        self._clients.clear()
        self._pools.clear()

    def _client(self, choice: Choice) -> ModelClient:
        settings = settings_for(choice, self.settings, self.environ)
        pool_key = (settings.openai_base_url, choice.api_key_env or "OPENAI_API_KEY")
        pool = self._pools.get(pool_key)
        if pool is None:
            pool = self._pools[pool_key] = self.make(settings)
        return ModelClient(pool, settings)


def normal(choice: Choice, settings: Settings) -> Choice:
    """``choice`` with what equals the settings' value left out, so that a profile that
    restates them shares the settings' client."""
    same = {
        "model": choice.model == settings.openai_model,
        "base_url": choice.base_url == settings.openai_base_url,
        "api_key_env": choice.api_key_env == "OPENAI_API_KEY",
        "max_output_tokens": choice.max_output_tokens == settings.max_completion_tokens,
    }
    return replace(choice, **{name: None for name, equal in same.items() if equal})


def settings_for(choice: Choice, settings: Settings, environ: Mapping[str, str]) -> Settings:
    """The settings with a profile's choices in them (its key read from ``environ``)."""
    changes: dict[str, object] = {}
    if choice.model:
        changes["openai_model"] = choice.model
    if choice.base_url:
        changes["openai_base_url"] = choice.base_url
    if choice.max_output_tokens:
        changes["max_completion_tokens"] = choice.max_output_tokens
    if choice.api_key_env:
        changes["openai_api_key"] = environ.get(choice.api_key_env, "")
    return replace(settings, **changes)


def profile_models(
    settings: Settings, environ: Mapping[str, str]
) -> list[tuple[tuple[str, ...], Settings]]:
    """Each model the profiles ask for besides the settings' own, with the names of the
    profiles that ask for it (what ``--check`` tries)."""
    profiles = settings.profiles
    users: dict[Choice, list[str]] = {}
    for profile in (profiles.default, *(inherit(profiles.default, p) for p in profiles.named)):
        choice = normal(Choice.of(profile), settings)
        if choice != Choice():
            users.setdefault(choice, []).append(profile.name)
    return [(tuple(names), settings_for(choice, settings, environ))
            for choice, names in users.items()]


def _named(choice: Choice, profile: str) -> dict[str, str]:
    """Where the profile's values come from, by the setting each replaces (a failure's fix
    names what the admin should check: the profile, not OPENAI_BASE_URL)."""
    where = f"profiles.{profile} in PROFILES_FILE"
    named = {}
    if choice.base_url:
        named["OPENAI_BASE_URL"] = f"the base_url of {where}"
    if choice.model:
        named["OPENAI_MODEL"] = f"the model of {where}"
    if choice.api_key_env:
        named["OPENAI_API_KEY"] = f"{choice.api_key_env} (the api_key_env of {where})"
    return named
