"""A question's tools: from the process's sources, for its asker."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slackgpt.slack.events import Question
from slackgpt.tools.base import Asker, ToolResult
from slackgpt.tools.toolbox import Toolbox, Toolkit, asker_of


@dataclass
class Named:
    name: str
    title: str = "Doing"
    description: str = "d"
    parameters: dict | None = None
    writes: bool = False

    async def run(self, arguments: dict, asker: Asker) -> ToolResult:
        return ToolResult("ok")


class Offer:
    def __init__(self, *tools: Named, when: str = ""):
        self.tools, self.when = tools, when

    def tools_for(self, asker: Asker, text: str) -> list[Named]:
        return list(self.tools) if self.when in text else []


def test_the_first_tool_of_a_name_wins_and_bad_names_are_left_out(caplog):
    caplog.set_level(logging.WARNING)
    kit = Toolkit([Offer(Named("search"), Named("bad name!"))], approver=None)
    kit.add(Offer(Named("search", title="Other"), Named("links"), when="https://"))
    asker = Asker("U1", "C1", "1.0")
    box = kit.toolbox(asker, "see https://x")
    assert list(box.tools) == ["search", "links"] and box.get("search").title == "Doing"
    assert [s["function"]["name"] for s in box.specs()] == ["search", "links"]
    assert list(kit.toolbox(asker, "no link").tools) == ["search"]
    assert len([r for r in caplog.records if "left out" in r.getMessage()]) == 2  # once each
    assert not Toolbox(asker) and box.approver is None


def test_the_asker_is_the_question_s_person_with_their_token():
    question = Question("C1", "2.0", "U1", "hi", thread_ts="1.0", team="T1", action_token="a.b")
    asker = asker_of(question)
    assert (asker.user, asker.channel, asker.thread_ts, asker.team) == ("U1", "C1", "1.0", "T1")
    assert (asker.action_token, asker.message_ts) == ("a.b", "2.0")
    assert asker_of(Question("D1", "3.0", "U2", "x")).thread_ts == "3.0"


def test_a_profile_may_offer_only_some_tools():
    kit = Toolkit([Offer(Named("search"), Named("links"))], approver=None)
    box = kit.toolbox(Asker("U1", "C1", "1.0"), "", offered=lambda tool: tool.name == "links")
    assert list(box.tools) == ["links"]
