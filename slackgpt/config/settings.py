"""Settings: read once from the environment, validated, with a fix for every mistake."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slackgpt.config.mcp_servers import McpServer, read_servers
from slackgpt.config.operations import Operations, read_operations
from slackgpt.config.profile_file import read_profiles
from slackgpt.config.profiles import Profile, Profiles, cross_check, from_channel_prompts
from slackgpt.config.reader import Reader, is_placeholder
from slackgpt.config.values import DEFAULT_PROMPTS, AccessRules, SuggestedPrompt
from slackgpt.logs import url_password

DEFAULT_MODEL = "gpt-5-mini"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant in a Slack workspace. Answer concisely and accurately. "
    "Always answer in the language of the user's latest message. "
    "Format for Slack: short paragraphs, bullet lists, `code` and fenced code blocks; "
    "avoid tables and long headings. "
    "Messages from people start with their name, like `Kim: `; never start your own reply "
    "that way. To refer to someone, write their name, like @Kim."
)

SLACK_APPS_URL = "https://api.slack.com/apps"
OPENAI_KEYS_URL = "https://platform.openai.com/api-keys"


class ConfigError(ValueError):
    """One or more settings are missing or malformed; the message says how to fix each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Settings:
    """Everything the bot needs to run; built by :func:`load_settings`."""

    slack_bot_token: str
    slack_app_token: str
    openai_api_key: str
    openai_base_url: str | None = None
    openai_model: str = DEFAULT_MODEL
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    max_completion_tokens: int | None = None
    temperature: float | None = None
    openai_timeout: float = 60.0
    first_token_timeout: float = 120.0
    openai_max_retries: int = 2
    slack_api_url: str = DEFAULT_SLACK_API_URL
    stream_interval: float = 1.0
    shutdown_grace: float = 30.0
    context_tokens: int = 64_000
    model_images: bool = True
    max_file_chars: int = 50_000
    show_usage: bool = False
    access: AccessRules = field(default_factory=AccessRules)
    log_level: str = "INFO"
    log_format: str = "text"
    slack_mode: str = "socket"
    slack_signing_secret: str = ""
    host: str = "0.0.0.0"
    port: int = 3000
    redis_url: str | None = None
    slack_rate_limits: bool = True
    suggested_prompts: tuple[SuggestedPrompt, ...] = DEFAULT_PROMPTS
    pane_greeting: str = ""
    context_channel_messages: int = 50
    feedback_buttons: bool = True
    admin_users: frozenset[str] = frozenset()  # operators: the Home tab shows them everyone's
    tool_rounds: int = 6
    tool_timeout: float = 30.0
    tool_output_tokens: int = 4_000
    profiles_file: Path | None = None
    profiles: Profiles = field(default_factory=Profiles)
    profile_keys: tuple[str, ...] = ()  # the keys the profiles' api_key_env name (to mask)
    operations: Operations = field(default_factory=Operations)  # budgets, prices, metrics
    mcp_servers: tuple[McpServer, ...] = ()
    approval_timeout: float = 300.0

    @property
    def secrets(self) -> tuple[str, ...]:
        """The configured secret values, to be masked wherever text leaves the bot."""
        values = (
            self.slack_bot_token,
            self.slack_app_token,
            self.openai_api_key,
            self.slack_signing_secret,
            *url_password(self.redis_url),
            *(secret for server in self.mcp_servers for secret in server.secrets),
            *self.profile_keys,
        )
        return tuple(v for v in values if v and v != "unused")

    def __repr__(self) -> str:  # never print secrets, even by accident
        return (
            f"Settings(model={self.openai_model!r}, base_url={self.openai_base_url!r}, "
            f"slack_api_url={self.slack_api_url!r})"
        )


