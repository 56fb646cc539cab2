"""Profiles: the operator's file read into per-conversation profiles, every mistake with its
fix; TOML and YAML; reloading keeps the last good profiles."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from slackgpt.config.profile_file import ProfileBook, read_profiles
from slackgpt.config.profiles import Price, Profile, Profiles, cross_check, parse_profiles

GOOD = {
    "default": {"instructions": "Be brief.", "model": "gpt-5-mini", "max_output_tokens": 800},
    "profiles": {
        "support": {
            "channels": ["C0123ABCD", "C0456EFGH"],
            "instructions": "You are the support desk's assistant.",
            "model": "gpt-5",
            "tools": ["search_slack"],
            "allowed_users": ["U0123ABCD"],
        },
        "private": {"dms": True, "mcp_servers": []},
    },
    "prices": {"gpt-5-mini": {"input": 0.25, "output": 2.0}},
}

TOML = """
[default]
instructions = "Be brief."

[profiles.support]
channels = ["C0123ABCD"]
model = "gpt-5"
api_key_env = "SUPPORT_KEY"

[prices."gpt-5"]
input = 1.25
output = 10
"""

YAML = """
default:
  instructions: Be brief.
profiles:
  support:
    channels: [C0123ABCD]
    model: gpt-5
"""


def test_a_conversation_gets_its_profile_and_the_default_fills_the_rest():
    profiles, problems = parse_profiles(GOOD)
    assert problems == []
    support = profiles.for_conversation("C0123ABCD")
    assert (support.name, support.model, support.max_output_tokens) == ("support", "gpt-5", 800)
    assert support.tools == ("search_slack",) and support.allowed_users == {"U0123ABCD"}
    assert profiles.for_conversation("C0999ZZZZ").name == "default"
    dm = profiles.for_conversation("D0123ABCD")
    assert dm.name == "private" and dm.mcp_servers == () and dm.instructions == "Be brief."
    assert profiles.prices["gpt-5-mini"] == Price(input=0.25, output=2.0)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"profiles": {"support": {"chanels": ["C0123ABCD"]}}}, "did you mean channels?"),
        ({"profiles": {"support": {"channels": ["general"]}}}, "channel IDs like C0123ABCD"),
        ({"profiles": {"a": {"channels": ["C0123ABCD"]}, "b": {"channels": ["C0123ABCD"]}}},
         "C0123ABCD is in both profiles.a and profiles.b"),
        ({"default": {"max_output_tokens": 0}}, "a whole number from 1 to 1,000,000"),
        ({"default": {"api_key_env": "sk-abc"}}, "the NAME of an environment variable"),
        ({"default": {"api_key_env": "NOT_SET_ANYWHERE"}}, "which is not set"),
        ({"profiles": {"lost": {"model": "x"}}}, "is for no conversation"),
        ({"prices": {"gpt-5": {"input": -1, "output": 2}}}, "numbers of at least 0"),
        ({"defaults": {}}, "did you mean default?"),
        ({"default": {"tools": "search_slack"}}, "a list of names"),
    ],
)
def test_each_mistake_comes_with_its_fix(change, said):
    _, problems = parse_profiles(change, has_env=lambda name: name != "NOT_SET_ANYWHERE")
    assert any(said in problem for problem in problems), problems


@pytest.mark.parametrize(("name", "text"), [("profiles.toml", TOML), ("profiles.yaml", YAML)])
def test_toml_and_yaml_files_read_alike(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    profiles, problems = read_profiles(path, {"SUPPORT_KEY": "sk-x"})
    assert problems == []
    assert profiles.for_conversation("C0123ABCD").model == "gpt-5"
    assert profiles.for_conversation("C0123ABCD").instructions == "Be brief."


def test_a_broken_file_says_where(tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text("[default\ninstructions = 1\n")
    _, problems = read_profiles(path, {})
    assert problems and "is not valid TOML" in problems[0] and "line 1" in problems[0]
    _, missing = read_profiles(tmp_path / "nope.yaml", {})
    assert "does not exist" in missing[0]


@pytest.mark.timeout(10)
def test_a_yaml_alias_bomb_or_a_huge_file_is_a_problem_not_a_hang(tmp_path):
    """Saying what was wrong with a value wrote its whole repr: a 'billion laughs' of YAML
    aliases (a few hundred bytes, shared lists when loaded) took minutes and gigabytes,
    in the event loop on a reload, so the whole bot hung."""
    laughs = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for this, before in zip("bcdefghi", "abcdefgh", strict=True):
        laughs.append(f"{this}: &{this} [{', '.join(['*' + before] * 9)}]")
    path = tmp_path / "profiles.yaml"
    path.write_text("\n".join(laughs) + "\ndefault:\n  model: *i\n  tools: *i\n")
    _, problems = read_profiles(path, {})
    assert any("default.model must be text" in p for p in problems)
    assert max(len(p) for p in problems) < 500
    path.write_text("default:\n  instructions: " + "x" * 2_000_000 + "\n")
    _, problems = read_profiles(path, {})
    assert problems == [f"PROFILES_FILE ({path}) is 2.0 MB: a profiles file is a few KB, "
                        "and at most 1 MB is read. Check that it names the right file."]


def test_a_bad_edit_keeps_the_profiles_in_force_and_a_good_one_takes_over(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="slackgpt.config.profile_file")
    path = tmp_path / "profiles.toml"
    path.write_text(TOML)
    first, _ = read_profiles(path, {"SUPPORT_KEY": "sk-x"})
    book = ProfileBook(first, path, {"SUPPORT_KEY": "sk-x"})
    path.write_text(TOML.replace('model = "gpt-5"', "model = 5"))
    os.utime(path, ns=(1, 1))  # a change the book sees, whatever the clock's resolution
    assert book.reload() is False and book.current is first
    assert "has mistakes" in caplog.text and "profiles.support.model must be text" in caplog.text
    path.write_text(TOML.replace('model = "gpt-5"', 'model = "gpt-5.1"'))
    assert book.reload() is True
    assert book.current.for_conversation("C0123ABCD").model == "gpt-5.1"
    assert book.reload() is False  # unchanged since


def test_without_a_file_the_book_holds_the_settings_profiles():
    book = ProfileBook(Profiles(Profile(instructions="x")), None)
    assert book.reload(force=True) is False and book.current.default.instructions == "x"


def test_what_profiles_name_must_exist_elsewhere_and_be_priced_under_a_cost_budget():
    profiles, _ = parse_profiles({
        "default": {"tools": ["search_slak"], "mcp_servers": ["tickets"]},
        "profiles": {"eng": {"channels": ["C0123ABCD"], "model": "gpt-5",
                             "mcp_servers": ["wiki"]}},
        "prices": {"gpt-5": {"input": 1.25, "output": 10}},
    })
    said = cross_check(profiles, frozenset({"tickets"}), {}, "gpt-5-mini", cost_budget=True)
    assert said == [
        "default.tools names 'search_slak', which does not exist; did you mean search_slack?",
        "profiles.eng.mcp_servers names 'wiki', which is not one of the servers in "
        "MCP_SERVERS: tickets",
        'WORKSPACE_COST_PER_MONTH needs the price of gpt-5-mini: add [prices."gpt-5-mini"] '
        "input = …, output = … (per million tokens) to the profiles file, or to MODEL_PRICES.",
    ]
    priced = {"gpt-5-mini": Price(0.25, 2.0)}
    assert cross_check(profiles, frozenset({"tickets", "wiki"}), priced, "gpt-5-mini",
                       cost_budget=True) == [said[0]]


def test_a_reload_the_rest_of_the_settings_refuse_keeps_the_profiles(tmp_path, caplog):
    path = tmp_path / "profiles.toml"
    path.write_text('[default]\ninstructions = "one"\n')
    book = ProfileBook(*read_profiles(path, {})[:1], path,
                       check=lambda p: ["no such server"] if p.default.mcp_servers else [])
    path.write_text('[default]\ninstructions = "two"\nmcp_servers = ["gone"]\n')
    with caplog.at_level(logging.ERROR):
        assert book.reload(force=True) is False
    assert book.current.default.instructions == "one" and "no such server" in caplog.text


def test_the_settings_read_profiles_file(tmp_path, slack, llm):
    from slackgpt.config.settings import ConfigError, load_settings
    from tests.helpers import env_for

    path = Path(tmp_path / "profiles.toml")
    path.write_text(TOML)
    settings = load_settings(env_for(slack, llm, PROFILES_FILE=str(path), SUPPORT_KEY="sk-1"))
    assert settings.profiles.for_conversation("C0123ABCD").model == "gpt-5"
    assert "sk-1" in settings.secrets  # the profile's key is masked like the others
    with pytest.raises(ConfigError) as caught:
        load_settings(env_for(slack, llm, PROFILES_FILE=str(path)))  # SUPPORT_KEY unset
    assert any("SUPPORT_KEY, which is not set" in p for p in caught.value.problems)


def test_the_settings_check_the_file_against_the_servers_and_prices(tmp_path, slack, llm):
    from slackgpt.config.settings import ConfigError, load_settings
    from tests.helpers import env_for

    path = tmp_path / "profiles.toml"
    path.write_text('[default]\nmcp_servers = ["wiki"]\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(env_for(slack, llm, PROFILES_FILE=str(path)))
    [said] = caught.value.problems
    assert said.startswith(f"PROFILES_FILE ({path}): default.mcp_servers names 'wiki'")
    path.write_text('[prices."gpt-test"]\ninput = 1\noutput = 2\n')  # priced in the file
    settings = load_settings(env_for(slack, llm, PROFILES_FILE=str(path), SUPPORT_KEY="sk-x",
                                     WORKSPACE_COST_PER_MONTH="50"))
    assert settings.profiles.prices["gpt-test"] == Price(1.0, 2.0)
    assert settings.profile_keys == ()  # no profile names a key variable
