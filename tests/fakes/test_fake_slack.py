"""FakeSlack is faithful about limits: rate tiers, public hooks, streamed files, foreign hosts.

Rate-limit tests count on a clock that moves only when told (exact, whatever the machine's
speed); those that wait in real time run Slack's allowances in a 6-second "minute".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from yarl import URL

from fakes.slack import FakeSlack, reference
from fakes.slack.limits import Limit, RateLimiter, method_limits
from slackgpt.slack.api import SlackApi
from slackgpt.slack.downloads import ForeignFileHost
from tests.helpers import web

pytestmark = pytest.mark.timeout(20)

WINDOW = 6.0  # seconds per Slack "minute" where a test waits in real time


class Clock:
    """A clock that moves only when told: exact counts, whatever the machine's speed."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def limited(clock: Clock) -> AsyncIterator[FakeSlack]:
    """FakeSlack at Slack's rates (a minute is 60 s), on a clock that moves when told."""
    async with FakeSlack(rate_limits=RateLimiter(clock=clock)) as fake:
        yield fake


async def refused(call: object) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call  # type: ignore[misc]
    return info.value


async def start_streams(client: AsyncWebClient, count: int, channel: str = "D1") -> None:
    for _ in range(count):
        await client.chat_startStream(channel=channel, thread_ts="1.0", markdown_text="hi")


def start_stream(client: AsyncWebClient) -> object:
    return client.chat_startStream(channel="D1", thread_ts="1.0", markdown_text="x")


# -- rate tiers ------------------------------------------------------------------------------


async def test_tier_2_allows_a_minutes_worth_then_429_with_retry_after(
    limited: FakeSlack, clock: Clock
):
    client = web(limited)
    await start_streams(client, 20)  # Tier 2: 20 a minute, all at once after a quiet spell
    err = await refused(start_stream(client))
    assert err.response.status_code == 429
    assert err.response.data == {"ok": False, "error": "ratelimited"}
    assert err.response.headers["Retry-After"] == "3"  # one call every 60 s / 20
    assert limited.throttled("chat.startStream") == 1 and limited.throttled() == 1
    assert len(limited.calls_to("chat.startStream")) == 21
    assert limited.calls_to("chat.startStream")[-1].status == 429
    clock.now += 2.9
    assert (await refused(start_stream(client))).response.headers["Retry-After"] == "1"
    clock.now += 0.1
    await start_stream(client)
    assert (await refused(start_stream(client))).response.headers["Retry-After"] == "3"
    assert limited.throttled("chat.startStream") == 3


@pytest.mark.parametrize(
    ("method", "args", "allowance", "retry_after"),
    [
        ("chat.update", {"channel": "C1", "ts": "1.0", "text": "x"}, 50, "2"),  # 1.2 s
        ("conversations.replies", {"channel": "C1", "ts": "1.0"}, 50, "2"),
        ("reactions.add", {"channel": "C1", "timestamp": "1.0", "name": "x"}, 50, "2"),
        ("chat.appendStream", {"channel": "C1", "ts": "1.0", "markdown_text": "x"}, 100, "1"),
        ("users.info", {"user": "U1"}, 100, "1"),  # 0.6 s
        ("auth.test", {}, 600, "1"),
    ],
)
async def test_each_method_has_its_own_allowance(
    limited: FakeSlack, method: str, args: dict, allowance: int, retry_after: str
):
    client = web(limited)
    await start_streams(client, 20)  # startStream's allowance used up: no other method's
    results = await asyncio.gather(
        *(client.api_call(method, json=args) for _ in range(allowance)), return_exceptions=True
    )
    # invalid calls count too (here: messages that do not exist), as they do at Slack
    assert limited.throttled(method) == 0, {str(r) for r in results}
    err = await refused(client.api_call(method, json=args))
    assert err.response.status_code == 429 and err.response.headers["Retry-After"] == retry_after


