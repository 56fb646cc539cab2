"""What traffic the benchmark sends and what world it runs in: pure data, no I/O.

* :class:`World`: Slack's round trip and the fake model's pace (shared by every profile).
* :class:`Burst`: N mentions at once, each in its own channel (issue 5's scenario).
* :class:`Busy`: a working day's busy hour (issue 11): questions arriving at random for a
  while in a few channels, a third of them inside existing human threads, while people
  chat in threads that are not for the bot. :meth:`Busy.schedule` says what happens when.
* :class:`Photos`: a few messages with ten phone photos each (issue 18).
* :class:`Stop`: long answers, each stopped by a click once its first words show (#19).
* :class:`Tools`: N questions at once, each answered after rounds of Slack search (issue 19).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class World:
    """The fakes' pace: Slack's round trip and the model's first token and token gap."""

    rtt: float = 0.05
    first_token: float = 0.5
    token_gap: float = 0.05
    tokens: int = 60
    connect_rtts: float = 0.0  # round trips a new Web API connection costs first

    @property
    def model_time(self) -> float:
        """When the model's last token leaves the fake, from the request."""
        return self.first_token + self.token_gap * max(0, self.tokens - 1)

    @property
    def floors(self) -> dict[str, float]:
        """What a bot that adds nothing would show (seconds from the event)."""
        return {
            "ack": 0.0,
            "model_request": 0.0,
            "first_sign": self.rtt,
            "first_text": self.first_token + self.rtt,
            "completion": self.model_time + self.rtt,
        }


WORDS = ["Socket", " Mode", " keeps", " one", " WebSocket", " open", " to", " Slack"]


def answer_chunks(tokens: int) -> list[str]:
    """The fake model's answer, one chunk per token."""
    return [WORDS[i] if i < len(WORDS) else f" w{i}" for i in range(tokens)]


@dataclass(frozen=True)
class Question:
    """One question the benchmark asks; ``key`` names it in the text the model receives."""

    key: str
    channel: str
    user: str
    thread: int | None = None  # index of an existing human thread of the channel, if any

    @property
    def text(self) -> str:
        return f"question q-{self.key}?"


@dataclass(frozen=True)
class Burst:
    """``n`` mentions at the same moment, each in its own channel (so its own thread)."""

    n: int

    def questions(self) -> list[Question]:
        return [Question(f"C{i:05d}", f"C{i:05d}", f"UC{i:05d}") for i in range(self.n)]


@dataclass(frozen=True)
class Arrival:
    """Something a person does at ``at`` seconds into the run."""

    at: float
    channel: str
    user: str
    question: Question | None = None  # a mention of the bot
    thread: int | None = None  # chatter: the human thread replied to
    addressed: bool = False  # chatter that @-mentions a colleague (the bot is in the thread)


@dataclass(frozen=True)
class Busy:
    """Questions at ``per_minute`` for ``seconds`` in ``channels`` channels, ``in_threads`` of
    them inside existing human threads; ``chatter`` thread replies a second not for the bot."""

    per_minute: float = 40.0
    seconds: float = 90.0
    channels: int = 10
    in_threads: float = 1 / 3
    chatter: float = 2.0
    threads_per_channel: int = 8
    replies_per_thread: int = 2  # existing replies in each human thread
    people: int = 30
    seed: int = 11
    world: World = field(
        default_factory=lambda: World(first_token=1.0, token_gap=0.1, tokens=61)
    )

    def channel_ids(self) -> list[str]:
        return [f"CBUSY{i:02d}" for i in range(self.channels)]

    def person(self, rng: random.Random) -> str:
        return f"UP{rng.randrange(self.people):03d}"

    def schedule(self) -> list[Arrival]:
        """Every arrival in time order: Poisson questions and chatter, from ``seed``."""
        rng = random.Random(self.seed)
        channels = self.channel_ids()
        free = [(c, t) for c in channels for t in range(self.threads_per_channel)]
        rng.shuffle(free)
        out: list[Arrival] = []
        for i, at in enumerate(_poisson(rng, self.per_minute / 60, self.seconds)):
            channel, thread = rng.choice(channels), None
            if free and rng.random() < self.in_threads:
                channel, thread = free.pop()  # each thread gets at most one mention
            question = Question(f"{channel}-{i:04d}", channel, self.person(rng), thread)
            out.append(Arrival(at, channel, question.user, question=question))
        for at in _poisson(rng, self.chatter, self.seconds):
            channel = rng.choice(channels)
            thread = rng.randrange(self.threads_per_channel)
            out.append(Arrival(at, channel, self.person(rng), thread=thread))
        out.sort(key=lambda a: a.at)
        return _address_joined(out)


def _poisson(rng: random.Random, rate: float, seconds: float) -> list[float]:
    """Arrival times of a Poisson process of ``rate`` a second within ``seconds``."""
    times, t = [], rng.expovariate(rate)
    while t < seconds:
        times.append(t)
        t += rng.expovariate(rate)
    return times


def _address_joined(arrivals: list[Arrival]) -> list[Arrival]:
    """Chatter in a thread where the bot was mentioned before names a colleague: a person
    replying there without a mention would be talking to the bot."""
    joined: set[tuple[str, int]] = set()
    out = []
    for a in arrivals:
        if a.question is not None and a.question.thread is not None:
            joined.add((a.channel, a.question.thread))
        elif a.thread is not None and (a.channel, a.thread) in joined:
            a = Arrival(a.at, a.channel, a.user, thread=a.thread, addressed=True)
        out.append(a)
    return out


def learnable(arrivals: list[Arrival]) -> set[tuple[str, int]]:
    """Human threads the bot must learn about: those with chatter it has to check."""
    return {(a.channel, a.thread) for a in arrivals if a.thread is not None and not a.addressed}


@dataclass(frozen=True)
class Photos:
    """Issue 18, item 6: ``messages`` mentions at once, each with ``photos`` phone photos of
    about ``photo_bytes`` (``width`` x ``height`` JPEGs); the bot's memory is the figure."""

    messages: int = 3
    photos: int = 10
    photo_bytes: int = 4_900_000
    width: int = 4032
    height: int = 3024
    target_mb: float = 200.0  # the process's peak, under a 256Mi container limit
    world: World = field(default_factory=lambda: World(first_token=0.5, tokens=20))

    def channel_ids(self) -> list[str]:
        return [f"CPHOTO{i:02d}" for i in range(self.messages)]


@dataclass(frozen=True)
class Stop:
    """#19: ``runs`` long answers one after another, each stopped by a click on the agent
    session's stop button once its first words show; the figures are from the click."""

    runs: int = 20
    target_s: float = 1.0  # "a stop click ends the model request within 1 s"
    world: World = field(default_factory=lambda: World(first_token=0.5, tokens=400))


@dataclass(frozen=True)
class Tools:
    """Issue 19: ``n`` questions at once (each in its own channel), each answered after
    ``rounds`` rounds of Slack search, every search taking ``tool_latency`` seconds in Slack;
    Slack's rate tiers on."""

    n: int = 20
    rounds: int = 2
    tool_latency: float = 0.3
    world: World = field(default_factory=lambda: World(first_token=0.5, tokens=20))

    def questions(self) -> list[Question]:
        return Burst(self.n).questions()
