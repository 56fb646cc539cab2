"""What people do in the agent view (``features.agent_view``), as Events API envelopes: open
the app's Messages tab or its Home tab (``app_home_opened``), look at another channel
(``app_context_changed``), click the stop button of a session at work
(``agent_session_stopped``).

Shapes follow Slack's event pages (docs.slack.dev/reference/events/...): ``app_context_changed``
carries ``context.entities`` ordered by relevance (``{}`` when nothing is in view), and the
``user`` and ``channel`` that Slack's own types (@slack/types AppContextChangedEvent) list.
Each hook refuses (LookupError) what Slack would not send: an event the app is not
subscribed to, a context change for an app that is not an agent, a stop button that is not
shown (the session is not ``processing``, or the app does not subscribe to
``agent_session_stopped``: then people see a loading indicator without a button).
"""

from __future__ import annotations

from fakes.slack.agents import STOP_EVENT
from fakes.slack.events import send
from fakes.slack.records import Json
from fakes.slack.socket_mode import SocketMode
from fakes.slack.state import Workspace

CHANNEL_ENTITY = "slack#/types/channel_id"


def _subscribed(ws: Workspace, event: str) -> None:
    if event not in ws.events:
        raise LookupError(f"the app does not subscribe to {event} (manifest.json bot_events)")


async def open_home(ws: Workspace, socket: SocketMode, user: str, tab: str) -> str:
    """A person opens the app's ``tab`` (``messages``: the agent's conversations; ``home``:
    the Home tab, only shown when the manifest turns it on; its event carries the ``view``
    published for that person, if any); return the envelope_id."""
    _subscribed(ws, "app_home_opened")
    if tab not in ("messages", "home"):
        raise LookupError(f"an app has no {tab!r} tab (messages, home)")
    if tab == "home" and not ws.home_tab:
        raise LookupError("the Home tab is off (manifest.json features.app_home.home_tab_enabled)")
    event = {"type": "app_home_opened", "user": user, "channel": ws.im_of(user), "tab": tab}
    if tab == "home" and user in ws.home_views:
        event["view"] = ws.home_views[user]
    return await send(socket, event | {"event_ts": ws.new_ts()})


async def change_context(
    ws: Workspace, socket: SocketMode, user: str, channel: str | None
) -> str:
    """A person with the agent open looks at ``channel`` (None: at nothing Slack names);
    return the envelope_id."""
    if not ws.agent:
        raise LookupError("app_context_changed is sent only to apps on agent_view")
    _subscribed(ws, "app_context_changed")
    entities = [{"type": CHANNEL_ENTITY, "value": channel, "team_id": ws.team_id}]
    context: Json = {"entities": entities} if channel else {}
    event = {"type": "app_context_changed", "user": user, "channel": ws.im_of(user)}
    return await send(socket, event | {"context": context, "event_ts": ws.new_ts()})


async def click_stop(
    ws: Workspace, socket: SocketMode, channel: str, thread_ts: str, user: str
) -> str:
    """A person clicks the stop button of the thread's session: Slack stops the app's
    streaming messages there (appends then fail with ``stopped_by_user``) and sends
    ``agent_session_stopped``; the session's status stays ("does not update automatically").
    Return the envelope_id."""
    session = ws.sessions.get((channel, thread_ts))
    if session is None or session.status != "processing":
        now = session.status if session else "no session"
        raise LookupError(f"no stop button in {channel}/{thread_ts}: {now}, not processing")
    _subscribed(ws, STOP_EVENT)
    mine = [m for m in ws.thread_messages(channel, thread_ts) if m.bot_id == ws.bot_id]
    stopped = [m for m in map(ws.expire, mine) if m.streaming]
    for msg in stopped:
        msg.streaming, msg.stopped_by_user = False, True
    event = {"type": STOP_EVENT, "channel": channel, "thread_ts": thread_ts, "user": user}
    event |= {"streaming_message_ts": [m.ts for m in stopped], "event_ts": ws.new_ts()}
    return await send(socket, event)
