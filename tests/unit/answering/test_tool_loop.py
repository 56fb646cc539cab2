"""The tool loop's decisions: the request within the budget, outputs cut, what people see."""

from __future__ import annotations

import httpx2
import openai

from slackgpt.answering import tool_loop
from slackgpt.answering.prompt import Prompt
from slackgpt.answering.tool_loop import DROPPED, Limits, Talk, fit_turns
from slackgpt.model.tokens import messages_tokens
from slackgpt.model.tool_calls import Checked


def thread(budget: int) -> Prompt:
    """A thread of 40 turns cut to ``budget`` as the prompt builder would, oldest first."""
    turns = [{"role": "user", "content": f"turn {n} " + "words " * 40} for n in range(40)]
    kept = [{"role": "system", "content": "sys"}]
    for turn in reversed(turns):
        if messages_tokens([*kept, turn]) > budget:
            break
        kept.insert(1, turn)
    return Prompt(kept, notes=(f"kept {len(kept) - 1}",))


def result(n: int, words: int) -> list[dict]:
    call = Checked(f"c{n}", "search_slack", "{}", {})
    return [tool_loop.asked("", [call]), tool_loop.answered(f"c{n}", "found " * words)]


def test_the_thread_makes_room_for_the_tools_and_their_results():
    talk = Talk(thread, 3_000, tools_tokens=200)
    alone = len(talk.messages())
    asked, answered = result(1, 600)
    talk.add(asked, [answered])
    with_result = talk.messages()
    assert messages_tokens(with_result) + 200 <= 3_000
    assert len(with_result) - 2 < alone  # older thread turns gave way
    assert with_result[-1]["role"] == "tool" and talk.notes


def test_the_oldest_results_give_way_first_each_call_still_answered():
    turns = [*result(1, 2_000), *result(2, 2_000), *result(3, 100)]
    fitted = fit_turns(turns, 1_500)
    assert [t.get("content") == DROPPED for t in fitted if t["role"] == "tool"] == [
        True, True, False]
    assert messages_tokens(fitted) <= 1_500
    assert [t.get("tool_call_id") for t in fitted if t["role"] == "tool"] == ["c1", "c2", "c3"]


def test_a_smaller_budget_after_the_model_refused_the_length():
    talk = Talk(thread, 8_000)
    request = httpx2.Request("POST", "http://m/v1/chat/completions")
    body = {"error": {"message": "This model's maximum context length is 2000 tokens. However, "
                      "your messages resulted in 4000 tokens.", "code": "context_length_exceeded"}}
    error = openai.BadRequestError("too long", response=httpx2.Response(400, request=request),
                                   body=body)
    assert talk.shrink(error) < 8_000
    assert messages_tokens(talk.messages()) <= talk.budget


def test_outputs_are_cut_to_what_a_round_may_take():
    limits = Limits(output_tokens=4_000)
    assert tool_loop.output_cap(limits, 64_000, 1) == 4_000
    assert tool_loop.output_cap(limits, 64_000, 8) == 2_000  # a quarter of the budget in all
    cut = tool_loop.capped("word " * 5_000, 100)
    assert len(cut) < 1_000 and cut.endswith(tool_loop.CUT)
    assert tool_loop.capped("short", 100) == "short"


def test_what_people_see_of_a_call():
    assert tool_loop.details_of({"limit": 3, "query": "  deploy\n freeze "}) == "deploy freeze"
    assert tool_loop.details_of(None) == "" and len(tool_loop.details_of({"q": "x" * 500})) == 120
    assert tool_loop.status_of(["Searching Slack"]) == "is searching Slack…"
    assert tool_loop.status_of(["Reading a link", "Searching Slack"]) == (
        "is reading a link (and 1 more)…")
    assert tool_loop.status_of([]) == ""


def test_every_call_is_in_the_models_turn_and_answered():
    calls = [Checked("c1", "a", '{"x": 1}', {"x": 1}), Checked("m_1", "b", "{bad", None, "bad")]
    turn = tool_loop.asked("Let me look.", calls)
    assert turn["content"] == "Let me look."
    assert [c["function"]["arguments"] for c in turn["tool_calls"]] == ['{"x": 1}', "{bad"]
    assert tool_loop.asked("", calls)["content"] is None
    assert tool_loop.problem_text("bad") == "Not run: bad."
    assert "no way to ask" in tool_loop.refused_text(approver=False)
    assert "did not approve" in tool_loop.refused_text(approver=True)