async def test_post_message_is_limited_per_channel_and_per_workspace(clock: Clock):
    limits = RateLimiter(
        clock=clock,
        limits={"chat.postMessage": Limit(8)},  # workspace-wide
        channel_limits={"chat.postMessage": Limit(60, burst=3)},  # per channel: 1/s, bursts of 3
    )
    async with FakeSlack(rate_limits=limits) as slack:
        client = web(slack)
        for _ in range(3):
            await client.chat_postMessage(channel="C1", text="x")
        err = await refused(client.chat_postMessage(channel="C1", text="too fast"))
        assert err.response.status_code == 429 and err.response.headers["Retry-After"] == "1"
        for channel in ("C2", "C2", "C3", "C3", "C4"):  # other channels are not held back...
            await client.chat_postMessage(channel=channel, text="x")
        err = await refused(client.chat_postMessage(channel="C5", text="x"))  # ...up to the cap
        assert err.response.headers["Retry-After"] == "8"  # 60 s / 8
        clock.now += 7.5
        await client.chat_postMessage(channel="C1", text="later")
        assert slack.throttled("chat.postMessage") == 2
        posted = [c.params["text"] for c in slack.calls_to("chat.postMessage") if c.status == 200]
        assert posted[:3] == ["x"] * 3 and posted[-1] == "later"


async def test_slacks_default_post_message_pace(limited: FakeSlack, clock: Clock):
    client = web(limited)
    await asyncio.gather(*(client.chat_postMessage(channel="C1", text="x") for _ in range(5)))
    assert (await refused(client.chat_postMessage(channel="C1", text="x"))).response.status_code
    clock.now += 1.0
    await client.chat_postMessage(channel="C1", text="one a second")


async def test_one_allowance_for_every_copy_of_the_bot(limited: FakeSlack):
    async with aiohttp.ClientSession() as one, aiohttp.ClientSession() as two:
        first, second = web(limited, session=one), web(limited, session=two)  # two processes
        await start_streams(first, 12)
        await start_streams(second, 8)
        for client in (first, second):
            assert (await refused(start_stream(client))).response.status_code == 429
    assert limited.api_connections == 2  # keep-alive sessions: one connection each


async def test_slack_sdk_retry_handler_waits_as_told():
    limits = RateLimiter(window=WINDOW, limits={"reactions.add": Limit(20, burst=1)})
    async with FakeSlack(rate_limits=limits) as slack:
        root = slack.add_message("C1", "hello")
        handler = AsyncRateLimitErrorRetryHandler(max_retry_count=2)
        patient = web(slack, retry_handlers=[handler])
        await patient.reactions_add(channel="C1", timestamp=root["ts"], name="eyes")
        started = time.monotonic()  # the next call fits 6 s / 20 = 0.3 s later: Retry-After 1
        await patient.reactions_add(channel="C1", timestamp=root["ts"], name="wave")
        waited = time.monotonic() - started
        assert slack.throttled("reactions.add") == 1
        assert [c.status for c in slack.calls_to("reactions.add")] == [200, 429, 200]
        assert 1.0 <= waited < 2.5  # Retry-After 1, plus the sdk's jitter of up to 1 s
        assert slack.reactions[("C1", root["ts"])] == {"eyes", "wave"}


async def test_waiting_retry_after_in_real_time_is_enough():
    async with FakeSlack(rate_limits=RateLimiter(window=WINDOW)) as slack:
        client = web(slack)
        await asyncio.gather(*(start_stream(client) for _ in range(20)))
        if slack.throttled() == 0:  # a slow machine may refill a token meanwhile
            await asyncio.gather(*(start_stream(client) for _ in range(5)), return_exceptions=True)
        err = await refused(start_stream(client))
        await asyncio.sleep(int(err.response.headers["Retry-After"]))
        await start_stream(client)


async def test_without_the_switch_nothing_is_limited(slack: FakeSlack):
    assert slack.rate_limits is None
    client = web(slack)
    await asyncio.gather(*(start_streams(client, 10, f"D{i}") for i in range(6)))  # 60 > 20
    await asyncio.gather(*(client.chat_postMessage(channel="C1", text="x") for _ in range(30)))
    assert slack.throttled() == 0 and len(slack.calls_to("chat.startStream")) == 60


async def test_rate_limits_true_means_slacks_own_pace():
    async with FakeSlack(rate_limits=True) as slack:
        assert slack.rate_limits is not None and slack.rate_limits.window == 60.0
        await start_streams(web(slack), 20)
        assert (await refused(start_stream(web(slack)))).response.status_code == 429


async def test_injected_429_still_works_and_is_counted(limited: FakeSlack):
    limited.fail("auth.test", status=429, retry_after=3)
    err = await refused(web(limited).auth_test())
    assert err.response.headers["Retry-After"] == "3" and limited.throttled("auth.test") == 1


