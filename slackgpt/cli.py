"""Command line: ``python app.py`` loads settings, connects to Slack and runs until stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Mapping
from typing import Any

from dotenv import dotenv_values, find_dotenv, load_dotenv

from slackgpt import doctor
from slackgpt.config.reader import unknown_settings
from slackgpt.config.settings import ConfigError, Settings, known_names, load_settings
from slackgpt.logs import configure_logging
from slackgpt.runtime import StartupError, build_runtime

log = logging.getLogger("slackgpt")


HELP = """\
Settings come from the environment, or from a .env file in the current folder (the
environment wins); .env.example lists them all. Exit status: 0 stopped cleanly (or every
--check passed), 1 a failure (Slack unreachable, a --check failed), 2 a setting to fix.
"""


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the bot; returns the process exit status (2: configuration, 1: other failure)."""
    parser = argparse.ArgumentParser(
        prog="app.py",
        description="Run the slackgpt Slack bot (Ctrl+C or SIGTERM stops it).",
        epilog=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="try the tokens, scopes, model endpoint and REDIS_URL, say how to fix what fails, "
        "then exit (0: all passed)",
    )
    args = parser.parse_args(argv)
    in_file: set[str] | None = None
    if environ is None:
        in_file = _load_dotenv()
        environ = os.environ
    try:
        settings = load_settings(environ)
    except ConfigError as error:
        print("slackgpt cannot start: its configuration needs attention.", file=sys.stderr)
        for problem in [*error.problems, *_unknown(in_file)]:
            print(f"  - {problem}", file=sys.stderr)
        print(
            "Set these in the environment or in a .env file (see .env.example and README.md).",
            file=sys.stderr,
        )
        return 2
    # The variables the MCP servers' file reads are the operator's, not misspelled settings.
    warnings = _unknown(in_file, {v for s in settings.mcp_servers for v in s.variables})
    configure_logging(settings.log_level, settings.log_format, secrets=settings.secrets)
    if args.check:
        logging.getLogger("slack_sdk").setLevel(logging.WARNING)  # no retry notes in the report
        return asyncio.run(doctor.run(settings, warnings))
    for warning in warnings:
        log.warning(warning)
    try:
        run(serve(settings))
    except StartupError as error:
        print(f"slackgpt cannot start: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        pass
    return 0


def _load_dotenv() -> set[str]:
    """Load ``.env`` (the environment wins); the names it sets."""
    path = find_dotenv(usecwd=True)
    in_file = set(dotenv_values(path)) if path else set()
    load_dotenv(path, override=False)
    return in_file


def _unknown(in_file: set[str] | None, read_too: set[str] | None = None) -> list[str]:
    """Warnings for names in .env or the environment that look misspelled (none when the
    settings were not read from them); ``read_too``: other names the configuration reads."""
    if in_file is None:
        return []
    known = known_names() | (read_too or set())
    return [
        *unknown_settings(in_file, known, from_file=True),
        *unknown_settings(set(os.environ) - in_file, known, from_file=False),
    ]


def run(main: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run``, on uvloop's event loop when it is installed (``pip install uvloop``:
    less CPU per event and per streamed chunk); the standard loop otherwise."""
    try:
        import uvloop
    except ImportError:
        uvloop = None  # run outside the except: a failure is not chained to this one
    if uvloop is None:
        asyncio.run(main)
    else:
        uvloop.run(main)


async def serve(settings: Settings) -> None:
    """Connect and answer until SIGINT or SIGTERM, then finish the answers in flight.

    A second signal exits at once.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            log.warning("second signal: exiting now without finishing answers")
            os._exit(130)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, on_signal)
    runtime = build_runtime(settings)
    with contextlib.suppress(NotImplementedError, AttributeError):  # no SIGHUP on Windows
        loop.add_signal_handler(signal.SIGHUP, lambda: runtime.profiles.reload(force=True))
    try:
        await runtime.start()
        # What is loaded by now (the SDKs, Bolt, pydantic's models) lives as long as the
        # process: frozen, full collections no longer walk it, and a burst of events no
        # longer stalls behind 40-90 ms collector pauses.
        gc.collect()
        gc.freeze()
        log.info("slackgpt is running; press Ctrl+C to stop")
        await stop.wait()
        log.info("stopping: no new questions; finishing answers in flight")
        await runtime.shutdown(settings.shutdown_grace)
    finally:
        await runtime.close()
    log.info("stopped")
