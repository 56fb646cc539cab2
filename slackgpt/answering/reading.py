"""What an answer reads before the model is asked, all at the same time: the thread, the
question's files, the names of the people in it, and what the surface adds (the channel in
view). Through the Slack door, the file readers and the surface's hook."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass

from slackgpt.answering.hooks import Addition, Extras
from slackgpt.answering.threads import Threads
from slackgpt.config.settings import Settings
from slackgpt.files.attachments import Attachments, read_attachments
from slackgpt.files.image_reader import ImageReader
from slackgpt.files.pdf_workers import Parser
from slackgpt.slack.api import SlackApi
from slackgpt.slack.events import BotIdentity, Question
from slackgpt.slack.people import People, people_in


@dataclass(frozen=True)
class Read:
    """What an answer has read."""

    thread: list[dict]
    attachments: Attachments | None
    names: dict[str, str]
    addition: Addition


@dataclass
class Reading:
    """Reads what an answer needs (see :meth:`read`)."""

    slack: SlackApi
    settings: Settings
    identity: BotIdentity
    threads: Threads
    people: People
    parser: Parser
    images: ImageReader
    extras: Extras | None = None

    async def read(self, question: Question, thread: list[dict] | None) -> Read:
        """The thread (``thread`` when already read), the files, people's names and the
        surface's addition, read at the same time."""
        me = self.identity.user_id
        asker = asyncio.ensure_future(self.people.names(people_in([question.as_message()], me)))
        reading = asyncio.ensure_future(
            self.threads.read(question) if thread is None else _ready(thread)
        )
        thread, attachments, addition = await asyncio.gather(
            reading, self._files(question), self._addition(question, reading)
        )
        await asker  # looked up while the thread was read: usually all that was missing
        names = await self.people.names(people_in(thread, me))
        return Read(thread, attachments, names, addition)

    async def _addition(self, question: Question, thread: Awaitable[list[dict]]) -> Addition:
        """The surface's hook (see :class:`Extras`): what it adds to this answer."""
        if self.extras is None:
            return Addition()
        return await self.extras.addition(question, thread)

    async def _files(self, question: Question) -> Attachments | None:
        if not question.files:
            return None
        return await read_attachments(
            list(question.files),
            self.slack.download,
            read_pdf=self.parser.pdf_text,
            images=self.images,
            images_allowed=self.settings.model_images,
            max_chars=self.settings.max_file_chars,
        )


async def _ready(value: list[dict]) -> list[dict]:
    return value
