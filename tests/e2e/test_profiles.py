"""Profiles per channel (#20): a channel's profile changes after a file edit, without a
restart; who may ask follows the profile; a bad edit keeps the profiles in force."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from fakes.openai import FakeOpenAI
from slackgpt.config.settings import load_settings
from slackgpt.runtime import build_runtime
from tests.helpers import env_for, finished, run_app, until

pytestmark = pytest.mark.timeout(40)
TWO = "profiles:\n  support:\n    channels: [C0SUPPORT1]\n    instructions: Two.\n"
SUPPORT = """
[profiles.support]
channels = ["C0SUPPORT1"]
instructions = "{text}"
"""


OWN_SERVER = """
[profiles.support]
channels = ["C0SUPPORT1"]
model = "gpt-5-mini"
base_url = "{url}"
api_key_env = "SUPPORT_KEY"
max_output_tokens = 300
"""


def system_of(request: dict) -> str:
    return str(request["messages"][0]["content"])


async def ask(slack, channel: str, text: str) -> None:
    question = await slack.mention(channel, f"<@{slack.bot_user_id}> {text}")
    await slack.answered(channel, question["ts"])


async def test_an_edited_file_takes_effect_without_a_restart(slack, llm, tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text(SUPPORT.format(text="You are the support desk."))
    process = await run_app(env_for(slack, llm, PROFILES_FILE=str(path)), tmp_path)
    try:
        await slack.wait_for(lambda: slack.sockets_open, timeout=20)
        await ask(slack, "C0SUPPORT1", "printer broken")
        assert system_of(llm.requests[-1]).endswith("You are the support desk.")
        path.write_text(SUPPORT.format(text="You are the IT helpdesk; answer in English."))
        await until(lambda: _reloaded(slack, llm), timeout=15, what="the new profile in use")
        await ask(slack, "C0GENERAL1", "hello")  # another channel: the default, as before
        assert "helpdesk" not in system_of(llm.requests[-1])
    finally:
        process.terminate()
        code, err = await finished(process)
    assert code == 0, err
    assert "profiles reloaded" in err


async def test_a_channels_profile_answers_with_its_own_model_and_server_and_an_edit_moves_it(
    slack, llm, tmp_path
):
    path = tmp_path / "profiles.toml"
    async with FakeOpenAI() as other:  # the support team's own model server, with its key
        other.api_key = "sk-support-only-1234"
        path.write_text(OWN_SERVER.format(url=other.base_url))
        env = env_for(slack, llm, PROFILES_FILE=str(path), SUPPORT_KEY=other.api_key)
        process = await run_app(env, tmp_path)
        try:
            await slack.wait_for(lambda: slack.sockets_open, timeout=20)
            await ask(slack, "C0SUPPORT1", "printer broken")
            [asked] = other.requests
            assert (asked["model"], asked["max_completion_tokens"]) == ("gpt-5-mini", 300)
            assert other.request_headers[0]["Authorization"] == "Bearer sk-support-only-1234"
            await ask(slack, "C0GENERAL1", "hello")  # elsewhere: the settings' model and server
            assert llm.requests[-1]["model"] == "gpt-test" and len(other.requests) == 1

            path.write_text(SUPPORT.format(text="Same server now.") + 'model = "gpt-test-mini"\n')
            await until(lambda: _asks(slack, llm, "gpt-test-mini"), timeout=15,
                        what="the support channel on the settings' server with its new model")
            assert "max_completion_tokens" not in llm.requests[-1]
            before = len(other.requests)  # asked until the reload took effect
            await ask(slack, "C0SUPPORT1", "and now?")
            assert len(other.requests) == before  # no restart, and the old server is done
        finally:
            process.terminate()
            code, err = await finished(process)
    assert code == 0, err
    assert "sk-support-only-1234" not in err  # the profile's key is masked in the log too


async def _asks(slack, llm, model: str) -> bool:
    await ask(slack, "C0SUPPORT1", "still broken")
    return llm.requests[-1]["model"] == model


async def _reloaded(slack, llm) -> bool:
    """Ask in the support channel until the answer was made with the new instructions."""
    await ask(slack, "C0SUPPORT1", "printer still broken")
    return "IT helpdesk" in system_of(llm.requests[-1])


async def test_sighup_reloads_at_once_and_a_bad_edit_keeps_the_profiles(slack, llm, tmp_path):
    path = tmp_path / "profiles.yaml"
    path.write_text("profiles:\n  support:\n    channels: [C0SUPPORT1]\n    instructions: One.\n")
    process = await run_app(env_for(slack, llm, PROFILES_FILE=str(path)), tmp_path)
    said: list[str] = []
    try:
        await slack.wait_for(lambda: slack.sockets_open, timeout=20)
        path.write_text("profiles:\n  support:\n    chanels: [C0SUPPORT1]\n")  # a mistake
        os.kill(process.pid, signal.SIGHUP)
        said.append(await _log_until(process, "the profiles in force stay"))
        await ask(slack, "C0SUPPORT1", "which instructions?")
        assert system_of(llm.requests[-1]).endswith("One.")  # kept
        path.write_text(TWO)
        os.kill(process.pid, signal.SIGHUP)
        await until(lambda: _says(slack, llm, "Two."), timeout=15, what="the second profile")
    finally:
        process.terminate()
        code, err = await finished(process)
    assert code == 0, err
    assert "did you mean channels?" in said[0]


async def _log_until(process, text: str) -> str:
    """The bot's log line holding ``text`` (read as it comes)."""
    while line := (await asyncio.wait_for(process.stderr.readline(), 15)).decode():
        if text in line:
            return line
    raise AssertionError(f"the bot exited before saying {text!r}")


