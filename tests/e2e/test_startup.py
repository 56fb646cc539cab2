"""End to end: ``python app.py`` as a user runs it, against the fakes, including bad settings."""

from __future__ import annotations

import signal

import pytest

from fakes.openai import Reply
from tests.helpers import env_for, finished, run_app


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"SLACK_BOT_TOKEN": ""}, "SLACK_BOT_TOKEN is not set"),
        ({"SLACK_APP_TOKEN": ""}, "SLACK_APP_TOKEN is not set"),
        ({"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}, "OPENAI_API_KEY is not set"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN must start with 'xoxb-'"),
        ({"SLACK_APP_TOKEN": "xoxb-bot-token"}, "SLACK_APP_TOKEN must start with 'xapp-'"),
        ({"TEMPERATURE": "warm"}, "TEMPERATURE must be a number"),
        ({"SLACK_BOT_TOKEN": "xoxb-wrong"}, "Slack rejected SLACK_BOT_TOKEN: invalid_auth"),
        ({"SLACK_APP_TOKEN": "xapp-wrong"}, "Slack rejected SLACK_APP_TOKEN: invalid_auth"),
    ],
    ids=["no-bot-token", "no-app-token", "no-api-key", "user-token", "bot-as-app-token",
         "bad-temperature", "wrong-bot-token", "wrong-app-token"],
)
async def test_bad_configuration_exits_2_with_a_clear_message(
    slack, llm, tmp_path, change, expected
):
    process = await run_app({**env_for(slack, llm), **change}, tmp_path)
    code, err = await finished(process)
    assert code == 2, err
    assert expected in err
    assert "Traceback" not in err


async def test_slack_unreachable_is_explained(slack, llm, tmp_path):
    env = {**env_for(slack, llm), "SLACK_API_URL": "http://127.0.0.1:9/api/"}
    code, err = await finished(await run_app(env, tmp_path))
    assert code == 1
    assert "Could not reach Slack" in err and "Traceback" not in err


async def test_dotenv_file_is_read(slack, llm, tmp_path):
    env = env_for(slack, llm)
    (tmp_path / ".env").write_text(
        "\n".join(f"{k}={v}" for k, v in env.items() if k != "TEMPERATURE") + "\nTEMPERATURE=9\n"
    )
    code, err = await finished(await run_app({}, tmp_path))
    assert code == 2 and "TEMPERATURE must be a number" in err  # proves .env was loaded


async def test_app_answers_then_stops_cleanly_on_sigterm(slack, llm, tmp_path):
    llm.script(Reply(text="Hi from the real process."))
    process = await run_app(env_for(slack, llm), tmp_path)
    try:
        question = await slack.mention("C1", f"<@{slack.bot_user_id}> hello")
        await slack.wait_for(
            lambda: any(
                m["text"] == "Hi from the real process." and not m["streaming"]
                for m in slack.bot_replies("C1", question["ts"])
            ),
            timeout=15,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        code, err = await finished(process)
    assert code == 0, err
    assert "Traceback" not in err
    assert "xoxb" not in err and "xapp" not in err
    assert "WARNING" not in err, err  # a clean start and stop say nothing alarming
