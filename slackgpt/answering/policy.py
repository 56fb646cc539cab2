"""What the bot refuses and why: the hint, allow-lists, per-person limits, per-channel prompts.

Pure decisions; the per-person counter lives with the bot's memory (:mod:`slackgpt.state`).
"""

from __future__ import annotations

import math

from slackgpt.config.profiles import Profile
from slackgpt.config.values import AccessRules
from slackgpt.formatting import slack_to_text
from slackgpt.slack.events import BotIdentity, Question
from slackgpt.tools.base import Tool

HINT = (
    "Hi! Ask me something after the mention, for example: "
    "`@{name} what does Socket Mode do?` In a DM, just write your question."
)
NOT_ALLOWED_USER = (
    "Sorry, I can only answer the people an admin has given access to. "
    "Ask the admin of this bot if you need it."
)
NOT_ALLOWED_CHANNEL = (
    "Sorry, I don't answer in this channel. "
    "You can send me a direct message, or ask an admin to add this channel."
)


def refusal(
    rules: AccessRules, question: Question, identity: BotIdentity, profile: Profile | None = None
) -> str | None:
    """Why the bot won't ask the model (nothing asked, or no access by the settings or by the
    conversation's ``profile``), or None.

    The per-person limit is separate (``State.count_request``): it counts, so it goes last.
    """
    if not slack_to_text(question.text, identity.user_id) and not question.files:
        return HINT.format(name=identity.name or "bot")
    allowed = profile.allowed_users if profile else None
    if allowed is not None and question.user not in allowed:
        return NOT_ALLOWED_USER
    return check_access(rules, question.channel, question.user, question.is_dm)


def check_access(rules: AccessRules, channel: str, user: str, is_dm: bool) -> str | None:
    """None when ``user`` may ask in ``channel``, else the one-line reply to post.

    DMs are governed by ``allowed_users`` alone; channels by both lists.
    """
    if rules.allowed_users is not None and user not in rules.allowed_users:
        return NOT_ALLOWED_USER
    if not is_dm and rules.allowed_channels is not None and channel not in rules.allowed_channels:
        return NOT_ALLOWED_CHANNEL
    return None


def system_prompt_for(profile: Profile, default: str) -> str:
    """``default``, followed by the conversation's profile's instructions when it has some.

    The profile's instructions are added rather than substituted, so the general rules in
    ``default`` (language, Slack formatting, how speakers are named) still hold.
    """
    extra = profile.instructions
    return f"{default}\n\n{extra}" if extra else default


def cannot_read(channel: str, code: str, bot_name: str | None) -> str:
    """One sentence for the person: why the bot cannot read ``channel``, and the fix."""
    invite = f"`/invite @{bot_name or 'the bot'}`"
    if code == "not_in_channel":
        return f"I can't read <#{channel}> because I'm not in it: type {invite} there."
    if code == "channel_not_found" and channel.startswith("D"):
        return "I can't read other people's direct messages; paste the part you need here."
    if code == "channel_not_found":
        return f"I can't see <#{channel}>: it is private and I'm not in it; type {invite} there."
    if code == "missing_scope":
        return (
            f"I'm not allowed to read <#{channel}>: an admin must give this app the scopes in "
            "its manifest.json and reinstall it."
        )
    if code == "not_a_member":
        return f"I only read <#{channel}> for its members, and you aren't one."
    if code == "not_allowed":
        return f"I'm not set up to read <#{channel}>: an admin can add it to ALLOWED_CHANNELS."
    return f"I couldn't read <#{channel}> just now ({code}); please ask again in a moment."


def rate_limited_message(wait: float, limit: int | None = None) -> str:
    """The reply to someone over their hourly limit, saying when they can ask again."""
    reached = (
        f"You've reached the limit of {limit} question{'s' if limit != 1 else ''} an hour."
        if limit
        else "You've asked a lot of questions this hour."
    )
    return f"{reached} You can ask again {wait_phrase(wait)}."


def wait_phrase(seconds: float) -> str:
    """``in about 12 minutes``: a wait rounded up, in words."""
    if seconds <= 0:
        return "now"
    minutes = math.ceil(seconds / 60)
    if minutes <= 1:
        return "in about a minute"
    if minutes < 60:
        return f"in about {minutes} minutes"
    hours = round(minutes / 60)
    return "in about an hour" if hours <= 1 else f"in about {hours} hours"


def offers(profile: Profile, tool: Tool) -> bool:
    """Whether a conversation of ``profile`` is offered ``tool``: an MCP server's tool when
    the profile names its server (or names none), a built-in one when it names the tool."""
    server = getattr(tool, "server", None)  # only MCP servers' tools have one
    if server is not None:
        return profile.mcp_servers is None or server in profile.mcp_servers
    return profile.tools is None or tool.name in profile.tools
