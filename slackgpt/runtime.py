"""Wiring: the Slack door, the model, the Bolt app and its Socket Mode (or HTTP) connection."""

from __future__ import annotations

import asyncio
import functools
import logging
import os

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult

from slackgpt import listeners
from slackgpt.answering.answer import Answerer
from slackgpt.config.profile_file import ProfileBook
from slackgpt.config.settings import Settings, check_profiles
from slackgpt.deadline import deadline
from slackgpt.files.image_reader import ImageReader
from slackgpt.files.pdf_workers import Parser
from slackgpt.logs import public_url
from slackgpt.metrics.base import Metrics, NoMetrics
from slackgpt.metrics.prometheus import metrics_for
from slackgpt.metrics.server import MetricsServer, serve_metrics
from slackgpt.model.client import ModelClient, build_openai_client
from slackgpt.model.models import Models
from slackgpt.pane.handlers import Pane
from slackgpt.pane.home import Home
from slackgpt.slack.api import SlackApi, SlackUnreachable, TokenRejected
from slackgpt.slack.events import BotIdentity
from slackgpt.slack.http_mode import HttpServer, serve_http
from slackgpt.slack.people import People
from slackgpt.slack.visibility import Visibility
from slackgpt.slack.wire import slack_token_fix
from slackgpt.state.local import LocalState, State
from slackgpt.state.redis import RedisState, StoreUnavailable
from slackgpt.tools.approvals import Approvals
from slackgpt.tools.mcp_tools import START_PATIENCE, McpTools
from slackgpt.tools.slack_tools import SlackTools
from slackgpt.tools.toolbox import Toolkit
from slackgpt.usage.spending import Spending
from slackgpt.usage.store import UsageUnavailable

log = logging.getLogger(__name__)

# The Socket Mode client notices a socket that died without a close frame at its next
# ping; a short interval brings the bot back within seconds (the default is 10 s).
SOCKET_PING_INTERVAL = 3.0
SLACK_PATIENCE = 15.0  # seconds Slack may take to say who the bot is, at start-up


class StartupError(Exception):
    """Slack refused to let the bot start; the message says what to do."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def build_app(
    slack: SlackApi,
    answerer: Answerer,
    pane: Pane,
    signing_secret: str | None = None,
    approvals: Approvals | None = None,
    home: Home | None = None,
) -> AsyncApp:
    """The Bolt app with the bot's listeners; no network calls.

    ``signing_secret`` makes Bolt verify HTTP requests (Socket Mode needs none). Plain
    listeners serve the AI pane, not Bolt's ``Assistant``: that one takes every DM thread
    reply for the pane and keeps its context in message metadata (a read and an update
    per use); the context lives in :class:`~slackgpt.state.local.State` instead.
    """
    identity = answerer.identity

    async def authorize(enterprise_id, team_id, user_id) -> AuthorizeResult:
        # Who the bot is was settled by the start-up auth.test. Left to itself, Bolt calls
        # auth.test again on its first event, once per event that arrives before the first
        # call returns: a burst after a restart makes one call per event, each holding
        # back its event's ack by a round trip.
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            bot_user_id=identity.user_id,
            bot_id=identity.bot_id,
            bot_token=slack.token,
        )

    bolt_logger = logging.getLogger("slack_bolt")
    bolt_logger.addFilter(_skip_token_notices)
    app = AsyncApp(
        client=slack.client,
        authorize=authorize,
        logger=bolt_logger,
        signing_secret=signing_secret,
    )
    listeners.register(app, answerer, pane, approvals, home)
    return app


def _skip_token_notices(record: logging.LogRecord) -> bool:
    """Drop Bolt's start-up warnings that SLACK_BOT_TOKEN is unused: the client carries it."""
    message = record.getMessage()
    return not (message.startswith(("As you gave `client`", "As `installation_store`")))


def build_runtime(settings: Settings) -> Runtime:
    """The bot as ``python app.py`` runs it, built from the settings; not yet started.

    With ``REDIS_URL`` the memory and the Slack budgets share one Redis connection pool.
    """
    limit = settings.access.requests_per_hour
    metrics = metrics_for(settings.operations.metrics_port)
    state: State = LocalState(limit)
    pool = None
    if settings.redis_url:
        state = RedisState(settings.redis_url, limit)
        pool = state.pool
        metrics.watch_store("redis", state.up)
    slack = SlackApi.for_settings(settings, pool)
    slack.quota.metrics = metrics  # told of every Slack call and budget wait
    measuring = not isinstance(metrics, NoMetrics)
    return Runtime(
        settings,
        model=ModelClient(build_openai_client(settings), settings),
        slack=slack,
        state=state,
        spending=Spending.for_settings(settings, state, metrics, measuring),
        metrics=metrics,
    )


