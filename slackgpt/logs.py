"""Process logging: readable text or one JSON object per line, with secrets always removed."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlparse

MASK = "[REDACTED]"

# Slack tokens: xoxb-/xoxp-/xoxa-/xoxr-/xoxc-/xoxd-, xapp-, refresh tokens xoxe-, and rotating
# tokens like xoxe.xoxp-1-…. The prefix stays so a log still says which kind of token it was.
_SLACK = re.compile(r"\b((?:xoxe\.)?(?:xox[a-z]|xapp)-)[A-Za-z0-9-]+")
# OpenAI-style keys: sk-…, sk-proj-…, sk-svcacct-….
_OPENAI = re.compile(r"\b(sk-)[A-Za-z0-9_-]{4,}")
# Authorization header values, as a header line, a dict entry or a repr: keep the name only.
_AUTH_HEADER = re.compile(
    r"""(?i)(\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:(?:bearer|basic|token)\s+)?"""
    r"""[^\s"',;}]+"""
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")
# name=value and "name": "value" pairs whose name says they are secret (not "NAME: words").
_NAMES = r"(?:api[_-]?key|client[_-]?secret|signing[_-]?secret|password|token)"
_SECRET_PAIR = re.compile(
    rf"""(?i)((?<![a-z0-9]){_NAMES}=|["'][\w-]*{_NAMES}["']\s*[:=]\s*["']?)(?!\[REDACTED\])"""
    r"""[^\s"',;&}]+"""
)
_SECRET_NAMES = re.compile(r"(?i)(token|secret|password|api[_-]?key|authorization)$")

# LogRecord attributes; anything else on a record came from ``extra=``.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)
_installed: list[logging.Handler] = []


def redact(text: str, literals: Iterable[str] = ()) -> str:
    """``text`` with Slack tokens, OpenAI keys, Authorization values and ``literals`` masked."""
    for secret in literals:
        text = text.replace(secret, MASK)
    text = _SLACK.sub(rf"\1{MASK}", text)
    text = _OPENAI.sub(rf"\1{MASK}", text)
    text = _AUTH_HEADER.sub(rf"\1{MASK}", text)
    text = _BEARER.sub(rf"\1{MASK}", text)
    return _SECRET_PAIR.sub(rf"\1{MASK}", text)


class RedactingFilter(logging.Filter):
    """Scrubs each record in place: message, arguments, exception text and ``extra`` fields.

    In place, so every handler after this one sees the clean record too.
    """

    def __init__(self, literals: Iterable[str] = ()) -> None:
        super().__init__()
        # Very short values ("unused", test keys) would mask ordinary words.
        self.literals = tuple(sorted({s for s in literals if s and len(s) >= 8}, key=len))[::-1]

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # %-arguments that do not fit: still log, never raise here
            message = f"{record.msg} (arguments that did not fit: {record.args!r})"
        record.msg, record.args = self.clean(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        for key, value in extra_fields(record).items():
            setattr(record, key, self.clean_field(key, value))
        return True

    def clean(self, text: str) -> str:
        """``text`` without secrets."""
        return redact(text, self.literals)

    def clean_field(self, key: str, value: Any) -> Any:
        """An ``extra`` value without secrets; a field named like a secret is masked whole."""
        if isinstance(value, str) and _SECRET_NAMES.search(key):
            return MASK
        if isinstance(value, str):
            return self.clean(value)
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        return self.clean(str(value))


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a call added with ``extra=`` (event_id, channel, outcome, …)."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message key=value …``, then any traceback; secrets masked."""

    def __init__(self, literals: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redactor = RedactingFilter(literals)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = extra_fields(record)
        if extras:
            head, sep, rest = text.partition("\n")
            pairs = " ".join(f"{k}={_short(v)}" for k, v in extras.items())
            text = f"{head} {pairs}{sep}{rest}"
        return self.redactor.clean(text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ``extra`` fields, exception."""

    def __init__(self, literals: Iterable[str] = ()) -> None:
        super().__init__()
        self.redactor = RedactingFilter(literals)

    def format(self, record: logging.LogRecord) -> str:
        clean = self.redactor.clean
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": clean(record.getMessage()),
        }
        for key, value in extra_fields(record).items():
            entry.setdefault(key, self.redactor.clean_field(key, value))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = clean(record.exc_text)
        if record.stack_info:
            entry["stack"] = clean(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=lambda v: clean(str(v)))


def configure_logging(level: str, fmt: str = "text", *, secrets: Iterable[str] = ()) -> None:
    """Send the process's logs to stderr as ``text`` or ``json``, secrets masked in every record.

    ``secrets`` adds exact values to mask (keys that match no pattern, e.g. an Azure key or the
    signing secret). Uncaught exceptions are logged too, so they are masked and formatted alike.
    Calling it again replaces the handler it installed before.
    """
    if fmt not in ("text", "json"):
        raise ValueError(f"log format must be 'text' or 'json', not {fmt!r}")
    literals = tuple(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(literals))
    handler.setFormatter(JsonFormatter(literals) if fmt == "json" else TextFormatter(literals))
    root = logging.getLogger()
    for old in _installed:
        root.removeHandler(old)
    _installed[:] = [handler]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # One "HTTP Request: POST …" line per model call is noise unless debugging.
    quiet = logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING
    for name in ("httpx2", "httpcore2"):
        logging.getLogger(name).setLevel(quiet)
    sys.excepthook = _log_uncaught


def _log_uncaught(kind: type[BaseException], value: BaseException, tb: Any) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    logging.getLogger("slackgpt").critical("uncaught exception", exc_info=(kind, value, tb))


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if not text or any(c.isspace() for c in text) else text


def public_url(url: str) -> str:
    """``url`` with its password masked (``redis://:***@host``), for messages and logs."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    user = f"{parsed.username}:***@" if parsed.username else ":***@"
    return parsed._replace(netloc=user + parsed.netloc.rpartition("@")[2]).geturl()


def url_password(url: str | None) -> tuple[str, ...]:
    """The password in ``url`` (as written and decoded), if any: a secret to mask."""
    password = urlparse(url).password if url else None
    return (password, unquote(password)) if password else ()


def first_line(error: BaseException, *, kind: bool = False) -> str:
    """The first line of ``error``'s message (its kind's name when it has none), at most 200
    characters; with ``kind``, ``Kind: first line``."""
    lines = str(error).strip().splitlines()
    line = lines[0][:200] if lines else ""
    name = type(error).__name__
    return (f"{name}: {line}" if kind else line) if line else name
