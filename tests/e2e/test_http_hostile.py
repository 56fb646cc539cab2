"""HTTP mode under hostile requests, over real sockets on 127.0.0.1, with the real bot's Bolt
app against the fake Slack: forged and broken requests get a quiet 4xx (one log line, no
traceback), slow clients are dropped by the deadlines while others are served, and a body
over the cap is refused without being read."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from fakes.openai import Reply
from fakes.slack import FakeSlack
from slackgpt.answering.answer import Answerer
from slackgpt.config.settings import Settings
from slackgpt.model.client import ModelClient, build_openai_client
from slackgpt.pane.handlers import Pane
from slackgpt.runtime import build_app
from slackgpt.slack.api import SlackApi
from slackgpt.slack.http_mode import MAX_BODY, HttpLimits, HttpServer, serve_http
from slackgpt.state.local import LocalState

pytestmark = pytest.mark.timeout(30)

SECRET = "3c0ffee1b10e8888abcd99yyyzzz85a5"
# Short deadlines keep the tests quick; the defaults (5 s, 10 s) are the same code path.
LIMITS = HttpLimits(header_seconds=0.5, body_seconds=0.5, linger_seconds=0.5)
BOUND = 10.0  # generous bound for anything the server must do "within the deadline"
CHALLENGE = {"token": "legacy", "challenge": "c-123", "type": "url_verification"}


@pytest.fixture
async def serve(settings: Settings) -> AsyncIterator[Callable[[HttpLimits], Awaitable[HttpServer]]]:
    """Serve the parts ``Runtime`` builds, with a signing secret, on 127.0.0.1."""
    model = ModelClient(build_openai_client(settings), settings)
    slack = SlackApi(settings.slack_bot_token, settings.slack_api_url)
    identity = (await slack.whoami()).identity
    state = LocalState(None)
    pane = Pane(slack=slack, state=state, settings=settings, identity=identity)
    answerer = Answerer(
        slack=slack, model=model, settings=settings, identity=identity, state=state, extras=pane
    )
    app = build_app(slack, answerer, pane, signing_secret=SECRET)
    servers: list[HttpServer] = []

    async def start(limits: HttpLimits) -> HttpServer:
        servers.append(await serve_http(app, "127.0.0.1", 0, signing_secret=SECRET, limits=limits))
        return servers[-1]

    yield start
    for server in servers:
        await server.close()
    await slack.close()
    await model.close()


@pytest.fixture
async def served(serve) -> HttpServer:
    return await serve(LIMITS)


def signature(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    """Slack's signature, computed here from its definition over the raw bytes."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def http_request(body: bytes, headers: dict[str, str], *, length: int | None = None) -> bytes:
    """A raw POST to /slack/events (header values sent as latin-1 bytes, unvalidated)."""
    lines = [
        "POST /slack/events HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Length: {len(body) if length is None else length}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def signed_request(body: bytes, content_type: str = "application/json") -> bytes:
    timestamp = str(int(time.time()))
    return http_request(body, {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(body, timestamp),
    })


async def exchange(port: int, raw: bytes) -> tuple[int, bytes]:
    """Send ``raw`` on a fresh connection; the status and the body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        answer = await asyncio.wait_for(reader.read(), BOUND)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def quiet(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records written during the test, checked for tracebacks and errors."""
    records = caplog.records
    assert "Traceback" not in caplog.text
    assert [r for r in records if r.exc_info or r.levelno >= logging.ERROR] == []
    return records


def unsigned(content_type: str, signature_value: str = "v0=00") -> dict[str, str]:
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(int(time.time())),
            "X-Slack-Signature": signature_value}


HOSTILE = {
    "invalid-utf8": http_request(b'{"a": "\xff\xfe\xc3"}', unsigned("application/json")),
    "invalid-utf8-declared": http_request(
        b"\xff" * 40, unsigned("application/x-www-form-urlencoded; charset=utf-8")
    ),
    "unknown-charset": http_request(b'{"a": 1}', unsigned("application/json; charset=x-nope")),
    "non-ascii-signature": http_request(b'{"a": 1}', unsigned("application/json", "v0=\xe9")),
}


async def test_a_flood_of_unsigned_hostile_requests_gets_401_and_one_log_line(served, caplog):
    caplog.set_level(logging.INFO)
    for _ in range(25):
        for raw in HOSTILE.values():
            status, body = await exchange(served.port, raw)
            assert status == 401 and json.loads(body) == {"error": "invalid request"}
        status, _ = await exchange(served.port, b"POST / HTTP/1.1\r\nBad Header\r\n\r\n")
        assert status == 400  # aiohttp's answer to malformed HTTP, now counted, not logged
    records = quiet(caplog)
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    assert "refused 1 HTTP request" in records[0].getMessage()
    assert served.refusals.total == 125


