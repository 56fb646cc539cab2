"""The MCP servers the operator lists in the file ``MCP_SERVERS`` names (TOML or JSON): how to
reach each one, which of its tools the model may use and in which channels.

Secrets never sit in that file: a header value or a variable passed to a stdio server takes
them from the environment (``"Bearer ${LINEAR_TOKEN}"``); the values read are kept as the
server's ``secrets``, masked in the logs. Every mistake is collected with its fix.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlparse

EVERYWHERE = "*"
DMS = "dm"  # in `channels`: direct messages and the AI pane
DEFAULT_TIMEOUT = 30.0
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{8,}$")
_SECRET_HEADER = re.compile(r"(?i)authorization|token|secret|key|cookie|password")
KEYS = (
    "url", "headers", "command", "args", "env", "cwd",
    "allow_tools", "deny_tools", "channels", "timeout",
)
EXAMPLE = (
    '[servers.linear]\nurl = "https://mcp.linear.app/mcp"\n'
    'headers = { Authorization = "Bearer ${LINEAR_TOKEN}" }\nchannels = ["C0123ABCD"]'
)


def _frozen(value: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class McpServer:
    """One MCP server: Streamable HTTP (``url``, ``headers``) or stdio (``command``, ``args``,
    ``env``); the tools offered (``allow_tools`` patterns, then ``deny_tools``), where
    (``channels``: None for everywhere) and the seconds each call may take."""

    name: str
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=_frozen)
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=_frozen)
    cwd: str | None = None
    allow_tools: tuple[str, ...] | None = None
    deny_tools: tuple[str, ...] = ()
    channels: frozenset[str] | None = None
    timeout: float = DEFAULT_TIMEOUT
    secrets: tuple[str, ...] = ()  # the environment's values in headers and env
    variables: tuple[str, ...] = ()  # the names of those variables

    @property
    def transport(self) -> str:
        return "http" if self.url else "stdio"

    @property
    def where(self) -> str:
        """Where it runs, for messages: its URL, or its command (never a secret)."""
        return self.url or " ".join([self.command or "", *self.args]).strip()

    def offers(self, tool: str) -> bool:
        """Whether the operator lets the model use the server's tool named ``tool``."""
        allowed = self.allow_tools is None or _matches(tool, self.allow_tools)
        return allowed and not _matches(tool, self.deny_tools)

    def offered_in(self, channel: str) -> bool:
        """Whether the server's tools are offered for a question in ``channel``."""
        if self.channels is None:
            return True
        return channel in self.channels or (DMS in self.channels and channel.startswith("D"))

    def __repr__(self) -> str:  # headers and env hold secrets
        return f"McpServer(name={self.name!r}, {self.transport}: {self.where!r})"


def _matches(tool: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(tool, p) for p in patterns)


def read_servers(
    path: str, env: Mapping[str, str], problems: list[str], name: str = "MCP_SERVERS"
) -> tuple[McpServer, ...]:
    """The servers in the TOML or JSON file at ``path`` (``name``: the setting that names it)."""
    file = Path(path).expanduser()
    kind = file.suffix.lower()
    if kind not in (".toml", ".json"):
        problems.append(f"{name} must name a .toml or .json file, not {path!r}.")
        return ()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        why = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        problems.append(f"{name} names {path}, which cannot be read ({why}). Correct the path "
                        f"or unset {name} to run without MCP tools.")
        return ()
    try:
        data = tomllib.loads(text) if kind == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        problems.append(f"{path} is not valid {kind[1:].upper()} ({error}).")
        return ()
    return parse_servers(data, env, problems, where=str(path))


def parse_servers(
    data: Any, env: Mapping[str, str], problems: list[str], where: str = "MCP_SERVERS"
) -> tuple[McpServer, ...]:
    """The servers of a parsed file: ``{"servers": {name: {...}}}``."""
    if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
        problems.append(f"{where} must hold a table of servers, like:\n{EXAMPLE}")
        return ()
    for key in sorted(set(data) - {"servers"}):
        problems.append(f"{where} has an unknown key {key!r}{_closest(key, ('servers',))}")
    if not data["servers"]:
        problems.append(f"{where} lists no servers; add one like:\n{EXAMPLE}")
    servers = []
    for name, table in data["servers"].items():
        server = _server(str(name), table, env, _Said(problems, f"{where}: server {name!r}"))
        if server is not None:
            servers.append(server)
    return tuple(servers) if len(servers) == len(data["servers"]) else ()


class _Said:
    """The problems of one server, each said with the file and the server's name."""

    def __init__(self, problems: list[str], who: str):
        self.problems, self.who, self.count = problems, who, 0

    def __call__(self, problem: str) -> None:
        self.problems.append(f"{self.who} {problem}")
        self.count += 1


def _server(name: str, table: Any, env: Mapping[str, str], say: _Said) -> McpServer | None:
    if not _NAME.match(name):
        say("needs a name of letters, digits, - and _ (at most 32 characters).")
    if not isinstance(table, dict):
        say("must be a table of settings (url or command, channels…).")
        return None
    for key in sorted(set(table) - set(KEYS)):
        say(f"has an unknown key {key!r}{_closest(key, KEYS)}")
    reach = _reach(table, env, say)
    channels = _channels(table.get("channels"), say)
    timeout = _timeout(table.get("timeout", DEFAULT_TIMEOUT), say)
    allow = _names(table, "allow_tools", say)
    deny = _names(table, "deny_tools", say) or ()
    if say.count:
        return None
    return McpServer(name=name, **reach, allow_tools=allow, deny_tools=deny,
                     channels=channels, timeout=timeout)


