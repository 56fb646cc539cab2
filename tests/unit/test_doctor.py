"""``--check``: the doctor's checks against the fake Slack and fake OpenAI servers."""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from types import SimpleNamespace

import pytest
from aiohttp import web

from fakes.openai import Reply
from slackgpt import doctor
from slackgpt.config.settings import Settings
from slackgpt.doctor import Check, exit_code, render, run_checks
from slackgpt.model.client import build_openai_client
from slackgpt.slack.api import SlackApi
from tests.helpers import MCP_TOKEN, ROOT, mcp_servers, tickets_toml

pytestmark = pytest.mark.timeout(20)

DOWN = "http://127.0.0.1:9/v1"  # the discard port: nothing listens, connections are refused


async def check(settings: Settings, **changes: object) -> list[Check]:
    configured = replace(settings, **changes)
    client = build_openai_client(configured)
    slack = SlackApi(configured.slack_bot_token, configured.slack_api_url)
    try:
        return await run_checks(configured, slack=slack, openai_client=client)
    finally:
        await client.close()
        await slack.close()


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def assert_no_secrets(text: str, slack, llm) -> None:
    for secret in (slack.bot_token, slack.app_token, llm.api_key, "xoxb-", "xapp-", "sk-"):
        assert secret not in text


async def test_all_checks_pass(settings, slack, llm):
    checks = await check(settings)
    assert [c.status for c in checks] == ["ok"] * 5, checks
    found = by_name(checks)
    assert "@slackgpt (UBOT) in Fake Workspace (T1)" in found["Slack bot token"].detail
    assert "all 14 scopes" in found["Bot scopes"].detail
    assert "gpt-test" in found["Model endpoint"].detail
    request = llm.requests[-1]
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert exit_code(checks) == 0
    report = render(checks)
    assert "Slack search is off: this workspace has no AI search" in found["Slack search"].detail
    assert report.endswith("All 5 checks passed.") and "FIX" not in report
    assert_no_secrets(report, slack, llm)


async def test_wrong_bot_token(settings, slack, llm):
    checks = by_name(await check(settings, slack_bot_token="xoxb-not-the-right-one"))
    token = checks["Slack bot token"]
    assert token.status == "fail" and "invalid_auth" in token.detail
    assert "OAuth & Permissions" in token.fix
    assert checks["Bot scopes"].status == "warn"
    assert checks["Slack app token"].status == "ok"
    assert exit_code(list(checks.values())) == 1
    report = render(list(checks.values()))
    assert "FIX: Copy SLACK_BOT_TOKEN again from" in report and "Bot User OAuth Token" in report
    assert "not-the-right-one" not in report
    assert report.endswith("1 of 4 checks failed.")


async def test_slack_search_is_on_off_or_refused(settings, slack):
    slack.ai_search = True
    assert by_name(await check(settings))["Slack search"].status == "ok"
    assert "Slack search is on" in by_name(await check(settings))["Slack search"].detail
    slack.revoke("search:read.public")
    search = by_name(await check(settings))["Slack search"]
    assert search.status == "warn" and "missing_scope" in search.detail
    assert "search:read.public" in search.fix and "reinstall" in search.fix


async def test_missing_scope_is_named(settings, slack):
    slack.scopes = "app_mentions:read,chat:write,channels:history,im:history"
    scopes = by_name(await check(settings))["Bot scopes"]
    assert scopes.status == "fail"
    assert scopes.detail.startswith(
        "missing groups:history, mpim:history, reactions:write, files:read"
    )
    assert "reinstall" in scopes.fix


async def test_swapped_tokens(settings, slack):
    checks = by_name(
        await check(settings, slack_bot_token=slack.app_token, slack_app_token=slack.bot_token)
    )
    app = checks["Slack app token"]
    assert app.status == "fail" and "not_allowed_token_type" in app.detail
    assert "swapped" in app.fix and "connections:write" in app.fix
    bot = checks["Slack bot token"]
    assert bot.status == "fail" and "not_allowed_token_type" in bot.detail
    assert "swapped" in bot.fix


async def test_wrong_app_token(settings):
    app = by_name(await check(settings, slack_app_token="xapp-wrong"))["Slack app token"]
    assert app.status == "fail" and "invalid_auth" in app.detail
    assert "App-Level Tokens" in app.fix


