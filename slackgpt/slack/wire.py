"""How the door talks to Slack: the slack_sdk client, its session and retries, and what
Slack's answers mean (error codes, refused tokens, who the bot is)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from slackgpt.config.settings import SLACK_APPS_URL
from slackgpt.slack.events import BotIdentity
from slackgpt.slack.quota import Quota

log = logging.getLogger(__name__)


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


class _Client(AsyncWebClient):
    """slack_sdk's client, telling the metrics (``quota.metrics``) of each call's last HTTP
    exchange (the retried ones are told by the retry handlers below)."""

    def __init__(self, quota: Quota, **options: Any):
        super().__init__(**options)
        self.quota = quota

    async def api_call(self, api_method: str, **options: Any) -> AsyncSlackResponse:
        status = 0  # no answer (a connection error, a timeout)
        try:
            response = await super().api_call(api_method, **options)
            status = response.status_code
            return response
        except SlackApiError as error:
            status = error.response.status_code
            raise
        finally:
            self.quota.metrics.slack_call(api_method, status)


class _Counted:
    """A retry handler that tells the metrics of the attempt it retries."""

    def __init__(self, quota: Quota, max_retry_count: int):
        super().__init__(max_retry_count=max_retry_count)  # type: ignore[call-arg]
        self.quota = quota

    async def prepare_for_next_attempt_async(self, *, state, request, response=None, error=None):
        status = response.status_code if response is not None else 0
        self.quota.metrics.slack_call(request.url.rsplit("/", 1)[-1].split("?")[0], status)
        await super().prepare_for_next_attempt_async(  # type: ignore[misc]
            state=state, request=request, response=response, error=error
        )


class _ConnectionRetry(_Counted, AsyncConnectionErrorRetryHandler):
    """slack_sdk's retry after a connection error, counted."""


class _ServerRetry(_Counted, AsyncServerErrorRetryHandler):
    """slack_sdk's retry after a 5xx, counted."""


class _RateLimited(_Counted, AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 retry (after Retry-After), telling the quota first."""

    async def prepare_for_next_attempt_async(self, *, state, request, response=None, error=None):
        if response is not None:
            after = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), 1)
            method = request.url.rsplit("/", 1)[-1].split("?")[0]
            self.quota.penalize(method, float(after[0] if isinstance(after, list) else after))
        await super().prepare_for_next_attempt_async(
            state=state, request=request, response=response, error=error
        )


async def walk(
    call: Callable[..., Awaitable[dict]], method: str, key: str, most: int, **params: object
) -> list:
    """Every page's ``key`` items of ``call(method, …)``, following Slack's cursors up to
    ``most`` items (``prepaid=True`` among ``params`` counts for the first page only)."""
    found: list = []
    cursor: str | None = None
    while len(found) < most:
        page = await call(method, **params, cursor=cursor)
        params.pop("prepaid", None)
        found += page.get(key) or []
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor or page.get("has_more") is False:
            break
    return found


async def respond(session: aiohttp.ClientSession, response_url: str, text: str) -> None:
    """Answer an interaction through its ``response_url``, seen only by the person who acted
    (no token is sent; a failure is logged, not raised)."""
    body = {"text": text, "response_type": "ephemeral"}
    try:
        async with session.post(response_url, json=body) as response:
            response.raise_for_status()
    except (aiohttp.ClientError, TimeoutError) as error:
        log.warning("could not answer through the response_url: %s", error)


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
    client = _Client(
        quota,
        token=token,
        base_url=api_url,
        session=session,
        timeout=int(timeout),
        retry_handlers=[
            _ConnectionRetry(quota, max_retry_count=2),
            _RateLimited(quota, max_retry_count=3),
            _ServerRetry(quota, max_retry_count=2),
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