class _Recorder(dict):
    """An empty environment that remembers every name asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, name, default=None):  # type: ignore[override]
        self.asked.add(name)
        return default


def known_names() -> frozenset[str]:
    """Every setting the bot reads (what :func:`load_settings` asks the environment for)."""
    recorder = _Recorder()
    get = Reader(recorder, [])
    for part in (_slack, _model, _behaviour, _pane, _operations, _tools, _mcp):
        part(get)
    _profiles(get, AccessRules())
    return frozenset(recorder.asked)


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build :class:`Settings` from an environment mapping, or raise :class:`ConfigError`."""
    problems: list[str] = []
    get = Reader(env, problems)
    behaviour = _behaviour(get)
    settings = Settings(
        **_slack(get), **_model(get), **behaviour, **_pane(get), **_tools(get), **_mcp(get),
        **_profiles(get, behaviour["access"]), **_operations(get),
    )
    if settings.profiles_file is not None:
        where = f"PROFILES_FILE ({settings.profiles_file})"
        problems.extend(f"{where}: {p}" for p in check_profiles(settings, settings.profiles))
    if problems:
        raise ConfigError(problems)
    return settings


def check_profiles(settings: Settings, profiles: Profiles) -> list[str]:
    """What a profiles file names that the other settings lack (at start, and each reload):
    tools and MCP servers that do not exist, models without a price under a cost budget."""
    return cross_check(
        profiles,
        frozenset(server.name for server in settings.mcp_servers),
        settings.operations.prices,
        settings.openai_model,
        settings.operations.limits.workspace_cost_per_month is not None,
    )


def _slack(get: Reader) -> dict[str, Any]:
    """Tokens, mode and addresses of the Slack side."""
    bot_token = get.token(
        "SLACK_BOT_TOKEN",
        "xoxb-",
        f"the Bot User OAuth Token: {SLACK_APPS_URL} → your app → OAuth & Permissions",
    )
    mode = get.choice("SLACK_MODE", ("SOCKET", "HTTP"), default="SOCKET").lower()
    app_token = get.text("SLACK_APP_TOKEN")
    if mode == "socket" or app_token:  # HTTP mode needs no socket, so no app token
        app_token = get.token(
            "SLACK_APP_TOKEN",
            "xapp-",
            f"an App-Level Token with the connections:write scope: {SLACK_APPS_URL} → your app "
            "→ Basic Information → App-Level Tokens",
        )
    signing_secret = get.text("SLACK_SIGNING_SECRET")
    if mode == "http" and not signing_secret:
        get.problems.append(
            "SLACK_SIGNING_SECRET is not set; SLACK_MODE=http needs it to verify Slack's "
            f"requests. It is at {SLACK_APPS_URL} → your app → Basic Information → "
            "App Credentials → Signing Secret."
        )
    return {
        "slack_bot_token": bot_token,
        "slack_app_token": app_token,
        "slack_mode": mode,
        "slack_signing_secret": signing_secret,
        "slack_api_url": _with_slash(get.url("SLACK_API_URL") or DEFAULT_SLACK_API_URL),
        "host": get.text("HOST") or "0.0.0.0",
        "redis_url": get.store_url("REDIS_URL"),
        "slack_rate_limits": get.flag("SLACK_RATE_LIMITS", default=True),
        "port": _or(get.number("PORT", int, 1, 65535), 3000),
    }


def _model(get: Reader) -> dict[str, Any]:
    """The model server, the model and how it is asked."""
    base_url = get.url("OPENAI_BASE_URL")
    api_key = get.text("OPENAI_API_KEY")
    if is_placeholder(api_key):
        get.problems.append(
            f"OPENAI_API_KEY is still the placeholder {api_key!r} from .env.example: paste your "
            f"key from {OPENAI_KEYS_URL} (or delete the line to use a server that needs none)."
        )
    if not api_key and base_url:
        api_key = "unused"  # local servers (Ollama, vLLM) accept any key
    elif not api_key:
        get.problems.append(
            f"OPENAI_API_KEY is not set. Create a key at {OPENAI_KEYS_URL} "
            "(or set OPENAI_BASE_URL to use another OpenAI-compatible server)."
        )
    return {
        "openai_api_key": api_key,
        "openai_base_url": base_url,
        "openai_model": get.text("OPENAI_MODEL") or DEFAULT_MODEL,
        "system_prompt": get.text("SYSTEM_PROMPT") or DEFAULT_SYSTEM_PROMPT,
        "max_completion_tokens": get.number("MAX_COMPLETION_TOKENS", int, 1, 1_000_000),
        "temperature": get.number("TEMPERATURE", float, 0.0, 2.0),
        "openai_timeout": get.number("OPENAI_TIMEOUT", float, 0.1, 3600.0) or 60.0,
        "first_token_timeout": get.number("FIRST_TOKEN_TIMEOUT", float, 0.1, 3600.0) or 120.0,
        "openai_max_retries": _or(get.number("OPENAI_MAX_RETRIES", int, 0, 10), 2),
        "context_tokens": _or(get.number("CONTEXT_TOKENS", int, 1000, 10_000_000), 64_000),
        "model_images": get.flag("MODEL_IMAGES", default=True),
    }


