"""Operating the real process: ``app.py --check``, JSON logs, the bot in HTTP mode (the
settings themselves: tests/unit/config/test_operating_settings.py)."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import aiohttp
import pytest

from fakes.openai import Reply
from tests.helpers import SECRET, HttpBot, env_for, finished, mention_payload, run_app

pytestmark = pytest.mark.timeout(40)


async def check_app(env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """Run ``python app.py --check`` with exactly ``env``: exit status, stdout, stderr."""
    process = await run_app(env, cwd, "--check")
    out, err = await asyncio.wait_for(process.communicate(), 20)
    return process.returncode or 0, out.decode(), err.decode()


async def test_app_check_passes_against_the_fakes(slack, llm, tmp_path):
    code, out, err = await check_app(env_for(slack, llm), tmp_path)
    assert code == 0, out + err
    assert out.rstrip().endswith("All 5 checks passed.")
    assert not slack.calls_to("chat.postMessage") and slack.sockets_open == 0


async def test_app_check_fails_with_a_fix_and_no_secrets(slack, llm, tmp_path):
    slack.scopes = "chat:write"
    env = env_for(slack, llm, OPENAI_MODEL="gpt-missing")
    code, out, err = await check_app(env, tmp_path)
    assert code == 1, out + err
    assert "[FAIL] Bot scopes" in out and "FIX: Set OPENAI_MODEL to one of:" in out
    for secret in (slack.bot_token, slack.app_token, llm.api_key):
        assert secret not in out + err


async def test_json_logs_from_the_real_process(slack, llm, tmp_path):
    llm.script(Reply(text="Logged."))
    process = await run_app(env_for(slack, llm, LOG_FORMAT="json"), tmp_path)
    try:
        question = await slack.mention("C1", f"<@{slack.bot_user_id}> hello")
        await slack.wait_for(
            lambda: any(m["text"] == "Logged." for m in slack.bot_replies("C1", question["ts"])),
            timeout=15,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        code, err = await finished(process)
    assert code == 0, err
    entries = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= entries[0].keys()
    assert any("connected to Slack" in e["message"] for e in entries)
    assert slack.bot_token not in err and slack.app_token not in err


async def test_bot_in_http_mode_answers_signed_events(start_bot, slack, llm):
    bot = await start_bot(
        slack_mode="http", slack_signing_secret=SECRET, slack_app_token="", host="127.0.0.1",
        port=0,
    )
    assert bot.http is not None and not slack.calls_to("apps.connections.open")
    llm.script(Reply(text="Over HTTP."))
    question = slack.add_message("C1", f"<@{slack.bot_user_id}> hi")
    async with aiohttp.ClientSession() as session:
        client = HttpBot(f"http://127.0.0.1:{bot.http.port}", session)
        assert (await client.post(mention_payload(slack, question), secret="wrong")).status == 401
        assert (await client.post(mention_payload(slack, question))).status == 200
        await slack.wait_for(
            lambda: any(m["text"] == "Over HTTP." for m in slack.bot_replies("C1", question["ts"])),
            timeout=10,
        )
    await bot.close()
    assert bot.http is None



async def test_app_check_in_http_mode_checks_the_signing_secret(slack, llm, tmp_path):
    env = env_for(slack, llm, SLACK_MODE="http", SLACK_SIGNING_SECRET=SECRET)
    del env["SLACK_APP_TOKEN"]
    code, out, err = await check_app(env, tmp_path)
    assert code == 0, out + err
    assert "[OK  ] Slack signing secret" in out and "app token" not in out
    assert SECRET not in out + err
