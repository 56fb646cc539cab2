"""slackgpt.config.reader: names in .env or the environment that the bot does not read."""

from __future__ import annotations

from slackgpt.config.reader import unknown_settings
from slackgpt.config.settings import known_names


def test_a_misspelled_name_gets_the_closest_setting():
    known = known_names()
    said = unknown_settings({"OPENAI_MODLE", "OPENAI_MODEL", "HTTPS_PROXY"}, known,
                            from_file=True)
    assert said == [
        ".env sets HTTPS_PROXY, which slackgpt does not read; see .env.example for the names",
        ".env sets OPENAI_MODLE, which slackgpt does not read; did you mean OPENAI_MODEL?",
    ]
    from_env = unknown_settings({"OPENAI_MODLE", "HOME", "PATH", "OPENAI_ORG_ID"}, known,
                                from_file=False)
    assert from_env == [
        "the environment sets OPENAI_MODLE, which slackgpt does not read; did you mean "
        "OPENAI_MODEL?"
    ]  # the environment holds everything else too: only what looks meant for the bot
