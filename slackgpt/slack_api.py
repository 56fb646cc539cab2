"""The one door to Slack: every Web API call the bot makes, file downloads, error codes.

Answers, start-up and ``--check`` all go through :class:`SlackApi`, so retries, budgets
and the reading of Slack's error codes live here and nowhere else. Every text the bot
writes passes :func:`~slackgpt.formatting.neutralize_broadcasts` here: no route can ping
a crowd.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

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
from .formatting import markdown_to_mrkdwn, neutralize_broadcasts

log = logging.getLogger(__name__)

# Slack refuses a markdown block with one of these; the same text as mrkdwn still goes.
_BLOCK_ERRORS = frozenset({"invalid_blocks", "msg_blocks_too_long", "invalid_blocks_format"})
_READS = frozenset({"conversations.replies", "conversations.history", "users.info"})
_SLACK_FILE_DOMAINS = (".slack.com", ".slack-gov.com")
_MAX_REDIRECTS = 3
_READ_CHUNK = 64 * 1024


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


class ForeignFileHost(Exception):
    """A file URL outside Slack's file hosts: the bot token is never sent there."""


@dataclass(frozen=True)
class Whoami:
    """What ``auth.test`` said: the bot's identity, workspace and granted scopes."""

    identity: BotIdentity
    team: str | None
    team_id: str | None
    is_bot: bool
    scopes: str | None  # the x-oauth-scopes header, comma-separated


