"""Fixtures for the tests of the fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fakes.slack import FakeSlack
from tests.helpers import Listener


@pytest.fixture
async def listener(slack: FakeSlack) -> AsyncIterator[Listener]:
    """A Socket Mode client connected to the fake Slack, keeping the events it gets."""
    found = Listener(slack)
    await found.client.connect()
    yield found
    await found.client.close()
