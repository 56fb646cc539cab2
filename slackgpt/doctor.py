"""``python app.py --check``: try the tokens, scopes, model endpoint, shared store and MCP
servers; say how to fix each."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import openai

from slackgpt.config.settings import Settings
from slackgpt.logs import public_url, redact
from slackgpt.model.client import build_openai_client
from slackgpt.model.models import profile_models
from slackgpt.model.probe import probe_model
from slackgpt.slack.api import SlackApi, SlackUnreachable, TokenRejected, Whoami
from slackgpt.slack.wire import slack_token_fix
from slackgpt.state.redis import RedisState, StoreUnavailable
from slackgpt.tools.mcp_tools import check_servers
from slackgpt.tools.slack_search import search_check

Status = Literal["ok", "warn", "fail"]

# The manifest's bot scopes; used when manifest.json is not next to the code (an installed copy).
MANIFEST_SCOPES = (
    "app_mentions:read", "chat:write", "channels:history", "groups:history", "im:history",
    "mpim:history", "reactions:write", "files:read", "assistant:write", "users:read",
    "channels:read", "groups:read", "mpim:read", "search:read.public",
)
_APP = "https://api.slack.com/apps → your app →"
_UNREACHABLE = "could not reach Slack"
_NO_SLACK = "Slack could not be reached"


@dataclass(frozen=True)
class Check:
    """One check's outcome: a one-line detail and, unless it passed, how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def required_scopes(manifest: Path | None = None) -> tuple[str, ...]:
    """The bot scopes ``manifest.json`` asks for (the project's, or the one in the cwd)."""
    candidates = [manifest] if manifest else [
        Path(__file__).resolve().parent.parent / "manifest.json",
        Path.cwd() / "manifest.json",
    ]
    for path in candidates:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return tuple(data["oauth_config"]["scopes"]["bot"])
        except (OSError, ValueError, KeyError, TypeError):  # absent or not a manifest
            continue
    return MANIFEST_SCOPES


async def run_checks(
    settings: Settings,
    *,
    slack: SlackApi,
    openai_client: openai.AsyncOpenAI,
    manifest: Path | None = None,
) -> list[Check]:
    """Run every check (Slack, the model, the store, MCP servers at the same time); never raises
    for a failed one. The store is checked only with ``REDIS_URL``, MCP with ``MCP_SERVERS``."""
    slack_checks, model, profiles, store, mcp = await asyncio.gather(
        _slack_checks(settings, slack, required_scopes(manifest)),
        check_model(settings, openai_client),
        check_profile_models(settings),
        check_store(settings),
        check_mcp(settings),
    )
    return [*slack_checks, model, *profiles, *store, *mcp]


def render(checks: list[Check], secrets: tuple[str, ...] = ()) -> str:
    """The report ``--check`` prints: one line per check, a FIX line under each failure.

    Secrets are masked: their known shapes, and ``secrets`` (the configured values) as
    they are, whatever a server echoed back.
    """
    width = max((len(c.name) for c in checks), default=0)
    lines = []
    for check in checks:
        lines.append(f"[{check.status.upper():<4}] {check.name:<{width}}  {check.detail}")
        if check.fix and check.status != "ok":
            lines.append(f"{'':6} {'':<{width}}  FIX: {check.fix}")
    failed = sum(c.status == "fail" for c in checks)
    if failed:
        lines.append(f"{failed} of {len(checks)} checks failed.")
    else:
        warned = sum(c.status == "warn" for c in checks)
        note = f" ({warned} with a warning)" if warned else ""
        lines.append(f"All {len(checks)} checks passed{note}.")
    return redact("\n".join(lines), [s for s in secrets if len(s) >= 8])


def exit_code(checks: list[Check]) -> int:
    """0 when no check failed (warnings allowed), else 1."""
    return 1 if any(c.status == "fail" for c in checks) else 0


