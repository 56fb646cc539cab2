"""One failure classifier: a sentence for the person, a summary and a fix for the admin."""

from __future__ import annotations

import asyncio
import itertools

import httpx2
import openai
import pytest

from slackgpt.model.failures import (
    ModelTimeout,
    StreamCut,
    explain,
    is_context_overflow,
    is_quota,
    rejected_field,
    smaller_budget,
)
from slackgpt.slack.wire import slack_token_fix

REQUEST = httpx2.Request("POST", "http://model.test/v1/chat/completions")
CLASSES = {
    400: openai.BadRequestError,
    401: openai.AuthenticationError,
    403: openai.PermissionDeniedError,
    404: openai.NotFoundError,
    429: openai.RateLimitError,
    500: openai.InternalServerError,
    418: openai.APIStatusError,
}


def status_error(status: int, message: str, code: str | None = None) -> openai.APIStatusError:
    """The exception the openai client raises for an HTTP error with OpenAI's error body."""
    body = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    response = httpx2.Response(status, request=REQUEST, json={"error": body})
    return CLASSES[status](message, response=response, body=body)


@pytest.mark.parametrize(
    ("error", "kind", "people", "transient"),
    [
        (status_error(401, "Incorrect API key"), "auth", "OPENAI_API_KEY", False),
        (status_error(403, "no access"), "permission", "`gpt-x`", False),
        (status_error(404, "no such model", "model_not_found"), "unknown_model", "OPENAI_MODEL",
         False),
        (status_error(429, "You exceeded your current quota", "insufficient_quota"), "quota",
         "run out of quota", False),
        (status_error(429, "Rate limit reached", "rate_limit_exceeded"), "rate_limit", "busy",
         True),
        (status_error(400, "maximum context length is 8192 tokens", "context_length_exceeded"),
         "context", "too long", False),
        (status_error(400, "Invalid 'messages'"), "bad_request", "refused this request", False),
        (status_error(500, "boom"), "server", "internal error", True),
        (status_error(418, "teapot"), "model_error", "returned an error", False),
        (openai.APITimeoutError(REQUEST), "timeout", "took too long", True),
        (openai.APIConnectionError(request=REQUEST), "unreachable", "OPENAI_BASE_URL", True),
        (ModelTimeout(30, started=False), "timeout", "within 30 seconds", True),
        (ModelTimeout(5, started=True), "timeout", "stopped sending for 5 seconds", True),
        (RuntimeError("bug"), "unexpected", "Something went wrong", False),
    ],
)
def test_each_failure_has_a_sentence_a_summary_and_a_fix(error, kind, people, transient):
    failure = explain(error, "gpt-x")
    assert failure.kind == kind
    assert people in failure.people
    assert failure.summary and failure.fix
    assert failure.transient is transient
    assert "Traceback" not in failure.people


def _chain(*errors: BaseException) -> BaseException:
    """``errors[0]`` raised from ``errors[1]``, raised from ``errors[2]``…"""
    for upper, lower in itertools.pairwise(errors):
        upper.__cause__ = lower
    return errors[0]


def _named(name: str, *bases: type) -> BaseException:
    return type(name, bases or (Exception,), {})()


@pytest.mark.parametrize(
    ("below", "kind"),
    [
        # How the SDK's aiohttp transport reports each: APITimeoutError ← httpx's ConnectTimeout
        # or ReadTimeout ← aiohttp's error ← the socket's.
        ((_named("ConnectTimeout"), _named("ClientConnectorError", OSError),
          ConnectionRefusedError(111, "Connection refused")), "unreachable"),
        ((_named("ConnectTimeout"), OSError(-2, "Name or service not known")), "unreachable"),
        ((_named("ConnectTimeout"), _named("ServerDisconnectedError")), "unreachable"),
        ((_named("ConnectTimeout"), _named("ConnectionTimeoutError", TimeoutError),
          TimeoutError(), asyncio.CancelledError()), "timeout"),
        ((_named("ReadTimeout"), _named("SocketTimeoutError", TimeoutError)), "timeout"),
        ((_named("ReadTimeout"),), "timeout"),  # httpx's own, nothing under it
    ],
)
def test_a_timeout_over_a_failed_connection_is_unreachable(below, kind):
    error = _chain(openai.APITimeoutError(REQUEST), *below)
    assert explain(error, "gpt-x").kind == kind


