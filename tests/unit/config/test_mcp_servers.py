"""MCP_SERVERS: the operator's file of MCP servers, read and checked with a fix per mistake."""

from __future__ import annotations

import json
import tomllib

import pytest

from slackgpt.config.mcp_servers import parse_servers, read_servers
from slackgpt.config.settings import ConfigError, load_settings

BASE = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_APP_TOKEN": "xapp-1-A-1-abc",
        "OPENAI_API_KEY": "sk-test-key-123456"}
TOML = """
[servers.linear]
url = "https://mcp.linear.app/mcp"
headers = { Authorization = "Bearer ${LINEAR_TOKEN}", X-Team = "support" }
allow_tools = ["list_*", "get_issue", "create_issue"]
deny_tools = ["list_secrets"]
channels = ["C0123ABCD", "dm"]
timeout = 20

[servers.files]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "/srv/docs"]
env = ["GITHUB_TOKEN"]
channels = "*"
"""
ENV = {"LINEAR_TOKEN": "lin_api_0123456789", "GITHUB_TOKEN": "ghp_abcdefghijklmnop"}


def parsed(data: object, env: dict | None = None) -> tuple[tuple, list[str]]:
    problems: list[str] = []
    return parse_servers(data, ENV if env is None else env, problems, where="mcp.toml"), problems


def one(server: dict, env: dict | None = None) -> tuple[tuple, list[str]]:
    return parsed({"servers": {"s": server}}, env)


def test_a_toml_file_gives_both_kinds_of_server(tmp_path):
    path = tmp_path / "mcp.toml"
    path.write_text(TOML)
    problems: list[str] = []
    linear, files = read_servers(str(path), ENV, problems)
    assert problems == []
    assert (linear.transport, linear.url, linear.timeout) == ("http", "https://mcp.linear.app/mcp",
                                                              20.0)
    assert dict(linear.headers) == {"Authorization": "Bearer lin_api_0123456789",
                                    "X-Team": "support"}
    assert linear.secrets == ("lin_api_0123456789",) and linear.variables == ("LINEAR_TOKEN",)
    assert (files.transport, files.command, files.args[-1]) == ("stdio", "npx", "/srv/docs")
    assert dict(files.env) == {"GITHUB_TOKEN": "ghp_abcdefghijklmnop"}
    assert "lin_api" not in repr(linear) and "ghp_" not in repr(files)


def test_a_json_file_says_the_same(tmp_path):
    path = tmp_path / "mcp.json"
    server = {"url": "http://127.0.0.1:8000/mcp", "channels": "*"}
    path.write_text(json.dumps({"servers": {"local": server}}))
    problems: list[str] = []
    [local] = read_servers(str(path), {}, problems)
    assert problems == [] and local.url == server["url"] and local.channels is None


def test_which_tools_are_offered_and_where():
    (linear, _), _ = parsed_toml()
    assert linear.offers("list_issues") and linear.offers("create_issue")
    assert not linear.offers("list_secrets")  # denied, although allowed by list_*
    assert not linear.offers("delete_issue")  # not allowed
    assert linear.offered_in("C0123ABCD") and linear.offered_in("D0123ABCD")
    assert not linear.offered_in("C0999ZZZZ")


def parsed_toml():
    return parsed(tomllib.loads(TOML))


def test_an_unknown_key_names_the_closest():
    _, problems = one({"url": "https://x.example/mcp", "header": {}, "channels": "*"})
    assert problems == ["mcp.toml: server 's' has an unknown key 'header'; did you mean "
                        "'headers'?"]


def test_a_missing_variable_is_named_with_where_to_set_it():
    _, problems = one({"url": "https://x.example/mcp", "channels": "*",
                       "headers": {"Authorization": "Bearer ${NOPE_TOKEN}"}}, env={})
    assert len(problems) == 1
    assert "${NOPE_TOKEN}, which is not set: set NOPE_TOKEN in the environment" in problems[0]


