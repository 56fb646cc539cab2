"""The one door to Slack: every Web API call the bot makes, file downloads, error codes.

Answers, start-up and ``--check`` all go through :class:`SlackApi`, so retries, budgets
and the reading of Slack's error codes live here and nowhere else. Every text the bot
writes passes :func:`~slackgpt.formatting.neutralize_pings` here: no route can ping
a crowd.
"""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from slackgpt.config.settings import Settings
from slackgpt.deadline import deadline
from slackgpt.files.attachments import Download
from slackgpt.formatting import clip, markdown_to_mrkdwn, neutralize_pings
from slackgpt.slack.downloads import download
from slackgpt.slack.events import Target, is_dm
from slackgpt.slack.pacing import START, STOP, UPDATE, Pace
from slackgpt.slack.quota import Quota, budgets
from slackgpt.slack.tasks import safe_chunks
from slackgpt.slack.wire import (
    NameUnknown,
    SlackUnreachable,
    TokenRejected,
    Whoami,
    error_code,
    respond,
    walk,
    web_client,
)

log = logging.getLogger(__name__)

# Slack refuses a markdown block with one of these; the same text as mrkdwn still goes.
_BLOCK_ERRORS = frozenset({"invalid_blocks", "msg_blocks_too_long", "invalid_blocks_format"})
_READS = frozenset({"conversations.replies", "conversations.history", "conversations.info",
                    "conversations.members", "users.info"})
_NO_SUCH_USER = frozenset({"user_not_found", "user_not_visible"})
TEXT_LIMIT = 4_000  # chat.update refuses more (msg_too_long); beside blocks, a notification
# Links the model or a member wrote never unfurl into previews (nor fetch a URL for one).
_ALWAYS = {"chat.postMessage": {"unfurl_links": False, "unfurl_media": False}}
CLAIM_REACTION = "eyes"
CLAIM_PATIENCE = 2.0  # seconds the 👀 may take (Slack slow, a 429's Retry-After), then let go


