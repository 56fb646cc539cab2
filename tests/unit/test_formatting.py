import re

import pytest

from slackgpt.formatting import (
    escape_mrkdwn,
    markdown_to_mrkdwn,
    neutralize_pings,
    open_fence,
    slack_to_text,
    split_off,
    unsafe_tail,
)


class TestSlackToText:
    def test_strips_the_bot_mention(self):
        assert slack_to_text("<@UBOT> what is Slack?", "UBOT") == "what is Slack?"

    def test_strips_every_form_and_place_of_the_bot_mention(self):
        text = "hey <@UBOT|gpt>, explain this <@UBOT> please"
        assert slack_to_text(text, "UBOT") == "hey, explain this please"

    def test_leading_punctuation_left_by_the_mention_goes(self):
        assert slack_to_text("<@UBOT>: 슬랙 API 제한이 뭐야?", "UBOT") == "슬랙 API 제한이 뭐야?"

    def test_other_mentions_stay_readable(self):
        text = "<@UBOT> what did <@U2> and <@U3|kim> decide?"
        assert slack_to_text(text, "UBOT") == "what did @U2 and @kim decide?"
        assert slack_to_text(text, "UBOT", {"U2": "Ana"}) == "what did @Ana and @kim decide?"

    def test_channels_links_and_specials(self):
        text = (
            "<!here> see <#C1|general>, <https://a.io|docs>, <https://b.io> "
            "and <mailto:x@y.z|x@y.z>"
        )
        assert slack_to_text(text) == (
            "@here see #general, docs (https://a.io), https://b.io and x@y.z"
        )

    def test_entities_are_unescaped(self):
        assert slack_to_text("a &lt; b &amp;&amp; c &gt; d") == "a < b && c > d"

    def test_only_a_mention_is_empty(self):
        assert slack_to_text("  <@UBOT>  ", "UBOT") == ""


LIVE = re.compile(r"<!(here|channel|everyone|subteam)|(?<![\w@])@(here|channel|everyone)\b", re.I)


class TestNeutralizeBroadcasts:
    @pytest.mark.parametrize("text", ["<!channel>", "<!here>", "<!everyone>", "@channel", "@Here"])
    def test_broadcasts_cannot_ping(self, text):
        result = neutralize_pings(f"hi {text} there")
        assert "<!" not in result
        assert "@\u2060" in result

    def test_group_mentions_are_inert(self):
        assert neutralize_pings("<!subteam^S1|@devs> ok") == "@\u2060devs ok"

    def test_ordinary_text_and_emails_untouched(self):
        text = "write to ops@here.com; `@channel` in code is fine too"
        assert neutralize_pings("mail ops@here.com") == "mail ops@here.com"
        assert neutralize_pings("ask <@U1>") == "ask <\u2060@U1>"  # no ping, even for one
        assert "ops@here.com" in neutralize_pings(text)

    def test_an_open_broadcast_is_made_inert_on_its_own(self):
        result = neutralize_pings("look <!here|all of")
        assert "<!here" not in result and result.endswith("<\u2060!here|all of")
        assert "<!DOCTYPE html>" in neutralize_pings("<!DOCTYPE html>")  # code stays as is

    def test_free_text_escaped_for_mrkdwn_is_shown_as_written(self):
        assert escape_mrkdwn("<!here> & <@U1> <https://x.example|y>") == (
            "&lt;!here&gt; &amp; &lt;@U1&gt; &lt;https://x.example|y&gt;")
        assert escape_mrkdwn("ping @channel") == "ping @\u2060channel"

    def test_labels_with_spaces_are_held_back_whole(self):
        assert unsafe_tail("ping <!here|all of") == len("<!here|all of")
        assert unsafe_tail("ping <!subteam^S0123ABCD|@oncall te") == len(
            "<!subteam^S0123ABCD|@oncall te"
        )

    @pytest.mark.parametrize(
        "broadcast",
        ["<!here|all of you>", "<!subteam^S0123ABCD|@oncall team>", "<!channel>", "@everyone"],
    )
    def test_no_split_of_a_stream_lets_a_broadcast_through(self, broadcast):
        """What Slack accumulates from held-back, neutralized pieces never pings."""
        text = f"Sure {broadcast} done"
        for cut in range(1, len(text)):
            sent, pending = "", ""
            for piece in (text[:cut], text[cut:]):
                pending += piece
                ready = pending[: len(pending) - unsafe_tail(pending)]
                sent, pending = sent + neutralize_pings(ready), pending[len(ready) :]
            sent += neutralize_pings(pending)
            assert not LIVE.search(sent), (cut, sent)

    def test_unsafe_tail_holds_back_a_partial_broadcast(self):
        assert unsafe_tail("hello <!chan") == len("<!chan")
        assert unsafe_tail("hello @ever") == len("@ever")
        assert unsafe_tail("hello world") == 0
        assert unsafe_tail("done <@U1>") == 0


