"""What HTTP mode lets through: Slack's signature over the raw bytes, a body nested no deeper
than Slack's own, and a tally of the refused that writes at most one log line a minute.

Nothing here decodes a body: the signature is checked on the bytes as they arrived.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

MAX_AGE = 5 * 60  # Slack's own limit for a request's timestamp
MAX_TIMESTAMP_DIGITS = 12
MAX_DEPTH = 64  # Slack's payloads nest about a dozen levels (blocks in rich text in an event)
SUMMARY_EVERY = 60.0

WHY = {
    400: "malformed HTTP or a body broken off",
    401: "no valid Slack signature",
    408: "too slow to send the body",
    413: "body over the size cap",
}


def headers_plausible(timestamp: str, signature: str, now: float) -> bool:
    """True when the signing headers could be Slack's: a recent all-digit timestamp and a
    ``v0=`` signature in ASCII. Checked before a byte of the body is read."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > MAX_TIMESTAMP_DIGITS:
        return False
    if abs(now - int(timestamp)) > MAX_AGE:
        return False
    return signature.isascii() and signature.startswith("v0=")


def signed_by_slack(secret: str, timestamp: str, signature: str, body: bytes) -> bool:
    """True when ``signature`` is ``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}`` keyed
    with the signing secret, computed over ``body``'s bytes (no decoding), compared in
    constant time. Call :func:`headers_plausible` first: both headers must be ASCII."""
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    mac.update(b"v0:" + timestamp.encode("ascii") + b":")
    mac.update(body)
    expected = "v0=" + mac.hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii"))


def nested_deeper_than(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when the JSON ``value`` has lists or objects more than ``limit`` levels deep.
    Walks without recursion, so any depth is measured safely."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class Refusals:
    """Counts refused requests by status; writes at most one WARNING line per ``every``
    seconds, summing up everything refused since the previous one. A flood of forged or
    broken requests costs a line a minute, not a traceback each."""

    def __init__(
        self,
        log: logging.Logger,
        *,
        every: float = SUMMARY_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._every = every
        self._clock = clock
        self._counts: Counter[int] = Counter()
        self._last: float | None = None
        self.total = 0

    def note(self, status: int) -> None:
        """One more refused request, answered with ``status``."""
        self._counts[status] += 1
        self.total += 1
        now = self._clock()
        if self._last is None or now - self._last >= self._every:
            self._last = now
            self.flush()

    def flush(self) -> None:
        """Write the summary of what was refused since the last line, if anything was."""
        if not self._counts:
            return
        count = sum(self._counts.values())
        parts = ", ".join(
            f"{status} x{n} ({WHY.get(status, 'refused')})"
            for status, n in sorted(self._counts.items())
        )
        self._counts.clear()
        self._log.warning(
            "refused %d HTTP request%s since the last such note: %s; at most one note a "
            "minute (if Slack's own requests get 401, check SLACK_SIGNING_SECRET and the clock)",
            count,
            "" if count == 1 else "s",
            parts,
        )