class SlackApi:
    """The bot's Slack Web API: one keep-alive session, budgets, retries, every call."""

    def __init__(
        self, token: str, api_url: str, *, quota: Quota | None = None, timeout: float = 30.0
    ):
        self.token, self.api_url, self.timeout = token, api_url, timeout
        self.quota = quota or Quota()
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None

    @classmethod
    def for_settings(cls, settings: Settings, pool: object | None = None) -> SlackApi:
        """The door as the bot runs it: Slack's budgets, kept in the Redis behind ``pool``
        when REDIS_URL is set (copies share them), none with SLACK_RATE_LIMITS=false."""
        quota = budgets(settings.redis_url, pool, limited=settings.slack_rate_limits)
        return cls(settings.slack_bot_token, settings.slack_api_url, quota=quota)

    @property
    def client(self) -> AsyncWebClient:
        """The slack_sdk client this door uses (Bolt is handed the same one)."""
        return self._open()[0]

    def _open(self) -> tuple[AsyncWebClient, aiohttp.ClientSession]:
        if self._client is None or self._session is None:
            # One keep-alive connection pool for every call; without a session of its own
            # slack_sdk opens a new session, TCP and TLS connection per call (+2 round trips).
            self._session, self._client = web_client(self.token, self.api_url, self.quota,
                                                     self.timeout)
        return self._client, self._session

    async def close(self) -> None:
        """Release the connections."""
        session, self._session, self._client = self._session, None, None
        if session is not None:
            await session.close()

    def pace(self, base: float) -> Pace:
        """A pacing handle for one message the bot writes (see :class:`Pace`)."""
        return Pace(self.quota, base)

    async def call(self, method: str, *, prepaid: bool = False, **params: object) -> dict:
        """Call a Web API ``method`` within its budget (``prepaid``: already reserved, by this
        door); None values are left out. Raises SlackApiError."""
        params = {**_ALWAYS.get(method, {}), **{k: v for k, v in params.items() if v is not None}}
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
        return Whoami.of(response.data, response.headers)  # type: ignore[arg-type]

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

    async def user_name(self, user: str) -> str | None:
        """How a person is called in Slack (display name, else real name); None when Slack
        names nobody so. Raises NameUnknown when it cannot be told now: a name never waits
        for the ``users.info`` budget, and Slack's other errors are not an answer."""
        if not await self.quota.reserve("users.info"):
            raise NameUnknown("users.info is over its budget")
        try:
            found = (await self.call("users.info", prepaid=True, user=user)).get("user") or {}
        except SlackApiError as error:
            if error_code(error) in ("user_not_found", "user_not_visible"):
                return None
            raise NameUnknown(error_code(error)) from None
        profile = found.get("profile") or {}
        for name in (profile.get("display_name"), profile.get("real_name"), found.get("name")):
            if isinstance(name, str) and name.strip():
                return name.strip()
        return None

    async def conversation(self, channel: str) -> dict:
        """What kind of conversation ``channel`` is (``is_private``, ``is_mpim``…)."""
        return (await self.call("conversations.info", channel=channel)).get("channel") or {}

    async def members(self, channel: str, most: int = 5000) -> frozenset[str]:
        """The people in ``channel`` (at most ``most``: a private channel is rarely larger)."""
        where = {"channel": channel, "limit": 1000}
        return frozenset(await walk(self.call, "conversations.members", "members", most, **where))

    async def history(self, channel: str, limit: int) -> list[dict]:
        """A channel's latest ``limit`` top-level messages, newest first: one page, no more."""
        page = await self.call("conversations.history", channel=channel, limit=limit)
        return list(page.get("messages") or [])

    # -- signs -----------------------------------------------------------------------------

    async def claim(self, channel: str, ts: str) -> bool:
        """Claim a message with the bot's 👀, the claim every copy sees in Slack: False when
        the bot had already reacted (another copy, or an earlier delivery, has it).

        True otherwise, also when the 👀 cannot be added now: the ``reactions.add`` budget
        is spent, Slack takes over CLAIM_PATIENCE seconds, or it fails. The sign is lost,
        never the answer: an answer does not wait for it.
        """
        if not await self.quota.reserve("reactions.add"):
            log.info("no 👀 on %s/%s: reactions.add is over its budget", channel, ts)
            return True
        try:
            async with deadline(CLAIM_PATIENCE):
                return await self._react(channel, ts)
        except TimeoutError:
            log.warning("no 👀 on %s/%s: Slack did not answer in time", channel, ts)
            return True

    async def _react(self, channel: str, ts: str) -> bool:
        """The reserved ``reactions.add``; False for ``already_reacted``."""
        try:
            where = {"channel": channel, "timestamp": ts, "name": CLAIM_REACTION}
            await self.call("reactions.add", prepaid=True, **where)
        except SlackApiError as error:
            if error_code(error) == "already_reacted":
                return False
            log.warning("could not claim %s with a reaction: %s", ts, error_code(error))
        return True

    async def set_status(self, target: Target, status: str) -> None:
        """The "is thinking…" line under a thread (cosmetic: failures are only logged)."""
        where = {"channel_id": target.channel, "thread_ts": target.thread_ts}
        try:
            await self.call("assistant.threads.setStatus", **where, status=status)
        except SlackApiError as error:
            log.debug("assistant.threads.setStatus: %s", error_code(error))

    async def set_suggested_prompts(
        self, channel: str, thread_ts: str | None, prompts: list[dict], title: str | None = None
    ) -> None:
        """Up to four prompts (``{title, message}``) in a pane thread; no thread_ts: a DM."""
        where = {"channel_id": channel, "thread_ts": thread_ts, "title": title}
        await self.call("assistant.threads.setSuggestedPrompts", **where, prompts=prompts)

    async def set_title(self, channel: str, thread_ts: str, title: str) -> None:
        """Name an AI-pane thread (its entry in the pane's history)."""
        where = {"channel_id": channel, "thread_ts": thread_ts}
        await self.call("assistant.threads.setTitle", **where, title=neutralize_pings(title))

    # -- writing ---------------------------------------------------------------------------

    async def post_text(self, target: Target, text: str) -> str:
        """Post plain mrkdwn ``text`` in the thread; returns the new message's ts."""
        where = {"channel": target.channel, "thread_ts": target.thread_ts}
        response = await self.call("chat.postMessage", **where, text=neutralize_pings(text))
        return str(response["ts"])

    async def publish_home(self, user: str, view: dict) -> None:
        """Show ``view`` (a ``home`` view, its text escaped by its builder: a view pings no
        one, and mentions in it only name people) as ``user``'s Home tab."""
        await self.call("views.publish", user_id=user, view=view)

    async def post_ephemeral(
        self, target: Target, text: str, blocks: list[dict] | None = None
    ) -> None:
        """Post mrkdwn ``text`` (and the bot's ``blocks``) that only ``target.user`` sees."""
        where = {"channel": target.channel, "user": target.user, "thread_ts": target.thread_ts}
        await self.call("chat.postEphemeral", **where, text=neutralize_pings(text), blocks=blocks)

    async def respond(self, response_url: str, text: str) -> None:
        """Answer an interaction through its ``response_url``, seen only by the person who
        acted (no token is sent; a failure is logged, not raised)."""
        await respond(self._open()[1], response_url, neutralize_pings(text))

    async def post_markdown(
        self,
        target: Target,
        markdown: str,
        blocks: list[dict] | None = None,
        metadata: str | None = None,
    ) -> str:
        """Post Markdown in the thread (a markdown block, or mrkdwn where blocks are refused),
        followed by ``blocks`` (e.g. feedback buttons), with ``metadata`` when given."""
        where = {"channel": target.channel, "thread_ts": target.thread_ts, "metadata": metadata}
        response = await self._with_fallback("chat.postMessage", markdown, where, blocks)
        return str(response["ts"])

    async def update_markdown(
        self,
        channel: str,
        ts: str,
        markdown: str,
        blocks: list[dict] | None = None,
        *,
        pace: Pace | None = None,
        last: bool = False,
    ) -> None:
        """Replace a message's text with ``markdown`` (same fallback and blocks as posting).

        ``last``: the message's last text, carried by the update its ``pace`` holds, if any.
        """
        where = {"channel": channel, "ts": ts}
        held = last and pace is not None and pace.take(UPDATE)
        await self._with_fallback("chat.update", markdown, where, blocks, prepaid=held)

    async def start_stream(
        self, target: Target, markdown: str, *, pace: Pace | None = None, chunks: list | None = None
    ) -> str:
        """Start a streamed message with its first text, or ``chunks`` (tasks shown as a
        timeline), with the start ``pace`` holds (:meth:`Pace.hold_stream`); returns its ts."""
        in_channel = not is_dm(target.channel)
        response = await self.call(
            "chat.startStream",
            prepaid=pace is not None and pace.take(START),
            channel=target.channel,
            thread_ts=target.thread_ts,
            markdown_text=neutralize_pings(markdown) or None,
            chunks=safe_chunks(chunks),
            task_display_mode="timeline" if chunks else None,
            recipient_user_id=target.user if in_channel else None,
            recipient_team_id=target.team if in_channel else None,
        )
        return str(response["ts"])

    async def append_stream(
        self, channel: str, ts: str, markdown: str, chunks: list | None = None
    ) -> None:
        """Add text (or ``chunks``: text and tasks, in order) to a streaming message."""
        text, safe = neutralize_pings(markdown) or None, safe_chunks(chunks)
        await self.call("chat.appendStream", channel=channel, ts=ts, markdown_text=text,
                        chunks=safe)

    async def stop_stream(
        self, channel: str, ts: str, markdown: str | None = None, blocks: list | None = None,
        *, pace: Pace | None = None, metadata: str | None = None, chunks: list | None = None,
        session: str | None = None,  # the agent session's status after it (Slack: active)
    ) -> None:
        """End a streaming message, with its last text (or ``chunks``), ``blocks`` and
        ``metadata`` when given (blocks Slack refuses are left out, never the text); the stop
        ``pace`` holds, if any."""
        text = neutralize_pings(markdown) if markdown else None
        where = {"channel": channel, "ts": ts, "markdown_text": text, "metadata": metadata,
                 "session_status": session, "chunks": safe_chunks(chunks)}
        held = pace is not None and pace.take(STOP)
        try:
            await self.call("chat.stopStream", prepaid=held, **where, blocks=blocks or None)
        except SlackApiError as error:
            if not blocks or error_code(error) not in _BLOCK_ERRORS:
                raise
            log.info("blocks refused at the end of a stream (%s)", error_code(error))
            await self.call("chat.stopStream", **where)

    async def _with_fallback(
        self,
        method: str,
        markdown: str,
        where: dict,
        extra: list[dict] | None = None,
        *,
        prepaid: bool = False,
    ) -> dict:
        """Markdown block and ``extra`` blocks; then the markdown block; then mrkdwn text
        (an update's clears its blocks: Slack keeps blocks an update leaves out; and is cut to
        TEXT_LIMIT, as beside blocks). Only the first try may be ``prepaid``."""
        markdown = neutralize_pings(markdown)
        mrkdwn = markdown_to_mrkdwn(markdown)
        text = clip(mrkdwn, TEXT_LIMIT)  # the body rides in the block
        block = {"type": "markdown", "text": markdown}
        for blocks in ([block, *extra], [block]) if extra else ([block],):
            try:
                return await self.call(method, prepaid=prepaid, **where, text=text, blocks=blocks)
            except SlackApiError as error:
                if error_code(error) not in _BLOCK_ERRORS:
                    raise
                log.info("%d block(s) refused (%s)", len(blocks), error_code(error))
            prepaid = False
        last = {"text": text, "blocks": []} if method == "chat.update" else {"text": mrkdwn}
        return await self.call(method, **where, **last)

    async def download(self, url: str, limit: int) -> Download:
        """A private file's bytes, read to the end or to ``limit`` bytes, whichever is first;
        the bot token goes only to Slack's file hosts (:mod:`~slackgpt.slack.downloads`)."""
        return await download(self._open()[1], self.token, self.api_url, url, limit)
