"""One answer's model use, measured as it streams: the tokens the server reports in its
``usage`` (or, when it sends none, an offline estimate of the request and of the words that
came back), their cost from the price table, told to the metrics per request and summed for
the answer's budgets."""

from __future__ import annotations

from collections.abc import AsyncIterator

from slackgpt.config.operations import Prices
from slackgpt.config.profiles import DEFAULT
from slackgpt.metrics.base import Metrics
from slackgpt.model.client import Completion, Message, ModelClient, Thinking
from slackgpt.model.tokens import estimate_tokens, messages_tokens
from slackgpt.usage.budget import Spent, cost_of


class Meter:
    """A :class:`~slackgpt.model.client.ModelClient` for one answer that counts what each
    :meth:`stream` used (``spent``); everything else is the model client's own."""

    def __init__(
        self, model: ModelClient, prices: Prices, metrics: Metrics, profile: str = DEFAULT
    ):
        self.model, self.prices, self.metrics, self.profile = model, prices, metrics, profile
        self.spent = Spent()

    def __getattr__(self, name: str) -> object:
        return getattr(self.model, name)  # model_name, where, request…: the client's

    async def stream(
        self,
        messages: list[Message],
        completion: Completion | None = None,
        tools: list[dict] | None = None,
    ) -> AsyncIterator[str | Thinking]:
        """The model client's stream (with the ``tools`` offered), counted when it ends,
        however it ends. Only the words count towards an estimate."""
        completion = completion if completion is not None else Completion()
        words: list[str] = []
        try:
            async for piece in self.model.stream(messages, completion, tools):
                if type(piece) is str:
                    words.append(piece)
                yield piece
        finally:
            self._count(messages, completion, words)

    def _count(self, messages: list[Message], completion: Completion, words: list[str]) -> None:
        """Add one request's use: the server's usage; an estimate when it reported none but
        answered; nothing for a request that got no answer at all."""
        usage = completion.usage
        if usage is not None:
            prompt, written, estimated = usage.prompt_tokens, usage.completion_tokens, False
        elif words or completion.finish_reason:
            prompt, written = messages_tokens(messages), estimate_tokens("".join(words))
            estimated = True
        else:
            return
        model = self.model.model_name
        cost = cost_of(self.prices, model, prompt, written)
        priced = cost if model in self.prices else None
        self.metrics.model_usage(model, prompt, written, priced, estimated=estimated,
                                 profile=self.profile)
        self.spent += Spent(prompt, written, cost, estimated)
