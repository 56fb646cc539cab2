"""How FakeOpenAI writes a scripted answer: a ``chat.completion`` body or an SSE stream."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass

from aiohttp import web

from fakes.openai_reply import Reply
from fakes.openai_tools import message_calls
from fakes.openai_wire import Json, usage


@dataclass
class StreamRecord:
    """One streamed answer as the fake wrote it; times are ``time.monotonic()`` seconds."""

    body: Json
    """The request body."""
    arrived_at: float
    """When the request arrived."""
    ended_at: float = 0.0
    """When the stream's last byte was written (or the connection dropped)."""
    outcome: str = "aborted"
    """``done`` (finish, usage, [DONE]), ``eof``, ``cut``, ``stalled``, ``error`` (an error
    event) or ``aborted`` (the client went away mid-stream)."""
    content_chunks: int = 0
    """How many content chunks were written."""


def completion_body(body: Json, reply: Reply) -> Json:
    """The non-streaming ``chat.completion`` for ``reply``."""
    text, thought = "".join(reply.deltas()), "".join(reply.reasoning_deltas())
    message: Json = {"role": "assistant", "content": text, "refusal": None}
    if reply.tool_calls:
        message |= {"content": text or None, "tool_calls": message_calls(reply.tool_calls)}
    if thought:
        message[reply.reasoning_field] = thought
    return {
        "id": "chatcmpl-" + secrets.token_hex(12),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish()}
        ],
        "usage": usage(body, text, thought),
        "system_fingerprint": "fp_fake",
    }


class SseAnswer:
    """Writes one ``Reply`` as ``chat.completion.chunk`` events to a prepared response."""

    def __init__(
        self,
        request: web.Request,
        response: web.StreamResponse,
        body: Json,
        reply: Reply,
        include_usage: bool,
        closing: asyncio.Event,
    ) -> None:
        self.request, self.response, self.body, self.reply = request, response, body, reply
        self.include_usage = include_usage
        self.closing = closing  # set when the fake stops: ends a stalled stream
        self.sent = 0  # content chunks written
        self.base = {
            "id": "chatcmpl-" + secrets.token_hex(12),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake",
        }

    async def send(self, data: Json | str) -> None:
        """Write one ``data:`` event."""
        text = data if isinstance(data, str) else json.dumps(data)
        await self.response.write(f"data: {text}\n\n".encode())

    def chunk(self, delta: Json, finish: str | None = None) -> Json:
        """A ``chat.completion.chunk`` with one choice."""
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        extra = {"usage": None} if self.include_usage else {}
        return {**self.base, "choices": [choice], **extra}

    async def run(self) -> str:
        """Write the whole answer as scripted; return how it ended (``StreamRecord.outcome``)."""
        await asyncio.sleep(self.reply.first_token_delay)
        await self.send(self.chunk({"role": "assistant", "content": "", "refusal": None}))
        await self._think()
        deltas = self.reply.deltas()
        for i in range(len(deltas) + 1):
            ended = await self._interrupt(i, deltas)
            if ended is not None:
                return ended
            if i < len(deltas):
                if i and self.reply.token_delay:
                    await asyncio.sleep(self.reply.token_delay)
                await self.send(self.chunk({"content": deltas[i]}))
                self.sent += 1
        for n, fragments in enumerate(self.reply.fragments()):
            if (n or deltas) and self.reply.token_delay:
                await asyncio.sleep(self.reply.token_delay)
            await self.send(self.chunk({"tool_calls": fragments}))
        await self._finish(deltas)
        return "done"

    async def _think(self) -> None:
        field = self.reply.reasoning_field
        empty = None if field == "reasoning_content" else ""  # as DeepSeek / as Ollama
        pieces = self.reply.reasoning_deltas()
        for i, piece in enumerate(pieces):
            if i:
                await asyncio.sleep(self.reply.reasoning_delay)
            await self.send(self.chunk({"content": empty, field: piece}))
        if pieces:
            await asyncio.sleep(self.reply.reasoning_delay)

    async def _interrupt(self, i: int, deltas: list[str]) -> str | None:
        """Apply the script's mishaps due after ``i`` content chunks; say if the stream ended."""
        reply = self.reply
        if i == reply.corrupt_after:
            following = self.chunk({"content": deltas[i]} if i < len(deltas) else {}, None)
            text = json.dumps(following)
            await self.send(text[: len(text) // 2])
        if i == reply.stall_after:
            await self.closing.wait()
        if i in (reply.cut_after, reply.stall_after):
            if self.request.transport is not None:  # FIN mid-body: incomplete chunked response
                self.request.transport.close()
            return "stalled" if i == reply.stall_after else "cut"
        if i == reply.error_after:
            await self.send({"error": self._error()})
            await self.response.write_eof()
            return "error"
        if i == reply.eof_after:
            await self.response.write_eof()  # the terminating chunk: a clean end of body
            return "eof"
        return None

    def _error(self) -> Json:
        reply = self.reply
        default = "The server had an error while processing your request."
        return {
            "message": reply.error_message or default,
            "type": reply.error_type or "server_error",
            "param": None,
            "code": reply.error_code,
        }

    async def _finish(self, deltas: list[str]) -> None:
        await self.send(self.chunk({}, self.reply.finish()))
        if self.include_usage:
            thought = "".join(self.reply.reasoning_deltas())
            calls = "".join(c.text for c in self.reply.tool_calls or ())
            counts = usage(self.body, "".join(deltas) + calls, thought)
            await self.send({**self.base, "choices": [], "usage": counts})
        await self.send("[DONE]")
        await self.response.write_eof()
