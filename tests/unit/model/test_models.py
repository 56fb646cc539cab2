"""Which model client a profile's question gets: the settings' own, or one made for the
profile (its model, server, key and output limit), sharing connections where it can."""

from __future__ import annotations

import pytest

from fakes.openai import Reply
from slackgpt.config.profiles import Profile
from slackgpt.model.client import ModelClient, build_openai_client
from slackgpt.model.models import Models


@pytest.fixture
def made() -> list[str | None]:
    """The base URL of every connection pool the models made."""
    return []


@pytest.fixture
async def models(settings, made):
    def make(changed):
        made.append(changed.openai_base_url)
        return build_openai_client(changed)

    default = ModelClient(build_openai_client(settings), settings)
    models = Models(default, settings, {"TEAM_KEY": "sk-team-1234"}, make)
    yield models
    await models.close()


async def test_a_profile_that_changes_nothing_gets_the_settings_client(models, made, settings):
    restated = Profile(model=settings.openai_model, api_key_env="OPENAI_API_KEY")
    assert models.for_profile(Profile()) is models.default
    assert models.for_profile(restated) is models.default
    assert made == []


async def test_a_profile_on_the_same_server_shares_its_connections(models, made):
    mini = models.for_profile(Profile(name="a", model="gpt-test-mini", max_output_tokens=50))
    assert mini is models.for_profile(Profile(name="b", model="gpt-test-mini",
                                              max_output_tokens=50))  # made once, kept
    assert (mini.model_name, mini.params["max_completion_tokens"]) == ("gpt-test-mini", 50)
    assert mini.client is models.default.client and made == []


async def test_a_profile_with_its_own_server_and_key_asks_there(models, made):
    own = models.for_profile(Profile(base_url="http://127.0.0.1:9/v1", api_key_env="TEAM_KEY"))
    assert made == ["http://127.0.0.1:9/v1"]
    assert own.client is not models.default.client and own.client.api_key == "sk-team-1234"
    assert own.where.startswith("http://127.0.0.1:9")


async def test_the_profiles_client_streams_from_the_model(models, llm):
    llm.script(Reply(text="Hi from mini."))
    mini = models.for_profile(Profile(model="gpt-test-mini"))
    words = [piece async for piece in mini.stream([{"role": "user", "content": "hi"}])
             if isinstance(piece, str)]
    assert "".join(words) == "Hi from mini." and llm.requests[0]["model"] == "gpt-test-mini"
