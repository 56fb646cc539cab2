"""A real Redis-protocol server for tests: ``redis-server`` if installed, else fakeredis over TCP.

    with redis_server() as server:          # or: async with async_redis_server() as server
        client = redis.asyncio.from_url(server.url)   # redis://127.0.0.1:PORT/0

Each server is fresh and empty, listens on a free port of 127.0.0.1 and is gone after the
``with``. fakeredis (``fakeredis[lua]``: Lua scripts work) runs in a background thread of this
process; ``redis-server`` runs as a child process without persistence.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Literal

Backend = Literal["auto", "fakeredis", "redis-server"]
HOST = "127.0.0.1"


@dataclass
class RedisServer:
    """A running server: where it listens, what it is, and how to stop it."""

    port: int
    backend: str
    _stop: Callable[[], None]

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://{HOST}:{self.port}/0"

    def stop(self) -> None:
        """Stop the server and close its connections (idempotent)."""
        stop, self._stop = self._stop, lambda: None
        stop()


def start_redis(backend: Backend = "auto") -> RedisServer:
    """Start a server (``auto``: ``redis-server`` when on PATH, else fakeredis)."""
    if backend == "redis-server" or (backend == "auto" and shutil.which("redis-server")):
        return _start_redis_server()
    return _start_fakeredis()


@contextlib.contextmanager
def redis_server(backend: Backend = "auto") -> Iterator[RedisServer]:
    """A server for the ``with`` block."""
    server = start_redis(backend)
    try:
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def async_redis_server(backend: Backend = "auto") -> AsyncIterator[RedisServer]:
    """The same for ``async with``; starting and stopping run off the event loop."""
    server = await asyncio.to_thread(start_redis, backend)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


def _start_fakeredis() -> RedisServer:
    from fakeredis import TcpFakeServer  # imported late: a few hundred ms with lupa

    class Server(TcpFakeServer):
        # socketserver listens with a backlog of 5: a burst of connections (a pool filling
        # up) overflows it while this thread waits for the GIL, and a dropped SYN is sent
        # again only after 1 s, past the bot's connect timeout. Redis itself allows 511.
        request_queue_size = 128

    server = Server((HOST, 0), server_type="redis")
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()

    def stop() -> None:
        server.shutdown()  # ends serve_forever and tells connection threads to finish
        server.server_close()  # joins them
        thread.join(timeout=5)

    return RedisServer(server.server_address[1], "fakeredis", stop)


def _start_redis_server(timeout: float = 10.0) -> RedisServer:
    with socket.socket() as probe:  # a free port (redis-server cannot report one it chose)
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    args = ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly"]
    proc = subprocess.Popen(
        [*args, "no", "--daemonize", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    deadline = time.monotonic() + timeout
    while not _answers_ping(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop()
            raise RuntimeError(f"redis-server did not start on port {port}")
        time.sleep(0.01)
    return RedisServer(port, "redis-server", stop)


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False
