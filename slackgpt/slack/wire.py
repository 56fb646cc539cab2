"""How the door talks to Slack: the slack_sdk client, its session and retries, and what
Slack's answers mean (error codes, refused tokens, who the bot is)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from slackgpt.config.settings import SLACK_APPS_URL
from slackgpt.slack.events import BotIdentity
from slackgpt.slack.quota import Quota


def error_code(error: BaseException) -> str:
    """Slack's error code (``already_reacted``, ``ratelimited``, …) of a failed call."""
    response = getattr(error, "response", None)
    try:
        return str(response.get("error")) if response is not None else str(error)
    except AttributeError:
        return str(error)


class TokenRejected(Exception):
    """Slack refused ``variable`` (``SLACK_BOT_TOKEN`` or ``SLACK_APP_TOKEN``) with ``code``."""

    def __init__(self, variable: str, code: str):
        super().__init__(f"Slack rejected {variable}: {code}")
        self.variable, self.code = variable, code


class NameUnknown(Exception):
    """A person's name cannot be told now (budget spent, or Slack failed): ask again later."""


class SlackUnreachable(Exception):
    """Slack could not be reached at all (network, DNS, proxy, a wrong SLACK_API_URL)."""


@dataclass(frozen=True)
class Whoami:
    """What ``auth.test`` said: the bot's identity, workspace and granted scopes."""

    identity: BotIdentity
    team: str | None
    team_id: str | None
    is_bot: bool
    scopes: str | None  # the x-oauth-scopes header, comma-separated

    @classmethod
    def of(cls, data: dict, headers: Mapping[str, str]) -> Whoami:
        """From ``auth.test``'s answer and headers."""
        identity = BotIdentity(data["user_id"], data.get("bot_id"), data.get("user"))
        team, team_id = data.get("team"), data.get("team_id")
        scopes = headers.get("x-oauth-scopes")
        return cls(identity, team, team_id, is_bot=bool(data.get("bot_id")), scopes=scopes)


class _RateLimited(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 retry (after Retry-After), telling the quota first."""

    def __init__(self, quota: Quota, max_retry_count: int):
        super().__init__(max_retry_count=max_retry_count)
        self.quota = quota

    async def prepare_for_next_attempt_async(self, *, state, request, response=None, error=None):
        if response is not None:
            after = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), 1)
            method = request.url.rsplit("/", 1)[-1].split("?")[0]
            self.quota.penalize(method, float(after[0] if isinstance(after, list) else after))
        await super().prepare_for_next_attempt_async(
            state=state, request=request, response=response, error=error
        )


def web_client(
    token: str, api_url: str, quota: Quota, timeout: float
) -> tuple[aiohttp.ClientSession, AsyncWebClient]:
    """A slack_sdk client with one keep-alive session, retrying connection errors, 5xx and
    429s (after ``Retry-After``, telling ``quota``).

    Without a session of its own slack_sdk opens a new session, TCP and TLS connection per
    call (+2 round trips).
    """
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
        timeout=aiohttp.ClientTimeout(total=timeout),
    )
    client = AsyncWebClient(
        token=token,
        base_url=api_url,
        session=session,
        timeout=int(timeout),
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            _RateLimited(quota, max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )
    return session, client


def slack_token_fix(variable: str, code: str) -> str:
    """What to do when Slack refuses ``SLACK_BOT_TOKEN`` or ``SLACK_APP_TOKEN`` with ``code``."""
    app = f"{SLACK_APPS_URL} → your app →"
    if variable == "SLACK_BOT_TOKEN":
        where = f"{app} OAuth & Permissions → Bot User OAuth Token (xoxb-…)"
    else:
        where = f"{app} Basic Information → App-Level Tokens (xapp-…, scope connections:write)"
    if code == "not_allowed_token_type":
        return f"Are SLACK_BOT_TOKEN and SLACK_APP_TOKEN swapped? {variable} is at {where}."
    if code == "account_inactive":
        return f"The app was uninstalled: reinstall it ({app} Install App), then copy {where}."
    unknown_token = code in ("invalid_auth", "not_authed", "token_revoked")
    if variable == "SLACK_APP_TOKEN" and not unknown_token:
        return f"Socket Mode must be enabled: {app} Settings → Socket Mode → Enable Socket Mode."
    return f"Copy {variable} again from {where}; reinstall the app if it was changed."
