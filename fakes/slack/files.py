"""File hosting for the fake Slack: streamed private downloads, and a foreign host (not Slack).

Real downloads arrive in many TCP reads, so :func:`stream_bytes` writes a body in chunks with
a pause between them. Slack's own file URLs share host and port with ``FakeSlack.api_url``
(the host of ``SLACK_API_URL``); :class:`ForeignHost` is a second web server on 127.0.0.1 at
another port, standing for Google Drive, a CDN or an attacker's site: it serves what it is
given and records every request's ``Authorization`` header, so a test can check where the bot
token went.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from fakes.slack.state import Workspace

Json = dict[str, Any]

CHUNK_SIZE = 16 * 1024  # bytes written at a time
CHUNK_PAUSE = 0.0005  # seconds between chunks: the reader sees them as separate reads


async def stream_bytes(
    request: web.Request,
    body: bytes,
    *,
    content_type: str = "application/octet-stream",
    content_length: bool = True,
    chunk_size: int = CHUNK_SIZE,
    pause: float = CHUNK_PAUSE,
) -> web.StreamResponse:
    """Send ``body`` in chunks; without ``content_length``, in chunked transfer encoding."""
    response = web.StreamResponse(headers={"Content-Type": content_type})
    if content_length:
        response.content_length = len(body)
    else:
        response.enable_chunked_encoding()
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):  # the reader may stop early, as a cap should
        for start in range(0, len(body), chunk_size):
            await response.write(body[start : start + chunk_size])
            await asyncio.sleep(pause)
        await response.write_eof()
    return response


@dataclass(frozen=True)
class ForeignRequest:
    """One request the foreign host received."""

    method: str
    path: str
    authorization: str | None  # the Authorization header as sent, None if absent
    headers: dict[str, str]
    at: float


class ForeignHost:
    """A web server that is not Slack, on 127.0.0.1 at a port of its own."""

    def __init__(self, *, backlog: int = 128) -> None:
        self.backlog = backlog
        self.port = 0
        self.requests: list[ForeignRequest] = []
        self._content: dict[str, tuple[bytes, str]] = {}
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._serve)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, backlog=self.backlog).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def add(self, path: str, content: bytes, content_type: str = "text/html") -> str:
        """Serve ``content`` at ``path`` to anyone (no token needed); return its URL."""
        path = "/" + path.lstrip("/")
        self._content[path] = (content, content_type)
        return self.base_url + path

    def authorizations(self) -> list[str]:
        """Every ``Authorization`` header received, in order."""
        return [r.authorization for r in self.requests if r.authorization is not None]

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        headers = dict(request.headers)
        auth = request.headers.get("Authorization")
        self.requests.append(
            ForeignRequest(request.method, request.path, auth, headers, time.monotonic())
        )
        if request.path not in self._content:
            return web.Response(status=404, text="not found")
        body, content_type = self._content[request.path]
        return await stream_bytes(request, body, content_type=content_type)


@dataclass
class _Hosted:
    content: bytes
    content_length: bool


class FileHost:
    """Slack's file hosting: ``add_file``, ``add_external_file``, ``downloads`` and ``foreign``
    (a :class:`ForeignHost`, started and stopped with the fake).

    ``chunk_size`` and ``chunk_pause`` set how downloads are streamed.
    """

    def __init__(self, ws: Workspace, *, backlog: int = 128) -> None:
        self.ws = ws
        self.chunk_size, self.chunk_pause = CHUNK_SIZE, CHUNK_PAUSE
        self._files: dict[str, _Hosted] = {}
        self._file_count = 0
        self.downloads: list[str] = []  # file ids downloaded with the bot token
        self.foreign = ForeignHost(backlog=backlog)

    def add_file(
        self,
        name: str,
        content: bytes,
        mimetype: str,
        filetype: str = "",
        *,
        size: int | None = None,
        content_length: bool = True,
    ) -> Json:
        """Host a file as Slack does (private URL, bot token needed); return its file object.

        ``size`` is what the file object claims (default: the truth); a download sends all of
        ``content``, in chunks, with a ``Content-Length`` unless ``content_length`` is False.
        """
        file_id = self._new_file_id()
        self._files[file_id] = _Hosted(content, content_length)
        ws = self.ws
        url = f"http://127.0.0.1:{ws.port}/files-pri/{ws.team_id}-{file_id}/{name}"
        return {
            **_file_object(
                file_id, name, mimetype, filetype, len(content) if size is None else size
            ),
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "url_private": url,
            "url_private_download": url + "?download=1",
        }

    def add_external_file(
        self,
        name: str,
        content: bytes,
        mimetype: str,
        filetype: str = "",
        *,
        external_type: str = "gdrive",
    ) -> Json:
        """A file shared from another service (Google Drive, Dropbox...): its ``url_private``
        is on the foreign host, which serves ``content`` to anyone; there is no download URL.
        """
        file_id = self._new_file_id()
        url = self.foreign.add(f"/external/{file_id}/{name}", content, mimetype)
        return {
            **_file_object(file_id, name, mimetype, filetype, len(content)),
            "mode": "external",
            "is_external": True,
            "external_type": external_type,
            "url_private": url,
            "permalink": url,
        }

    def _new_file_id(self) -> str:
        self._file_count += 1
        return f"F{self._file_count:08d}"

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """A private file: its bytes with the bot token, else Slack's sign-in page (HTTP 200)."""
        file_id = request.match_info["team_file"].partition("-")[2]
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        hosted = self._files.get(file_id)
        if bearer != self.ws.bot_token or hosted is None:
            page = "<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body>"
            return web.Response(text=page, content_type="text/html")
        self.downloads.append(file_id)
        return await stream_bytes(
            request,
            hosted.content,
            content_length=hosted.content_length,
            chunk_size=self.chunk_size,
            pause=self.chunk_pause,
        )


def _file_object(file_id: str, name: str, mimetype: str, filetype: str, size: int) -> Json:
    return {
        "id": file_id,
        "name": name,
        "title": name,
        "mimetype": mimetype,
        "filetype": filetype or name.rpartition(".")[2],
        "size": size,
    }
