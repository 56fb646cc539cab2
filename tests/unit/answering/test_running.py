"""The answers in progress by thread: a stop names a thread and reaches each of them, only
while they run."""

from __future__ import annotations

from dataclasses import dataclass, field

from slackgpt.answering.running import Running
from slackgpt.slack.events import Target


@dataclass
class Answer:
    stops: list[tuple[str, frozenset[str]]] = field(default_factory=list)

    def stop(self, user: str, stopped: frozenset[str]) -> None:
        self.stops.append((user, stopped))


def test_a_stop_reaches_every_answer_of_its_thread_and_no_other():
    running, here, also, elsewhere = Running(), Answer(), Answer(), Answer()
    thread, other = Target("C1", "1.000001"), Target("C1", "2.000001")
    with running.add(thread, here), running.add(thread, also), running.add(other, elsewhere):
        assert len(running) == 3
        assert running.stop("C1", "1.000001", "U2", frozenset({"1.000002"})) == 2
    assert here.stops == also.stops == [("U2", frozenset({"1.000002"}))]
    assert elsewhere.stops == []


def test_an_answer_that_is_over_is_not_stopped():
    running, answer = Running(), Answer()
    with running.add(Target("D1", "1.000001"), answer):
        pass
    assert running.stop("D1", "1.000001", "U1", frozenset()) == 0
    assert answer.stops == [] and len(running) == 0