async def run(settings: Settings, warnings: list[str] | None = None) -> int:
    """Build the real clients, run the checks, print the report; the process exit status.

    ``warnings``: what was noticed reading the settings (e.g. a misspelled name in .env).
    """
    client = build_openai_client(settings)
    slack = SlackApi(settings.slack_bot_token, settings.slack_api_url)
    print("Checking Slack, the model, the store and MCP servers (up to 30 s each)…", flush=True)
    try:
        checks = await run_checks(settings, slack=slack, openai_client=client)
    finally:
        await client.close()
        await slack.close()
    print(render([*check_settings(warnings or []), *checks], settings.secrets))
    return exit_code(checks)


def check_settings(warnings: list[str]) -> list[Check]:
    """A warning line for each setting that looks misspelled or unknown."""
    def fix(warning: str) -> str:
        where = "in .env" if warning.startswith(".env") else "in the environment"
        return f"Rename or remove it {where} (.env.example lists every setting)."

    return [Check("Settings", "warn", warning, fix(warning)) for warning in warnings]


# -- Slack ---------------------------------------------------------------------------------


async def _slack_checks(
    settings: Settings, slack: SlackApi, scopes: tuple[str, ...]
) -> list[Check]:
    bot, granted = await check_bot_token(settings, slack)
    unreachable = bot.detail.startswith(_UNREACHABLE)
    why = "" if bot.status == "ok" else _NO_SLACK if unreachable else "the bot token did not work"
    checks = [bot, check_scopes(granted, scopes, why)]
    if bot.status == "ok":
        search = await search_check(slack)
        checks.append(Check("Slack search", "warn" if search.problem else "ok", search.detail,
                            search.fix))
    if settings.slack_mode == "http":
        checks.append(check_signing_secret(settings))
    elif unreachable:  # no point waiting for the same again
        checks.append(Check("Slack app token", "warn", f"not checked: {_NO_SLACK}"))
    else:
        checks.append(await check_app_token(settings, slack))
    return checks


async def check_bot_token(settings: Settings, slack: SlackApi) -> tuple[Check, str | None]:
    """``auth.test`` with the bot token; also returns the ``x-oauth-scopes`` header (or None)."""
    name = "Slack bot token"
    try:
        whoami = await slack.whoami()
    except TokenRejected as error:
        detail = f"auth.test refused SLACK_BOT_TOKEN: {error.code}"
        return Check(name, "fail", detail, slack_token_fix(error.variable, error.code)), None
    except SlackUnreachable as error:
        return _unreachable(name, settings, error), None
    who = _who(whoami)
    if not whoami.is_bot:
        return Check(
            name,
            "fail",
            f"SLACK_BOT_TOKEN belongs to {who}, which is not a bot",
            f"Use the Bot User OAuth Token (xoxb-…): {_APP} OAuth & Permissions.",
        ), None
    return Check(name, "ok", f"bot {who}"), whoami.scopes


def _who(whoami: Whoami) -> str:
    identity = whoami.identity
    return f"@{identity.name} ({identity.user_id}) in {whoami.team} ({whoami.team_id})"


def check_scopes(
    granted: str | None, required: tuple[str, ...], not_checked: str = ""
) -> Check:
    """Compare the token's granted scopes (``x-oauth-scopes``) with the manifest's;
    ``not_checked``: why they could not be read (the token did not work, Slack is away)."""
    name = "Bot scopes"
    if not_checked:
        return Check(name, "warn", f"not checked: {not_checked}")
    if granted is None:
        return Check(
            name,
            "warn",
            "Slack did not report the token's scopes (no x-oauth-scopes header)",
            f"Compare {_APP} OAuth & Permissions → Scopes with manifest.json.",
        )
    have = {s.strip() for s in granted.split(",") if s.strip()}
    missing = [s for s in required if s not in have]
    if missing:
        return Check(
            name,
            "fail",
            f"missing {', '.join(missing)} (granted: {', '.join(sorted(have)) or 'none'})",
            f"Add them under {_APP} OAuth & Permissions → Bot Token Scopes (or paste "
            "manifest.json into App Manifest), then reinstall the app to the workspace.",
        )
    return Check(name, "ok", f"all {len(required)} scopes of manifest.json granted")


