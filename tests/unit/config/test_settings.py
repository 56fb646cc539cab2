import pytest

from slackgpt.config.settings import DEFAULT_MODEL, ConfigError, load_settings
from slackgpt.config.values import DEFAULT_PROMPTS, SuggestedPrompt
from tests.helpers import env_for

GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
    "SLACK_APP_TOKEN": "xapp-1-A1-abc",
    "OPENAI_API_KEY": "sk-test",
}


def problems(**env: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings({**GOOD, **env})
    return caught.value.problems


def test_defaults():
    settings = load_settings(GOOD)
    assert settings.openai_model == DEFAULT_MODEL
    assert settings.openai_base_url is None
    assert settings.max_completion_tokens is None
    assert settings.temperature is None
    assert settings.slack_api_url == "https://slack.com/api/"
    assert "language" in settings.system_prompt


def test_every_setting_is_read():
    settings = load_settings(
        {
            **GOOD,
            "OPENAI_BASE_URL": "http://localhost:11434/v1",
            "OPENAI_MODEL": "llama3.2",
            "SYSTEM_PROMPT": "Be brief.",
            "MAX_COMPLETION_TOKENS": "800",
            "TEMPERATURE": "0.3",
            "OPENAI_TIMEOUT": "30",
            "OPENAI_MAX_RETRIES": "0",
            "SLACK_API_URL": "http://127.0.0.1:9/api",
            "STREAM_INTERVAL": "0.5",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings.openai_base_url == "http://localhost:11434/v1"
    assert settings.openai_model == "llama3.2"
    assert settings.system_prompt == "Be brief."
    assert settings.max_completion_tokens == 800
    assert settings.temperature == 0.3
    assert settings.openai_timeout == 30.0
    assert settings.openai_max_retries == 0
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert settings.stream_interval == 0.5
    assert settings.log_level == "DEBUG"


def test_missing_tokens_name_the_variable_and_where_to_get_it():
    with pytest.raises(ConfigError) as caught:
        load_settings({})
    text = str(caught.value)
    assert "SLACK_BOT_TOKEN is not set" in text and "OAuth & Permissions" in text
    assert "SLACK_APP_TOKEN is not set" in text and "App-Level Tokens" in text
    assert "OPENAI_API_KEY is not set" in text and "platform.openai.com" in text


def test_swapped_tokens_are_recognised():
    found = problems(SLACK_BOT_TOKEN="xapp-1", SLACK_APP_TOKEN="xoxb-2")
    assert len(found) == 2
    assert "SLACK_BOT_TOKEN must start with 'xoxb-'" in found[0] and "other token" in found[0]
    assert "SLACK_APP_TOKEN must start with 'xapp-'" in found[1]


def test_user_token_is_refused():
    assert "must start with 'xoxb-'" in problems(SLACK_BOT_TOKEN="xoxp-123")[0]


def test_api_key_optional_with_a_local_base_url():
    settings = load_settings(
        {**GOOD, "OPENAI_API_KEY": "", "OPENAI_BASE_URL": "http://localhost:11434/v1"}
    )
    assert settings.openai_api_key  # the client needs some key; local servers ignore it


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TEMPERATURE", "hot", "TEMPERATURE must be a number from 0 to 2"),
        ("TEMPERATURE", "3", "TEMPERATURE must be a number from 0 to 2"),
        ("TEMPERATURE", "nan", "TEMPERATURE must be a number"),
        ("MAX_COMPLETION_TOKENS", "1.5", "MAX_COMPLETION_TOKENS must be a whole number"),
        ("MAX_COMPLETION_TOKENS", "0", "MAX_COMPLETION_TOKENS must be a whole number"),
        ("OPENAI_TIMEOUT", "-1", "OPENAI_TIMEOUT must be a number"),
        ("OPENAI_BASE_URL", "localhost:11434", "OPENAI_BASE_URL must be an http(s) URL"),
        ("SLACK_API_URL", "ftp://x", "SLACK_API_URL must be an http(s) URL"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be one of"),
    ],
)
def test_malformed_values(name, value, expected):
    found = problems(**{name: value})
    assert len(found) == 1
    assert found[0].startswith(expected)
    assert repr(value.upper() if name == "LOG_LEVEL" else value) in found[0]


def test_repr_hides_secrets():
    text = repr(load_settings(GOOD)) + str(load_settings(GOOD))
    assert "xoxb" not in text and "xapp" not in text and "sk-test" not in text


def test_conversation_settings():
    settings = load_settings(
        {
            **GOOD,
            "CONTEXT_TOKENS": "8000",
            "MODEL_IMAGES": "false",
            "MAX_FILE_CHARS": "1000",
            "SHOW_USAGE": "yes",
            "ALLOWED_USERS": "U0123ABCD",
            "USER_REQUESTS_PER_HOUR": "5",
            "ADMIN_USERS": " U0123ABCD, W0456EFGH ",
        }
    )
    assert settings.admin_users == frozenset({"U0123ABCD", "W0456EFGH"})
    assert settings.context_tokens == 8000
    assert settings.model_images is False
    assert settings.max_file_chars == 1000
    assert settings.show_usage is True
    assert settings.access.allowed_users == frozenset({"U0123ABCD"})
    assert settings.access.requests_per_hour == 5


def test_access_problems_join_the_other_problems():
    found = problems(MODEL_IMAGES="maybe", CHANNEL_PROMPTS="not json")
    assert any(p.startswith("MODEL_IMAGES must be true or false") for p in found)
    assert any("CHANNEL_PROMPTS" in p for p in found)


def test_pane_settings():
    defaults = load_settings(GOOD)
    assert defaults.suggested_prompts == DEFAULT_PROMPTS
    assert defaults.pane_greeting == "" and defaults.context_channel_messages == 50
    assert defaults.feedback_buttons is True
    assert defaults.admin_users == frozenset()  # no operator: nobody sees everyone's usage
    assert load_settings({**GOOD, "FEEDBACK_BUTTONS": "false"}).feedback_buttons is False
    settings = load_settings(
        {
            **GOOD,
            "SUGGESTED_PROMPTS": '[{"title": "Standup", "message": "Write my standup."}]',
            "PANE_GREETING": "Hi! What are you working on?",
            "CONTEXT_CHANNEL_MESSAGES": "0",
        }
    )
    assert settings.suggested_prompts == (SuggestedPrompt("Standup", "Write my standup."),)
    assert settings.pane_greeting == "Hi! What are you working on?"
    assert settings.context_channel_messages == 0
    assert load_settings({**GOOD, "SUGGESTED_PROMPTS": "[]"}).suggested_prompts == ()


def test_pane_problems_say_how_to_fix_them():
    found = problems(
        SUGGESTED_PROMPTS='["a", {"title": "b"}]',
        PANE_GREETING="Hello\nthere",
        CONTEXT_CHANNEL_MESSAGES="1000",
        ADMIN_USERS="U0123ABCD,@kim",
    )
    assert len(found) == 4
    assert found[0].startswith("SUGGESTED_PROMPTS item 2 must be") and '"message"' in found[0]
    assert found[1] == (
        "PANE_GREETING must be one line of at most 300 characters (it has 11 characters on "
        "2 lines)."
    )
    assert found[2] == "CONTEXT_CHANNEL_MESSAGES must be a whole number from 0 to 200, not '1000'."
    assert found[3].startswith("ADMIN_USERS must be comma-separated Slack user IDs like U0123AB")
    assert "not '@kim'" in found[3]
    assert "at most 300" in problems(PANE_GREETING="x" * 301)[0]


def test_slacks_rate_limits_are_kept_unless_turned_off():
    from slackgpt.runtime import build_runtime

    assert load_settings(GOOD).slack_rate_limits is True
    off = load_settings({**GOOD, "SLACK_RATE_LIMITS": "false"})
    assert off.slack_rate_limits is False
    assert build_runtime(load_settings(GOOD)).slack.quota.interval("chat.update", 1.0) == 1.0
    quota = build_runtime(off).slack.quota
    quota.busy("chat.update", 500)  # would stretch the pace of a kept budget to 10 minutes
    assert quota.interval("chat.update", 1.0) == 1.0
    assert "SLACK_RATE_LIMITS must be" in " ".join(problems(SLACK_RATE_LIMITS="maybe"))


@pytest.mark.parametrize("name", ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "OPENAI_API_KEY"])
def test_a_placeholder_from_the_example_is_refused(slack, llm, name):
    placeholder = {"SLACK_BOT_TOKEN": "xoxb-...", "SLACK_APP_TOKEN": "xapp-...",
                   "OPENAI_API_KEY": "sk-..."}[name]
    with pytest.raises(ConfigError) as caught:
        load_settings(env_for(slack, llm, **{name: placeholder}))
    [problem] = caught.value.problems
    assert problem.startswith(f"{name} is still the placeholder {placeholder!r}")