async def _says(slack, llm, text: str) -> bool:
    await ask(slack, "C0SUPPORT1", "which instructions?")
    return system_of(llm.requests[-1]).endswith(text)


async def test_who_may_ask_follows_the_channels_profile(slack, llm, start_bot, tmp_path):
    from slackgpt.config.profile_file import read_profiles

    path = tmp_path / "profiles.toml"
    path.write_text('[profiles.hr]\nchannels = ["C0HRTEAM01"]\nallowed_users = ["U0HRLEAD01"]\n')
    profiles, problems = read_profiles(path, {})
    assert problems == []
    await start_bot(profiles=profiles)
    await slack.mention("C0HRTEAM01", f"<@{slack.bot_user_id}> salaries?", user="U0STRANGER")
    await slack.wait_for(lambda: slack.ephemerals)
    assert "only answer the people" in slack.ephemerals[0].text and not llm.requests
    await ask(slack, "C0OTHERCH1", "hi")  # elsewhere the default profile: anyone may ask
    assert len(llm.requests) == 1


async def test_a_profiles_server_that_is_down_is_blamed_on_the_profile(
    slack, llm, tmp_path, monkeypatch, caplog
):
    """The asker was told an admin should check OPENAI_BASE_URL, and the log's fix said to
    check OPENAI_BASE_URL, which was right: the dead server was the profile's base_url."""
    monkeypatch.setenv("SUPPORT_KEY", "sk-support-only-1234")
    path = tmp_path / "profiles.toml"
    path.write_text(OWN_SERVER.format(url="http://127.0.0.1:9/v1"))  # discard: nothing there
    env = env_for(slack, llm, PROFILES_FILE=str(path), SUPPORT_KEY="sk-support-only-1234")
    runtime = build_runtime(load_settings(env))
    await runtime.start()
    try:
        question = await slack.mention("C0SUPPORT1", f"<@{slack.bot_user_id}> hello")
        [reply] = await slack.answered("C0SUPPORT1", question["ts"])
    finally:
        await runtime.close()
    assert "couldn't reach the model service" in reply["text"]
    assert "OPENAI_BASE_URL" not in reply["text"] and "support" in reply["text"]
    [line] = [r.getMessage() for r in caplog.records if "model call failed" in r.getMessage()]
    assert "Check the base_url of profiles.support in PROFILES_FILE" in line, line
    assert "OPENAI_BASE_URL" not in line and llm.requests == []
