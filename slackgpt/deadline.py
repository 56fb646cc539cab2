"""``deadline(seconds)``: an ``async with`` block that raises TimeoutError when it runs past
``seconds``. A timer on the running task, not a task per call as ``asyncio.wait_for`` makes:
it is used once per streamed line and per Slack sign."""

from __future__ import annotations

from asyncio import timeout as deadline

__all__ = ["deadline"]