class TestMarkdownToMrkdwn:
    def test_inline_styles(self):
        assert markdown_to_mrkdwn("**bold** *it* ~~gone~~") == "*bold* _it_ ~gone~"

    def test_links_headings_and_bullets(self):
        md = "# Title\n- [docs](https://api.slack.com) here\n* two"
        assert markdown_to_mrkdwn(md) == "*Title*\n• <https://api.slack.com|docs> here\n• two"

    def test_code_is_left_alone_but_escaped(self):
        md = "use `a**b**<c>`\n```python\nx = a < b  # **not bold**\n```"
        assert markdown_to_mrkdwn(md) == (
            "use `a**b**&lt;c&gt;`\n```\nx = a &lt; b  # **not bold**\n```"
        )

    def test_special_characters_escaped(self):
        assert markdown_to_mrkdwn("a < b & c > d") == "a &lt; b &amp; c &gt; d"


def split_markdown(text: str, limit: int) -> list[str]:
    """``text`` cut into messages of at most ``limit`` characters, as delivery does."""
    parts, rest = [], text
    while rest:
        head, rest = split_off("", rest, limit)
        if head.strip():
            parts.append(head)
    return parts


class TestSplitMarkdown:
    def test_short_text_is_one_part(self):
        assert split_markdown("hello", 100) == ["hello"]

    def test_parts_fit_and_keep_all_text(self):
        text = "\n\n".join(f"Paragraph {i} " + "word " * 30 for i in range(40))
        parts = split_markdown(text, 1000)
        assert len(parts) > 1
        assert all(len(p) <= 1000 for p in parts)
        assert " ".join(" ".join(parts).split()) == " ".join(text.split())

    def test_prefers_paragraph_breaks(self):
        text = "a" * 60 + "\n\n" + "b" * 60
        assert split_markdown(text, 100) == ["a" * 60, "b" * 60]

    def test_code_blocks_are_closed_and_reopened(self):
        code = "\n".join(f"print({i})" for i in range(200))
        text = f"Here:\n\n```python\n{code}\n```\nDone."
        parts = split_markdown(text, 500)
        assert len(parts) > 2
        for part in parts:
            assert len(part) <= 500
            assert open_fence(part) == ""  # each part renders on its own
        assert all(p.startswith("```python\n") for p in parts[1:])
        lines = [line for p in parts for line in p.split("\n") if line.startswith("print(")]
        assert lines == [f"print({i})" for i in range(200)]

    def test_never_splits_a_visible_character(self):
        family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji, five code points
        accented = "e\u0301"  # é as two code points
        text = (family + accented) * 200  # no spaces: forces hard cuts
        parts = split_markdown(text, 97)
        assert "".join(parts) == text
        for part in parts:
            assert not part.startswith(("\u200d", "\u0301"))
            assert not part.endswith("\u200d")

    def test_korean_text(self):
        text = "슬랙 API 제한은 메서드마다 다릅니다. " * 100
        parts = split_markdown(text, 300)
        assert all(len(p) <= 300 for p in parts)
        assert "".join(parts).replace(" ", "") == text.replace(" ", "")

    def test_split_off_continues_a_code_block_opened_earlier_in_the_message(self):
        before = "Here:\n```python\n" + "x = 1\n" * 10
        head, rest = split_off(before, "y = 2\n" * 20, limit=len(before) + 60)
        assert len(before + head) <= len(before) + 60
        assert head.endswith("\n```") and open_fence(before + head) == ""
        assert rest.startswith("```python\n") and rest.count("y = 2") + head.count("y = 2") == 20

    def test_split_off_with_no_room_moves_everything_on(self):
        head, rest = split_off("x" * 100, "more text than fits", limit=110)
        assert head == "" and rest == "more text than fits"

    def test_open_fence(self):
        assert open_fence("x\n```js\ncode") == "```js"
        assert open_fence("```js\ncode\n```") == ""
        assert open_fence("````\n```\nstill open") == "````"