async def test_a_rejected_token_uses_no_allowance(limited: FakeSlack):
    stranger = AsyncWebClient(token="xoxb-other", base_url=limited.api_url)
    for _ in range(25):
        assert (await refused(start_stream(stranger))).response["error"] == "invalid_auth"
    await start_streams(web(limited), 20)
    assert limited.throttled() == 0


def test_tier_table_is_read_from_slacks_method_pages():
    tiers = {name: limit.per_minute for name, limit in method_limits().items()}
    assert tiers["chat.startStream"] == tiers["chat.stopStream"] == 20
    assert tiers["reactions.remove"] == 20  # Tier 2, though reactions.add is Tier 3
    assert tiers["chat.update"] == tiers["reactions.add"] == tiers["conversations.replies"] == 50
    assert tiers["conversations.history"] == tiers["apps.connections.open"] == 50
    assert tiers["chat.appendStream"] == tiers["users.info"] == 100
    assert tiers["assistant.threads.setTitle"] == tiers["assistant.threads.setSuggestedPrompts"]
    assert tiers["assistant.threads.setStatus"] == tiers["chat.postMessage"] == 600  # special
    pages = reference.load().methods
    assert set(tiers) == {name for name, page in pages.items() if page.tier}


async def test_reactions_remove_has_tier_2s_allowance(limited: FakeSlack, clock: Clock):
    client = web(limited)
    msg = limited.add_message("C1", "hi")
    where = {"channel": "C1", "timestamp": msg["ts"], "name": "eyes"}
    for _ in range(20):  # add (Tier 3) then remove (Tier 2), twenty times
        await client.reactions_add(**where)
        await client.reactions_remove(**where)
    await client.reactions_add(**where)
    err = await refused(client.reactions_remove(**where))
    assert err.response.status_code == 429 and err.response.headers["Retry-After"] == "3"


def test_without_the_reference_the_fake_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv(reference.ENV, str(tmp_path / "nowhere"))
    with pytest.raises(reference.ReferenceMissing, match=r"nowhere.*\.\./shared/slack_ref"):
        FakeSlack()
    assert reference.where() == tmp_path / "nowhere"


def test_pages_the_shared_subset_lacks_come_from_the_fakes_own(tmp_path, monkeypatch):
    shared = reference.where()
    mini = tmp_path / "ref"  # the shared subset as it was before agent sessions
    for part in ("docs.slack.dev/methods/methods.json", "methods/_errors/common.json",
                 "docs.slack.dev/methods/chat.postMessage.json"):
        (mini / part).parent.mkdir(parents=True, exist_ok=True)
        (mini / part).write_bytes((shared / part).read_bytes())
    ref = reference.load(mini)
    assert ref.methods["agents.sessions.setStatus"].tier == "t3"
    assert ref.methods["agents.sessions.setStatus"].bot_scopes == ("chat:write",)
    assert ref.methods["conversations.members"].bot_scopes
    assert "chat.update" not in ref.methods  # nothing beyond the kept pages is invented
    assert ref.methods["chat.postMessage"].tier == "t5"


def test_a_bucket_refills_at_its_rate_and_never_beyond_its_burst(clock: Clock):
    limiter = RateLimiter(limits={"x": Limit(60, burst=2)}, clock=clock)
    assert [limiter.admit("x", {}) for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]
    clock.now += 0.5
    assert limiter.admit("x", {}) == pytest.approx(0.5)  # refused calls use nothing
    clock.now += 100.0
    assert [limiter.admit("x", {}) == 0.0 for _ in range(3)] == [True, True, False]
    assert limiter.admit("not.limited", {}) == 0.0
    limiter.reset()
    assert limiter.admit("x", {}) == 0.0
    with pytest.raises(ValueError):
        Limit(10, burst=0.5)
    with pytest.raises(ValueError):
        RateLimiter(window=0)


def test_a_shorter_window_keeps_the_counts(clock: Clock):
    limiter = RateLimiter(window=6, clock=clock)
    assert sum(limiter.admit("chat.startStream", {}) == 0.0 for _ in range(25)) == 20
    assert limiter.admit("chat.startStream", {}) == pytest.approx(0.3)  # 6 s / 20


# -- public hooks ----------------------------------------------------------------------------


async def connect(slack: FakeSlack, seen: list[float]) -> SocketModeClient:
    """A connected sdk socket client that acks at once and notes when each request arrived."""
    client = SocketModeClient(app_token=slack.app_token, web_client=web(slack), ping_interval=1)

    async def on_request(c: SocketModeClient, req: SocketModeRequest) -> None:
        seen.append(time.monotonic())
        await c.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    client.socket_mode_request_listeners.append(on_request)  # type: ignore[arg-type]
    await client.connect()
    return client