async def test_app_token_refused_otherwise_means_socket_mode_is_off(settings, slack):
    slack.fail("apps.connections.open", "invalid_app_configuration")  # any other refusal
    app = by_name(await check(settings))["Slack app token"]
    assert app.status == "fail" and "Socket Mode must be enabled" in app.fix


async def test_unknown_model_lists_the_served_ones(settings, llm):
    model = by_name(await check(settings, openai_model="gpt-nope"))["Model endpoint"]
    assert model.status == "fail" and "gpt-nope" in model.detail and "404" in model.detail
    assert model.fix.startswith("Set OPENAI_MODEL to one of:") and "gpt-test" in model.fix


async def test_wrong_api_key(settings, slack, llm):
    checks = await check(settings, openai_api_key="sk-wrong-key-123456")
    model = by_name(checks)["Model endpoint"]
    assert model.status == "fail" and "401" in model.detail and "OPENAI_API_KEY" in model.fix
    assert "sk-wrong" not in render(checks)


async def test_model_endpoint_down(settings):
    model = by_name(await check(settings, openai_base_url=DOWN))["Model endpoint"]
    assert model.status == "fail" and "could not connect to http://127.0.0.1:9/v1" in model.detail
    assert "OPENAI_BASE_URL" in model.fix


async def test_model_server_without_max_completion_tokens_is_a_warning(settings, llm):
    llm.script(
        Reply(status=400, error_message="Unrecognized request argument: max_completion_tokens")
    )
    checks = await check(settings, max_completion_tokens=500)
    model = by_name(checks)["Model endpoint"]
    assert model.status == "warn" and "MAX_COMPLETION_TOKENS" in model.fix
    assert "max_completion_tokens" not in llm.requests[-1]
    assert exit_code(checks) == 0 and "(1 with a warning)" in render(checks)


async def test_slack_unreachable(settings):
    checks = by_name(await check(settings, slack_api_url="http://127.0.0.1:9/api/"))
    assert checks["Slack bot token"].status == "fail"
    assert "could not reach Slack" in checks["Slack bot token"].detail
    assert "SLACK_API_URL" in checks["Slack bot token"].fix
    assert checks["Slack app token"].status == "warn"  # not tried twice


async def test_run_prints_the_report_and_returns_the_exit_code(settings, capsys, slack, llm):
    assert await doctor.run(replace(settings, openai_model="gpt-nope")) == 1
    out = capsys.readouterr().out
    assert "[FAIL] Model endpoint" in out and "FIX: Set OPENAI_MODEL" in out
    assert_no_secrets(out, slack, llm)


def test_signing_secret_check_for_http_mode():
    assert doctor.check_signing_secret(SimpleNamespace(slack_signing_secret="s" * 32)).status == (
        "ok"
    )
    missing = doctor.check_signing_secret(SimpleNamespace(slack_signing_secret=""))
    assert missing.status == "fail" and "Signing Secret" in missing.fix


def test_scopes_come_from_the_manifest(tmp_path):
    manifest = json.loads((ROOT / "manifest.json").read_text())
    assert doctor.required_scopes() == tuple(manifest["oauth_config"]["scopes"]["bot"])
    assert doctor.required_scopes() == doctor.MANIFEST_SCOPES  # the fallback is kept in step
    other = tmp_path / "manifest.json"
    other.write_text(json.dumps({"oauth_config": {"scopes": {"bot": ["chat:write"]}}}))
    assert doctor.required_scopes(other) == ("chat:write",)
    other.write_text("{not json")
    assert doctor.required_scopes(other) == doctor.MANIFEST_SCOPES


def test_render_masks_secrets_and_shows_fixes_only_for_problems():
    report = render(
        [
            Check("A", "ok", "fine", fix="never shown"),
            Check("Longer name", "fail", "token xoxb-123-456 refused", fix="Do this."),
        ]
    )
    lines = report.splitlines()
    assert lines[0] == "[OK  ] A            fine"
    assert lines[1] == "[FAIL] Longer name  token xoxb-[REDACTED] refused"
    assert lines[2].strip() == "FIX: Do this." and lines[2].index("FIX") == lines[1].index("token")
    assert "never shown" not in report


