"""Wiring: Slack clients, the Bolt app and its Socket Mode connection, built from settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from . import listeners
from .answer import Answerer
from .config import SLACK_APPS_URL, Settings
from .conversation import BotIdentity
from .files import slack_downloader
from .http_mode import HttpServer, serve_http
from .model import ModelClient

log = logging.getLogger(__name__)

# The Socket Mode client notices a socket that died without a close frame at its next
# ping; a short interval brings the bot back within seconds (the default is 10 s).
SOCKET_PING_INTERVAL = 3.0
HTTP_HOST = "0.0.0.0"  # HTTP mode listens on every interface (a container's port)


class StartupError(Exception):
    """Slack refused to let the bot start; the message says what to do."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def build_web_client(settings: Settings) -> AsyncWebClient:
    """The bot's Slack Web API client, retrying connection errors, 429s and 5xx."""
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_app(
    web_client: AsyncWebClient,
    answerer: Answerer,
    bot: BotIdentity,
    signing_secret: str | None = None,
) -> AsyncApp:
    """The Bolt app with the bot's listeners; no network calls.

    ``signing_secret`` makes Bolt verify HTTP requests (Socket Mode needs none).
    """

    async def authorize(enterprise_id, team_id, user_id) -> AuthorizeResult:
        # Who the bot is was settled by the start-up auth.test. Left to itself, Bolt calls
        # auth.test again on its first event, once per event that arrives before the first
        # call returns: a burst after a restart makes one call per event, each holding
        # back its event's ack by a round trip.
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            bot_user_id=bot.user_id,
            bot_id=bot.bot_id,
            bot_token=web_client.token,
        )

    bolt_logger = logging.getLogger("slack_bolt")
    bolt_logger.addFilter(_skip_token_notices)
    app = AsyncApp(
        client=web_client,
        authorize=authorize,
        logger=bolt_logger,
        signing_secret=signing_secret,
    )
    listeners.register(app, answerer, bot)
    return app


def _skip_token_notices(record: logging.LogRecord) -> bool:
    """Drop Bolt's start-up warnings that SLACK_BOT_TOKEN is unused: the client carries it."""
    message = record.getMessage()
    return not (message.startswith(("As you gave `client`", "As `installation_store`")))


@dataclass
class Connection:
    """What checking the tokens with Slack gave: who the bot is, and a socket URL to use."""

    bot: BotIdentity
    socket_url: str


async def connect_checks(web_client: AsyncWebClient, settings: Settings) -> Connection:
    """Ask Slack who the bot token belongs to and open a socket ticket with the app token."""
    try:
        auth = await web_client.auth_test()
    except SlackApiError as error:
        raise StartupError(_rejected("SLACK_BOT_TOKEN", error)) from None
    except aiohttp.ClientError as error:
        raise StartupError(
            f"Could not reach Slack at {settings.slack_api_url} ({error}). Check the network "
            "connection (and SLACK_API_URL if you set it).",
            exit_code=1,
        ) from None
    bot = BotIdentity(user_id=auth["user_id"], bot_id=auth.get("bot_id"), name=auth.get("user"))
    if settings.slack_mode == "http":  # no socket: Slack POSTs the events to us
        return Connection(bot=bot, socket_url="")
    try:
        opened = await web_client.apps_connections_open(app_token=settings.slack_app_token)
    except SlackApiError as error:
        raise StartupError(_rejected("SLACK_APP_TOKEN", error)) from None
    return Connection(bot=bot, socket_url=opened["url"])


def token_fix(variable: str, code: str) -> str:
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


def _rejected(variable: str, error: SlackApiError) -> str:
    code = str(error.response.get("error"))
    return f"Slack rejected {variable}: {code}. {token_fix(variable, code)}"


class Bot:
    """The running bot: a Bolt app fed over Socket Mode (or, in HTTP mode, the Events API)."""

    def __init__(self, settings: Settings, *, openai_client, web_client: AsyncWebClient):
        self.settings = settings
        self.web_client = web_client
        self.answerer = Answerer(
            ModelClient(openai_client, settings),
            settings,
            download=slack_downloader(settings.slack_bot_token),
        )
        self.handler: AsyncSocketModeHandler | None = None
        self.http: HttpServer | None = None
        self.bot: BotIdentity | None = None

    async def start(self) -> None:
        """Check the tokens, then connect; returns once events are flowing."""
        if self.web_client.session is None:
            # One keep-alive connection pool for every Web API call; without it slack_sdk
            # opens a new session, TCP and TLS connection for each call (+2 round trips).
            self.web_client.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
                timeout=aiohttp.ClientTimeout(total=self.web_client.timeout),
            )
        connection = await connect_checks(self.web_client, self.settings)
        self.bot = connection.bot
        app = build_app(
            self.web_client,
            self.answerer,
            connection.bot,
            signing_secret=self.settings.slack_signing_secret or None,
        )
        if self.settings.slack_mode == "http":
            self.http = await serve_http(app, HTTP_HOST, self.settings.port)
            log.info("answering Slack events over HTTP as @%s", connection.bot.name)
            return
        self.handler = AsyncSocketModeHandler(
            app, self.settings.slack_app_token, ping_interval=SOCKET_PING_INTERVAL
        )
        self.handler.client.wss_uri = connection.socket_url
        await self.handler.connect_async()
        log.info(
            "connected to Slack as @%s (%s); model %s",
            connection.bot.name,
            connection.bot.user_id,
            self.settings.openai_model,
        )

    async def shutdown(self, grace: float) -> None:
        """Stop taking events (Slack sends new ones to other connections), then let the
        answers in flight finish for up to ``grace`` seconds."""
        await self._disconnect()
        await self.answerer.drain(grace)

    async def close(self) -> None:
        """Disconnect from Slack (or stop the HTTP server) and release the connections."""
        await self._disconnect()
        session, self.web_client.session = self.web_client.session, None
        if session is not None:
            await session.close()
        await self.answerer.model.client.close()

    async def _disconnect(self) -> None:
        if self.http is not None:
            http, self.http = self.http, None
            await http.close()
        if self.handler is not None:
            handler, self.handler = self.handler, None
            await handler.close_async()
