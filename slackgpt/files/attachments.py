"""Files attached to a Slack message, turned into what the model can read.

Text-like files become fenced text, images become ``image_url`` parts (data URLs), PDFs
become their text (with ``pypdf``, when installed). Everything else, and every file that is
too big or cannot be read, becomes a one-line note instead of an error.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from slackgpt.files.decoding import TEXT_MIMETYPES, TEXT_NAMES, TEXT_TYPES, decode_text, is_web_page
from slackgpt.files.image_rules import (
    ImageCaps,
    admitted,
    over_bytes_note,
    over_count_note,
    within_total,
)
from slackgpt.files.pdf_workers import Outcome, Parsed
from slackgpt.formatting import best_cut

log = logging.getLogger(__name__)


class Kind(enum.Enum):
    """What the bot can do with a file."""

    TEXT = "text"
    IMAGE = "image"
    PDF = "pdf"
    UNSUPPORTED = "unsupported"


MAX_BYTES = {
    Kind.TEXT: 1_000_000,
    Kind.IMAGE: 5_000_000,
    Kind.PDF: 10_000_000,
}

IMAGE_MIMETYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
}

@dataclass(frozen=True)
class Download:
    """A file's bytes, and whether they are all of it (False: cut at the byte cap)."""

    data: bytes
    complete: bool


Downloader = Callable[[str, int], Awaitable[Download]]
PdfReader = Callable[[bytes, int], Awaitable[Parsed]]  # e.g. parsing.Parser.pdf_text
Fetch = Callable[[int], Awaitable[Download | str]]  # the bytes up to a limit, or a note


class ImageReading(Protocol):
    """What reads images (:class:`~slackgpt.files.image_reader.ImageReader`)."""

    caps: ImageCaps

    async def read(self, name: str, limit: int, fetch: Fetch) -> tuple[dict | None, str | None]:
        """The image's ``image_url`` part, or None and a note."""


@dataclass
class Attachments:
    """What the model gets from a message's files, and what could not be given to it."""

    text_parts: list[str] = field(default_factory=list)
    image_parts: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def file_name(file: dict) -> str:
    """The file's name as shown to people and the model (never containing a backtick)."""
    name = str(file.get("name") or file.get("title") or "file").strip() or "file"
    return name.replace("`", "'").replace("\n", " ")


def classify(file: dict) -> Kind:
    """What kind of attachment a Slack file object is, from its mimetype, filetype and name."""
    mimetype = str(file.get("mimetype") or "").lower().split(";")[0].strip()
    filetype = str(file.get("filetype") or "").lower()
    name = str(file.get("name") or "").lower()
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    if (
        mimetype in IMAGE_MIMETYPES.values()
        or filetype in IMAGE_MIMETYPES
        or (extension in IMAGE_MIMETYPES and not mimetype.startswith("text/"))
    ):
        return Kind.IMAGE
    if mimetype == "application/pdf" or "pdf" in (filetype, extension):
        return Kind.PDF
    if (
        filetype in TEXT_TYPES
        or mimetype.startswith("text/")
        or mimetype in TEXT_MIMETYPES
        or mimetype.endswith(("+json", "+xml"))
    ):
        return Kind.TEXT
    if mimetype.startswith(("image/", "audio/", "video/")):
        return Kind.UNSUPPORTED  # e.g. HEIC photos, or a .ts video that is not TypeScript
    if extension in TEXT_TYPES or name.split(".")[0] in TEXT_NAMES:
        return Kind.TEXT
    return Kind.UNSUPPORTED


def download_url(file: dict) -> str | None:
    """The URL to download a file's bytes from (needs the bot token and ``files:read``)."""
    return file.get("url_private_download") or file.get("url_private") or None


