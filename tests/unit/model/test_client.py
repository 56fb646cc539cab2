"""The model client against misbehaving servers: the fake model, and raw HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from fakes.openai import Reply
from slackgpt.model.client import ModelClient, build_openai_client
from slackgpt.model.failures import ModelTimeout, explain

pytestmark = pytest.mark.timeout(20)

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


async def read(model: ModelClient, pause: float = 0.0) -> tuple[list[object], BaseException]:
    """What the stream yielded before it failed, and how it failed."""
    got: list[object] = []
    try:
        async for piece in model.stream([{"role": "user", "content": "hi"}]):
            got.append(piece)
            await asyncio.sleep(pause)  # the answer's own work between two pieces
    except Exception as error:
        return got, error
    finally:
        await model.close()
    raise AssertionError(f"the stream ended without an error: {got}")


@pytest.fixture
async def raw_server() -> AsyncIterator[object]:
    """``serve(first)``: an HTTP server that writes ``first`` and hangs up; returns its base
    URL."""
    servers: list[asyncio.Server] = []

    async def serve(first: bytes) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(first)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"

    yield serve
    for server in servers:
        server.close()


async def test_a_model_gone_quiet_is_a_timeout_even_when_the_reader_is_slow(settings, llm):
    # The transport's read timer starts when bytes arrive, the stream's own clock when the
    # answer asks for more: with OPENAI_TIMEOUT the larger timeout the two are the same
    # length, and the socket's must still read as the model going quiet, not a cut.
    llm.script(Reply(chunks=["one ", "two ", "three"], stall_after=2))
    quiet = replace(settings, openai_timeout=1.0, first_token_timeout=0.5)
    got, error = await read(ModelClient(build_openai_client(quiet), quiet), pause=0.3)
    assert got == ["one ", "two "]
    assert isinstance(error, ModelTimeout)
    assert explain(error, "m").kind == "timeout"


async def test_a_malformed_response_reads_as_unreachable(settings, raw_server):
    url = await raw_server(HEAD.replace(b"\r\n\r\n", b"\r\nBad Header Line\r\n\r\n"))
    broken = replace(settings, openai_base_url=url)
    got, error = await read(ModelClient(build_openai_client(broken), broken))
    assert got == []
    assert explain(error, "m").kind == "unreachable"


async def test_a_garbled_status_line_reads_as_unreachable(settings, raw_server):
    url = await raw_server(b"HTPP/1.1 200 OK\r\n\r\n")
    broken = replace(settings, openai_base_url=url)
    got, error = await read(ModelClient(build_openai_client(broken), broken))
    assert got == []
    assert explain(error, "m").kind == "unreachable"


async def test_a_lone_surrogate_in_the_text_is_replaced_not_fatal(settings, llm):
    llm.script(Reply(text="Read it."))
    model = ModelClient(build_openai_client(settings), settings)
    try:
        crafted = [{"role": "user", "content": "odd \ud800 text"}]  # a JSON "\ud800" escape
        words = [p async for p in model.stream(crafted) if isinstance(p, str)]
    finally:
        await model.close()
    assert "".join(words) == "Read it."
    assert llm.requests[0]["messages"][0]["content"] == "odd \ufffd text"
