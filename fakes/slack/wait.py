"""Waiting for the fake's state to change, bounded in time (tests never sleep blindly)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def wait_until(
    predicate: Callable[[], bool],
    timeout: float = 5.0,
    message: str = "",
    diagnose: Callable[[], str] = lambda: "",
) -> None:
    """Poll ``predicate`` until true; AssertionError after ``timeout`` seconds, saying what
    was awaited and ``diagnose()`` (what the fake saw lately)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {message or predicate}; {diagnose()}"
            )
        await asyncio.sleep(0.01)