async def read_attachments(
    files: list[dict],
    download: Downloader,
    *,
    read_pdf: PdfReader,
    images: ImageReading,
    images_allowed: bool,
    max_chars: int,
) -> Attachments:
    """Download and convert ``files`` for the model; never raises for a bad file.

    ``download(url, limit)`` returns a file's bytes up to ``limit`` (the caller authenticates
    it and refuses hosts outside Slack). ``max_chars`` caps the characters of file text in
    all, shared by the files in order; ``images.caps`` the images read and their bytes.
    Every file skipped or cut gets one line in ``notes``.
    """
    caps = images.caps
    to_read = [classify(f) is Kind.IMAGE and not _refusal(f, Kind.IMAGE, images_allowed)
               for f in files]
    results = await asyncio.gather(
        *(
            _read_one(file, download, read_pdf, images, images_allowed, max_chars)
            if read
            else _skipped(over_count_note(file_name(file), caps.per_question))
            for file, read in zip(files, admitted(to_read, caps.per_question), strict=True)
        )
    )
    sizes = [len(c["image_url"]["url"]) if isinstance(c, dict) else 0 for _, c, _ in results]
    attachments = Attachments()
    room = max(0, max_chars)
    for file, (kind, content, note), fits in zip(
        files, results, within_total(sizes, caps.question_bytes), strict=True
    ):
        name = file_name(file)
        if note:
            attachments.notes.append(note)
        if kind is Kind.IMAGE and isinstance(content, dict):
            if fits:
                attachments.image_parts.append(content)
            else:
                attachments.notes.append(over_bytes_note(name, caps.question_bytes))
        elif isinstance(content, str):
            room = _add_text(attachments, name, content, room)
    return attachments


def _add_text(attachments: Attachments, name: str, content: str, room: int) -> int:
    """Add a file's text within ``room`` characters (or a note); the room left."""
    if room <= 0:
        attachments.notes.append(
            f"`{name}` was skipped: the other files already used all the room for text."
        )
        return room
    text, whole = _cut(content, room), len(content)
    attachments.text_parts.append(_text_part(name, text, whole))
    if len(text) < whole:
        attachments.notes.append(
            f"`{name}` was too long: only its first {len(text):,} of {whole:,} "
            "characters were read."
        )
    return room - len(text)


async def _skipped(note: str) -> tuple[Kind, None, str]:
    return Kind.IMAGE, None, note


def user_content(text: str, attachments: Attachments) -> str | list[dict]:
    """The content of the user's chat message: ``text`` with the files' text after it.

    Notes about files that were skipped or cut are included, so the model does not look for
    them. A plain string when there are no images, else a text part followed by image parts.
    """
    blocks = [text] if text else []
    blocks.extend(attachments.text_parts)
    if attachments.notes:
        blocks.append(
            "(Attachments not given to you in full:\n"
            + "\n".join(f"- {note}" for note in attachments.notes)
            + ")"
        )
    combined = "\n\n".join(blocks)
    if not attachments.image_parts:
        return combined
    parts: list[dict] = [{"type": "text", "text": combined}] if combined else []
    return parts + list(attachments.image_parts)


async def _read_one(
    file: dict,
    download: Downloader,
    read_pdf: PdfReader,
    images: ImageReading,
    images_allowed: bool,
    max_chars: int,
) -> tuple[Kind, str | dict | None, str | None]:
    """One file → (kind, text or image part or None, note or None)."""
    kind = classify(file)
    refused = _refusal(file, kind, images_allowed)
    if refused:
        return kind, None, refused
    name, limit = file_name(file), MAX_BYTES[kind]
    if kind is Kind.IMAGE:
        size = file.get("size")
        limit = min(limit, size) if isinstance(size, int) and size > 0 else limit
        return (kind, *await images.read(name, limit, lambda cap: _fetch(file, download, cap)))
    fetched = await _fetch(file, download, limit, kind)
    if isinstance(fetched, str):
        return kind, None, fetched
    if kind is Kind.PDF:
        return (Kind.PDF, *_pdf(name, await read_pdf(fetched.data, max_chars)))
    return _text(name, fetched.data, cut_at=None if fetched.complete else limit)


async def _fetch(
    file: dict, download: Downloader, limit: int, kind: Kind = Kind.IMAGE
) -> Download | str:
    """A file's bytes up to ``limit``, or why it is skipped (a cut text file is read)."""
    name = file_name(file)
    try:
        fetched = await download(download_url(file) or "", limit)
    except Exception as error:  # any failure of one file only skips that file
        log.warning("could not download %s (%s): %r", name, file.get("id"), error)
        return f"`{name}` was skipped: it could not be downloaded."
    if is_web_page(fetched.data) and not _is_html_file(file):
        log.warning("downloading %s returned a web page: is the files:read scope granted?", name)
        return f"`{name}` was skipped: it could not be downloaded."
    if fetched.complete or kind is Kind.TEXT:
        return fetched
    if limit < MAX_BYTES[kind]:
        return f"`{name}` was skipped: it is bigger than Slack said."
    return f"`{name}` was skipped: it is over the {_mb(limit)} limit{_for(kind)}."


