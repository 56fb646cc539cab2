"""Reply: one scripted answer (or failure) of FakeOpenAI."""

from __future__ import annotations

import re
from dataclasses import KW_ONLY, dataclass


def _pieces(text: str) -> list[str]:
    return re.findall(r"\s*\S+|\s+", text)


@dataclass
class Reply:
    """One scripted answer (or failure) to a chat completion request.

    The ``*_after`` options count content chunks and apply to streaming answers; non-streaming
    ones are noted where they differ.
    """

    text: str = "Hello!"
    chunks: list[str] | None = None
    """Explicit content deltas; by default ``text`` in word-ish pieces."""
    first_token_delay: float = 0.0
    """Seconds before the first chunk (the assistant role) is sent."""
    token_delay: float = 0.0
    """Seconds between content chunks."""
    status: int = 200
    """A non-200 status answers with an error body instead of a completion."""
    error_type: str | None = None
    error_code: str | None = None
    error_message: str = ""
    headers: dict[str, str] | None = None
    cut_after: int | None = None
    """Abort the connection after N content chunks (non-streaming: before any answer)."""
    stall_after: int | None = None
    """Send nothing more after N content chunks, until the fake stops."""
    error_after: int | None = None
    """Send a ``data: {"error": ...}`` event after N content chunks."""
    finish_reason: str = "stop"
    _: KW_ONLY  # the options below are keyword-only; the ones above keep their positions
    eof_after: int | None = None
    """End the response cleanly (proper chunked end) after N content chunks, with no
    ``finish_reason`` chunk, no usage and no ``data: [DONE]``. Streaming only."""

    def deltas(self) -> list[str]:
        """The content pieces streamed for this reply."""
        if self.chunks is not None:
            return list(self.chunks)
        return _pieces(self.text)

    def duration(self) -> float:
        """How long the whole answer takes to write, as scripted."""
        return self.first_token_delay + self.token_delay * max(0, len(self.deltas()) - 1)
