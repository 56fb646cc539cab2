"""A Redis-protocol server for the bot's copies to share (``REDIS_URL``).

``redis-server`` when it is installed (``fakes.redis_server`` runs it); else fakeredis, in
a process of its own: in a thread of the benchmark it would take the harness's GIL.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator

from fakes.redis_server import redis_server

from .bot_process import ROOT

_CHILD = (
    "import sys; from fakes.redis_server import start_redis; "
    "server = start_redis('fakeredis'); print(server.port, flush=True); "
    "sys.stdin.read(); server.stop()"
)


@contextlib.contextmanager
def redis_store(backend: str = "auto") -> Iterator[tuple[str, str]]:
    """A fresh, empty server for the ``with`` block: its URL and what it is."""
    if backend == "redis-server" or (backend == "auto" and shutil.which("redis-server")):
        with redis_server("redis-server") as server:
            yield server.url, "redis-server"
        return
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        yield f"redis://127.0.0.1:{port}/0", "fakeredis (own process)"
    finally:
        with contextlib.suppress(OSError):
            if child.stdin:
                child.stdin.close()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
