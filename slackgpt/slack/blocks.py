"""Block Kit the bot writes: the feedback buttons under a finished answer, the Approve and
Deny buttons of a tool that needs the asker's approval. Pure."""

from __future__ import annotations

import re

FEEDBACK_ACTION = "answer_feedback"
GOOD, BAD = "good", "bad"
APPROVE, DENY = "tool_approve", "tool_deny"  # the approval buttons' action_ids
APPROVAL_ACTIONS = re.compile(r"^tool_(approve|deny)$")


def feedback_blocks(model_name: str) -> list[dict]:
    """The 👍/👎 buttons under a finished answer; each value names the vote and the model."""

    def button(vote: str, label: str) -> dict:
        text = {"type": "plain_text", "text": label}
        accessible = f"Mark this answer as {label.split()[0].lower()}"
        value = f"{vote}:{model_name}"[:2000]  # Slack's limit for a button's value
        return {"text": text, "value": value, "accessibility_label": accessible}

    buttons = {
        "type": "feedback_buttons",
        "action_id": FEEDBACK_ACTION,
        "positive_button": button(GOOD, "Good answer"),
        "negative_button": button(BAD, "Bad answer"),
    }
    return [{"type": "context_actions", "elements": [buttons]}]


def approval_blocks(request_id: str, value: str) -> list[dict]:
    """Approve and Deny buttons, both carrying ``value``, in a block named for the request."""

    def button(action_id: str, label: str, style: str) -> dict:
        text = {"type": "plain_text", "text": label}
        return {"type": "button", "action_id": action_id, "text": text, "style": style,
                "value": value}

    buttons = [button(APPROVE, "Approve", "primary"), button(DENY, "Deny", "danger")]
    return [{"type": "actions", "block_id": f"approval:{request_id}", "elements": buttons}]


def context_blocks(mrkdwn: str) -> list[dict]:
    """One small line (what became of a request, in place of its buttons)."""
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn}]}]


def section_blocks(mrkdwn: str) -> list[dict]:
    """One section of mrkdwn (an ephemeral that names someone without pinging them)."""
    return [{"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}]
