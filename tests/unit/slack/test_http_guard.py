"""HTTP mode's checks on their own: the signature over raw bytes, nesting, the refusal tally."""

from __future__ import annotations

import logging
import time

import pytest
from slack_sdk.signature import SignatureVerifier

from slackgpt.slack.http_guard import (
    MAX_DEPTH,
    Refusals,
    headers_plausible,
    nested_deeper_than,
    signed_by_slack,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def test_the_signature_over_bytes_is_slacks_own():
    body, timestamp = '{"text": "héllo ☃"}', str(int(time.time()))
    reference = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body)
    assert reference is not None
    assert signed_by_slack(SECRET, timestamp, reference, body.encode())
    assert not signed_by_slack("another-secret", timestamp, reference, body.encode())
    assert not signed_by_slack(SECRET, timestamp, reference, body.encode() + b" ")
    assert not signed_by_slack(SECRET, str(int(timestamp) + 1), reference, body.encode())


def test_bytes_that_are_not_utf8_are_checked_without_decoding():
    verifier_of_str = SignatureVerifier(SECRET)
    with pytest.raises(UnicodeDecodeError):  # why the bytes are not handed to slack_sdk
        verifier_of_str.generate_signature(timestamp="1", body=b"\xff")
    assert not signed_by_slack(SECRET, "1700000000", "v0=" + "0" * 64, b"\xff\xfe")


@pytest.mark.parametrize(
    ("timestamp", "signature", "plausible"),
    [
        ("NOW", "v0=abc", True),
        ("\u00b2", "v0=abc", False),  # a superscript two is a digit to str.isdigit
        ("9" * 5000, "v0=abc", False),
        ("OLD", "v0=abc", False),
        ("", "v0=abc", False),
        ("NOW", "v0=\u00e9", False),
        ("NOW", "v1=abc", False),
        ("NOW", "", False),
    ],
)
def test_the_signing_headers_are_checked_before_the_body(timestamp, signature, plausible):
    now = 1_700_000_000
    timestamp = {"NOW": str(now), "OLD": str(now - 6 * 60)}.get(timestamp, timestamp)
    assert headers_plausible(timestamp, signature, now) is plausible


def test_nesting_is_measured_without_recursion():
    deep: list = []
    for _ in range(1_000_000):
        deep = [deep]
    assert nested_deeper_than(deep)
    assert nested_deeper_than({"a": [{"b": []}]}, 4) is False  # object, list, object, list
    assert nested_deeper_than({"a": [{"b": []}]}, 3) is True
    assert nested_deeper_than("flat") is False
    level: dict = {}
    for _ in range(MAX_DEPTH - 1):
        level = {"x": level}
    assert not nested_deeper_than(level) and nested_deeper_than({"x": level})


def test_refusals_write_one_line_a_minute_summing_up_the_rest(caplog):
    caplog.set_level(logging.INFO)
    now = [0.0]
    refusals = Refusals(logging.getLogger("test.refusals"), clock=lambda: now[0])
    for _ in range(1000):
        refusals.note(401)
        now[0] += 0.01  # 10 s for the thousand
    refusals.note(413)
    assert len(caplog.records) == 1
    assert "refused 1 HTTP request since" in caplog.records[0].getMessage()
    now[0] = 61.0
    refusals.note(400)
    assert len(caplog.records) == 2
    second = caplog.records[1].getMessage()
    assert "refused 1001 HTTP requests" in second
    assert "400 x1 (malformed HTTP" in second and "401 x999 (no valid Slack signature)" in second
    assert "413 x1" in second and "SLACK_SIGNING_SECRET" in second
    refusals.flush()  # nothing new since
    assert len(caplog.records) == 2 and refusals.total == 1002
