"""Downloads of Slack's private files: read to the end or a byte cap, the token kept safe.

The bot token is sent only to Slack's file hosts (``https://*.slack.com``, GovSlack's) and
to SLACK_API_URL's host, redirects included; anything else is refused before a byte is sent.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import aiohttp

from slackgpt.files.attachments import Download

_SLACK_FILE_DOMAINS = (".slack.com", ".slack-gov.com")
_MAX_REDIRECTS = 3
_READ_CHUNK = 64 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)


class ForeignFileHost(Exception):
    """A file URL outside Slack's file hosts: the bot token is never sent there."""


def is_file_host(url: str, api_url: str) -> bool:
    """True for Slack's own file hosts (https ``*.slack.com``) and ``api_url``'s host."""
    parts, api = urlsplit(url), urlsplit(api_url)
    if (parts.scheme, parts.netloc) == (api.scheme, api.netloc):
        return True
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and host.endswith(_SLACK_FILE_DOMAINS)


async def download(
    session: aiohttp.ClientSession, token: str, api_url: str, url: str, limit: int
) -> Download:
    """A private file's bytes, read to the end or to ``limit`` bytes, whichever is first.

    Raises ForeignFileHost for a host outside Slack's (before sending anything).
    """
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(_MAX_REDIRECTS + 1):
        if not is_file_host(url, api_url):
            raise ForeignFileHost(urlsplit(url).netloc)
        async with session.get(url, headers=headers, allow_redirects=False) as response:
            if response.status in _REDIRECTS and "Location" in response.headers:
                url = urljoin(url, response.headers["Location"])
                continue
            response.raise_for_status()
            return await _read_capped(response.content, limit)
    raise aiohttp.ClientError(f"more than {_MAX_REDIRECTS} redirects")


async def _read_capped(stream: aiohttp.StreamReader, limit: int) -> Download:
    """Read ``stream`` to its end or to ``limit`` bytes, whichever comes first."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream.iter_chunked(_READ_CHUNK):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return Download(b"".join(chunks)[:limit], complete=False)
    return Download(b"".join(chunks), complete=True)