def _refusal(file: dict, kind: Kind, images_allowed: bool) -> str | None:
    """Why ``file`` is not downloaded at all, or None."""
    name = file_name(file)
    if kind is Kind.UNSUPPORTED:
        what = file.get("pretty_type") or file.get("filetype")
        what = f"{what} files" if what and what != "binary" else "this kind of file"
        return f"`{name}` was skipped: I can't read {what}."
    if kind is Kind.IMAGE and not images_allowed:
        return f"`{name}` was skipped: this model doesn't take images."
    if file.get("is_external") or file.get("mode") == "external":
        return f"`{name}` was skipped: it is stored outside Slack, where I can't read it."
    size, limit = file.get("size"), MAX_BYTES[kind]
    if isinstance(size, int) and size > limit:
        return f"`{name}` was skipped: it is {_mb(size)}, over the {_mb(limit)} limit{_for(kind)}."
    if file.get("mode") in ("tombstone", "hidden_by_limit") or not download_url(file):
        return f"`{name}` was skipped: Slack did not give me access to it."
    return None


def _pdf(name: str, parsed: Parsed) -> tuple[str | None, str | None]:
    """A PDF's text (or None) and its one-line note (or None)."""
    text = parsed.text if parsed.text.strip() else None
    if parsed.outcome is Outcome.UNAVAILABLE:
        return None, f"`{name}` was skipped: PDF reading is not available."
    if parsed.outcome is Outcome.UNREADABLE:
        return None, f"`{name}` was skipped: the PDF could not be read."
    if parsed.outcome is Outcome.TOO_COMPLEX:
        past = f" past page {parsed.pages_read}" if text else ""
        return text, f"`{name}` was too complex to read{past}."
    if text is None:
        return None, f"`{name}` has no text I can read (it may be scanned images)."
    if parsed.pages_cut:
        return text, (
            f"`{name}` was too long: only its first {parsed.pages_read} of "
            f"{parsed.pages_total} pages were read."
        )
    if parsed.chars_cut:
        return text, f"`{name}` was too long: only its first {len(text):,} characters were read."
    return text, None


def _text(name: str, data: bytes, cut_at: int | None) -> tuple[Kind, str | None, str | None]:
    """Text from ``data``; ``cut_at`` says the download stopped at that many bytes."""
    text = decode_text(data)
    if text is None:
        return Kind.TEXT, None, f"`{name}` was skipped: it is not readable text."
    if not text.strip():
        return Kind.TEXT, None, f"`{name}` is empty."
    if cut_at is not None:
        note = f"`{name}` is over the {_mb(cut_at)} limit for text files: I read its beginning."
        return Kind.TEXT, text, note
    return Kind.TEXT, text, None


def _is_html_file(file: dict) -> bool:
    name = str(file.get("name") or "").lower()
    return (
        str(file.get("filetype") or "").lower() in ("html", "htm", "xhtml")
        or str(file.get("mimetype") or "").lower().startswith(("text/html", "application/xhtml"))
        or name.endswith((".html", ".htm", ".xhtml"))
    )


def _cut(text: str, max_chars: int) -> str:
    """The beginning of ``text`` within ``max_chars``, cut at a line break when one is near."""
    if len(text) <= max_chars:
        return text
    return text[: best_cut(text, max_chars) if max_chars > 0 else 0].rstrip()


def _text_part(name: str, text: str, whole: int) -> str:
    """``text`` in a fence that its own backticks cannot close, headed by the file's name."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    cut = f" (the first {len(text):,} of {whole:,} characters)" if len(text) < whole else ""
    return f"File `{name}`{cut}:\n{fence}\n{text}\n{fence}"


def _for(kind: Kind) -> str:
    return {Kind.TEXT: " for text files", Kind.IMAGE: " for images", Kind.PDF: " for PDFs"}[kind]


def _mb(size: int) -> str:
    """Megabytes rounded up to a tenth, so a file just over a limit does not look equal to it."""
    tenths = -(-size // 100_000)
    return f"{tenths // 10} MB" if tenths % 10 == 0 else f"{tenths / 10:.1f} MB"
