import pytest

from slackgpt.answering.policy import (
    NOT_ALLOWED_CHANNEL,
    NOT_ALLOWED_USER,
    check_access,
    rate_limited_message,
    system_prompt_for,
    wait_phrase,
)
from slackgpt.config.settings import ConfigError, load_settings
from slackgpt.config.values import AccessRules
from slackgpt.state.local import RateLimiter

TOKENS = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "OPENAI_API_KEY": "sk-1"}


def parse_rules(env: dict[str, str]):
    """The access rules that the settings read from ``env`` (tokens added)."""
    return load_settings({**TOKENS, **env}).access


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- reading the rules from the environment ---------------------------------------


def test_no_settings_means_no_rules():
    rules = parse_rules({})
    assert rules == AccessRules()
    assert rules.allowed_channels is None and rules.allowed_users is None
    assert rules.requests_per_hour is None and dict(rules.channel_prompts) == {}


def test_all_settings_are_read():
    rules = parse_rules(
        {
            "ALLOWED_CHANNELS": " C0123ABCD, G0987ZYXW ,",
            "ALLOWED_USERS": "U0123ABCD,W0123ABCD",
            "USER_REQUESTS_PER_HOUR": " 30 ",
            "CHANNEL_PROMPTS": '{"C0123ABCD": " You help the support team. ", "D0123ABCD": "Hi"}',
        }
    )
    assert rules.allowed_channels == frozenset({"C0123ABCD", "G0987ZYXW"})
    assert rules.allowed_users == frozenset({"U0123ABCD", "W0123ABCD"})
    assert rules.requests_per_hour == 30
    assert dict(rules.channel_prompts) == {
        "C0123ABCD": "You help the support team.",
        "D0123ABCD": "Hi",
    }


def test_blank_values_mean_no_rule():
    rules = parse_rules(
        {"ALLOWED_CHANNELS": " ", "ALLOWED_USERS": ",", "USER_REQUESTS_PER_HOUR": ""}
    )
    assert rules == AccessRules()


