"""What a failure means: one sentence for the person in the thread, one fix for the admin.

Pure: reads exception types, HTTP statuses, error codes and messages (OpenAI's wording and
the common proxies'), and is used by answers and ``--check`` alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

import openai

from slackgpt.config.settings import OPENAI_KEYS_URL
from slackgpt.logs import first_line


class ModelTimeout(Exception):
    """The model sent nothing for too long: before its first words, or between two pieces."""

    def __init__(self, seconds: float, *, started: bool):
        self.seconds = seconds
        self.started = started
        where = "between two pieces of" if started else "before the first words of"
        super().__init__(f"no data for {seconds:g}s {where} the answer")


class StreamCut(Exception):
    """The model's stream ended, or broke off, before the model said it was finished."""

    def __init__(self, cause: BaseException | None = None):
        self.cause = cause
        how = f"broke off ({type(cause).__name__})" if cause else "ended without a finish reason"
        super().__init__(f"the stream {how}")


# Optional request fields the bot may drop for a server that refuses them.
OPTIONAL_FIELDS = ("stream_options", "max_completion_tokens", "temperature")
_CONTEXT_LIMIT = re.compile(r"maximum context length is (\d+)")
_CONTEXT_USED = re.compile(r"(?:resulted in|requested|you requested) (\d+) tokens")
_CONTEXT_IN_MESSAGES = re.compile(r"\((\d+) in the messages")


@dataclass(frozen=True)
class Failure:
    """A failure, explained.

    ``kind`` is a stable name for logs and tests; ``people`` the sentence posted in the
    thread; ``summary`` what happened, for an admin (``{where}`` stands for the model
    server's address, see :meth:`summary_at`); ``fix`` what the admin can do;
    ``transient`` means trying again later may work without anyone changing anything.
    """

    kind: str
    people: str
    summary: str
    fix: str = ""
    transient: bool = False

    def summary_at(self, where: str) -> str:
        """The summary, naming the model server at ``where``."""
        return self.summary.replace("{where}", where)


def renamed(failure: Failure, named: Mapping[str, str]) -> Failure:
    """``failure`` with each setting it names replaced by where the value really comes from
    (a profile's base_url, model or key variable)."""
    texts = {"people": failure.people, "summary": failure.summary, "fix": failure.fix}
    for setting, where in named.items():
        texts = {field: text.replace(setting, where) for field, text in texts.items()}
    return replace(failure, **texts)


def explain(error: BaseException, model_name: str) -> Failure:
    """The :class:`Failure` that ``error`` (from the model or the bot itself) stands for."""
    if isinstance(error, ModelTimeout):
        return _timeout(error)
    if isinstance(error, StreamCut):
        return _cut(error)
    if isinstance(error, json.JSONDecodeError):
        return Failure(
            "garbled",
            "The model service sent a garbled answer, so I stopped. Please try again.",
            "{where} sent a stream chunk that is not valid JSON",
            "Something between the bot and the model (a proxy, a load balancer) corrupts "
            "streamed responses; check its log and buffering settings.",
            transient=True,
        )
    if isinstance(error, openai.APIConnectionError):
        return _connection(error)
    if isinstance(error, openai.APIStatusError):
        return _status(error, model_name)
    if isinstance(error, openai.APIError):
        return Failure(
            "model_error",
            "The model service returned an error. Details are in the bot's log.",
            f"{{where}} returned an error: {first_line(error)}",
            "See the bot's log and the model server's log.",
            transient=True,
        )
    return Failure(
        "unexpected",
        "Something went wrong while answering. Details are in the bot's log.",
        f"unexpected {type(error).__name__}: {first_line(error)}",
        "See the traceback in the bot's log.",
    )


def is_quota(error: openai.APIError) -> bool:
    """True when the account is out of credit, however the server or a proxy words it."""
    text = f"{openai_code(error) or ''} {error}".lower()
    return "insufficient_quota" in text or "exceeded your current quota" in text


