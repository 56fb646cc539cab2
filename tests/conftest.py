"""Shared fixtures: a fake Slack, a fake OpenAI, and the real bot wired to both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace

import pytest

from fakes.mcp_server import McpHttpServer
from fakes.openai import FakeOpenAI
from fakes.redis_server import redis_server
from fakes.slack import FakeSlack
from slackgpt.config.settings import Settings, load_settings
from slackgpt.runtime import Runtime, build_runtime
from slackgpt.slack.api import SlackApi
from slackgpt.slack.quota import Quota
from tests.helpers import MCP_TOKEN, env_for


@pytest.fixture(autouse=True)
def own_state_home(tmp_path_factory, monkeypatch) -> None:
    """Each test's bot keeps its usage file in a folder of its own (never the user's)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def door(slack: FakeSlack) -> AsyncIterator[SlackApi]:
    """The bot's Slack door (every Web API call it makes), pointed at the fake Slack."""
    api = SlackApi(slack.bot_token, slack.api_url)
    yield api
    await api.close()


@pytest.fixture
def settings(slack: FakeSlack, llm: FakeOpenAI) -> Settings:
    return load_settings(env_for(slack, llm))


@pytest.fixture
async def start_bot(settings: Settings) -> AsyncIterator[Callable[..., object]]:
    """Start the real bot (optionally with changed settings); every one is closed afterwards."""
    runtimes: list[Runtime] = []

    async def start(quota: Quota | None = None, **changes: object) -> Runtime:
        runtime = build_runtime(replace(settings, **changes))
        if quota is not None:  # Slack's budgets, shortened or tightened for the test
            runtime.slack.quota = quota
        runtimes.append(runtime)
        await runtime.start()
        return runtime

    yield start
    for runtime in runtimes:
        await runtime.close()


@pytest.fixture
async def bot(start_bot) -> Runtime:
    """The real bot, running against the fakes."""
    return await start_bot()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A fresh Redis-protocol server on 127.0.0.1 for this test (see fakes/redis_server.py)."""
    with redis_server() as server:
        yield server.url


@pytest.fixture
async def mcp_http() -> AsyncIterator[McpHttpServer]:
    """A real MCP server (the SDK's) over Streamable HTTP on 127.0.0.1, wanting the bearer
    token ``MCP_TOKEN`` (see fakes/mcp_server.py)."""
    async with McpHttpServer(token=MCP_TOKEN) as server:
        yield server