def test_channel_prompts_cannot_be_changed_after_parsing():
    rules = parse_rules({"CHANNEL_PROMPTS": '{"C0123ABCD": "x"}'})
    with pytest.raises(TypeError):
        rules.channel_prompts["C0123ABCD"] = "y"  # type: ignore[index]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"ALLOWED_CHANNELS": "#general"},
            "ALLOWED_CHANNELS must be comma-separated Slack channel",
        ),
        ({"ALLOWED_CHANNELS": "GENERAL"}, "not 'GENERAL'"),
        ({"ALLOWED_CHANNELS": "c0123abcd"}, "like C0123ABCD"),
        ({"ALLOWED_CHANNELS": "U0123ABCD"}, "ALLOWED_CHANNELS"),
        ({"ALLOWED_USERS": "@alice"}, "ALLOWED_USERS must be comma-separated Slack user IDs"),
        ({"ALLOWED_USERS": "U0123ABCD,C0123ABCD"}, "not 'C0123ABCD'"),
        ({"ALLOWED_USERS": "U0123ABCD,alice"}, "Copy member ID"),
        ({"USER_REQUESTS_PER_HOUR": "0"}, "USER_REQUESTS_PER_HOUR must be a whole number"),
        ({"USER_REQUESTS_PER_HOUR": "-5"}, "not '-5'"),
        ({"USER_REQUESTS_PER_HOUR": "2.5"}, "USER_REQUESTS_PER_HOUR"),
        ({"USER_REQUESTS_PER_HOUR": "lots"}, "USER_REQUESTS_PER_HOUR"),
        ({"CHANNEL_PROMPTS": "{C0123ABCD: be nice}"}, "CHANNEL_PROMPTS must be a JSON object"),
        ({"CHANNEL_PROMPTS": "{C0123ABCD: be nice}"}, "not valid JSON"),
        ({"CHANNEL_PROMPTS": '["C0123ABCD"]'}, "not a JSON list"),
        ({"CHANNEL_PROMPTS": '"be nice"'}, "not a JSON string"),
        ({"CHANNEL_PROMPTS": '{"general": "x"}'}, "CHANNEL_PROMPTS keys must be Slack channel"),
        ({"CHANNEL_PROMPTS": '{"C0123ABCD": 5}'}, "CHANNEL_PROMPTS values must be non-empty"),
        ({"CHANNEL_PROMPTS": '{"C0123ABCD": "  "}'}, "check 'C0123ABCD'"),
    ],
)
def test_malformed_values_name_the_variable(env, expected):
    with pytest.raises(ValueError) as raised:
        parse_rules(env)
    assert expected in str(raised.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as raised:
        parse_rules(
            {
                "ALLOWED_CHANNELS": "#general",
                "ALLOWED_USERS": "alice",
                "USER_REQUESTS_PER_HOUR": "0",
                "CHANNEL_PROMPTS": "nope",
            }
        )
    names = [problem.split()[0] for problem in raised.value.problems]
    assert names == [
        "ALLOWED_CHANNELS",
        "ALLOWED_USERS",
        "USER_REQUESTS_PER_HOUR",
        "CHANNEL_PROMPTS",
    ]
    assert str(raised.value) == "\n".join(raised.value.problems)


# --- check_access ----------------------------------------------------------------------

RULES = AccessRules(
    allowed_channels=frozenset({"C0123ABCD"}), allowed_users=frozenset({"U0123ABCD"})
)


def test_open_rules_allow_everyone_everywhere():
    assert check_access(AccessRules(), "C0000AAAA", "U0000AAAA", is_dm=False) is None
    assert check_access(AccessRules(), "D0000AAAA", "U0000AAAA", is_dm=True) is None


def test_allowed_user_in_allowed_channel():
    assert check_access(RULES, "C0123ABCD", "U0123ABCD", is_dm=False) is None


def test_other_channels_are_refused_politely():
    assert check_access(RULES, "C0999ZZZZ", "U0123ABCD", is_dm=False) == NOT_ALLOWED_CHANNEL
    assert "direct message" in NOT_ALLOWED_CHANNEL


def test_other_users_are_refused_everywhere():
    assert check_access(RULES, "C0123ABCD", "U0999ZZZZ", is_dm=False) == NOT_ALLOWED_USER
    assert check_access(RULES, "D0999ZZZZ", "U0999ZZZZ", is_dm=True) == NOT_ALLOWED_USER


def test_dms_are_governed_by_users_only():
    channels_only = AccessRules(allowed_channels=frozenset({"C0123ABCD"}))
    assert check_access(channels_only, "D0999ZZZZ", "U0999ZZZZ", is_dm=True) is None
    assert check_access(RULES, "D0999ZZZZ", "U0123ABCD", is_dm=True) is None


def test_messages_are_one_line():
    for message in (NOT_ALLOWED_USER, NOT_ALLOWED_CHANNEL):
        assert "\n" not in message and message.startswith("Sorry")


# --- system_prompt_for -----------------------------------------------------------------


def test_channel_prompt_is_added_to_the_default():
    env = {**TOKENS, "CHANNEL_PROMPTS": '{"C0123ABCD": "You help the HR team."}'}
    profiles = load_settings(env).profiles
    hr, other = profiles.for_conversation("C0123ABCD"), profiles.for_conversation("C0999ZZZZ")
    assert system_prompt_for(hr, "DEFAULT") == "DEFAULT\n\nYou help the HR team."
    assert system_prompt_for(other, "DEFAULT") == "DEFAULT"


# --- RateLimiter -----------------------------------------------------------------------


def test_allows_up_to_the_limit_then_says_how_long_to_wait():
    clock = FakeClock()
    limiter = RateLimiter(3, clock=clock)
    assert limiter.allow("U1") == (True, 0.0)
    clock.advance(60)
    assert limiter.allow("U1") == (True, 0.0)
    clock.advance(60)
    assert limiter.allow("U1") == (True, 3600 - 120)  # that was the last one for now
    clock.advance(60)
    assert limiter.allow("U1") == (False, 3600 - 180)


def test_the_window_slides():
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)
    limiter.allow("U1")
    clock.advance(1000)
    limiter.allow("U1")
    clock.advance(2599)
    assert limiter.allow("U1") == (False, 1.0)
    clock.advance(1)  # the first request is now an hour old
    assert limiter.allow("U1") == (True, 1000.0)
    assert limiter.allow("U1") == (False, 1000.0)


