"""What a click on Approve or Deny means, and what the asker is shown. Pure."""

from __future__ import annotations

from slackgpt.slack.blocks import APPROVE, DENY, approval_blocks
from slackgpt.tools import approval_rules as rules
from slackgpt.tools.approval_rules import Click, Request

REQUEST = Request("0123456789abcdef0123456789abcdef", "U0ASKER01", 1_000)


def body(action_id: str = APPROVE, user: str = "U0ASKER01", value: str | None = None) -> dict:
    """A block_actions payload as Slack sends it for a button of ours."""
    return {
        "type": "block_actions",
        "user": {"id": user},
        "channel": {"id": "C0123ABCD"},
        "container": {"type": "message", "message_ts": "2.0", "channel_id": "C0123ABCD",
                      "thread_ts": "1.0"},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "approval:x",
                     "value": REQUEST.value if value is None else value}],
    }


def click(approve: bool = True, user: str = "U0ASKER01") -> Click:
    return Click(REQUEST, approve, user, "C0123ABCD", "1.0")


def test_the_buttons_carry_the_request_and_it_reads_back():
    [actions] = approval_blocks(REQUEST.id, REQUEST.value)
    assert actions["block_id"] == f"approval:{REQUEST.id}"
    assert [e["action_id"] for e in actions["elements"]] == [APPROVE, DENY]
    assert {e["value"] for e in actions["elements"]} == {REQUEST.value}
    assert Request.parse(REQUEST.value) == REQUEST
    for junk in (None, "", "x|U1|3", f"{REQUEST.id}|nobody|3", f"{REQUEST.id}|U0ASKER01|soon"):
        assert Request.parse(junk) is None


def test_a_click_is_read_from_the_payload():
    assert rules.click_from(body()) == click()
    assert rules.click_from(body(DENY, "U0OTHER01")) == click(False, "U0OTHER01")
    assert rules.click_from(body("answer_feedback")) is None
    assert rules.click_from(body(value="forged")) is None
    assert rules.click_from({"actions": []}) is None


def test_only_the_asker_decides_and_only_in_time():
    other = rules.refusal(click(user="U0OTHER01"), now=10)
    assert other is not None and other.mrkdwn == "Only <@U0ASKER01> can approve this."
    assert "<@" not in other.plain  # the notification's text names no one
    assert rules.refusal(click(), now=10) is None
    late = rules.refusal(click(), now=REQUEST.deadline + 1)
    assert late is not None and "nothing was run" in late.plain


def test_a_decision_settles_once():
    mine = rules.decision(click())
    assert mine == "approved:U0ASKER01"
    assert rules.after(click(), mine) is None  # it counted
    again = rules.after(click(False), mine)  # Deny after Approve
    assert again is not None and again.plain.startswith("Already approved")
    assert "nothing was run" in rules.after(click(), rules.EXPIRED).plain
    assert "could not be recorded" in rules.after(click(), None).plain


def test_only_an_approval_lets_the_tool_run():
    assert rules.approved("approved:U0ASKER01", "U0ASKER01")
    for held in ("denied:U0ASKER01", rules.EXPIRED, rules.STOPPED, None, "", "approved:U2"):
        assert not rules.approved(held, "U0ASKER01")
    assert rules.outcome_line("approved:U1", 300, "U1").startswith("✅ Approved")
    assert rules.outcome_line("denied:U1", 300, "U1").startswith("🚫 Denied")
    assert rules.outcome_line("approved:U2", 300, "U1").startswith("🚫 Decided by someone")
    assert rules.outcome_line(rules.EXPIRED, 300, "U1") == (
        "⌛ No answer within 5 minutes; not run.")
    assert rules.outcome_line(rules.STOPPED, 90, "U1").startswith("⏹️")


def test_the_arguments_are_shown_compact_capped_and_inert():
    shown = rules.preview({
        "title": "Printer on fire",
        "body": "```\nclose the fence\n``` <!channel> " + "x" * 1000,
        "labels": ["urgent", "hw"],
        **{f"extra{i}": i for i in range(30)},
    })
    lines = shown.splitlines()
    assert lines[0] == "title: Printer on fire"
    assert lines[1].startswith("body: `\u200b`\u200b` close the fence") and lines[1].endswith("…")
    assert len(lines[1].replace("\u200b", "")) <= len("body: ") + rules.PREVIEW_VALUE
    assert lines[2] == 'labels: ["urgent","hw"]'
    assert lines[-1] == "… and 13 more" and "```" not in shown
    assert len(shown) <= rules.PREVIEW_CHARS
    assert rules.preview({}) == "(no arguments)"


def test_the_request_says_what_would_run_and_the_rule():
    text = rules.request_text("Create *a* ticket (tickets)", {"title": "x"})
    assert text.startswith("**May I run Create a ticket (tickets)?**")
    assert "```\ntitle: x\n```" in text
    assert "within 5 minutes it does not run" in rules.waiting_line(300)