async def test_a_signed_body_is_read_as_utf8_whatever_charset_it_declares(served, caplog):
    body = json.dumps(CHALLENGE).encode()
    status, answer = await exchange(
        served.port, signed_request(body, "application/json; charset=x-unknown")
    )
    assert status == 200 and json.loads(answer)["challenge"] == "c-123"
    status, _ = await exchange(served.port, signed_request(b'{"type": "\xff"}'))
    assert status == 400  # Slack signs UTF-8; signed bytes that are not are refused
    quiet(caplog)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps({**CHALLENGE, "x": "@"}).replace('"@"', nested(200_000)), "application/json"),
        (json.dumps({**CHALLENGE, "x": "@"}).replace('"@"', nested(100)), "application/json"),
        ("payload=" + "%5B" * 5000 + "%5D" * 5000, "application/x-www-form-urlencoded"),
        (nested(3000), "application/json"),
        ("[1]", "application/json"),
    ],
    ids=["200000-deep", "100-deep", "form-payload-5000-deep", "3000-deep-array", "not-an-object"],
)
async def test_deeply_nested_or_misshapen_signed_json_gets_400(served, caplog, body, content_type):
    status, answer = await exchange(served.port, signed_request(body.encode(), content_type))
    assert status == 400 and json.loads(answer) == {"error": "invalid body"}
    quiet(caplog)


def mention(slack: FakeSlack, message: dict) -> bytes:
    """The signed Events API request Slack POSTs for an ``app_mention`` of ``message``."""
    event = {"type": "app_mention", "user": message["user"], "text": message["text"],
             "ts": message["ts"], "channel": message["channel"], "event_ts": message["ts"],
             "team": slack.team_id, "client_msg_id": str(uuid.uuid4())}
    payload = {
        "token": "legacy", "team_id": slack.team_id, "api_app_id": slack.app_id,
        "event": event, "type": "event_callback",
        "event_id": "Ev" + uuid.uuid4().hex[:10].upper(), "event_time": int(time.time()),
        "authorizations": [{"team_id": slack.team_id, "user_id": slack.bot_user_id,
                            "is_bot": True}],
    }
    return signed_request(json.dumps(payload).encode())


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (bounded)."""
    return await asyncio.wait_for(reader.read(), BOUND)


async def test_slowloris_connections_are_dropped_while_slack_is_answered(
    serve, slack, llm, caplog
):
    # 2 s to send the headers: time enough for Slack's request to go through while the
    # slow connections are open (not asserted: no timing assertions here).
    served = await serve(HttpLimits(header_seconds=2.0, body_seconds=0.5, linger_seconds=0.5))
    half = b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty"
    slow = [await asyncio.open_connection("127.0.0.1", served.port) for _ in range(20)]
    for _, writer in slow:
        writer.write(half)

    llm.script(Reply(text="Served meanwhile."))
    question = slack.add_message("C1", f"<@{slack.bot_user_id}> are you there?")
    status, _ = await exchange(served.port, mention(slack, question))
    assert status == 200
    async with aiohttp.ClientSession() as session, session.get(
        f"http://127.0.0.1:{served.port}/healthz"
    ) as health:
        assert health.status == 200 and await health.text() == "ok"

    answers = await asyncio.gather(*(closed_by_server(reader) for reader, _ in slow))
    assert answers == [b""] * 20  # dropped without a word once the header deadline passed
    for _, writer in slow:
        writer.close()
    thread = question["ts"]
    await slack.wait_for(
        lambda: any(m["text"] == "Served meanwhile." for m in slack.bot_replies("C1", thread)),
        timeout=BOUND,
        message="the answer in the thread",
    )
    quiet(caplog)


async def test_a_header_trickle_does_not_extend_the_deadline(served):
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)

    async def trickle() -> None:
        writer.write(b"POST /slack/events HTTP/1.1\r\n")
        try:
            while not reader.at_eof():
                writer.write(b"X")  # one byte of one endless header line at a time
                await writer.drain()
                await asyncio.sleep(0.05)  # the client's pace, not a wait for the server
        except ConnectionError:
            return  # the server closed it

    dripping = asyncio.create_task(trickle())
    try:
        assert await closed_by_server(reader) == b""
    finally:
        dripping.cancel()
        writer.close()


async def test_a_half_sent_body_gets_408_and_the_connection_closed(served, caplog):
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    body = json.dumps(CHALLENGE).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp,
               "X-Slack-Signature": signature(body, timestamp)}
    writer.write(http_request(body, headers)[: -len(body) // 2])
    answer = await closed_by_server(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408")
    quiet(caplog)


async def test_a_body_over_the_cap_gets_413_before_it_is_sent(served, caplog):
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp,
               "X-Slack-Signature": "v0=" + "0" * 64}
    writer.write(http_request(b"[" * 1024, headers, length=10 * MAX_BODY))  # 1 KiB of 10 MiB
    answer = await closed_by_server(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 413")
    quiet(caplog)


async def test_a_chunked_body_over_the_cap_gets_413_before_it_ends(served):
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    timestamp = str(int(time.time()))
    writer.write(
        b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\nX-Slack-Request-Timestamp: " + timestamp.encode()
        + b"\r\nX-Slack-Signature: v0=" + b"0" * 64 + b"\r\n\r\n"
    )
    chunk = b"%x\r\n" % (64 * 1024) + b"x" * (64 * 1024) + b"\r\n"
    for _ in range(MAX_BODY // (64 * 1024) + 2):  # just over the cap, and no last chunk
        writer.write(chunk)
    answer = await closed_by_server(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 413")