def test_refused_requests_do_not_extend_the_wait():
    clock = FakeClock()
    limiter = RateLimiter(1, clock=clock)
    limiter.allow("U1")
    for _ in range(10):
        clock.advance(300)
        assert limiter.allow("U1")[0] is False
    clock.advance(600)
    assert limiter.allow("U1")[0] is True


def test_users_are_limited_separately():
    limiter = RateLimiter(1, clock=FakeClock())
    assert limiter.allow("U1")[0] is True
    assert limiter.allow("U2")[0] is True
    assert limiter.allow("U1")[0] is False


def test_no_limit_allows_everything_and_remembers_nothing():
    limiter = RateLimiter(None, clock=FakeClock())
    assert all(limiter.allow("U1") == (True, 0.0) for _ in range(1000))
    assert len(limiter) == 0


def test_memory_is_bounded_to_users_active_in_the_window():
    clock = FakeClock()
    limiter = RateLimiter(5, clock=clock)
    for i in range(1000):
        limiter.allow(f"U{i}")
    assert len(limiter) == 1000
    clock.advance(3600)
    limiter.allow("Unew")
    assert len(limiter) == 1
    clock.advance(30)
    limiter.allow("Uother")
    assert len(limiter) == 2


def test_limit_must_be_positive():
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_custom_window():
    clock = FakeClock()
    limiter = RateLimiter(1, window=60, clock=clock)
    limiter.allow("U1")
    clock.advance(59)
    assert limiter.allow("U1") == (False, 1.0)
    clock.advance(1)
    assert limiter.allow("U1")[0] is True


# --- messages --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "phrase"),
    [
        (0, "now"),
        (1, "in about a minute"),
        (60, "in about a minute"),
        (61, "in about 2 minutes"),
        (11 * 60 + 5, "in about 12 minutes"),
        (59 * 60, "in about 59 minutes"),
        (3599, "in about an hour"),
        (3600, "in about an hour"),
        (2.6 * 3600, "in about 3 hours"),
    ],
)
def test_wait_phrase_rounds_up_in_words(seconds, phrase):
    assert wait_phrase(seconds) == phrase


def test_rate_limited_message():
    assert rate_limited_message(700, 30) == (
        "You've reached the limit of 30 questions an hour. You can ask again in about 12 minutes."
    )
    assert rate_limited_message(30, 1).startswith("You've reached the limit of 1 question an hour.")
    assert rate_limited_message(30) == (
        "You've asked a lot of questions this hour. You can ask again in about a minute."
    )


def test_a_profile_offers_built_in_tools_by_name_and_mcp_tools_by_server():
    from dataclasses import dataclass

    from slackgpt.answering.policy import offers
    from slackgpt.config.profiles import Profile

    @dataclass
    class Tool:
        name: str
        server: str | None = None

    search, ticket = Tool("search_slack"), Tool("tickets_create", server="tickets")
    everything = Profile()
    assert offers(everything, search) and offers(everything, ticket)
    only_search = Profile(tools=("search_slack",), mcp_servers=())
    assert offers(only_search, search) and not offers(only_search, ticket)
    only_tickets = Profile(tools=(), mcp_servers=("tickets",))
    assert not offers(only_tickets, search) and offers(only_tickets, ticket)
