"""The app's Home tab: when a person opens it (``app_home_opened``, ``tab: home``), what they
may see is read (their usage from the spend budgets' store, the channel they look at in the
agent view, the profiles in force) and published for them as one view
(:mod:`~slackgpt.pane.home_view` builds it; the door publishes it).

Opening the tab costs the store's reads and one ``views.publish``, at most once every
``hold`` seconds per person (shared by copies through :class:`~slackgpt.state.local.State`):
a person opening it again and again sees the view published moments ago, and Slack's budget
stays for everyone else. Whatever fails, the tab says so rather than stay blank.
"""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError

from slackgpt.answering import policy
from slackgpt.config.profile_file import ProfileBook
from slackgpt.config.profiles import Profile
from slackgpt.config.settings import Settings
from slackgpt.pane import home_view, logic
from slackgpt.pane.home_view import COUNTED, NOT_COUNTED, UNREACHABLE, HomeFacts
from slackgpt.slack.api import SlackApi, error_code
from slackgpt.state.local import State
from slackgpt.usage import budget
from slackgpt.usage.spending import Spending
from slackgpt.usage.store import CHANNEL, PERSON, PersonUsage, UsageStore

log = logging.getLogger(__name__)

HOLD = 5.0  # seconds a person's Home tab is not read and published again
TOP = 10  # people and channels in an operator's lists


class Home:
    """The Home tab's side of the bot."""

    def __init__(
        self,
        *,
        slack: SlackApi,
        state: State,
        settings: Settings,
        spending: Spending,
        profiles: ProfileBook,
        hold: float = HOLD,
    ):
        self.slack, self.state, self.settings = slack, state, settings
        self.spending, self.profiles, self.hold = spending, profiles, hold

    async def opened(self, event: dict) -> None:
        """``app_home_opened`` on the Home tab: publish the person's view (unless it was
        published for them within ``hold`` seconds)."""
        user = event.get("user")
        if event.get("tab") != "home" or not isinstance(user, str) or not user:
            return
        if self.hold > 0 and await self.state.claim(f"home:{user}", ttl=self.hold) is False:
            log.debug("the Home tab of %s was published moments ago", user)
            return
        try:
            view = home_view.home_view(await self.facts(user))
        except Exception as error:  # the tab says so rather than stay blank
            log.exception("the Home tab of %s could not be read", user)
            view = home_view.failed_view(f"Your usage can't be shown right now "
                                         f"({type(error).__name__}); please try again later.")
        try:
            await self.slack.publish_home(user, view)
        except SlackApiError as error:
            log.warning("could not publish the Home tab of %s (%s)", user, error_code(error))

    async def facts(self, user: str) -> HomeFacts:
        """What ``user``'s Home tab shows, read now: the store's reads at the same time."""
        settings, spending = self.settings, self.spending
        now = spending.clock()
        channel = await self.state.context_of(*logic.viewer_key(user))
        profiles = self.profiles.current
        profile = profiles.for_conversation(channel) if channel else profiles.default
        admin = user in settings.admin_users
        counting, store_name, read = await self._counts(user, now, admin)
        mine, workspace, people, channels = read
        return HomeFacts(
            user=user, now=now, limits=spending.limits, counting=counting, store=store_name,
            mine=mine, workspace=workspace, priced=bool(spending.prices or profiles.prices),
            per_hour=settings.access.requests_per_hour, channel=channel, profile=profile,
            model=profile.model or settings.openai_model,
            tools=home_view.tools_said(profile, settings.tool_rounds),
            mcp=home_view.mcp_said(profile, settings.mcp_servers, channel),
            refusal=self._refusal(user, channel, profile), admin=admin,
            top_people=people, top_channels=channels,
        )

    async def _counts(self, user: str, now: float, admin: bool) -> tuple[str, str, tuple]:
        """Whether usage is counted (and readable now), what keeps it, and what it says:
        ``user``'s, the workspace's and, for an operator, the top people and channels."""
        store = self.spending.store
        nothing: tuple = (PersonUsage(), budget.Standing(), [], [])
        if store is None:
            return NOT_COUNTED, "", nothing
        when = budget.periods(now)
        reads = [store.person(user, when), store.standing(user, when)]
        if admin:
            reads += [store.top(PERSON, when.month, TOP), store.top(CHANNEL, when.month, TOP)]
        found = await asyncio.gather(*reads)
        read = (found[0], found[1], *(found[2:] or ([], [])))
        if not store.up():  # the reads said nothing was used: they could not tell
            return UNREACHABLE, _where(store), nothing
        return COUNTED, _where(store), read

    def _refusal(self, user: str, channel: str | None, profile: Profile) -> str | None:
        """Why ``user`` may not ask in ``channel`` (their DM with the bot when None)."""
        if profile.allowed_users is not None and user not in profile.allowed_users:
            return policy.NOT_ALLOWED_USER
        is_dm = channel is None or channel.startswith("D")
        return policy.check_access(self.settings.access, channel or "", user, is_dm)


def _where(store: UsageStore) -> str:
    """What keeps the counts, as the person reading the tab may be told."""
    return "the shared store (REDIS_URL)" if store.name == "usage_redis" else "the usage file"
