"""The answers being written, by thread: Slack's stop button names a thread (not a message),
and every answer in progress there stops. Only this process's answers: another copy's stream
is stopped by Slack itself, and that copy ends it at its next append."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol

from slackgpt.slack.events import Target


class Stoppable(Protocol):
    """An answer in progress (:class:`~slackgpt.answering.stream.AnswerStream`)."""

    def stop(self, user: str, stopped: frozenset[str]) -> None:
        """``user`` stopped it; ``stopped``: its messages whose stream Slack ended."""
        ...


class Running:
    """Answers in progress per thread, while they run."""

    def __init__(self) -> None:
        self._threads: dict[tuple[str, str], list[Stoppable]] = {}

    def __len__(self) -> int:
        return sum(len(answers) for answers in self._threads.values())

    @contextlib.contextmanager
    def add(self, target: Target, answer: Stoppable) -> Iterator[None]:
        """``answer`` is in progress in ``target``'s thread for the ``with`` block."""
        key = (target.channel, target.thread_ts)
        self._threads.setdefault(key, []).append(answer)
        try:
            yield
        finally:
            here = [a for a in self._threads.get(key, []) if a is not answer]
            if here:
                self._threads[key] = here
            else:
                self._threads.pop(key, None)

    def stop(self, channel: str, thread_ts: str, user: str, stopped: frozenset[str]) -> int:
        """Stop every answer in progress in the thread; how many there were."""
        answers = list(self._threads.get((channel, thread_ts), ()))
        for answer in answers:
            answer.stop(user, stopped)
        return len(answers)
