"""Block Kit the bot writes: the feedback buttons under a finished answer. Pure."""

from __future__ import annotations

FEEDBACK_ACTION = "answer_feedback"
GOOD, BAD = "good", "bad"


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