def openai_code(error: openai.APIError) -> str | None:
    """The error's ``code`` (``context_length_exceeded``, …), from the exception or its body."""
    code = getattr(error, "code", None)
    if code:
        return str(code)
    body = error.body if isinstance(error.body, dict) else {}
    inner = body.get("error", body)
    return str(inner["code"]) if isinstance(inner, dict) and inner.get("code") else None


def is_context_overflow(error: BaseException | None) -> bool:
    """True when the model refused the request as longer than its context."""
    return isinstance(error, openai.BadRequestError) and explain(error, "").kind == "context"


def smaller_budget(error: BaseException, sent_tokens: int, budget: int) -> int:
    """A context budget that should fit after ``error`` refused ``sent_tokens`` (our estimate).

    Uses the limit and the size the server reported, when it did ("maximum context length is
    N tokens ... resulted in M tokens"): our estimate scaled by N/M, with a margin; else half.
    """
    text = str(error)
    limit, used = _CONTEXT_LIMIT.search(text), _CONTEXT_USED.search(text)
    in_messages = _CONTEXT_IN_MESSAGES.search(text)
    if limit and (in_messages or used):
        reported = int((in_messages or used).group(1))  # type: ignore[union-attr]
        room = int(limit.group(1)) - (int(used.group(1)) - reported if in_messages and used else 0)
        if reported > 0 and 0 < room < reported:
            return max(1, min(budget, sent_tokens) * room * 9 // (reported * 10))
    return max(1, min(budget, sent_tokens) // 2)


def rejected_field(error: BaseException, sent: set[str]) -> str | None:
    """The optional request field a server refused (400/422 naming it), or None."""
    if not isinstance(error, (openai.BadRequestError, openai.UnprocessableEntityError)):
        return None
    body = error.body if isinstance(error.body, dict) else {}
    param = str(body.get("param") or "")
    text = f"{param} {error}".lower()
    for field in OPTIONAL_FIELDS:
        if field in sent and field in text:
            return field
    return None


def _cut(error: StreamCut) -> Failure:
    if error.cause is not None:
        people = "The connection to the model service broke off mid-answer. Please try again."
    else:
        people = "The model's answer stopped before it was finished. Please try again."
    return Failure(
        "cut",
        people,
        f"{{where}}: {error}",
        "Check the model server's and any proxy's logs and timeouts for cut responses.",
        transient=True,
    )


def _timeout(error: ModelTimeout) -> Failure:
    if error.started:
        people = f"The model stopped sending for {error.seconds:g} seconds, so I stopped waiting."
    else:
        people = (
            f"The model didn't start answering within {error.seconds:g} seconds, so I stopped "
            "waiting. Please try again."
        )
    setting = "OPENAI_TIMEOUT" if error.started else "FIRST_TOKEN_TIMEOUT"
    return Failure(
        "timeout",
        people,
        str(error),
        f"A slow model may need a larger {setting}.",
        transient=True,
    )


def _connection(error: openai.APIConnectionError) -> Failure:
    if isinstance(error, openai.APITimeoutError) and not _refused(error):
        return Failure(
            "timeout",
            "The model took too long to answer, so I stopped waiting. Please try again.",
            "{where} did not answer in time",
            "Check that the server is up and OPENAI_BASE_URL points at it; a slow local model "
            "may need a larger OPENAI_TIMEOUT.",
            transient=True,
        )
    return Failure(
        "unreachable",
        "I couldn't reach the model service. Please try again in a minute; if it keeps "
        "happening, an admin should check OPENAI_BASE_URL and the network.",
        "could not connect to {where}",
        "Check OPENAI_BASE_URL (scheme, host, port, the /v1 path) and that the server is "
        "running and reachable from here.",
        transient=True,
    )


def _refused(error: BaseException) -> bool:
    """Whether a connection that failed, not a wait that ran out, lies under ``error``: the
    aiohttp transport reports a refused, unresolvable or dropped connection as a timeout.

    A TimeoutError anywhere below means a wait ran out; so does nothing below but the
    transport's own ``…Timeout`` wrappers.
    """
    below: list[BaseException] = []
    link = error.__cause__ or error.__context__
    while link is not None and link is not error and link not in below:
        below.append(link)
        link = link.__cause__ or link.__context__
    if any(isinstance(link, TimeoutError) for link in below):
        return False
    return any("Timeout" not in type(link).__name__ for link in below)


def _status(error: openai.APIStatusError, model_name: str) -> Failure:
    status = error.status_code
    if isinstance(error, openai.AuthenticationError):
        return Failure(
            "auth",
            "The model service rejected my API key. An admin needs to check OPENAI_API_KEY.",
            "{where} rejected OPENAI_API_KEY (401)",
            f"Set OPENAI_API_KEY to a valid key ({OPENAI_KEYS_URL}, or your server's key).",
        )
    if isinstance(error, openai.PermissionDeniedError):
        return Failure(
            "permission",
            f"My API key isn't allowed to use the model `{model_name}`. An admin needs to "
            "check the key's permissions or OPENAI_MODEL.",
            f"OPENAI_API_KEY may not use {model_name} (403)",
            "Give the key's project access to the model, or change OPENAI_MODEL.",
        )
    if isinstance(error, openai.NotFoundError):
        return _unknown_model(model_name, 404)
    if isinstance(error, openai.RateLimitError):
        return _rate_limited(error)
    if isinstance(error, openai.BadRequestError):
        return _bad_request(error, model_name)
    if status >= 500:
        return Failure(
            "server",
            "The model service had an internal error. Please try again in a moment.",
            f"{{where}} answered {status}: {first_line(error)}",
            "Check the model server's log.",
            transient=True,
        )
    return Failure(
        "model_error",
        "The model service returned an error. Details are in the bot's log.",
        f"{{where}} answered {status}: {first_line(error)}",
        "Check OPENAI_MODEL, OPENAI_BASE_URL and the server's log.",
    )


def _unknown_model(model_name: str, status: int) -> Failure:
    return Failure(
        "unknown_model",
        f"The model `{model_name}` wasn't found on the model service. An admin needs to check "
        "OPENAI_MODEL (and OPENAI_BASE_URL).",
        f"{{where}} answered {status} for model {model_name}",
        "Check OPENAI_MODEL (on Azure: the deployment name) and OPENAI_BASE_URL (it usually "
        "ends in /v1).",
    )


def _rate_limited(error: openai.RateLimitError) -> Failure:
    if is_quota(error):
        return Failure(
            "quota",
            "The model account has run out of quota. An admin needs to check billing for the "
            "API key.",
            "{where} answered 429 (out of quota)",
            "Check the account's billing and limits.",
        )
    return Failure(
        "rate_limit",
        "The model service is busy (rate limit reached). Please try again in a minute.",
        "{where} answered 429 (rate limited)",
        "Try again in a minute; if it persists, raise the account's rate limits.",
        transient=True,
    )


def _bad_request(error: openai.BadRequestError, model_name: str) -> Failure:
    text = str(error).lower()
    if "invalid model name" in text or openai_code(error) in ("model_not_found", "invalid_model"):
        return _unknown_model(model_name, 400)
    if openai_code(error) == "context_length_exceeded" or "context" in text:
        return Failure(
            "context",
            "This conversation is too long for the model. Please start a new thread, or ask "
            "again with less text.",
            "the request was longer than the model's context at {where}",
            "Lower CONTEXT_TOKENS to what the model accepts.",
        )
    return Failure(
        "bad_request",
        "The model service refused this request. Details are in the bot's log.",
        f"{{where}} answered 400: {first_line(error)}",
        "Check OPENAI_MODEL, OPENAI_BASE_URL and the server's log.",
    )