def test_a_secret_written_in_the_file_is_refused():
    _, problems = one({"url": "https://x.example/mcp", "channels": "*",
                       "headers": {"Authorization": "Bearer lin_api_written_here"}})
    assert "read it from the environment instead" in problems[0]


@pytest.mark.parametrize(
    ("server", "says"),
    [
        ({"url": "ftp://x/mcp", "channels": "*"}, "needs url to be an http(s) URL"),
        ({"url": "https://u:pw@x/mcp", "channels": "*"}, "has a secret in its url"),
        ({"url": "https://x/mcp", "command": "npx", "channels": "*"}, "not both"),
        ({"channels": "*"}, "not neither"),
        ({"url": "https://x/mcp"}, "needs channels"),
        ({"url": "https://x/mcp", "channels": ["general"]}, "not channel IDs"),
        ({"url": "https://x/mcp", "channels": "*", "timeout": 0}, "from 1 to 600"),
        ({"url": "https://x/mcp", "channels": "*", "args": ["x"]}, "only a stdio server"),
        ({"command": "npx", "channels": "*", "headers": {}}, "only an HTTP server"),
        ({"command": "npx", "channels": "*", "env": "GITHUB_TOKEN"}, "needs env to be a list"),
        ({"command": "npx", "channels": "*", "env": ["MISSING_ONE"]}, "${MISSING_ONE}"),
        ({"command": "npx", "channels": "*", "allow_tools": "get_*"}, "list of tool names"),
    ],
)
def test_each_mistake_is_said_with_its_fix(server, says):
    servers, problems = one(server)
    assert servers == () and len(problems) == 1 and says in problems[0], problems


def test_a_stdio_server_gets_renamed_variables_from_a_table():
    [server], problems = one({"command": "npx", "channels": "*",
                              "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_TOKEN}"}})
    assert problems == []
    assert dict(server.env) == {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_abcdefghijklmnop"}
    assert server.secrets == ("ghp_abcdefghijklmnop",)


def test_the_file_itself_must_hold_servers():
    assert parsed({"server": {}})[1][0].startswith("mcp.toml must hold a table of servers")
    _, problems = parsed({"servers": {}, "sever": 1})
    assert problems[0] == "mcp.toml has an unknown key 'sever'; did you mean 'servers'?"
    assert "lists no servers" in problems[1]


def test_an_unreadable_or_malformed_file_is_said(tmp_path):
    problems: list[str] = []
    read_servers(str(tmp_path / "missing.toml"), {}, problems)
    read_servers(str(tmp_path / "servers.yaml"), {}, problems)
    bad = tmp_path / "bad.toml"
    bad.write_text("[servers.x\nurl = 1")
    read_servers(str(bad), {}, problems)
    assert "cannot be read (No such file or directory)" in problems[0]
    assert "must name a .toml or .json file" in problems[1]
    assert problems[2].startswith(f"{bad} is not valid TOML (")


def test_settings_read_the_file_and_mask_its_secrets(tmp_path):
    path = tmp_path / "mcp.toml"
    path.write_text(TOML)
    settings = load_settings({**BASE, **ENV, "MCP_SERVERS": str(path), "APPROVAL_TIMEOUT": "60"})
    assert [s.name for s in settings.mcp_servers] == ["linear", "files"]
    assert {"lin_api_0123456789", "ghp_abcdefghijklmnop"} <= set(settings.secrets)
    assert settings.approval_timeout == 60.0
    assert load_settings(BASE).mcp_servers == () and load_settings(BASE).approval_timeout == 300


def test_settings_collect_the_files_mistakes_with_the_others(tmp_path):
    path = tmp_path / "mcp.toml"
    path.write_text(TOML)
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, "MCP_SERVERS": str(path), "APPROVAL_TIMEOUT": "1"})
    said = "\n".join(caught.value.problems)
    assert "${LINEAR_TOKEN}, which is not set" in said and "${GITHUB_TOKEN}" in said
    assert "APPROVAL_TIMEOUT must be a number from 10 to 3600" in said
