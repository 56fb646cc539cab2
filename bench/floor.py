"""The floor: the least a Slack bot can do to answer a mention, as a yardstick for slackgpt.

Raw aiohttp and nothing else: one Socket Mode connection, each envelope acked at once; per
``app_mention`` the 👀 and the status line, the model's Server-Sent Events read by hand, the
text streamed with ``chat.startStream`` (as soon as the first words come and the 👀 is in),
``chat.appendStream`` at most once per ``STREAM_INTERVAL``, ``chat.stopStream``. No threads
read, no names, no retries, no budgets, no error handling beyond staying up. Same settings
as the bot (``SLACK_*``, ``OPENAI_*``, ``STREAM_INTERVAL``)::

    python bench/floor.py
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import time

import aiohttp

MENTION = re.compile(r"<@[A-Z0-9]+(\|[^>]*)?>")


class Floor:
    """One process: a socket, a keep-alive HTTP pool, the answers in flight."""

    def __init__(self, env: dict[str, str], http: aiohttp.ClientSession) -> None:
        self.env, self.http = env, http
        self.api = env.get("SLACK_API_URL", "https://slack.com/api/")
        self.interval = float(env.get("STREAM_INTERVAL", "1.0"))
        self.tasks: set[asyncio.Task[None]] = set()

    async def slack(self, method: str, token: str | None = None, **params: object) -> dict:
        auth = {"Authorization": f"Bearer {token or self.env['SLACK_BOT_TOKEN']}"}
        async with self.http.post(self.api + method, json=params, headers=auth) as response:
            return await response.json()

    async def run(self) -> None:
        opened = await self.slack("apps.connections.open", self.env["SLACK_APP_TOKEN"])
        async with self.http.ws_connect(opened["url"]) as ws:
            async for frame in ws:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    break
                envelope = json.loads(frame.data)
                if "envelope_id" not in envelope:
                    continue
                await ws.send_str(json.dumps({"envelope_id": envelope["envelope_id"]}))
                event = (envelope.get("payload") or {}).get("event") or {}
                if event.get("type") == "app_mention":
                    task = asyncio.create_task(self.answer(event))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)

    async def answer(self, event: dict) -> None:
        channel, thread = event["channel"], event.get("thread_ts") or event["ts"]
        claim = asyncio.create_task(
            self.slack("reactions.add", channel=channel, timestamp=event["ts"], name="eyes")
        )
        status = asyncio.create_task(
            self.slack(
                "assistant.threads.setStatus",
                channel_id=channel,
                thread_ts=thread,
                status="is thinking…",
            )
        )
        where = {"channel": channel, "thread_ts": thread}
        stream = Stream(self, where, event.get("user"), event.get("team"), claim)
        question = MENTION.sub("", event.get("text") or "").strip()
        async for words in self.model(question):
            stream.write(words)
        await stream.finish()
        await status

    async def model(self, question: str):
        """The answer's text as the model streams it (SSE, read line by line)."""
        body = {
            "model": self.env.get("OPENAI_MODEL", "gpt-5-mini"),
            "messages": [{"role": "user", "content": question}],
            "stream": True,
        }
        url = self.env.get("OPENAI_BASE_URL", "https://api.openai.com/v1") + "/chat/completions"
        auth = {"Authorization": f"Bearer {self.env.get('OPENAI_API_KEY', '')}"}
        async with self.http.post(url, json=body, headers=auth) as response:
            async for line in response.content:
                if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
                    continue
                for choice in json.loads(line[6:]).get("choices") or []:
                    if text := (choice.get("delta") or {}).get("content"):
                        yield text


class Stream:
    """One streamed message: the first words at once, then one append per interval."""

    def __init__(self, bot: Floor, where: dict, user: object, team: object, claim) -> None:
        self.bot, self.where, self.claim = bot, where, claim
        self.recipient = {"recipient_user_id": user, "recipient_team_id": team}
        self.pending, self.ts, self.sent_at = "", "", 0.0
        self.pump: asyncio.Task[None] | None = None
        self.wake, self.closed = asyncio.Event(), asyncio.Event()

    def write(self, text: str) -> None:
        self.pending += text
        self.wake.set()
        if self.pump is None:
            self.pump = asyncio.create_task(self.run())

    async def run(self) -> None:
        await self.claim
        text = self.take()
        started = await self.bot.slack(
            "chat.startStream", **self.where, **self.recipient, markdown_text=text
        )
        self.ts = started.get("ts", "")
        while not self.closed.is_set():
            await self.wake.wait()
            self.wake.clear()
            delay = self.sent_at + self.bot.interval - time.monotonic()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.closed.wait(), max(0.0, delay))
            if self.pending and not self.closed.is_set():
                text = self.take()
                channel = self.where["channel"]
                await self.bot.slack(
                    "chat.appendStream", channel=channel, ts=self.ts, markdown_text=text
                )

    def take(self) -> str:
        text, self.pending, self.sent_at = self.pending, "", time.monotonic()
        return text

    async def finish(self) -> None:
        """Send what is left with the stop, at once."""
        if self.pump is None:
            return
        self.closed.set()
        self.wake.set()
        await self.pump
        rest = {"markdown_text": self.take()} if self.pending else {}
        await self.bot.slack("chat.stopStream", channel=self.where["channel"], ts=self.ts, **rest)


async def main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=connector) as http:
        floor = Floor(dict(os.environ), http)
        running = asyncio.create_task(floor.run())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([running, stopping], return_when=asyncio.FIRST_COMPLETED)
        running.cancel()
        if floor.tasks:
            await asyncio.wait(floor.tasks, timeout=2)


if __name__ == "__main__":
    try:  # the same event loop as the bot's (slackgpt/cli.py), so the floor stays a floor
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
