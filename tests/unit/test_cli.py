"""The command line's own plumbing (the app end to end is in tests/e2e/test_startup.py)."""

from __future__ import annotations

import pytest

from slackgpt.cli import run


def test_a_failure_is_not_chained_to_a_missing_uvloop():
    """Without uvloop, a traceback shows the bot's error alone, not 'During handling of
    ModuleNotFoundError: uvloop, another exception occurred'."""

    async def broken() -> None:
        raise ValueError("the bot's own error")

    with pytest.raises(ValueError) as caught:
        run(broken())
    assert caught.value.__context__ is None and caught.value.__cause__ is None
