"""The Web API's method table: method name → a handler taking the workspace and the params.

Each family module (``chat``, ``conversations``…) keeps a :class:`Registry` of its own
methods; :func:`fakes.slack.web_api.handlers` merges them. A handler returns the body of an
``ok`` answer or raises :class:`~fakes.slack.errors.SlackError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fakes.slack.records import Json

if TYPE_CHECKING:
    from fakes.slack.state import Workspace

Handler = Callable[["Workspace", Json], Json]


class Registry(dict[str, Handler]):
    """Web API method name → handler."""

    def method(self, name: str) -> Callable[[Handler], Handler]:
        """Register the decorated function as the handler of ``name``."""

        def register(handler: Handler) -> Handler:
            if name in self:
                raise ValueError(f"{name} is registered twice")
            self[name] = handler
            return handler

        return register

    @classmethod
    def merged(cls, *parts: Registry) -> Registry:
        """One table of every part's methods (a method in two parts is a mistake)."""
        table = cls()
        for part in parts:
            for name, handler in part.items():
                table.method(name)(handler)
        return table
