"""FakeSlack: Slack's Web API (``/api/<method>``) and Socket Mode (``/link/``) in-process.

Point ``AsyncWebClient(base_url=slack.api_url)`` at it; ``apps.connections.open`` hands
out ``ws://`` URLs to the same aiohttp server on 127.0.0.1. The parts: the workspace
(:mod:`~fakes.slack.state`), the Web API door and its method table (:mod:`~fakes.slack.web_api`),
Socket Mode (:mod:`~fakes.slack.socket_mode`), file hosting (:mod:`~fakes.slack.files`); this
class wires them and offers the hooks tests and bench use.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from fakes.slack import agent_events, events, interactions, reference, views
from fakes.slack.files import FileHost
from fakes.slack.limits import RateLimiter
from fakes.slack.records import AssistantThread, Call, Json
from fakes.slack.socket_mode import SocketMode
from fakes.slack.state import APP_ID, APP_TOKEN, BOT_ID, BOT_TOKEN, BOT_USER_ID, TEAM_ID, Workspace
from fakes.slack.wait import wait_until
from fakes.slack.web_api import WebApi, handlers


class FakeSlack:
    """A workspace with one bot, speaking Slack's wire protocols.

    ``latency``: seconds Slack takes to answer a call or deliver an envelope. ``page_size``:
    most messages per ``conversations.replies`` page. ``ack_timeout``: redeliver an unacked
    event after this many seconds, as Slack does (None: never). ``rate_limits``: Slack's rate
    tiers (``True``: at Slack's pace; a :class:`RateLimiter` for a shorter window or other
    limits; ``False``: unlimited, the default); over a limit a call gets HTTP 429 with
    ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``. ``connect_cost``: seconds a
    new Web API connection waits before its first request (TCP + TLS handshakes; 0 on
    loopback). ``backlog``: the listen queue (aiohttp's 128 drops connections in a burst of
    hundreds). ``on_envelope_sent(envelope, at)``: called as each envelope is written to a
    socket (``wire_times`` keeps those times too).
    """

    bot_token, app_token = BOT_TOKEN, APP_TOKEN
    bot_user_id, bot_id, team_id, app_id = BOT_USER_ID, BOT_ID, TEAM_ID, APP_ID

    def __init__(
        self,
        *,
        latency: float = 0.0,
        page_size: int = 1000,
        ack_timeout: float | None = None,
        rate_limits: bool | RateLimiter = False,
        connect_cost: float = 0.0,
        backlog: int = 128,
        on_envelope_sent: Callable[[Json, float], None] | None = None,
    ) -> None:
        self.backlog = backlog
        self.reference = reference.load()  # Slack's method pages: ReferenceMissing if absent
        self.state = Workspace(page_size=page_size)
        limiter = RateLimiter() if rate_limits is True else rate_limits or None
        self.web = WebApi(
            self.state,
            handlers(),
            self.reference,
            latency=latency,
            rate_limits=limiter,
            connect_cost=connect_cost,
        )
        self.socket = SocketMode(
            self.state,
            latency=latency,
            ack_timeout=ack_timeout,
            on_envelope_sent=on_envelope_sent,
            diagnose=self._diagnose,
        )
        self.files = FileHost(self.state, backlog=backlog)
        self._runner: web.AppRunner | None = None
        self._hooks()

    def _hooks(self) -> None:
        """What tests read and call: the parts' own records and methods, under one roof."""
        web_api, socket, state, files = self.web, self.socket, self.state, self.files
        self.calls: list[Call] = web_api.calls
        self.calls_to, self.throttled = web_api.calls_to, web_api.throttled
        self.fail, self.heal = web_api.fail, web_api.heal
        self.unimplemented = web_api.unimplemented
        self.acks, self.ack_payloads = socket.acks, socket.ack_payloads
        self.envelopes, self.wire_times = socket.envelopes, socket.wire_times
        self.sent_at, self.acked = socket.sent_at, socket.acked
        self.send_envelope = socket.send_envelope
        self.disconnect, self.drop = socket.disconnect, socket.drop
        self.statuses, self.reactions = state.statuses, state.reactions
        self.channels, self.titles = state.channels, state.titles
        self.suggested_prompts, self.sessions = state.suggested_prompts, state.sessions
        self.assistant_threads = state.assistant_threads
        self.ephemerals, self.responses = state.ephemerals, state.responses
        self.add_message, self.add_channel = state.add_message, state.add_channel
        self.im_of, self.grant, self.revoke = state.im_of, state.grant, state.revoke
        self.thread, self.channel_messages = state.thread, state.channel_messages
        self.bot_replies, self.current_status = state.bot_replies, state.current_status
        self.feedback_buttons = state.feedback_buttons
        self.permalink, self.action_tokens = state.permalink, state.action_tokens
        self.method_latency = web_api.method_latency  # e.g. {"assistant.search.context": 0.3}
        self.downloads, self.foreign = files.downloads, files.foreign
        self.add_file, self.add_external_file = files.add_file, files.add_external_file

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self.web.serve)
        app.router.add_get("/link/", self.socket.link)
        app.router.add_get("/files-pri/{team_file}/{name}", self.files.serve)
        app.router.add_post(
            "/actions/{team}/{hook}/{secret}", interactions.response_url_handler(self.state)
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, backlog=self.backlog).start()
        self.state.port = self._runner.addresses[0][1]
        await self.foreign.start()

    async def stop(self) -> None:
        """Cancel redeliveries, cut sockets and stop listening; then AssertionError if a real
        Slack method the fake does not implement was called (``unimplemented``)."""
        await self.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.foreign.stop()
        if self.unimplemented:
            raise AssertionError(
                f"Slack methods called that the fake does not implement: {self.unimplemented} "
                "(add them to fakes/slack/, or clear slack.unimplemented once refused on purpose)"
            )

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- settings that tests change ----------------------------------------------------------

    @property
    def scopes(self) -> str:
        """The bot token's scopes, comma-separated (as ``x-oauth-scopes`` says)."""
        return self.state.scopes

    @scopes.setter
    def scopes(self, value: str) -> None:
        self.state.scopes = value

    @property
    def page_size(self) -> int:
        return self.state.page_size

    @page_size.setter
    def page_size(self, value: int) -> None:
        self.state.page_size = value

    @property
    def ack_timeout(self) -> float | None:
        return self.socket.ack_timeout

    @ack_timeout.setter
    def ack_timeout(self, value: float | None) -> None:
        self.socket.ack_timeout = value

    @property
    def stream_max_chars(self) -> int:
        """The cumulative cap on one streamed message (msg_too_long)."""
        return self.state.stream_max_chars

    @stream_max_chars.setter
    def stream_max_chars(self, value: int) -> None:
        self.state.stream_max_chars = value

    @property
    def stream_ttl(self) -> float | None:
        """Seconds after which Slack ends an open stream (None: never)."""
        return self.state.stream_ttl

    @stream_ttl.setter
    def stream_ttl(self, value: float | None) -> None:
        self.state.stream_ttl = value

    @property
    def agent(self) -> bool:
        """Whether the app is declared as an agent (manifest.json's ``agent_view``): False
        stands for a workspace still on ``assistant_view`` (agents.* refused)."""
        return self.state.agent

    @agent.setter
    def agent(self, value: bool) -> None:
        self.state.agent = value

    @property
    def home_tab(self) -> bool:
        """Whether the app's Home tab is on (manifest.json's ``home_tab_enabled``): False
        stands for an install from an older manifest (views.publish: ``not_enabled``)."""
        return self.state.home_tab

    @home_tab.setter
    def home_tab(self, value: bool) -> None:
        self.state.home_tab = value

    @property
    def agent_refusal(self) -> str:
        """What agents.* answer an app that is not an agent (``feature_disabled``)."""
        return self.state.agent_refusal

    @agent_refusal.setter
    def agent_refusal(self, value: str) -> None:
        self.state.agent_refusal = value

    @property
    def events(self) -> set[str]:
        """The bot events the app subscribes to (manifest.json's; change the set in place)."""
        return self.state.events

    @property
    def ai_search(self) -> bool:
        """The workspace has Slack's AI search (``assistant.search.*``; off by default)."""
        return self.state.ai_search

    @ai_search.setter
    def ai_search(self, value: bool) -> None:
        self.state.ai_search = value

    @property
    def rate_limits(self) -> RateLimiter | None:
        return self.web.rate_limits

    # -- where and how much ------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self.state.port

    @property
    def api_url(self) -> str:
        """The base URL for ``AsyncWebClient(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def sockets_open(self) -> int:
        """How many Socket Mode connections are live."""
        return len(self.socket.sockets)

    @property
    def api_connections(self) -> int:
        """How many distinct connections have carried Web API calls so far."""
        return len(self.web.peers)

    @property
    def connections_opened(self) -> int:
        """How many Socket Mode URLs ``apps.connections.open`` has handed out."""
        return self.state.connections_opened

    # -- what people do ---------------------------------------------------------------------

    async def mention(
        self,
        channel: str,
        text: str,
        *,
        user: str = "U1",
        thread_ts: str | None = None,
        files: list[Json] | None = None,
    ) -> Json:
        """Post a message and deliver its ``app_mention`` event."""
        msg = self.add_message(channel, text, user=user, thread_ts=thread_ts, files=files)
        await self.send_event(events.user_event(self.state, "app_mention", msg))
        return msg

    async def dm(
        self, text: str, *, user: str = "U1", channel: str = "D1", thread_ts: str | None = None
    ) -> Json:
        """Post a direct message and deliver its ``message`` event (``channel_type: im``)."""
        msg = self.add_message(channel, text, user=user, thread_ts=thread_ts)
        event = events.user_event(self.state, "message", msg)
        await self.send_event({**event, "channel_type": "im"})
        return msg

    def stop_by_user(self, channel: str, ts: str) -> None:
        """Press the stop button of a streaming message."""
        msg = self.state.messages[(channel, ts)]
        msg.streaming, msg.stopped_by_user = False, True

    async def start_assistant_thread(
        self, user: str = "U1", *, context_channel: str | None = None
    ) -> AssistantThread:
        """A person opens the app's assistant pane (see :mod:`fakes.slack.events`)."""
        return await events.start_assistant_thread(self.state, self.socket, user, context_channel)

    async def change_assistant_context(
        self, thread: AssistantThread, context_channel: str | None
    ) -> str:
        """The person moves to another channel with the pane open; return the envelope_id."""
        return await events.change_assistant_context(
            self.state, self.socket, thread, context_channel
        )

    async def assistant_message(
        self, thread: AssistantThread, text: str, *, files: list[Json] | None = None
    ) -> Json:
        """The person writes in an assistant thread (a ``message`` event, ``channel_type: im``)."""
        return await events.assistant_message(self.state, self.socket, thread, text, files)

    async def open_home(self, user: str = "U1", *, tab: str = "messages") -> str:
        """A person opens the app's Messages tab (``tab="home"``: its Home tab) and Slack
        sends ``app_home_opened``; return the envelope_id (see :mod:`fakes.slack.agent_events`)."""
        return await agent_events.open_home(self.state, self.socket, user, tab)

    async def change_app_context(self, channel: str | None, *, user: str = "U1") -> str:
        """A person with the agent open looks at ``channel`` (``app_context_changed``)."""
        return await agent_events.change_context(self.state, self.socket, user, channel)

    async def click_stop(self, channel: str, thread_ts: str, *, user: str = "U1") -> str:
        """A person clicks the stop button of the thread's agent session: Slack stops the
        app's streams there and sends ``agent_session_stopped``; return the envelope_id."""
        return await agent_events.click_stop(self.state, self.socket, channel, thread_ts, user)

    def home_view(self, user: str = "U1") -> Json | None:
        """The Home tab view last published for ``user`` (``views.publish``), or None."""
        return self.state.home_views.get(user)

    def home_text(self, user: str = "U1") -> str:
        """What ``user`` reads in their Home tab: every text of its view, a line each."""
        return views.text_of(self.state.home_views.get(user))

    def session_statuses(self, channel: str, thread_ts: str) -> list[str]:
        """Every status the thread's agent session was set to, in order ([] if none)."""
        session = self.sessions.get((channel, thread_ts))
        return session.statuses if session else []

    async def click_feedback(
        self, channel: str, ts: str, *, positive: bool = True, user: str = "U1"
    ) -> str:
        """A person clicks 👍 (or 👎) under a message; return the envelope_id (LookupError if
        the message carries no feedback buttons)."""
        return await interactions.click_feedback(
            self.state, self.socket, channel, ts, positive=positive, user=user
        )

    async def click_button(
        self,
        channel: str,
        ts: str,
        action_id: str,
        *,
        user: str = "U1",
        seen: list[Json] | None = None,
    ) -> str:
        """A person clicks a message's button ``action_id`` (an actions block's element);
        ``seen``: the blocks their client still shows. LookupError if there is none."""
        return await interactions.click_button(
            self.state, self.socket, channel, ts, action_id, user=user, seen=seen
        )

    async def message_shortcut(
        self, callback_id: str, channel: str, ts: str, *, user: str = "U1"
    ) -> str:
        """A person runs the app's message shortcut on a message: ``message_action``."""
        return await interactions.message_shortcut(
            self.state, self.socket, callback_id, channel, ts, user=user
        )

    async def send_event(
        self,
        event: Json,
        *,
        event_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Deliver an Events API envelope on an open socket; return its envelope_id."""
        return await self.socket.send_event(
            event, event_id=event_id, retry_attempt=retry_attempt, retry_reason=retry_reason
        )

    # -- waiting -----------------------------------------------------------------------------

    def tasks(self, channel: str, ts: str) -> list[Json]:
        """The task cards a streamed message shows (see ``Message.tasks``)."""
        return self.state.stored(channel, ts).tasks()

    def bot_text(self, channel: str, thread_ts: str) -> str:
        """All the bot's visible text in a thread, message after message."""
        return "\n".join(m["text"] for m in self.bot_replies(channel, thread_ts))

    async def answered(
        self, channel: str, thread_ts: str, count: int = 1, timeout: float = 8.0
    ) -> list[Json]:
        """Wait until the bot has ``count`` finished replies in a thread; return its replies."""

        def done() -> bool:
            replies = self.bot_replies(channel, thread_ts)
            return len(replies) >= count and not any(m["streaming"] for m in replies)

        await self.wait_for(done, timeout, f"{count} finished bot replies in {thread_ts}")
        return self.bot_replies(channel, thread_ts)

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 5.0, message: str = ""
    ) -> None:
        """Poll ``predicate`` until true; AssertionError after ``timeout`` seconds."""
        await wait_until(predicate, timeout, message, self._diagnose)

    def _diagnose(self) -> str:
        recent = [f"{c.method}:{c.response.get('error', 'ok')}" for c in self.calls[-8:]]
        return f"{self.sockets_open} sockets open; last calls {recent}"