async def test_a_key_a_server_echoes_back_is_masked_whatever_its_shape(settings, capsys):
    """An Azure-style key has no sk- prefix: --check masks the configured value itself."""
    key = "3f9a1c0e7b5d42a8a1c9e6f0b2d4c8aa"

    async def echo(request: web.Request) -> web.Response:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
        body = {"error": {"message": f"Model not deployed for key {sent}", "code": None}}
        return web.json_response(body, status=400)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
        assert await doctor.run(replace(settings, openai_base_url=url, openai_api_key=key)) == 1
    finally:
        await runner.cleanup()
    out = capsys.readouterr().out
    assert "Model not deployed for key" in out and key not in out


# -- the shared store -------------------------------------------------------------------------


async def test_the_shared_store_is_checked_when_set(settings, slack, llm, redis_url):
    checks = await check(settings, redis_url=redis_url)
    store = by_name(checks)["Shared store"]
    assert store.status == "ok", store
    assert f"at {redis_url} answered in" in store.detail
    assert store.detail.startswith(("Redis ", "Valkey ", "a Redis-protocol"))
    assert render(checks).endswith("All 6 checks passed.")


async def test_an_unreachable_shared_store_fails_with_a_fix_and_no_password(settings, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"redis://:hunter2-secret@127.0.0.1:{probe.getsockname()[1]}/0"
    configured = replace(settings, redis_url=url)
    assert await doctor.run(configured) == 1
    out = capsys.readouterr().out
    assert "[FAIL] Shared store" in out and "could not reach the store at REDIS_URL" in out
    assert "FIX: Start Redis or Valkey there, or correct REDIS_URL" in out
    assert "hunter2-secret" not in out and "1 of 6 checks failed." in out


async def test_each_mcp_server_is_checked_and_one_away_is_a_named_warning(
    settings, slack, llm, mcp_http, tmp_path, capsys
):
    toml = tickets_toml(mcp_http) + (
        f'[servers.wrongkey]\nurl = "{mcp_http.url}"\nchannels = "*"\n'
        'headers = { Authorization = "Bearer ${OTHER_TOKEN}" }\n'
        '[servers.gone]\nurl = "http://127.0.0.1:9/mcp"\nchannels = "*"\ntimeout = 2\n'
    )
    servers = mcp_servers(slack, llm, tmp_path, toml, OTHER_TOKEN="wrong-token-1234")
    configured = replace(settings, mcp_servers=servers)
    assert await doctor.run(configured) == 0  # warnings: the bot runs without those servers
    out = capsys.readouterr().out
    assert "[OK  ] MCP server tickets" in out and "6 tools listed, 6 offered" in out
    assert "[OK  ] MCP server local" in out
    assert "[WARN] MCP server wrongkey" in out and "refused the bot (HTTP 401)" in out
    assert "[WARN] MCP server gone" in out and "nothing answers at http://127.0.0.1:9" in out
    assert "FIX: Start it, or correct its url, command or headers" in out
    assert "All 9 checks passed (2 with a warning)." in out
    assert MCP_TOKEN not in out and "wrong-token-1234" not in out


async def test_each_profiles_own_model_is_tried_and_named(settings, llm):
    from slackgpt.config.profiles import Profile, Profiles

    profiles = Profiles(named=(
        Profile(name="support", model="gpt-test-mini", channels=frozenset({"C0123ABCD"})),
        Profile(name="legal", base_url=DOWN, channels=frozenset({"C0456EFGH"})),
        Profile(name="same", model=settings.openai_model, channels=frozenset({"C0789IJKL"})),
    ))
    checks = by_name(await check(settings, profiles=profiles))
    assert checks["Model of profile support"].status == "ok"
    assert "gpt-test-mini" in checks["Model of profile support"].detail
    legal = checks["Model of profile legal"]
    assert legal.status == "fail" and "127.0.0.1:9" in legal.detail
    assert "base_url and api_key_env in PROFILES_FILE" in legal.fix
    assert not [name for name in checks if "same" in name]  # the settings' own: tried once
    assert [r["model"] for r in llm.requests].count("gpt-test-mini") == 1
