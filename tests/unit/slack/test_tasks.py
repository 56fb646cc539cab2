"""Steps as people see them: task chunks sent once each part, a context block made safe."""

from __future__ import annotations

from slackgpt.slack.tasks import (
    BLOCK_STEPS,
    DONE,
    FAILED,
    TASK_TEXT_LIMIT,
    Step,
    Steps,
    safe_chunks,
    sources_of,
)


def test_details_output_and_sources_are_sent_once():
    steps = Steps()
    started = steps.chunk(Step("t", "Searching Slack", details="deploy"))
    ended = steps.chunk(Step("t", "Searched Slack", DONE, "deploy", "3 results",
                             (("#a", "https://x.slack.com/a"),) * 7))
    again = steps.chunk(Step("t", "Searched Slack", DONE, "deploy", "3 results"))
    assert started == {"type": "task_update", "id": "t", "title": "Searching Slack",
                       "status": "in_progress", "details": "deploy"}
    assert "details" not in ended and ended["output"] == "3 results"
    assert len(ended["sources"]) == 5  # a card shows a few links, not a list
    assert set(again) == {"type", "id", "title", "status"}


def test_the_context_block_escapes_and_pings_no_one():
    steps = Steps()
    steps.update(Step("t", "Read <b> & <!here>", FAILED, output="@channel | x",
                      sources=(("a|b>", "https://x.test/?a=1&b=2"), ("no", "http://x.test"))))
    [block] = steps.blocks()
    [line] = [e["text"] for e in block["elements"]]
    assert line.startswith(":warning: Read &lt;b&gt; &amp; &lt;!here&gt;: @\u2060channel ¦ x")
    assert "<https://x.test/?a=1&amp;b=2|a¦b&gt;>" in line and "http://x.test" not in line


def test_many_steps_fit_a_context_block():
    steps = Steps()
    for n in range(15):
        steps.update(Step(f"t{n}", f"Step {n}", DONE))
    [block] = steps.blocks()
    assert len(block["elements"]) == BLOCK_STEPS
    assert block["elements"][0]["text"] == "_6 earlier steps_"
    assert block["elements"][-1]["text"].endswith("Step 14")
    assert Steps().blocks() == []
    assert [s.id for s in steps.running()] == []


def test_sources_are_https_links_without_repeats():
    pairs = [("a", "https://x/1"), ("b", "https://x/1"), ("c", "ftp://x"), ("d", "https://x/2")]
    assert sources_of(pairs) == (("a", "https://x/1"), ("d", "https://x/2"))


def test_task_texts_are_made_inert_and_short():
    [chunk] = safe_chunks([{
        "type": "task_update", "id": "t", "title": "<!channel> look", "status": "complete",
        "details": "x" * 300,
        "sources": [{"type": "url", "url": "https://a.slack.com/x", "text": "@here"}],
    }]) or []
    assert "<!channel>" not in chunk["title"] and "\u2060" in chunk["title"]
    assert len(chunk["details"]) == TASK_TEXT_LIMIT
    assert chunk["sources"][0]["text"] != "@here"
    assert safe_chunks([]) is None
