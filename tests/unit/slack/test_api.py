"""The one door to Slack, against the fake Slack and small local file hosts."""

from __future__ import annotations

import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError

from slackgpt.slack.api import SlackApi, TokenRejected, error_code
from slackgpt.slack.blocks import approval_blocks, context_blocks, section_blocks
from slackgpt.slack.downloads import ForeignFileHost, is_file_host
from slackgpt.slack.events import Target
from slackgpt.slack.quota import Quota
from slackgpt.slack.wire import NameUnknown

pytestmark = pytest.mark.timeout(20)


class FileHost:
    """A web server on 127.0.0.1 that records the Authorization header of every request."""

    def __init__(self, routes: dict[str, web.Response]):
        self.routes = routes
        self.seen: list[str | None] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> FileHost:
        app = web.Application()
        app.router.add_get("/{path:.*}", self.serve)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = self.runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    async def serve(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(request.headers.get("Authorization"))
        route = self.routes.get("/" + request.match_info["path"])
        return route if route is not None else web.Response(status=404)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


async def test_whoami_and_a_rejected_token(slack, door):
    whoami = await door.whoami()
    assert whoami.identity.user_id == slack.bot_user_id and whoami.is_bot
    assert "chat:write" in (whoami.scopes or "")
    with pytest.raises(TokenRejected) as rejected:
        await door.socket_url(slack.bot_token)
    assert rejected.value.code == "not_allowed_token_type"


async def test_names_and_nobody(door):
    assert await door.user_name("U1") == "user-u1"
    assert await door.user_name("B-not-a-person") is None  # Slack: user_not_found


async def test_a_name_never_waits_for_the_users_info_budget(slack):
    door = SlackApi(slack.bot_token, slack.api_url, quota=Quota(per_minute={"users.info": 1}))
    try:
        assert await door.user_name("U1") == "user-u1"
        with pytest.raises(NameUnknown):
            await door.user_name("U2")  # at once, not after the minute
        assert [c.params["user"] for c in slack.calls_to("users.info")] == ["U1"]
    finally:
        await door.close()


async def test_claim_is_false_only_when_already_taken(slack, door):
    root = slack.add_message("C1", "question")
    assert await door.claim("C1", root["ts"]) is True
    assert await door.claim("C1", root["ts"]) is False
    slack.fail("reactions.add", "missing_scope")
    other = slack.add_message("C1", "another")
    assert await door.claim("C1", other["ts"]) is True  # the sign is lost, not the answer


async def test_a_claim_never_waits_for_the_reactions_budget(slack):
    door = SlackApi(slack.bot_token, slack.api_url, quota=Quota(per_minute={"reactions.add": 1}))
    try:
        first, second = slack.add_message("C1", "one"), slack.add_message("C1", "two")
        assert await door.claim("C1", first["ts"]) is True
        assert await door.claim("C1", second["ts"]) is True  # at once, without its 👀
        assert [c.params["timestamp"] for c in slack.calls_to("reactions.add")] == [first["ts"]]
    finally:
        await door.close()


async def test_every_write_route_neutralizes_broadcasts(slack, door):
    root = slack.add_message("C1", "question")
    target = Target("C1", root["ts"], "U1", slack.team_id)
    await door.post_text(target, "<!channel> notice")
    posted = await door.post_markdown(target, "<!here> posted")
    await door.update_markdown("C1", posted, "<!everyone> updated")
    streamed = await door.start_stream(target, "<!subteam^S1|@team> start")
    await door.append_stream("C1", streamed, " @here more")
    await door.stop_stream("C1", streamed, " <!here|x> end")
    sent = " ".join(str(c.params) for c in slack.calls)
    assert "<!" not in sent.replace("<\u2060!", "")
    for text in ("@channel", "@here", "@everyone", "@team"):
        assert text not in sent


async def test_no_post_unfurls_a_link(slack, door):
    """Links the model or anyone wrote never turn into previews (#18 item 5)."""
    root = slack.add_message("C1", "question")
    target = Target("C1", root["ts"], "U1", slack.team_id)
    await door.post_text(target, "see https://evil.example/x")
    await door.post_markdown(target, "see <https://evil.example/y>")
    posts = slack.calls_to("chat.postMessage")
    assert len(posts) == 2
    assert all(p.params["unfurl_links"] is False and p.params["unfurl_media"] is False
               for p in posts)


async def test_markdown_falls_back_to_mrkdwn_when_blocks_are_refused(slack, door):
    root = slack.add_message("C1", "question")
    slack.fail("chat.postMessage", "invalid_blocks")
    await door.post_markdown(Target("C1", root["ts"]), "**bold**")
    assert slack.bot_text("C1", root["ts"]) == "*bold*"


async def test_download_reads_to_the_end_or_the_cap(slack, door):
    file = slack.add_file("big.csv", b"a,b\n" * 200_000, "text/csv")  # 800 KB
    whole = await door.download(file["url_private_download"], 1_000_000)
    assert whole.complete and len(whole.data) == 800_000
    cut = await door.download(file["url_private_download"], 100_000)
    assert not cut.complete and len(cut.data) == 100_000


async def test_the_token_never_goes_to_a_foreign_host(door):
    async with FileHost({"/secret.txt": web.Response(text="x")}) as foreign:
        with pytest.raises(ForeignFileHost):
            await door.download(foreign.url("/secret.txt"), 1000)
        assert foreign.seen == []


async def test_a_redirect_to_a_foreign_host_is_not_followed():
    async with FileHost({"/secret.txt": web.Response(text="x")}) as foreign:
        moved = web.Response(status=302, headers={"Location": foreign.url("/secret.txt")})
        async with FileHost({"/files/a.txt": moved}) as slack_host:
            door = SlackApi("xoxb-1", slack_host.url("/api/"))
            try:
                with pytest.raises(ForeignFileHost):
                    await door.download(slack_host.url("/files/a.txt"), 1000)
            finally:
                await door.close()
            assert slack_host.seen == ["Bearer xoxb-1"] and foreign.seen == []


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://files.slack.com/files-pri/T1-F1/a.pdf", True),
        ("https://acme.enterprise.slack.com/files/a", True),
        ("https://files.slack-gov.com/files-pri/T1-F1/a.pdf", True),
        ("http://files.slack.com/a", False),  # never over plain HTTP
        ("https://files.slack.com.evil.io/a", False),
        ("https://evilslack.com/a", False),
        ("https://drive.google.com/file/d/1", False),
    ],
)
def test_slack_file_hosts(url, allowed):
    assert is_file_host(url, "https://slack.com/api/") is allowed


