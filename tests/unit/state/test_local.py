"""The bot's memory in one process: claims, its threads, per-person counts, decisions, all
bounded."""

from __future__ import annotations

from slackgpt.state.local import CONTEXT_TTL, OUTSIDE_TTL, LocalState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_message_is_claimed_once_and_memory_is_bounded():
    state = LocalState(None, remember=2)
    assert await state.claim("C1:1.0") is True
    assert await state.claim("C1:1.0") is False
    await state.claim("C1:2.0")
    await state.claim("C1:3.0")
    assert await state.claim("C1:1.0") is True  # the oldest key was forgotten


async def test_a_short_claim_lapses():
    clock = Clock()
    state = LocalState(None, clock=clock)
    assert await state.claim("summary:C1:1.0:U1", ttl=10) is True
    assert await state.claim("summary:C1:1.0:U1", ttl=10) is False
    clock.now += 11
    assert await state.claim("summary:C1:1.0:U1", ttl=10) is True


async def test_a_decision_is_settled_once_and_kept_for_its_time():
    clock = Clock()
    state = LocalState(None, clock=clock)
    assert await state.settled("approval:r1") is None
    assert await state.settle("approval:r1", "denied:U1", ttl=10) == "denied:U1"
    assert await state.settle("approval:r1", "expired", ttl=10) == "denied:U1"
    clock.now += 11
    assert await state.settled("approval:r1") is None


async def test_threads_with_the_bot_are_remembered_and_others_for_a_while():
    clock = Clock()
    state = LocalState(None, clock=clock)
    assert await state.thread_has_bot("C1", "1.0") is None
    await state.remember_thread("C1", "1.0", True)
    await state.remember_thread("C1", "2.0", False)
    assert await state.thread_has_bot("C1", "1.0") is True
    assert await state.thread_has_bot("C1", "2.0") is False
    clock.now += OUTSIDE_TTL + 1
    assert await state.thread_has_bot("C1", "1.0") is True
    assert await state.thread_has_bot("C1", "2.0") is None  # asked again after a while


async def test_a_thread_the_bot_joins_stops_being_outside():
    state = LocalState(None)
    await state.remember_thread("C1", "1.0", False)
    await state.remember_thread("C1", "1.0", True)
    assert await state.thread_has_bot("C1", "1.0") is True


async def test_requests_are_counted_per_person():
    state = LocalState(2)
    assert (await state.count_request("U1"))[0] is True
    assert (await state.count_request("U1"))[0] is True
    allowed, wait = await state.count_request("U1")
    assert allowed is False and 3500 < wait <= 3600
    assert (await state.count_request("U2"))[0] is True


async def test_the_channel_in_view_is_remembered_per_pane_thread():
    clock = Clock()
    state = LocalState(None, clock=clock, remember=2)
    assert await state.context_of("D1", "1.0") is None
    await state.remember_context("D1", "1.0", "C1")
    await state.remember_context("D2", "1.0", "C2")
    assert await state.context_of("D1", "1.0") == "C1"
    await state.remember_context("D1", "1.0", "C3")  # the person moved to another channel
    assert await state.context_of("D1", "1.0") == "C3"
    await state.remember_context("D1", "1.0", None)  # and away from any channel
    assert await state.context_of("D1", "1.0") is None
    assert await state.context_of("D2", "1.0") == "C2"
    clock.now += CONTEXT_TTL + 1
    assert await state.context_of("D2", "1.0") is None
    for i in range(3):  # bounded like the rest of the memory
        await state.remember_context("D3", f"{i}.0", "C1")
    assert await state.context_of("D3", "0.0") is None


async def test_a_late_read_never_makes_the_bots_thread_an_outside_one():
    state = LocalState(None)
    await state.remember_thread("C1", "1.0", True)  # the bot answered
    await state.remember_thread("C1", "1.0", False)  # a read begun before that ends now
    assert await state.thread_has_bot("C1", "1.0") is True