async def test_wire_times_and_callback_say_when_each_envelope_went_out():
    sent: list[tuple[str, float]] = []
    async with FakeSlack(
        latency=0.05, on_envelope_sent=lambda env, at: sent.append((env["envelope_id"], at))
    ) as slack:
        seen: list[float] = []
        client = await connect(slack, seen)
        try:
            before = time.monotonic()
            eid = await slack.send_event({"type": "app_mention", "text": "hi", "channel": "C1"})
            await slack.wait_for(lambda: eid in slack.acks)
        finally:
            await client.close()
    assert sent == [(eid, slack.wire_times[eid])]
    assert before + 0.05 <= slack.wire_times[eid] <= seen[0] <= slack.acks[eid]
    assert list(slack.wire_times) == [e["envelope_id"] for e in slack.envelopes]


async def test_a_new_connection_pays_the_connect_cost_once():
    async with FakeSlack(connect_cost=0.3) as slack, aiohttp.ClientSession() as session:
        client = web(slack, session=session)
        started = time.monotonic()
        await client.auth_test()
        first = time.monotonic() - started
        assert slack.calls[0].at - started >= 0.3  # the call reached "Slack" after handshakes
        started = time.monotonic()
        await client.auth_test()  # the same keep-alive connection
        second = time.monotonic() - started
        assert first >= 0.3 > second and slack.api_connections == 1
        await web(slack).auth_test()  # without a session the sdk opens one per call
        assert slack.api_connections == 2


async def test_channel_messages_show_visible_text_and_streaming(slack: FakeSlack):
    root = slack.add_message("C1", "<@UBOT> hi")
    slack.add_message("C2", "elsewhere")
    client = web(slack)
    await client.chat_postMessage(channel="C1", text="plain")
    stream = await client.chat_startStream(
        channel="C1", thread_ts=root["ts"], markdown_text="Hel", recipient_user_id="U1",
        recipient_team_id="T1",
    )
    await client.chat_appendStream(channel="C1", ts=stream["ts"], markdown_text="lo")
    messages = slack.channel_messages("C1")
    assert [(m["text"], m["streaming"]) for m in messages] == [
        ("<@UBOT> hi", False), ("plain", False), ("Hello", True)
    ]
    assert [m["bot_id"] for m in messages] == [None, "BBOT", "BBOT"]
    assert messages[2]["thread_ts"] == root["ts"] and messages[2]["channel"] == "C1"
    assert slack.channel_messages("C9") == []


async def burst_of_connections(port: int, count: int) -> float:
    """Open ``count`` TCP connections at once; the slowest one's seconds."""

    async def one() -> float:
        started = time.monotonic()
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        took = time.monotonic() - started
        writer.close()
        return took

    return max(await asyncio.gather(*(one() for _ in range(count))))


async def test_a_large_backlog_takes_a_burst_of_connections():
    async with FakeSlack(backlog=1024) as slack:
        assert slack.backlog == 1024
        slowest = await burst_of_connections(slack.port, 400)
    assert slowest < 0.9  # a dropped SYN is only retried after 1 s


# -- file hosting ----------------------------------------------------------------------------


