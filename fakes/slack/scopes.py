"""The bot token's scopes: by default what the repository's manifest.json asks for, so the fake
is an install from our manifest."""

from __future__ import annotations

import functools
import json
from pathlib import Path

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.json"


@functools.cache
def manifest_scopes(path: Path = MANIFEST) -> str:
    """The manifest's bot scopes, comma-separated as Slack's ``x-oauth-scopes`` lists them."""
    try:
        scopes = json.loads(path.read_text())["oauth_config"]["scopes"]["bot"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RuntimeError(
            f"The fake Slack grants the bot scopes of {path} (oauth_config.scopes.bot), "
            f"which it cannot read ({type(e).__name__}: {e}); restore the app manifest."
        ) from None
    return ",".join(scopes)