class Runtime:
    """The running bot: a Bolt app fed over Socket Mode (or, in HTTP mode, the Events API)."""

    def __init__(
        self,
        settings: Settings,
        *,
        model: ModelClient,
        slack: SlackApi,
        state: State,
        parser: Parser | None = None,
        images: ImageReader | None = None,
        spending: Spending | None = None,
        metrics: Metrics | None = None,
    ):
        self.settings = settings
        self.spending = spending or Spending()  # spend budgets (USER_TOKENS_PER_DAY…)
        self.metrics = metrics or NoMetrics()
        self.metrics_server: MetricsServer | None = None  # METRICS_PORT: /metrics, probes
        self.parser = parser or Parser()  # PDFs, in bounded worker processes
        self.images = images or ImageReader()  # images: a byte budget and one decoder thread
        self.model = model
        self.slack = slack
        self.state = state
        self.answerer: Answerer | None = None
        self.pane: Pane | None = None
        self.identity: BotIdentity | None = None
        self.handler: AsyncSocketModeHandler | None = None
        self.slack_patience = SLACK_PATIENCE  # seconds Slack may take at start-up
        self.http: HttpServer | None = None
        self.mcp = McpTools(settings.mcp_servers)  # the operator's MCP servers, as tools
        self.approvals = Approvals(slack, state, settings.approval_timeout)  # of writing tools
        self.toolkit = Toolkit([self.mcp], self.approvals)  # the built-ins go first at start
        self._searching: asyncio.Future[None] | None = None  # Slack asked beside connecting
        self.profiles = ProfileBook(settings.profiles, settings.profiles_file,
                                    check=functools.partial(check_profiles, settings))
        self.models = Models(model, settings, os.environ)  # a profile may name another model
        self.home = Home(slack=slack, state=state, settings=settings, spending=self.spending,
                         profiles=self.profiles)  # the Home tab: usage, limits, profile
        self._watching: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Check the shared store and the tokens, then connect; returns once events flow."""
        settings = self.settings
        await self._serve_metrics()
        await self._check_store()
        self.mcp.connect()  # the MCP servers connect while Slack says who the bot is
        identity, socket_url = await self._check_tokens()
        self.identity = identity
        people = People(self.slack.user_name)  # one cache of names for answers and the pane
        visibility = Visibility(self.slack)  # who may read what, asked of Slack briefly
        self.pane = Pane(
            slack=self.slack,
            state=self.state,
            settings=settings,
            identity=identity,
            people=people,
            visibility=visibility,
        )
        tools = SlackTools(self.slack, visibility, people)
        self._searching = searching = asyncio.ensure_future(self._start_tools(tools))
        self.answerer = Answerer(
            slack=self.slack,
            model=self.model,
            models=self.models,
            settings=settings,
            identity=identity,
            state=self.state,
            extras=self.pane,
            people=people,
            parser=self.parser,
            images=self.images,
            toolkit=self.toolkit,
            profiles=self.profiles,
            spending=self.spending,
            metrics=self.metrics,
        )
        if settings.profiles_file is not None:  # a changed file takes effect without a restart
            self._watching = asyncio.create_task(self.profiles.watch())
        secret = settings.slack_signing_secret or None
        app = build_app(self.slack, self.answerer, self.pane, secret, self.approvals, self.home)
        await self.mcp.ready(START_PATIENCE)
        if settings.slack_mode == "http":
            self.http = await serve_http(app, settings.host, settings.port, signing_secret=secret)
            await searching
            log.info("answering Slack events over HTTP as @%s", identity.name)
            return
        self.handler = AsyncSocketModeHandler(
            app, settings.slack_app_token, ping_interval=SOCKET_PING_INTERVAL
        )
        # The ticket from the start-up check is used at once, saving a round trip (the
        # handler's client has no public setter for it; it asks again on reconnects).
        self.handler.client.wss_uri = socket_url
        await self.handler.connect_async()
        await searching
        log.info(
            "connected to Slack as @%s (%s); model %s",
            identity.name,
            identity.user_id,
            settings.openai_model,
        )

    async def _start_tools(self, tools: SlackTools) -> None:
        """The built-in tools in the toolkit; Slack asked whether it has its search (not
        with TOOL_ROUNDS=0: no tools, no call)."""
        if self.settings.tool_rounds < 1:
            return
        self.toolkit.sources[:0] = tools.sources  # ahead of any added before start
        await tools.start()

    async def shutdown(self, grace: float) -> None:
        """Stop taking events (Slack sends new ones to other connections), then let the
        answers in flight finish for up to ``grace`` seconds."""
        await self._disconnect()
        if self.answerer is not None:
            await self.answerer.drain(grace)

    async def close(self) -> None:
        """Disconnect from Slack (or stop the HTTP server), end the answers still in flight
        (``shutdown`` first lets them finish), and release the connections."""
        await self._disconnect()
        if self.answerer is not None:
            await self.answerer.drain(0)  # none may call Slack once its connections are gone
        if self._searching is not None and not self._searching.done():
            self._searching.cancel()  # start-up failed before it was waited for
        if self._watching is not None:
            self._watching.cancel()
        if self.pane is not None:
            await self.pane.close()
        await self.approvals.close()
        await self.mcp.close()
        await self.parser.aclose()
        await self.images.aclose()
        await self.slack.close()
        await self.models.close()  # the settings' model client and the profiles' own
        await self.spending.close()
        await self.state.close()
        if self.metrics_server is not None:
            server, self.metrics_server = self.metrics_server, None
            await server.close()

    async def not_ready(self) -> str | None:
        """None while events can reach the bot (its socket to Slack is connected, or its HTTP
        server listens); else why not. For ``/readyz``."""
        if self.http is not None:
            return None
        if self.handler is None:
            return "not connected to Slack"
        if not await self.handler.client.is_connected():  # the SDK's own check, pings included
            return "the Socket Mode connection to Slack is down"
        return None

    async def _serve_metrics(self) -> None:
        """With METRICS_PORT: /metrics, /healthz and /readyz, from the start (or StartupError)."""
        port = self.settings.operations.metrics_port
        if port is None or self.metrics_server is not None:
            return
        registry = getattr(self.metrics, "registry", None)
        try:
            self.metrics_server = await serve_metrics(
                self.settings.host, port, registry=registry, ready=self.not_ready
            )
        except OSError as error:
            raise StartupError(f"METRICS_PORT {port} cannot be used ({error.strerror or error})"
                               ": choose a free port, or unset METRICS_PORT.") from None

    async def _check_store(self) -> None:
        """With ``REDIS_URL``: the store answers and allows what the bot does; or StartupError
        (exit 2, as for any setting to fix: copies must not run with separate memories). With
        a spend budget: the usage counts can be kept (USAGE_FILE, without REDIS_URL); without
        one, a usage file that cannot be kept is a warning."""
        try:
            await self.spending.open()
        except UsageUnavailable as error:
            raise StartupError(str(error)) from None
        if not isinstance(self.state, RedisState):
            return
        try:
            server = await self.state.check()
        except StoreUnavailable as error:
            raise StartupError(str(error)) from None
        where = public_url(self.state.url)
        log.info("copies share their memory and Slack budgets through %s at %s", server, where)

    async def _check_tokens(self) -> tuple[BotIdentity, str]:
        """Who the bot is, and a Socket Mode URL (none in HTTP mode); or a StartupError."""
        where = public_url(self.settings.slack_api_url)
        log.info("connecting to Slack at %s…", where)
        try:
            async with deadline(self.slack_patience):
                return await self._identity_and_socket()
        except TokenRejected as error:
            fix = slack_token_fix(error.variable, error.code)
            raise StartupError(f"{error}. {fix}") from None
        except (TimeoutError, SlackUnreachable) as error:
            why = str(error) or f"no answer within {self.slack_patience:g} s"
            raise StartupError(
                f"Could not reach Slack at {where} ({why}). Check the network connection, a "
                "proxy (HTTPS_PROXY), and SLACK_API_URL if you set it.",
                exit_code=1,
            ) from None

    async def _identity_and_socket(self) -> tuple[BotIdentity, str]:
        whoami = await self.slack.whoami()
        if self.settings.slack_mode == "http":  # no socket: Slack POSTs the events to us
            return whoami.identity, ""
        return whoami.identity, await self.slack.socket_url(self.settings.slack_app_token)

    async def _disconnect(self) -> None:
        if self.http is not None:
            http, self.http = self.http, None
            await http.close()
        if self.handler is not None:
            handler, self.handler = self.handler, None
            await handler.close_async()
