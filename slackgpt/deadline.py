"""``deadline(seconds)``: an ``async with`` block that raises asyncio.TimeoutError when it
runs past ``seconds``. A timer on the running task, not a task per call as
``asyncio.wait_for`` makes: it is used once per streamed line and per Slack sign."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from asyncio import timeout as deadline
else:  # aiohttp depends on async-timeout before Python 3.11
    from async_timeout import timeout as deadline

__all__ = ["deadline"]