class SlackApi:
    """The bot's Slack Web API: one keep-alive session, retries, one place for every call."""

    def __init__(self, token: str, api_url: str, *, timeout: float = 30.0):
        self.token = token
        self.api_url = api_url
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
                    AsyncRateLimitErrorRetryHandler(max_retry_count=3),
                    AsyncServerErrorRetryHandler(max_retry_count=2),
                ],
            )
        return self._client, self._session

    async def close(self) -> None:
        """Release the connections."""
        session, self._session, self._client = self._session, None, None
        if session is not None:
            await session.close()

    async def call(self, method: str, **params: object) -> dict:
        """Call a Web API ``method``; None values are left out. Raises SlackApiError."""
        params = {k: v for k, v in params.items() if v is not None}
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

    async def history(self, channel: str, limit: int) -> list[dict]:
        """A channel's latest ``limit`` top-level messages, newest first: one page, no more."""
        page = await self.call("conversations.history", channel=channel, limit=limit)
        return list(page.get("messages") or [])

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

    async def set_suggested_prompts(
        self, channel: str, thread_ts: str, prompts: list[dict], title: str | None = None
    ) -> None:
        """The prompts (``{"title", "message"}``, up to four) offered in an AI-pane thread."""
        where = {"channel_id": channel, "thread_ts": thread_ts, "title": title}
        await self.call("assistant.threads.setSuggestedPrompts", **where, prompts=prompts)

    async def set_title(self, channel: str, thread_ts: str, title: str) -> None:
        """Name an AI-pane thread (its entry in the pane's history)."""
        title = neutralize_broadcasts(title)
        await self.call(
            "assistant.threads.setTitle", channel_id=channel, thread_ts=thread_ts, title=title
        )

    # -- writing ---------------------------------------------------------------------------

    async def post_text(self, target: Target, text: str) -> str:
        """Post plain mrkdwn ``text`` in the thread; returns the new message's ts."""
        response = await self.call(
            "chat.postMessage",
            channel=target.channel,
            thread_ts=target.thread_ts,
            text=neutralize_broadcasts(text),
        )
        return str(response["ts"])

    async def post_ephemeral(self, target: Target, text: str) -> None:
        """Post mrkdwn ``text`` in the thread that only ``target.user`` sees."""
        where = {"channel": target.channel, "user": target.user, "thread_ts": target.thread_ts}
        await self.call("chat.postEphemeral", **where, text=neutralize_broadcasts(text))

    async def respond(self, response_url: str, text: str) -> None:
        """Answer an interaction through its ``response_url``, seen only by the person who
        acted (no token is sent; a failure is logged, not raised)."""
        body = {"text": neutralize_broadcasts(text), "response_type": "ephemeral"}
        try:
            async with self._open()[1].post(response_url, json=body) as response:
                response.raise_for_status()
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("could not answer through the response_url: %s", error)

    async def post_markdown(
        self, target: Target, markdown: str, blocks: list[dict] | None = None
    ) -> str:
        """Post Markdown in the thread (a markdown block, or mrkdwn where blocks are refused),
        followed by ``blocks`` (e.g. feedback buttons) when given."""
        where = {"channel": target.channel, "thread_ts": target.thread_ts}
        response = await self._with_fallback("chat.postMessage", markdown, where, blocks)
        return str(response["ts"])

    async def update_markdown(
        self, channel: str, ts: str, markdown: str, blocks: list[dict] | None = None
    ) -> None:
        """Replace a message's text with ``markdown`` (same fallback and blocks as posting)."""
        where = {"channel": channel, "ts": ts}
        await self._with_fallback("chat.update", markdown, where, blocks)

    async def start_stream(self, target: Target, markdown: str) -> str:
        """Start a streamed message with its first text; returns its ts."""
        in_channel = not is_dm(target.channel)
        response = await self.call(
            "chat.startStream",
            channel=target.channel,
            thread_ts=target.thread_ts,
            markdown_text=neutralize_broadcasts(markdown),
            recipient_user_id=target.user if in_channel else None,
            recipient_team_id=target.team if in_channel else None,
        )
        return str(response["ts"])

    async def append_stream(self, channel: str, ts: str, markdown: str) -> None:
        """Add text to a streaming message."""
        text = neutralize_broadcasts(markdown)
        await self.call("chat.appendStream", channel=channel, ts=ts, markdown_text=text)

    async def stop_stream(
        self, channel: str, ts: str, markdown: str | None = None, blocks: list[dict] | None = None
    ) -> None:
        """End a streaming message, with its last text and ``blocks`` when given (blocks that
        Slack refuses are left out, never the text)."""
        text = neutralize_broadcasts(markdown) if markdown else None
        where = {"channel": channel, "ts": ts, "markdown_text": text}
        try:
            await self.call("chat.stopStream", **where, blocks=blocks or None)
        except SlackApiError as error:
            if not blocks or error_code(error) not in _BLOCK_ERRORS:
                raise
            log.info("blocks refused at the end of a stream (%s)", error_code(error))
            await self.call("chat.stopStream", **where)

    async def _with_fallback(
        self, method: str, markdown: str, where: dict, extra: list[dict] | None = None
    ) -> dict:
        """Markdown block and ``extra`` blocks; then the markdown block; then mrkdwn text
        (clearing an updated message's blocks: Slack keeps blocks an update leaves out)."""
        markdown = neutralize_broadcasts(markdown)
        text = markdown_to_mrkdwn(markdown)
        block = {"type": "markdown", "text": markdown}
        for blocks in ([block, *extra], [block]) if extra else ([block],):
            try:
                return await self.call(method, **where, text=text, blocks=blocks)
            except SlackApiError as error:
                if error_code(error) not in _BLOCK_ERRORS:
                    raise
                log.info("%d block(s) refused (%s)", len(blocks), error_code(error))
        none: dict = {"blocks": []} if method == "chat.update" else {}  # else the old ones stay
        return await self.call(method, **where, text=text, **none)

    # -- files -----------------------------------------------------------------------------

    def is_file_host(self, url: str) -> bool:
        """True for Slack's own file hosts (https ``*.slack.com``) and SLACK_API_URL's host."""
        parts, api = urlsplit(url), urlsplit(self.api_url)
        if (parts.scheme, parts.netloc) == (api.scheme, api.netloc):
            return True
        host = (parts.hostname or "").lower()
        return parts.scheme == "https" and host.endswith(_SLACK_FILE_DOMAINS)

    async def download(self, url: str, limit: int) -> Download:
        """A private file's bytes, read to the end or to ``limit`` bytes, whichever is first.

        The bot token goes only to Slack's file hosts, redirects included; anything else
        raises ForeignFileHost before a byte is sent.
        """
        session = self._open()[1]
        headers = {"Authorization": f"Bearer {self.token}"}
        for _ in range(_MAX_REDIRECTS + 1):
            if not self.is_file_host(url):
                raise ForeignFileHost(urlsplit(url).netloc)
            async with session.get(url, headers=headers, allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                    url = urljoin(url, response.headers["Location"])
                    continue
                response.raise_for_status()
                return await _read_capped(response.content, limit)
        raise aiohttp.ClientError(f"more than {_MAX_REDIRECTS} redirects")


async def _read_capped(stream: aiohttp.StreamReader, limit: int) -> Download:
    """Read ``stream`` to its end or to ``limit`` bytes, whichever comes first."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream.iter_chunked(_READ_CHUNK):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return Download(b"".join(chunks)[:limit], complete=False)
    return Download(b"".join(chunks), complete=True)