async def fetch(url: str, token: str | None = None) -> tuple[bytes, int, aiohttp.ClientResponse]:
    """GET ``url`` (with the token as a bearer); the body, how many reads it took, the response."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        reads = [chunk async for chunk in response.content.iter_any()]
    return b"".join(reads), len(reads), response


@pytest.mark.parametrize("size", [700_000, 5_000_000])
async def test_private_files_arrive_in_many_reads(slack: FakeSlack, size: int):
    content = bytes(range(256)) * (size // 256)
    file = slack.add_file("dump.bin", content, "application/octet-stream")
    assert file["size"] == len(content) and file["mode"] == "hosted" and not file["is_external"]
    body, reads, response = await fetch(file["url_private_download"], slack.bot_token)
    assert body == content and response.content_length == len(content)
    assert reads >= 10  # a whole-body read(n) would see only the first of them
    assert slack.downloads == [file["id"]]


async def test_one_read_of_a_streamed_file_is_not_the_whole_file(slack: FakeSlack):
    file = slack.add_file("big.txt", b"x" * 700_000, "text/plain")
    headers = {"Authorization": f"Bearer {slack.bot_token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(file["url_private"], headers=headers) as response,
    ):
        first = await response.content.read(1_000_000)
    assert 0 < len(first) < 700_000  # StreamReader.read(n) returns what has arrived, up to n


async def test_a_file_can_claim_to_be_smaller_than_it_is(slack: FakeSlack):
    file = slack.add_file("notes.txt", b"y" * 2_000_000, "text/plain", size=1_000)
    assert file["size"] == 1_000
    body, _, response = await fetch(file["url_private_download"], slack.bot_token)
    assert len(body) == 2_000_000 and response.content_length == 2_000_000


async def test_a_cap_checked_while_reading_stops_early(slack: FakeSlack):
    file = slack.add_file("huge.log", b"z" * 5_000_000, "text/plain", size=10, content_length=False)
    headers = {"Authorization": f"Bearer {slack.bot_token}"}
    cap, got = 100_000, 0
    async with (
        aiohttp.ClientSession() as session,
        session.get(file["url_private"], headers=headers) as response,
    ):
        assert response.content_length is None  # chunked: no length to trust up front
        async for chunk in response.content.iter_any():
            got += len(chunk)
            if got > cap:
                break
    assert cap < got < 1_000_000
    await asyncio.sleep(0.05)  # the fake notices the closed connection and carries on
    body, _, _ = await fetch(file["url_private"], slack.bot_token)
    assert len(body) == 5_000_000


async def test_without_the_bot_token_a_file_is_a_sign_in_page(slack: FakeSlack):
    file = slack.add_file("a.txt", b"secret", "text/plain")
    body, _, response = await fetch(file["url_private"])
    assert response.content_type == "text/html" and b"Sign in" in body
    body, _, _ = await fetch(file["url_private"], "xoxb-someone-else")
    assert b"Sign in" in body and slack.downloads == []


async def test_slack_files_share_the_api_host_and_the_foreign_host_does_not(slack: FakeSlack):
    slack_file = slack.add_file("a.txt", b"a", "text/plain")
    url = slack.foreign.add("/drive/b.txt", b"b", "text/plain")
    api = URL(slack.api_url)
    assert URL(slack_file["url_private_download"]).origin() == api.origin()
    assert URL(url).host == api.host and URL(url).port != api.port  # loopback: told by port
    body, reads, _ = await fetch(url, slack.bot_token)
    assert body == b"b" and reads == 1
    await fetch(url)
    await fetch(slack.foreign.base_url + "/missing", "xoxb-x")
    assert [r.path for r in slack.foreign.requests] == ["/drive/b.txt", "/drive/b.txt", "/missing"]
    assert slack.foreign.authorizations() == [f"Bearer {slack.bot_token}", "Bearer xoxb-x"]
    assert slack.foreign.requests[1].authorization is None
    assert slack.downloads == []


async def test_external_files_live_on_the_foreign_host(slack: FakeSlack):
    doc = slack.add_external_file("plan.txt", b"the plan", "text/plain", external_type="dropbox")
    assert doc["is_external"] is True and doc["mode"] == "external"
    assert doc["external_type"] == "dropbox" and doc["size"] == 8 and doc["filetype"] == "txt"
    assert "url_private_download" not in doc
    assert URL(doc["url_private"]).port == slack.foreign.port
    hosted = slack.add_file("x.txt", b"x", "text/plain")
    assert (doc["id"], hosted["id"]) == ("F00000001", "F00000002")
    body, _, response = await fetch(doc["url_private"])
    assert body == b"the plan" and response.content_type == "text/plain"
    assert slack.foreign.requests[0].headers.get("Authorization") is None


# -- the bot's downloader against the faithful file hosting --------------------------------


async def test_bot_downloader_gets_a_whole_streamed_file(slack: FakeSlack):
    file = slack.add_file("notes.txt", b"n" * 700_000, "text/plain")
    door = SlackApi(slack.bot_token, slack.api_url)
    try:
        fetched = await door.download(file["url_private_download"], 1_000_000)
    finally:
        await door.close()
    assert fetched.complete and len(fetched.data) == 700_000


async def test_bot_downloader_keeps_the_token_for_slacks_hosts(slack: FakeSlack):
    doc = slack.add_external_file("plan.txt", b"the plan", "text/plain")
    door = SlackApi(slack.bot_token, slack.api_url)
    try:
        with pytest.raises(ForeignFileHost):
            await door.download(doc["url_private"], 1000)
    finally:
        await door.close()
    assert slack.foreign.requests == []