def _reach(table: dict, env: Mapping[str, str], say: _Said) -> dict[str, Any]:
    """How to reach the server: url and headers, or command, args, env and cwd."""
    url, command = table.get("url"), table.get("command")
    if (url is None) == (command is None):
        say("needs either url (Streamable HTTP) or command (stdio), not "
            f"{'both' if url is not None else 'neither'}.")
        return {}
    used: dict[str, str] = {}
    if url is not None:
        for key in ("args", "env", "cwd"):
            if key in table:
                say(f"has {key!r}, which only a stdio server (command) takes.")
        headers = _headers(table.get("headers", {}), env, used, say)
        return {"url": _url(url, say), "headers": _frozen(headers), **_used(used)}
    if "headers" in table:
        say("has 'headers', which only an HTTP server (url) takes.")
    if not isinstance(command, str) or not command.strip():
        say("needs command to be the program to run, like \"npx\".")
    args = table.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        say('needs args to be a list of strings, like ["-y", "some-mcp-server"].')
        args = []
    cwd = table.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        say("needs cwd to be a folder path.")
    passed = _env(table.get("env", []), env, used, say)
    return {"command": command, "args": tuple(args), "env": _frozen(passed), "cwd": cwd,
            **_used(used)}


def _used(used: dict[str, str]) -> dict[str, Any]:
    return {"secrets": tuple(v for v in used.values() if v), "variables": tuple(sorted(used))}


def _url(url: Any, say: _Said) -> str | None:
    parsed = urlparse(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
        say(f"needs url to be an http(s) URL like https://host/mcp, not {url!r}.")
        return None
    if "${" in url or parsed.password:
        say("has a secret in its url; send it in a header read from the environment: "
            'headers = { Authorization = "Bearer ${TOKEN}" }.')
    return url


def _headers(
    headers: Any, env: Mapping[str, str], used: dict[str, str], say: _Said
) -> dict[str, str]:
    if not isinstance(headers, dict):
        say('needs headers to be a table, like { Authorization = "Bearer ${TOKEN}" }.')
        return {}
    resolved = {}
    for header, template in headers.items():
        if not isinstance(template, str) or not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+",
                                                             str(header)):
            say(f"has a header {header!r} that is not a name with a text value.")
            continue
        if _SECRET_HEADER.search(header) and not _VARIABLE.search(template):
            say(f"writes the value of header {header!r} in the file; read it from the "
                f'environment instead: {header} = "Bearer ${{SOME_TOKEN}}".')
            continue
        value = _fill(template, env, used, f"header {header!r}", say)
        if any(c in value for c in "\r\n\0"):
            say(f"header {header!r} would hold a line break (from its variable); remove it.")
            continue
        resolved[header] = value
    return resolved


def _env(
    names: Any, env: Mapping[str, str], used: dict[str, str], say: _Said
) -> dict[str, str]:
    """The variables a stdio server gets: a list of names passed as they are, or a table of
    name = "${VARIABLE}" (text with variables)."""
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        names = {n: "${" + n + "}" for n in names}
    if not isinstance(names, dict) or not all(isinstance(v, str) for v in names.values()):
        say('needs env to be a list of variable names to pass, like ["GITHUB_TOKEN"], or a '
            'table like { GITHUB_TOKEN = "${MY_GITHUB_TOKEN}" }.')
        return {}
    passed = {}
    for name, template in names.items():
        if not _ENV_NAME.match(name):
            say(f"has {name!r} in env, which is not a variable name.")
            continue
        passed[name] = _fill(template, env, used, f"env {name!r}", say)
    return passed


def _fill(
    template: str, env: Mapping[str, str], used: dict[str, str], what: str, say: _Said
) -> str:
    """``template`` with each ``${NAME}`` replaced by the environment's value."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = env.get(name, "")
        if not found.strip():
            say(f"{what} uses ${{{name}}}, which is not set: set {name} in the environment "
                "or in .env.")
        used[name] = found
        return found

    return _VARIABLE.sub(value, template)


def _channels(value: Any, say: _Said) -> frozenset[str] | None:
    example = '"*" (every channel), or a list like ["C0123ABCD", "dm"]'
    if value is None:
        say(f"needs channels: where its tools are offered: {example}.")
        return None
    if value == EVERYWHERE:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        say(f"needs channels to be {example}, not {value!r}.")
        return None
    bad = [c for c in value if c != DMS and not _CHANNEL.match(c)]
    if bad:
        say(f"has channels that are not channel IDs (the channel's name → About → Channel ID) "
            f"or \"dm\": {', '.join(repr(c) for c in bad[:3])}.")
    return frozenset(value)


def _timeout(value: Any, say: _Said) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 600:
        say(f"needs timeout to be the seconds a call may take, from 1 to 600, not {value!r}.")
        return DEFAULT_TIMEOUT
    return float(value)


def _names(table: dict, key: str, say: _Said) -> tuple[str, ...] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        say(f'needs {key} to be a list of tool names (* and ? match any), like ["get_*"].')
        return None
    return tuple(value)


def _closest(key: str, known: tuple[str, ...]) -> str:
    found = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"; did you mean {found[0]!r}?" if found else f" (known: {', '.join(known)})."
