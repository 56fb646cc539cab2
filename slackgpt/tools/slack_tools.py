"""The built-in Slack tools of a running bot, assembled: Slack search (on once Slack says the
workspace has it) and the reader of message links, both for the person asking."""

from __future__ import annotations

import logging

from slackgpt.slack.api import SlackApi
from slackgpt.slack.people import People
from slackgpt.slack.visibility import Visibility
from slackgpt.tools.slack_links import LinkSource, ReadSlackMessage
from slackgpt.tools.slack_search import SearchCheck, SearchSource, SlackSearch, search_check
from slackgpt.tools.toolbox import ToolSource

log = logging.getLogger(__name__)


class SlackTools:
    """The built-in tools' sources (for a :class:`~slackgpt.tools.toolbox.Toolkit`)."""

    def __init__(self, slack: SlackApi, visibility: Visibility, people: People | None = None):
        self.slack = slack
        self.search = SearchSource(SlackSearch(slack, visibility))
        self.links = LinkSource(ReadSlackMessage(slack, visibility, people), self.search)

    @property
    def sources(self) -> list[ToolSource]:
        return [self.search, self.links]

    async def start(self) -> SearchCheck:
        """Ask Slack once whether the workspace has its search; say in one log line."""
        check = await search_check(self.slack)
        self.search.enabled = check.enabled
        if check.problem:
            log.warning("%s. %s", check.detail, check.fix)
        else:
            log.info("%s", check.detail + (f". {check.fix}" if check.fix else ""))
        return check
