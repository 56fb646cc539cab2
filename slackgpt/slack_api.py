"""The one door to Slack: every Web API call the bot makes, file downloads, error codes.

Answers, start-up and ``--check`` all go through :class:`SlackApi`, so retries, budgets
and the reading of Slack's error codes live here and nowhere else. Every text the bot
writes passes :func:`~slackgpt.formatting.neutralize_pings` here: no route can ping
a crowd.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from .events import BotIdentity, Target, is_dm
from .files import Download
from .formatting import markdown_to_mrkdwn, neutralize_pings
from .quota import Quota
from .slack_files import download, is_file_host

log = logging.getLogger(__name__)

# Slack refuses a markdown block with one of these; the same text as mrkdwn still goes.
_BLOCK_ERRORS = frozenset({"invalid_blocks", "msg_blocks_too_long", "invalid_blocks_format"})
_READS = frozenset({"conversations.replies", "conversations.history", "users.info"})


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


class SlackApi:
    """The bot's Slack Web API: one keep-alive session, budgets, retries, every call."""

    def __init__(
        self, token: str, api_url: str, *, quota: Quota | None = None, timeout: float = 30.0
    ):
        self.token = token
        self.api_url = api_url
        self.quota = quota or Quota()
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None

    @property
    def client(self) -> AsyncWebClient:
        """The slack_sdk client this door uses (Bolt is handed the same one)."""
        return self._open()[0]

    def _open(self) -> tuple[AsyncWebClient, aiohttp.ClientSession]:
        if self._client is None or self._session is None:
            # One keep-alive connection pool for every call; without a session of its own
            # slack_sdk opens a new session, TCP and TLS connection per call (+2 round trips).
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
            self._client = AsyncWebClient(
                token=self.token,
                base_url=self.api_url,
                session=self._session,
                timeout=int(self.timeout),
                retry_handlers=[
                    AsyncConnectionErrorRetryHandler(max_retry_count=2),
                    _RateLimited(self.quota, max_retry_count=3),
                    AsyncServerErrorRetryHandler(max_retry_count=2),
                ],
            )
        return self._client, self._session

    async def close(self) -> None:
        """Release the connections."""
        session, self._session, self._client = self._session, None, None
        if session is not None:
            await session.close()

    async def call(self, method: str, *, prepaid: bool = False, **params: object) -> dict:
        """Call a Web API ``method`` within its budget (``prepaid``: already reserved); None
        values are left out. Raises SlackApiError."""
        params = {k: v for k, v in params.items() if v is not None}
        if not prepaid:
            channel = params.get("channel") or params.get("channel_id")
            await self.quota.take(method, str(channel) if channel else None)
        if method in _READS:
            response = await self.client.api_call(method, http_verb="GET", params=params)
        else:
            response = await self.client.api_call(method, json=params)
        return response.data if isinstance(response.data, dict) else {}

    # -- who the bot is --------------------------------------------------------------------

    async def whoami(self) -> Whoami:
        """``auth.test`` with the bot token. Raises TokenRejected or SlackUnreachable."""
        try:
            response = await self.client.auth_test()
        except SlackApiError as error:
            raise TokenRejected("SLACK_BOT_TOKEN", error_code(error)) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise SlackUnreachable(f"{type(error).__name__}: {error}") from None
        identity = BotIdentity(response["user_id"], response.get("bot_id"), response.get("user"))
        return Whoami(
            identity=identity,
            team=response.get("team"),
            team_id=response.get("team_id"),
            is_bot=bool(response.get("bot_id")),
            scopes=response.headers.get("x-oauth-scopes"),
        )

    async def socket_url(self, app_token: str) -> str:
        """A Socket Mode URL from ``apps.connections.open`` (app-level token)."""
        try:
            response = await self.client.apps_connections_open(app_token=app_token)
        except SlackApiError as error:
            raise TokenRejected("SLACK_APP_TOKEN", error_code(error)) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise SlackUnreachable(f"{type(error).__name__}: {error}") from None
        return str(response["url"])

    # -- reading ---------------------------------------------------------------------------

    async def thread(self, channel: str, thread_ts: str) -> list[dict]:
        """All messages of a thread, root first, following every page."""
        messages: list[dict] = []
        cursor: str | None = None
        while True:
            page = await self.call(
                "conversations.replies", channel=channel, ts=thread_ts, limit=200, cursor=cursor
            )
            messages.extend(page.get("messages") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor or not page.get("has_more", True):
                return messages

    async def user_name(self, user: str) -> str | None:
        """How a person is called in Slack (display name, else real name), or None."""
        try:
            found = (await self.call("users.info", user=user)).get("user") or {}
        except SlackApiError as error:
            log.debug("users.info %s: %s", user, error_code(error))
            return None
        profile = found.get("profile") or {}
        for name in (profile.get("display_name"), profile.get("real_name"), found.get("name")):
            if isinstance(name, str) and name.strip():
                return name.strip()
        return None

    # -- signs -----------------------------------------------------------------------------

    async def claim(self, channel: str, ts: str, reaction: str) -> bool:
        """Add the bot's ``reaction``; False when the bot had already reacted (a claim taken).

        Any other failure returns True: the sign is lost, not the answer.
        """
        try:
            await self.call("reactions.add", channel=channel, timestamp=ts, name=reaction)
        except SlackApiError as error:
            if error_code(error) == "already_reacted":
                return False
            log.warning("could not claim %s with a reaction: %s", ts, error_code(error))
        return True

    async def set_status(self, target: Target, status: str) -> None:
        """The "is thinking…" line under a thread (cosmetic: failures are only logged)."""
        try:
            await self.call(
                "assistant.threads.setStatus",
                channel_id=target.channel,
                thread_ts=target.thread_ts,
                status=status,
            )
        except SlackApiError as error:
            log.debug("assistant.threads.setStatus: %s", error_code(error))

    # -- writing ---------------------------------------------------------------------------

    async def post_text(self, target: Target, text: str) -> str:
        """Post plain mrkdwn ``text`` in the thread; returns the new message's ts."""
        response = await self.call(
            "chat.postMessage",
            channel=target.channel,
            thread_ts=target.thread_ts,
            text=neutralize_pings(text),
        )
        return str(response["ts"])

    async def post_markdown(self, target: Target, markdown: str) -> str:
        """Post Markdown in the thread (a markdown block, or mrkdwn where blocks are refused)."""
        where = {"channel": target.channel, "thread_ts": target.thread_ts}
        response = await self._with_fallback("chat.postMessage", markdown, where)
        return str(response["ts"])

    async def update_markdown(
        self, channel: str, ts: str, markdown: str, *, prepaid: bool = False
    ) -> None:
        """Replace a message's text with ``markdown`` (same fallback as posting)."""
        where = {"channel": channel, "ts": ts}
        await self._with_fallback("chat.update", markdown, where, prepaid=prepaid)

    async def reserve_stream(self) -> bool:
        """Reserve a stream's start and stop (both Tier 2) if the budget has them now."""
        quota = self.quota
        if not (await quota.available("chat.startStream") and await quota.available(
            "chat.stopStream"
        )):
            return False
        return await quota.reserve("chat.startStream") and await quota.reserve("chat.stopStream")

    async def start_stream(self, target: Target, markdown: str, *, prepaid: bool = False) -> str:
        """Start a streamed message with its first text; returns its ts."""
        in_channel = not is_dm(target.channel)
        response = await self.call(
            "chat.startStream",
            prepaid=prepaid,
            channel=target.channel,
            thread_ts=target.thread_ts,
            markdown_text=neutralize_pings(markdown),
            recipient_user_id=target.user if in_channel else None,
            recipient_team_id=target.team if in_channel else None,
        )
        return str(response["ts"])

    async def append_stream(self, channel: str, ts: str, markdown: str) -> None:
        """Add text to a streaming message."""
        text = neutralize_pings(markdown)
        await self.call("chat.appendStream", channel=channel, ts=ts, markdown_text=text)

    async def stop_stream(
        self, channel: str, ts: str, markdown: str | None = None, *, prepaid: bool = False
    ) -> None:
        """End a streaming message, with its last text when given."""
        text = neutralize_pings(markdown) if markdown else None
        await self.call(
            "chat.stopStream", prepaid=prepaid, channel=channel, ts=ts, markdown_text=text
        )

    async def _with_fallback(
        self, method: str, markdown: str, where: dict, *, prepaid: bool = False
    ) -> dict:
        markdown = neutralize_pings(markdown)
        text = markdown_to_mrkdwn(markdown)
        try:
            blocks = [{"type": "markdown", "text": markdown}]
            return await self.call(method, prepaid=prepaid, **where, text=text, blocks=blocks)
        except SlackApiError as error:
            if error_code(error) not in _BLOCK_ERRORS:
                raise
            log.info("markdown block refused (%s); sending mrkdwn text", error_code(error))
            return await self.call(method, **where, text=text)

    # -- files -----------------------------------------------------------------------------

    def is_file_host(self, url: str) -> bool:
        """True for Slack's own file hosts (https ``*.slack.com``) and SLACK_API_URL's host."""
        return is_file_host(url, self.api_url)

    async def download(self, url: str, limit: int) -> Download:
        """A private file's bytes, read to the end or to ``limit`` bytes, whichever is first;
        the bot token goes only to Slack's file hosts (:mod:`slack_files`)."""
        return await download(self._open()[1], self.token, self.api_url, url, limit)
