"""Attached images read for the model within the process's caps: a byte budget that every
question's images share, and one thread that decodes them.

One :class:`ImageReader` serves the whole process (the runtime makes it). An image holds its
size in the budget from before its download until its scaled copy exists; one that would
not fit waits for room, first come first served, for a bounded time, then gets a note.
Waiting is what a person expects: their photos are read a moment later rather than
skipped, and a few seconds of wait is small beside the model's answer. Decoding is on one
thread at a time, so its memory is that of one image (at most ``max_pixels``) however many
questions come in; Pillow releases the GIL meanwhile, so the event loop runs on.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from slackgpt.files.attachments import Fetch
from slackgpt.files.decoding import image_mimetype
from slackgpt.files.image_rules import ImageCaps
from slackgpt.files.images import NOT_AN_IMAGE, ImageRefused, Scaled, scale

log = logging.getLogger(__name__)

class NoRoom(Exception):
    """The budget had no room within the time allowed."""


class ByteBudget:
    """At most ``capacity`` bytes held at once by all holders together; waiters are served
    in the order they came. A request larger than ``capacity`` holds all of it, alone."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    @contextlib.asynccontextmanager
    async def hold(self, size: int, timeout: float) -> AsyncIterator[None]:
        """Hold ``size`` bytes for the block; NoRoom when they are not free within
        ``timeout`` seconds."""
        size = max(0, min(size, self.capacity))
        await self._acquire(size, timeout)
        try:
            yield
        finally:
            self._release(size)

    async def _acquire(self, size: int, timeout: float) -> None:
        if not self._waiting and self.held + size <= self.capacity:
            self.held += size
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (size, turn)
        self._waiting.append(entry)
        try:
            await asyncio.wait_for(turn, timeout)
        except BaseException as error:
            if turn.done() and not turn.cancelled():  # granted as the wait ended: give back
                self._release(size)
            else:
                with contextlib.suppress(ValueError):  # already passed over by _wake
                    self._waiting.remove(entry)
                self._wake()  # the first in line left: those behind may fit now
            if isinstance(error, asyncio.TimeoutError):
                raise NoRoom from None
            raise

    def _release(self, size: int) -> None:
        self.held -= size
        self._wake()

    def _wake(self) -> None:
        while self._waiting and self.held + self._waiting[0][0] <= self.capacity:
            size, turn = self._waiting.popleft()
            if not turn.done():
                self.held += size
                turn.set_result(None)


class ImageReader:
    """Downloads and scales attached images for every question of the process."""

    def __init__(self, caps: ImageCaps | None = None) -> None:
        self.caps = caps or ImageCaps()
        self.budget = ByteBudget(self.caps.in_flight)
        self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slackgpt-image")

    async def read(self, name: str, limit: int, fetch: Fetch) -> tuple[dict | None, str | None]:
        """The image as a model's ``image_url`` part, or None and a one-line note.

        ``limit``: the most bytes it may have (what Slack says it has, up to the cap for
        images); it holds that much of the budget until it is scaled.
        """
        try:
            async with self.budget.hold(limit, self.caps.wait):
                fetched = await fetch(limit)
                if isinstance(fetched, str):
                    return None, fetched
                return await self._part(name, fetched.data)
        except NoRoom:
            log.warning("no room to read %s within %gs", name, self.caps.wait)
            return None, f"`{name}` was skipped: I was reading too many images at once."

    async def _part(self, name: str, data: bytes) -> tuple[dict | None, str | None]:
        if image_mimetype(data) is None:  # not even worth a thread
            return None, f"`{name}` was skipped: {NOT_AN_IMAGE}."
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            scaled = await loop.run_in_executor(self._decoder, scale, data, self.caps)
        except ImageRefused as refused:
            return None, f"`{name}` was skipped: {refused}."
        _log_scaled(name, len(data), scaled, time.perf_counter() - started)
        return data_url_part(scaled), None

    async def aclose(self) -> None:
        """Stop the decoder thread (an image being decoded finishes on its own)."""
        self._decoder.shutdown(wait=False, cancel_futures=True)


def data_url_part(scaled: Scaled) -> dict:
    """The model's ``image_url`` part for a scaled image."""
    encoded = base64.b64encode(scaled.data).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:{scaled.mimetype};base64,{encoded}"}}


def _log_scaled(name: str, size: int, scaled: Scaled, seconds: float) -> None:
    (w, h), (sw, sh) = scaled.size, scaled.source_size
    log.debug(
        "image %s: %dx%d, %.1f MB -> %dx%d %s, %.2f MB in %.0f ms",
        name, sw, sh, size / 1e6, w, h, scaled.mimetype, len(scaled.data) / 1e6, seconds * 1000,
    )