def test_summary_names_the_server():
    failure = explain(status_error(401, "bad key"), "gpt-x")
    assert failure.summary_at("http://model.test/v1") == (
        "http://model.test/v1 rejected OPENAI_API_KEY (401)"
    )


def test_quota_is_found_by_code_or_by_wording():
    assert is_quota(status_error(429, "whatever", "insufficient_quota"))
    assert is_quota(status_error(429, "You exceeded your current quota, please check your plan"))
    assert not is_quota(status_error(429, "Rate limit reached for requests"))


def test_timeouts_point_at_the_setting_that_helps():
    assert "FIRST_TOKEN_TIMEOUT" in explain(ModelTimeout(30, started=False), "m").fix
    assert "OPENAI_TIMEOUT" in explain(ModelTimeout(30, started=True), "m").fix


@pytest.mark.parametrize(
    ("variable", "code", "expected"),
    [
        ("SLACK_APP_TOKEN", "not_allowed_token_type", "swapped"),
        ("SLACK_BOT_TOKEN", "account_inactive", "reinstall it"),
        ("SLACK_APP_TOKEN", "invalid_auth", "App-Level Tokens"),
        ("SLACK_APP_TOKEN", "internal_error", "Socket Mode must be enabled"),
        ("SLACK_BOT_TOKEN", "invalid_auth", "Bot User OAuth Token"),
    ],
)
def test_slack_token_fixes(variable, code, expected):
    assert expected in slack_token_fix(variable, code)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # OpenAI: limit 8192, the request was 10000 (server tokens); we estimated 12000.
        ("This model's maximum context length is 8192 tokens. However, your messages resulted "
         "in 10000 tokens.", 12000 * 8192 * 9 // (10000 * 10)),
        # vLLM: 1000 of the 5000 requested were for the completion.
        ("This model's maximum context length is 4096 tokens. However, you requested 5000 "
         "tokens (4000 in the messages, 1000 in the completion).", 12000 * 3096 * 9 // 40000),
        ("prompt is too long", 6000),  # no numbers: half
    ],
)
def test_a_smaller_budget_from_what_the_server_reported(message, expected):
    error = status_error(400, message, "context_length_exceeded")
    assert smaller_budget(error, sent_tokens=12000, budget=64000) == expected


def test_context_overflow_is_recognised():
    overflow = status_error(400, "maximum context length", "context_length_exceeded")
    assert is_context_overflow(overflow)
    assert not is_context_overflow(status_error(400, "Invalid 'messages'"))
    assert not is_context_overflow(None)


@pytest.mark.parametrize(
    ("message", "sent", "expected"),
    [
        ("Unrecognized request argument supplied: stream_options", {"stream_options"},
         "stream_options"),
        ("Unknown parameter: 'max_completion_tokens'.", {"stream_options", "max_completion_tokens"},
         "max_completion_tokens"),
        ("Unrecognized request argument supplied: stream_options", set(), None),  # not sent
        ("Invalid 'messages'", {"stream_options"}, None),
    ],
)
def test_a_refused_optional_field_is_named(message, sent, expected):
    assert rejected_field(status_error(400, message), sent) == expected


def test_proxies_unknown_model_and_garbled_chunks():
    import json

    litellm = status_error(400, "/chat/completions: Invalid model name passed in model=gpt-x.")
    assert explain(litellm, "gpt-x").kind == "unknown_model"
    try:
        json.loads('{"choices": [')
    except json.JSONDecodeError as error:
        assert explain(error, "m").kind == "garbled"


def test_a_cut_stream_before_and_after_words():
    assert "stopped before it was finished" in explain(StreamCut(), "m").people
    assert "broke off mid-answer" in explain(StreamCut(ConnectionError("x")), "m").people