def test_error_code_reads_slack_and_anything_else():
    class Response(dict):
        pass

    class Failed(Exception):
        response = Response(error="already_reacted")

    assert error_code(Failed()) == "already_reacted"
    assert error_code(ValueError("plain")) == "plain"


class Hook:
    """A response_url on 127.0.0.1 that records the JSON posted to it."""

    def __init__(self, status: int = 200):
        self.status, self.bodies, self.headers = status, [], []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Hook:
        app = web.Application()
        app.router.add_post("/actions/T1/1/secret", self.serve)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/actions/T1/1/secret"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    async def serve(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        self.headers.append(request.headers.get("Authorization"))
        return web.Response(status=self.status, text="ok")


async def test_the_pane_calls(slack, door):
    root = slack.add_message("D1", "Chats", subtype="assistant_app_thread")
    prompts = [{"title": "Hi", "message": "Say hi"}]
    await door.set_suggested_prompts("D1", root["ts"], prompts)
    await door.set_title("D1", root["ts"], "Ask <!here> about it")
    assert slack.suggested_prompts[("D1", root["ts"])].prompts == prompts
    assert slack.titles[("D1", root["ts"])] == "Ask @\u2060here about it"
    for i in range(5):
        slack.add_message("C1", f"m{i}")
    assert [m["text"] for m in await door.history("C1", 3)] == ["m4", "m3", "m2"]
    assert len(slack.calls_to("conversations.history")) == 1  # one page, never more


async def test_a_home_view_is_published_within_its_budget(slack, door):
    view = {"type": "home", "blocks": section_blocks("Today: *1,200* tokens")}
    await door.publish_home("U2", view)
    assert slack.home_text("U2") == "Today: *1,200* tokens"
    slack.home_tab = False
    with pytest.raises(SlackApiError) as refused:
        await door.publish_home("U2", view)
    assert error_code(refused.value) == "not_enabled"
    for _ in range(98):  # Tier 4: 100 a minute, two used
        assert await door.quota.reserve("views.publish")
    assert not await door.quota.available("views.publish")  # the next one would wait


async def test_ephemeral_replies_are_neutralized_and_seen_by_one_person(slack, door):
    root = slack.add_message("C1", "question")
    await door.post_ephemeral(Target("C1", root["ts"], "U2"), "<!channel> noted")
    [seen] = slack.ephemerals
    assert (seen.user, seen.thread_ts, seen.text) == ("U2", root["ts"], "@\u2060channel noted")


async def test_an_ephemeral_may_name_someone_in_the_bots_own_blocks(slack, door):
    root = slack.add_message("C1", "question")
    shown = section_blocks("Only <@U1> can approve this.")
    await door.post_ephemeral(Target("C1", root["ts"], "U2"), "Only <@U1> can approve.", shown)
    [seen] = slack.ephemerals
    assert seen.blocks == shown and "<@U1>" not in seen.text  # the text pings no one


async def test_approval_buttons_and_their_outcome_are_blocks_slack_takes(slack, door):
    root = slack.add_message("C1", "question")
    target = Target("C1", root["ts"], "U1")
    ts = await door.post_markdown(target, "**May I?**", approval_blocks("a" * 32, "v"))
    await door.update_markdown("C1", ts, "**May I?**", context_blocks("✅ Approved"))
    [reply] = slack.bot_replies("C1", root["ts"])
    assert [b["type"] for b in reply["blocks"]] == ["markdown", "context"]


async def test_respond_posts_an_ephemeral_reply_without_the_token(door, caplog):
    async with Hook() as hook:
        await door.respond(hook.url, "Can't read <!here>")
    assert hook.bodies == [{"text": "Can't read @\u2060here", "response_type": "ephemeral"}]
    assert hook.headers == [None]
    async with Hook(status=404) as gone:
        await door.respond(gone.url, "too late")  # logged, not raised
    assert "could not answer through the response_url" in caplog.text


async def test_extra_blocks_refused_keep_the_markdown_then_the_text(slack, door):
    root = slack.add_message("C1", "question")
    target = Target("C1", root["ts"])
    buttons = [{"type": "context_actions", "elements": []}]  # refused: no elements
    ts = await door.post_markdown(target, "**one**", buttons)
    assert [len(c.params["blocks"]) for c in slack.calls_to("chat.postMessage")] == [2, 1]
    slack.fail("chat.update", "invalid_blocks", times=2)
    await door.update_markdown("C1", ts, "**two**", buttons)
    assert [len(c.params["blocks"]) for c in slack.calls_to("chat.update")] == [2, 1, 0]
    assert slack.bot_text("C1", root["ts"]) == "*two*"  # mrkdwn, the old block cleared