def _behaviour(get: Reader) -> dict[str, Any]:
    """Pacing, files, access rules and logging."""
    return {
        "stream_interval": _or(get.number("STREAM_INTERVAL", float, 0.0, 10.0), 1.0),
        "shutdown_grace": _or(get.number("SHUTDOWN_GRACE", float, 0.0, 3600.0), 30.0),
        "max_file_chars": _or(get.number("MAX_FILE_CHARS", int, 0, 10_000_000), 50_000),
        "show_usage": get.flag("SHOW_USAGE", default=False),
        "access": get.access(),
        "log_level": get.choice(
            "LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), default="INFO"
        ),
        "log_format": get.choice("LOG_FORMAT", ("TEXT", "JSON"), default="TEXT").lower(),
    }


def _profiles(get: Reader, access: AccessRules) -> dict[str, Any]:
    """The profiles: from PROFILES_FILE, else CHANNEL_PROMPTS as one profile per channel."""
    raw = get.text("PROFILES_FILE")
    if not raw:
        return {"profiles": from_channel_prompts(access.channel_prompts, Profile())}
    if get.text("CHANNEL_PROMPTS"):
        get.problems.append(
            "CHANNEL_PROMPTS and PROFILES_FILE are both set: move each channel's instructions "
            "into the profiles file (instructions = \"…\"), and unset CHANNEL_PROMPTS."
        )
    path = Path(raw).expanduser()
    profiles, problems = read_profiles(path, get.env)
    get.problems.extend(problems)
    named = {p.api_key_env for p in (profiles.default, *profiles.named) if p.api_key_env}
    keys = tuple(get.env[name] for name in sorted(named) if get.env.get(name))
    return {"profiles_file": path, "profiles": profiles, "profile_keys": keys}


def _pane(get: Reader) -> dict[str, Any]:
    """The AI pane (prompts, greeting, how much of the channel in view is read), feedback,
    who sees everyone's usage in the Home tab."""
    return {
        "suggested_prompts": get.prompts("SUGGESTED_PROMPTS"),
        "pane_greeting": get.line("PANE_GREETING", 300),
        "context_channel_messages": _or(
            get.number("CONTEXT_CHANNEL_MESSAGES", int, 0, 200), 50
        ),
        "feedback_buttons": get.flag("FEEDBACK_BUTTONS", default=True),
        "admin_users": get.people("ADMIN_USERS"),
    }


def _operations(get: Reader) -> dict[str, Any]:
    """Spend budgets, model prices, the usage file, the metrics port (config/operations.py)."""
    return read_operations(get, get.text("OPENAI_MODEL") or DEFAULT_MODEL)


def _tools(get: Reader) -> dict[str, Any]:
    """The tools the model may call: how many rounds, how long a call, how much output."""
    return {
        "tool_rounds": _or(get.number("TOOL_ROUNDS", int, 0, 50), 6),
        "tool_timeout": _or(get.number("TOOL_TIMEOUT", float, 0.1, 600.0), 30.0),
        "tool_output_tokens": _or(get.number("TOOL_OUTPUT_TOKENS", int, 100, 1_000_000), 4_000),
    }


def _mcp(get: Reader) -> dict[str, Any]:
    """The operator's MCP servers and how long a writing tool waits for the asker's approval."""
    path = get.text("MCP_SERVERS")
    return {
        "mcp_servers": read_servers(path, get.env, get.problems) if path else (),
        "approval_timeout": _or(get.number("APPROVAL_TIMEOUT", float, 10.0, 3600.0), 300.0),
    }


def _or(value, default):
    return default if value is None else value


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
