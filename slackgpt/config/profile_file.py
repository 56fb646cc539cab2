"""The profiles file (``PROFILES_FILE``, TOML or YAML): read at start, and again whenever it
changes (checked every few seconds) or the process gets SIGHUP. A bad edit keeps the profiles
in force and says what to fix; a good one takes effect for the next question, no restart."""

from __future__ import annotations

import asyncio
import logging
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml

from slackgpt.config.profiles import Profiles, parse_profiles

log = logging.getLogger(__name__)
CHECK_EVERY = 2.0  # seconds between looks at the file's modification time
MOST_BYTES = 1_000_000  # read on the event loop at a reload: a few KB is usual


def read_profiles(path: Path, environ: Mapping[str, str]) -> tuple[Profiles, list[str]]:
    """The profiles in the file at ``path``, and every problem with how to fix it."""
    where = f"PROFILES_FILE ({path})"
    try:
        size = path.stat().st_size
        if size > MOST_BYTES:
            return Profiles(), [f"{where} is {size / 1e6:.1f} MB: a profiles file is a few KB, "
                                "and at most 1 MB is read. Check that it names the right file."]
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Profiles(), [f"{where} does not exist: create it (see docs/operations.md), or "
                            "unset PROFILES_FILE."]
    except (OSError, UnicodeDecodeError) as error:
        return Profiles(), [f"{where} cannot be read ({type(error).__name__}: {error})."]
    try:
        data = _parse(path, text)
    except ValueError as error:
        return Profiles(), [f"{where} is not valid {error}"]
    profiles, problems = parse_profiles(data, lambda name: bool(environ.get(name)))
    return profiles, [f"{where}: {problem}" for problem in problems]


def _parse(path: Path, text: str) -> object:
    """The file's data, by its extension; ValueError says what is wrong and where."""
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            return yaml.safe_load(text) or {}
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ValueError(f"YAML{at}: {getattr(error, 'problem', None) or error}") from None
    if path.suffix.lower() != ".toml":
        raise ValueError("TOML or YAML: name it profiles.toml or profiles.yaml.")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"TOML: {error}") from None


class ProfileBook:
    """The profiles in force: from ``path`` when set (reloaded on change), else ``profiles``
    (the settings' own, e.g. CHANNEL_PROMPTS)."""

    def __init__(
        self,
        profiles: Profiles,
        path: Path | None = None,
        environ: Mapping[str, str] = os.environ,
        check: Callable[[Profiles], list[str]] = lambda _: [],
    ):
        """``check``: what else a new file must agree with (the settings' MCP servers and
        prices, see :func:`slackgpt.config.settings.check_profiles`)."""
        self.current, self.path, self.environ, self.check = profiles, path, environ, check
        self._seen = self._stamp()

    def reload(self, *, force: bool = False) -> bool:
        """Read the file again if it changed (or ``force``); True when new profiles took
        effect. A file with mistakes leaves the profiles in force, and says why."""
        if self.path is None:
            return False
        stamp = self._stamp()
        if stamp == self._seen and not force:
            return False
        self._seen = stamp
        profiles, problems = read_profiles(self.path, self.environ)
        problems = problems or [f"PROFILES_FILE ({self.path}): {p}" for p in self.check(profiles)]
        if problems:
            log.error("the profiles file changed but has mistakes; the profiles in force stay: "
                      "%s", " ".join(problems))
            return False
        self.current = profiles
        log.info("profiles reloaded from %s: %d profile(s) besides the default", self.path,
                 len(profiles.named))
        return True

    async def watch(self, every: float = CHECK_EVERY) -> None:
        """Reload whenever the file changes, until cancelled."""
        while True:
            await asyncio.sleep(every)  # a look at the file's time stamp, not a busy wait
            self.reload()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat() if self.path else None
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size) if stat else None