async def check_app_token(settings: Settings, slack: SlackApi) -> Check:
    """``apps.connections.open`` with the app-level token: can the bot open a socket?"""
    name = "Slack app token"
    try:
        await slack.socket_url(settings.slack_app_token)
    except TokenRejected as error:
        detail = f"apps.connections.open refused SLACK_APP_TOKEN: {error.code}"
        return Check(name, "fail", detail, slack_token_fix(error.variable, error.code))
    except SlackUnreachable as error:
        return _unreachable(name, settings, error)
    return Check(name, "ok", "Socket Mode connections can be opened")


def check_signing_secret(settings: Settings) -> Check:
    """HTTP mode needs the signing secret instead of a socket."""
    name = "Slack signing secret"
    if settings.slack_signing_secret:
        return Check(name, "ok", "set (HTTP mode; Slack's signatures are verified)")
    return Check(name, "fail", "SLACK_SIGNING_SECRET is not set, but SLACK_MODE is http",
                 f"Copy the Signing Secret from {_APP} Basic Information → App Credentials.")


def _unreachable(name: str, settings: Settings, error: BaseException) -> Check:
    return Check(
        name,
        "fail",
        f"{_UNREACHABLE} at {public_url(settings.slack_api_url)} ({str(error).split(':')[0]})",
        "Check the network connection, proxy and SLACK_API_URL.",
    )


# -- the shared store ----------------------------------------------------------------------


async def check_store(settings: Settings) -> list[Check]:
    """With ``REDIS_URL``: the store answers and allows the commands the bot uses."""
    if not settings.redis_url:
        return []
    state = RedisState(settings.redis_url, None)
    started = time.monotonic()
    try:
        server = await state.check()
    except StoreUnavailable as error:
        return [Check("Shared store", "fail", error.detail, error.fix)]
    finally:
        await state.close()
    took = (time.monotonic() - started) * 1000
    where = public_url(settings.redis_url)
    detail = f"{server} at {where} answered in {took:.0f} ms; copies share memory and budgets"
    return [Check("Shared store", "ok", detail)]


async def check_mcp(settings: Settings) -> list[Check]:
    """Each MCP server answers and lists its tools; one that does not is a warning (the bot
    runs without its tools, and keeps trying it)."""
    fix = "Start it, or correct its url, command or headers (and their variables) in MCP_SERVERS."
    return [
        Check(f"MCP server {server.name}", "ok" if worked else "warn", detail, fix)
        for server, detail, worked in await check_servers(settings.mcp_servers)
    ]


# -- the model -----------------------------------------------------------------------------


async def check_model(
    settings: Settings, client: openai.AsyncOpenAI, name: str = "Model endpoint"
) -> Check:
    """The settings' model (or a profile's) answers its first words."""
    found = await probe_model(settings, client)
    return Check(name, found.status, found.detail, found.fix)


async def check_profile_models(settings: Settings) -> list[Check]:
    """Each model a profile asks for besides the settings' own (its server, key and name)."""
    return list(await asyncio.gather(*(
        _check_profile_model(names, changed)
        for names, changed in profile_models(settings, os.environ)
    )))


async def _check_profile_model(names: tuple[str, ...], changed: Settings) -> Check:
    client = build_openai_client(changed)
    try:
        found = await check_model(changed, client, f"Model of profile {', '.join(names)}")
    finally:
        await client.close()
    if found.status == "ok":
        return found
    where = ("For this profile, OPENAI_MODEL, OPENAI_BASE_URL and OPENAI_API_KEY mean its "
             "model, base_url and api_key_env in PROFILES_FILE.")
    return replace(found, fix=f"{found.fix} {where}".strip())
