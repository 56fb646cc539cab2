"""People by name: who to look up, and a cache that asks Slack once per person."""

from __future__ import annotations

import asyncio

from slackgpt.slack.people import MAX_LOOKUPS, NAME_TTL, RETRY_AFTER, People, people_in
from slackgpt.slack.wire import NameUnknown
from tests.helpers import until


def test_authors_and_mentions_but_not_the_bot_or_other_bots():
    thread = [
        {"user": "U1", "text": "hi <@U2> and <@UBOT>"},
        {"user": "U9", "bot_id": "B9", "text": "a bot"},
        {"user": "U3", "text": "<@W4|kim> ok"},
    ]
    assert people_in(thread, "UBOT") == ["U1", "U2", "U3", "W4"]


def test_lookups_are_bounded():
    thread = [{"user": f"U{i:04d}", "text": "x"} for i in range(500)]
    assert len(people_in(thread, "UBOT")) == MAX_LOOKUPS


async def test_each_person_is_asked_once_even_by_answers_at_the_same_time():
    asked: list[str] = []

    async def lookup(user: str) -> str | None:
        asked.append(user)
        await asyncio.sleep(0.01)  # the scenario: a lookup takes a while, so answers overlap
        return None if user == "U9" else f"name-{user}"

    people = People(lookup)
    results = await asyncio.gather(*(people.names(["U1", "U2", "U9"]) for _ in range(20)))
    assert results[0] == {"U1": "name-U1", "U2": "name-U2"}  # U9 has no name: left out
    assert all(r == results[0] for r in results)
    assert sorted(asked) == ["U1", "U2", "U9"]


async def test_names_expire():
    now = [0.0]
    calls: list[str] = []

    async def lookup(user: str) -> str:
        calls.append(user)
        return "Ana"

    people = People(lookup, clock=lambda: now[0])
    await people.names(["U1"])
    await people.names(["U1"])
    now[0] += NAME_TTL + 1
    await people.names(["U1"])
    assert calls == ["U1", "U1"]


async def test_a_failed_lookup_is_asked_again_after_a_minute_not_per_turn():
    now = [0.0]
    answers: list[object] = [NameUnknown("ratelimited"), "Ana"]

    async def lookup(user: str) -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    people = People(lookup, clock=lambda: now[0])
    assert await people.names(["U1"]) == {}  # unnamed in this answer, not an error
    assert await people.names(["U1"]) == {}  # the same answer's next look: not asked again
    now[0] += RETRY_AFTER + 1
    assert await people.names(["U1"]) == {"U1": "Ana"}  # a later answer asks again
    assert answers == []


async def test_one_answers_lookups_go_out_together():
    started: list[str] = []
    release = asyncio.Event()

    async def lookup(user: str) -> str:
        started.append(user)
        await release.wait()
        return user.lower()

    people = People(lookup)
    wanted = [f"U{i}" for i in range(30)]
    pending = asyncio.ensure_future(people.names(wanted))
    # No queue of ours (the budget paces them): all start while none has finished.
    await until(lambda: len(started) == len(wanted), what="every lookup started")
    assert sorted(started) == sorted(wanted) and not pending.done()
    release.set()
    assert len(await pending) == 30


async def test_a_lookup_slack_holds_back_is_let_go():
    async def lookup(user: str) -> str:
        await asyncio.sleep(30)  # e.g. a 429 with a long Retry-After, retried
        return "Ana"

    people = People(lookup, patience=0.05)
    assert await asyncio.wait_for(people.names(["U1"]), 10) == {}  # not the lookup's 30 s


async def test_a_lookup_that_breaks_leaves_the_person_unnamed_and_says_so(caplog):
    async def lookup(user: str) -> str:
        raise KeyError("a bug")

    assert await People(lookup).names(["U1"]) == {}
    assert "looking up U1 failed" in caplog.text
