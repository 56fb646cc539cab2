"""The child side of ``slackgpt.files.pdf_workers``: ``python -m slackgpt.files.pdf_child JOB``.

Reads a file on stdin and writes JSON lines on stdout: ``{"pages": n}``, one
``{"text": ...}`` per page read, then ``{"end": outcome, ...}``. It caps itself first
(``confine``), as ``JOB`` (a JSON object) says. Kept apart from ``parsing`` so that a child
does not import asyncio: 60 ms and 6 MB less for each file.
"""

from __future__ import annotations

import contextlib
import enum
import io
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

try:
    import resource
except ImportError:  # Windows: no rlimits; the parent's wall-clock cap and kill still hold
    resource = None  # type: ignore[assignment]


class Outcome(enum.StrEnum):
    """How reading a file ended."""

    OK = "ok"  # read, perhaps cut at a cap on pages or characters
    TOO_COMPLEX = "too_complex"  # hit the time, CPU or memory cap: text of the pages before
    UNREADABLE = "unreadable"  # damaged, locked with a password, or not a PDF
    UNAVAILABLE = "unavailable"  # no pypdf, no worker could run, or the parser is closed


def extract_pdf(
    data: bytes | io.BytesIO, max_chars: int, max_pages: int, emit: Callable[[dict], None]
) -> None:
    """Emit the PDF's page count, the text of each page, then a closing ``{"end": outcome}``.

    Stops after ``max_pages`` pages or ``max_chars`` characters (pages joined by a blank
    line). Runs in the child; pure enough to test in-process.
    """
    try:
        import pypdf  # noqa: F401
    except ImportError as error:
        emit({"end": Outcome.UNAVAILABLE.value, "detail": f"pypdf is missing: {error}"})
        return
    try:
        pages_cut, chars_cut = _read_pages(data, max_chars, max_pages, emit)
    except (MemoryError, RecursionError, SystemError) as error:
        # SystemError: what some C code raises for a failed allocation at the memory cap.
        failure = (Outcome.TOO_COMPLEX, type(error).__name__)
    except Exception as error:  # pypdf's errors for a damaged, locked or foreign file
        failure = (Outcome.UNREADABLE, f"{type(error).__name__}: {error}"[:300])
    else:
        emit({"end": Outcome.OK.value, "pages_cut": pages_cut, "chars_cut": chars_cut})
        return
    # Out of the except clause, the traceback and the parser's frames are freed: after a
    # MemoryError there is room again to say so.
    emit({"end": failure[0].value, "detail": failure[1]})


def _read_pages(
    data: bytes | io.BytesIO, max_chars: int, max_pages: int, emit: Callable[[dict], None]
) -> tuple[bool, bool]:
    """Emit the page count and each page's text; (pages cut, characters cut)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data) if isinstance(data, bytes) else data)
    if reader.is_encrypted:
        reader.decrypt("")  # many "protected" PDFs only restrict printing or copying
    emit({"pages": len(reader.pages)})
    chars = 0
    for number, page in enumerate(reader.pages):
        if number >= max_pages:
            return True, False
        text = _clean(page.extract_text() or "").strip()
        piece = ("\n\n" if chars and text else "") + text
        if chars + len(piece) > max_chars:
            emit({"text": piece[: max_chars - chars]})
            return False, True
        chars += len(piece)
        emit({"text": piece})
    return False, False


def _clean(text: str) -> str:
    """``text`` without lone surrogates (pypdf can make them; JSON and HTTP reject them)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def confine(job: Mapping[str, Any]) -> None:
    """Cap this process (the child) as ``job`` says, before it touches the file.

    Also lowers its priority, and asks Linux to SIGKILL it when the parent dies
    (``PR_SET_PDEATHSIG``), so an abrupt exit of the bot leaves no worker behind.
    """
    with contextlib.suppress(OSError, AttributeError):
        os.nice(job.get("niceness", 0))
    if resource is not None:
        for name, soft, hard in (
            ("RLIMIT_DATA", job["memory"], job["memory"]),
            ("RLIMIT_AS", job["address_space"], job["address_space"]),
            ("RLIMIT_CPU", job["cpu"], job["cpu"] + 1),  # SIGXCPU, a second later SIGKILL
            ("RLIMIT_CORE", 0, 0),
        ):
            _lower_limit(getattr(resource, name, None), soft, hard)
    if sys.platform.startswith("linux"):
        _die_with_parent(job.get("parent"))


def _lower_limit(which: int | None, soft: int, hard: int) -> None:
    """Lower limit ``which`` to ``soft`` and ``hard``, never above its current hard limit."""
    if which is None:
        return
    _, current = resource.getrlimit(which)
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(which, (soft, hard))


def _die_with_parent(parent: int | None) -> None:
    """``PR_SET_PDEATHSIG``: SIGKILL when the parent exits; exit now if it already has."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def _read_all(stream: io.BufferedIOBase) -> io.BytesIO:
    """All of ``stream`` in one buffer grown in place (``read()`` would briefly hold two)."""
    data = io.BytesIO()
    while chunk := stream.read1(1 << 16):
        data.write(chunk)
    data.seek(0)
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """The child: ``python -m slackgpt.files.pdf_child JOB`` with the file on stdin."""
    job = json.loads((argv if argv is not None else sys.argv[1:])[0])
    # pypdf loads `cryptography` (installed for the MCP SDK) at import when it can: several
    # MB of this child's memory cap for every PDF. Without it, as before, a PDF encrypted
    # with AES is said to be unreadable.
    sys.modules.setdefault("cryptography", None)  # type: ignore[arg-type]
    confine(job)
    logging.disable(logging.CRITICAL)  # pypdf's warnings about a damaged file: nobody reads
    out = sys.stdout.buffer

    def emit(message: dict) -> None:
        out.write(json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n")
        out.flush()

    try:
        data: io.BytesIO | None = _read_all(sys.stdin.buffer)
    except MemoryError:
        data = None
    if data is None:
        emit({"end": Outcome.TOO_COMPLEX.value, "detail": "MemoryError receiving the file"})
    else:
        extract_pdf(data, job["max_chars"], job["max_pages"], emit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
