"""Logging: text and JSON lines, ``extra`` fields, and secrets masked in every part of a record."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from slackgpt import logs
from slackgpt.logs import JsonFormatter, RedactingFilter, TextFormatter, configure_logging, redact

pytestmark = pytest.mark.timeout(10)

BOT = "xoxb-1234-5678-AbCdEf"
APP = "xapp-1-A012-345-deadbeef"
KEY = "sk-proj-Ab12_cd34-EF56"


def record(
    msg: str, *args: object, exc: bool = False, extra: dict | None = None, level=logging.INFO
) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError(f"Slack said no to {BOT}")
        except RuntimeError:
            exc_info = sys.exc_info()
    return logging.getLogger("slackgpt.test").makeRecord(
        "slackgpt.test", level, __file__, 1, msg, args, exc_info, extra=extra
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"bot {BOT} app {APP}", "bot xoxb-[REDACTED] app xapp-[REDACTED]"),
        ("user xoxp-9-8-7 refresh xoxe-1-abc", "user xoxp-[REDACTED] refresh xoxe-[REDACTED]"),
        ("rotating xoxe.xoxb-1-Zz9", "rotating xoxe.xoxb-[REDACTED]"),
        (f"key={KEY}.", "key=sk-[REDACTED]."),
        ("Authorization: Bearer abc.def-ghi", "Authorization: [REDACTED]"),
        ("{'Authorization': 'Basic dXNlcjpwYXNz'}", "{'Authorization': '[REDACTED]'}"),
        ("sent bearer eyJhbGciOi.x.y now", "sent bearer [REDACTED] now"),
        ("OPENAI_API_KEY=azure0123456789", "OPENAI_API_KEY=[REDACTED]"),
        ('{"bot_token": "abc", "tokens": 5}', '{"bot_token": "[REDACTED]", "tokens": 5}'),
    ],
)
def test_redact_masks_secrets(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Slack rejected SLACK_APP_TOKEN: not_allowed_token_type",
        "answer outcome=ok tokens=42 max_completion_tokens=16",
        "a risk-free task-list with xoxb- alone",
    ],
)
def test_redact_leaves_ordinary_text_alone(text):
    assert redact(text) == text


def test_literal_secrets_are_masked_but_short_values_are_not():
    redactor = RedactingFilter(["azure-key-0123456789", "unused", ""])
    assert redactor.clean("key azure-key-0123456789 unused") == "key [REDACTED] unused"


def test_text_line_with_token_in_args_and_extras():
    rec = record(
        "calling %s with %s", "auth.test", {"token": BOT},
        extra={"event_id": "Ev1", "channel": "C1", "outcome": "ok", "total_s": 1.25},
    )
    line = TextFormatter().format(rec)
    assert BOT not in line
    assert " INFO slackgpt.test: calling auth.test with {'token': '[REDACTED]'} " in line
    assert line.endswith(" event_id=Ev1 channel=C1 outcome=ok total_s=1.25")


def test_text_traceback_containing_a_token_is_masked():
    text = TextFormatter().format(record("answer failed", exc=True))
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: Slack said no to xoxb-[REDACTED]" in text
    assert BOT not in text


def test_json_line_has_the_fields_and_no_secrets():
    rec = record(
        "model call with %s failed",
        f"Authorization: Bearer {KEY}",
        exc=True,
        extra={"event_id": "Ev9", "channel": "C1", "outcome": "error", "first_text_s": None,
               "total_s": 0.5, "tokens": 42, "api_key": "plain-secret", "note": f"use {APP}"},
        level=logging.WARNING,
    )
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "slackgpt.test"
    assert entry["time"].endswith("+00:00") and "T" in entry["time"]
    assert entry["message"] == "model call with Authorization: [REDACTED] failed"
    assert entry["event_id"] == "Ev9" and entry["outcome"] == "error"
    assert entry["tokens"] == 42 and entry["total_s"] == 0.5 and entry["first_text_s"] is None
    assert entry["api_key"] == "[REDACTED]" and entry["note"] == "use xapp-[REDACTED]"
    assert "RuntimeError: Slack said no to xoxb-[REDACTED]" in entry["exception"]
    for secret in (BOT, APP, KEY, "plain-secret"):
        assert secret not in line


def test_filter_scrubs_the_record_for_every_later_handler():
    rec = record("token %s", BOT, exc=True, extra={"channel": APP})
    assert RedactingFilter().filter(rec) is True
    assert rec.getMessage() == "token xoxb-[REDACTED]"
    assert BOT not in (rec.exc_text or "") and rec.channel == "xapp-[REDACTED]"
    plain = logging.Formatter("%(message)s").format(rec)  # a formatter that knows nothing
    assert BOT not in plain and APP not in plain


def test_mismatched_arguments_never_raise_or_leak():
    rec = record("two %s %s", BOT)  # one argument for two placeholders
    assert RedactingFilter().filter(rec)
    assert BOT not in rec.getMessage() and "did not fit" in rec.getMessage()


@pytest.fixture
def root_logging():
    """Restore the root logger after a test that configures it."""
    root = logging.getLogger()
    handlers, level, hook = root.handlers[:], root.level, sys.excepthook
    yield root
    sys.excepthook = hook
    for handler in logs._installed:
        root.removeHandler(handler)
    logs._installed.clear()
    root.handlers[:], root.level = handlers, level
    logging.getLogger("httpx2").setLevel(logging.NOTSET)
    logging.getLogger("httpcore2").setLevel(logging.NOTSET)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_configure_logging_end_to_end(root_logging, monkeypatch, fmt):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("debug", fmt, secrets=["azure-0123456789abcdef"])
    configure_logging("info", fmt, secrets=["azure-0123456789abcdef"])  # replaces, no doubles
    log = logging.getLogger("slackgpt.answering.answer")
    log.debug("hidden at INFO")
    log.info("answer for %s", BOT, extra={"event_id": "Ev1"})
    try:
        raise ValueError("key azure-0123456789abcdef was refused")
    except ValueError:
        log.exception("model failed")
    logging.getLogger("httpx2").info("HTTP Request: POST …")  # quiet below DEBUG
    out = stream.getvalue()
    assert "hidden" not in out and "HTTP Request" not in out
    assert out.count("answer for xoxb-[REDACTED]") == 1
    assert BOT not in out and "azure-0123456789abcdef" not in out
    assert "ValueError: key [REDACTED] was refused" in out
    if fmt == "json":
        lines = [json.loads(line) for line in out.splitlines()]
        assert [e["message"] for e in lines] == ["answer for xoxb-[REDACTED]", "model failed"]
        assert lines[0]["event_id"] == "Ev1"
    else:
        assert "INFO slackgpt.answering.answer: answer for xoxb-[REDACTED] event_id=Ev1" in out


def test_uncaught_exceptions_are_logged_masked(root_logging, monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("INFO", "json")
    try:
        raise ConnectionError(f"https://slack.com/api/auth.test?token={BOT}")
    except ConnectionError:
        sys.excepthook(*sys.exc_info())
    entry = json.loads(stream.getvalue())
    assert entry["level"] == "CRITICAL" and entry["message"] == "uncaught exception"
    assert "ConnectionError: https://slack.com/api/auth.test?token=" in entry["exception"]
    assert BOT not in stream.getvalue()


def test_unknown_format_is_refused(root_logging):
    with pytest.raises(ValueError, match="text' or 'json"):
        configure_logging("INFO", "xml")


def test_public_url_masks_the_password_only():
    from slackgpt.logs import public_url, url_password

    assert public_url("redis://:s3cr%2Ft@redis:6379/0") == "redis://:***@redis:6379/0"
    assert public_url("rediss://bot:pw@host/1") == "rediss://bot:***@host/1"
    assert public_url("https://api.example.com/v1") == "https://api.example.com/v1"
    assert url_password("redis://:s3cr%2Ft@redis:6379/0") == ("s3cr%2Ft", "s3cr/t")
    assert url_password(None) == () and url_password("redis://redis") == ()


def test_first_line_is_one_short_line_or_the_kind():
    from slackgpt.logs import first_line

    error = ValueError("bad value\nTraceback noise")
    assert first_line(error) == "bad value"
    assert first_line(error, kind=True) == "ValueError: bad value"
    assert first_line(TimeoutError()) == "TimeoutError"
    assert len(first_line(RuntimeError("x" * 500))) == 200
