"""The first ten minutes of a new user (#18 items 15, 16), as they run it: misspelled settings
in .env, --help, a Python without the project, a Slack that does not answer, and logs
that say each thing once, with the fix."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from fakes.openai import Reply
from slackgpt.logs import TextFormatter
from slackgpt.runtime import StartupError, build_runtime
from tests.helpers import env_for, finished, run_app

pytestmark = pytest.mark.timeout(40)


async def app(args: list[str], env: dict[str, str], cwd: Path, *python_flags: str):
    """``python [flags] app.py ARGS`` with exactly ``env``: (exit status, stdout, stderr)."""
    process = await run_app(env, cwd, *args, python_flags=python_flags)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode, out.decode(), err.decode()


# -- settings (their checks alone: tests/unit/config/) ---------------------------------------


async def test_check_warns_of_a_misspelled_setting_in_env(slack, llm, tmp_path):
    (tmp_path / ".env").write_text("OPENAI_MODLE=gpt-4o\n")
    code, out, err = await app(["--check"], env_for(slack, llm), tmp_path)
    assert code == 0, out + err
    assert "[WARN] Settings" in out and "did you mean OPENAI_MODEL?" in out
    assert "All 6 checks passed (1 with a warning)." in out


async def test_the_bot_says_so_when_it_starts(slack, llm, tmp_path):
    (tmp_path / ".env").write_text("SLACK_BOT_TOKNE=xoxb-typo\n")
    process = await run_app(env_for(slack, llm), tmp_path)
    await slack.wait_for(lambda: slack.sockets_open, timeout=20)
    process.terminate()
    _, err = await finished(process)
    assert "did you mean SLACK_BOT_TOKEN?" in err


# -- --check ----------------------------------------------------------------------------------


async def test_check_says_slack_is_away_not_that_the_token_failed(slack, llm, tmp_path):
    env = env_for(slack, llm, SLACK_API_URL="http://127.0.0.1:9/api/")
    code, out, err = await app(["--check"], env, tmp_path)
    assert code == 1
    assert "Bot scopes       not checked: Slack could not be reached" in out
    assert "did not work" not in out
    assert out.startswith("Checking Slack, the model, the store")  # said before it waits
    assert "retry" not in err.lower()  # slack_sdk's retry notes stay out of the report


# -- a new user's commands --------------------------------------------------------------------


async def test_help_says_where_settings_come_from_and_what_the_exit_codes_mean(tmp_path):
    code, out, _ = await app(["--help"], {}, tmp_path)
    assert code == 0
    assert ".env" in out and "--check" in out and "2 a setting to fix" in out


async def test_a_python_without_the_project_says_how_to_install_it(tmp_path):
    code, _, err = await app(["--help"], {}, tmp_path, "-S")  # no site-packages
    assert code == 2 and "Traceback" not in err
    assert ".venv/bin/pip install -c constraints.txt -e ." in err
    assert ".venv/bin/python app.py" in err


async def test_a_slack_that_never_answers_is_given_up_with_a_message(settings):
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts, never answers
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    runtime = build_runtime(replace(settings, slack_api_url=f"http://127.0.0.1:{port}/api/"))
    runtime.slack_patience = 0.5
    try:
        with pytest.raises(StartupError) as caught:
            await runtime.start()
    finally:
        await runtime.close()
        server.close()
    assert caught.value.exit_code == 1
    assert "Could not reach Slack" in str(caught.value) and "no answer within 0.5 s" in str(
        caught.value
    )


# -- logs -------------------------------------------------------------------------------------


async def test_the_answer_line_says_each_field_once(slack, llm, bot, caplog):
    caplog.set_level(logging.INFO, logger="slackgpt")
    question = await slack.mention("C1", f"<@{slack.bot_user_id}> hello")
    await slack.answered("C1", question["ts"])
    await slack.wait_for(lambda: any(r.getMessage() == "answer" for r in caplog.records))
    [record] = [r for r in caplog.records if r.getMessage() == "answer"]
    line = TextFormatter().format(record)
    assert line.count("event_id=") == 1 and line.count("outcome=ok") == 1


async def test_a_failed_answer_logs_the_fix_too(slack, llm, bot, caplog):
    caplog.set_level(logging.WARNING, logger="slackgpt")
    llm.script(Reply(status=401, error_type="invalid_request_error", error_code="invalid_api_key"))
    question = await slack.mention("C1", f"<@{slack.bot_user_id}> hello")
    await slack.answered("C1", question["ts"])
    failed = [r.getMessage() for r in caplog.records if "model call failed" in r.getMessage()]
    assert failed and "rejected OPENAI_API_KEY (401)" in failed[0]
    assert "Fix: Set OPENAI_API_KEY to a valid key" in failed[0]
