import pytest

from slackgpt.model.tokens import (
    CUT_MARKER,
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    estimate_tokens,
    fit_to_budget,
    message_tokens,
    messages_tokens,
    truncate_text,
)

IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}


def user(text):
    return {"role": "user", "content": text}


def conversation(turns, *, each="word " * 200):
    """system, root, ``turns`` alternating turns, newest."""
    messages = [{"role": "system", "content": "SYS"}, user("ROOT " + each)]
    for i in range(turns):
        role = "assistant" if i % 2 == 0 else "user"
        messages.append({"role": role, "content": f"turn{i} " + each})
    messages.append(user("NEWEST " + each))
    return messages


# --- estimate_tokens -------------------------------------------------------------------


def test_empty_text_costs_nothing():
    assert estimate_tokens("") == 0


@pytest.mark.parametrize(
    ("text", "real"),  # real: about what OpenAI's cl100k tokenizer counts
    [
        ("The quick brown fox jumps over the lazy dog.", 10),
        ("Hello, world!", 4),
        ("def add(a, b):\n    return a + b\n", 12),
        ('{"name": "foo", "value": 123}', 12),
    ],
)
def test_english_and_code_are_about_four_characters_a_token_and_never_under(text, real):
    estimate = estimate_tokens(text)
    assert real <= estimate <= real * 1.6


def test_plain_english_is_roughly_four_characters_a_token():
    text = "lorem ipsum dolor sit amet consectetur " * 100
    assert len(text) / 4 <= estimate_tokens(text) <= len(text) / 3


def test_korean_costs_more_than_a_token_per_syllable():
    text = "슬랙 API 제한이 뭐야? 안녕하세요, 오늘 회의록을 요약해 주세요."
    syllables = sum(0xAC00 <= ord(c) <= 0xD7A3 for c in text)
    assert estimate_tokens(text) >= syllables * 1.2
    assert estimate_tokens(text) <= len(text) * 2


def test_cjk_and_kana_are_about_one_token_a_character():
    assert 8 <= estimate_tokens("日本語のテキスト") <= 12
    assert estimate_tokens("中文文本" * 10) >= 40


def test_script_costs_are_ordered_ascii_latin_cjk_hangul_emoji():
    n = 100
    costs = [estimate_tokens(c * n) for c in ("a", "é", "の", "漢", "한", "😀")]
    assert costs == sorted(costs)
    assert costs[0] == n // 4
    assert costs[-1] >= 2 * n  # emoji take several byte-level tokens


def test_mixed_text_is_the_sum_of_its_scripts():
    english, korean = "Please summarize " * 10, "이 문서를 요약해 주세요 " * 10
    mixed = estimate_tokens(english + korean)
    assert mixed <= estimate_tokens(english) + estimate_tokens(korean)
    assert mixed >= estimate_tokens(english) + estimate_tokens(korean) - 1


def test_other_scripts_are_counted_conservatively():
    assert estimate_tokens("Привет, как дела?") >= 6  # Cyrillic: ~2 characters a token
    assert estimate_tokens("مرحبا بالعالم") >= 10  # Arabic: ~1 a character
    assert estimate_tokens("สวัสดีครับ") >= 10  # Thai: more than 1 a character


def test_estimate_is_monotone_in_the_text():
    text = "abc 한국어 😀 日本 " * 20
    costs = [estimate_tokens(text[:n]) for n in range(len(text) + 1)]
    assert costs == sorted(costs)


# --- message_tokens --------------------------------------------------------------------


def test_message_tokens_adds_the_overhead():
    assert message_tokens(user("")) == MESSAGE_OVERHEAD
    assert message_tokens(user("hello world")) == MESSAGE_OVERHEAD + estimate_tokens("hello world")


def test_message_with_parts_counts_text_and_a_fixed_cost_per_image():
    message = {"role": "user", "content": [{"type": "text", "text": "what is this?"}, IMAGE, IMAGE]}
    assert message_tokens(message) == (
        MESSAGE_OVERHEAD + estimate_tokens("what is this?") + 2 * IMAGE_TOKENS
    )


def test_image_cost_does_not_depend_on_its_data_size():
    big = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 100_000}}
    assert message_tokens({"role": "user", "content": [big]}) == MESSAGE_OVERHEAD + IMAGE_TOKENS


def test_unknown_parts_and_empty_content_are_handled():
    assert message_tokens({"role": "assistant", "content": None}) == MESSAGE_OVERHEAD
    odd = {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x" * 400}}]}
    assert message_tokens(odd) > 100


def test_messages_tokens_sums_the_request():
    messages = conversation(2)
    assert messages_tokens(messages) == sum(message_tokens(m) for m in messages) + 3


# --- fit_to_budget ---------------------------------------------------------------------


def test_messages_that_fit_are_returned_unchanged():
    messages = conversation(4)
    kept, dropped = fit_to_budget(messages, messages_tokens(messages))
    assert (kept, dropped) == (messages, 0)


def test_oldest_turns_in_between_go_first():
    messages = conversation(6)
    budget = messages_tokens(messages) - 1  # one turn too many
    kept, dropped = fit_to_budget(messages, budget)
    assert dropped == 1
    assert kept == messages[:2] + messages[3:]
    assert messages_tokens(kept) <= budget


def test_drops_as_many_turns_as_needed_and_keeps_the_recent_ones():
    messages = conversation(10)
    per_turn = message_tokens(messages[2])
    budget = messages_tokens(messages) - 4 * per_turn
    kept, dropped = fit_to_budget(messages, budget)
    assert dropped == 4
    assert [m["content"].split()[0] for m in kept] == [
        "SYS", "ROOT", "turn4", "turn5", "turn6", "turn7", "turn8", "turn9", "NEWEST"
    ]  # fmt: skip
    assert messages_tokens(kept) <= budget


def test_system_root_and_newest_are_always_kept():
    messages = conversation(5)
    pinned = [messages[0], messages[1], messages[-1]]
    kept, dropped = fit_to_budget(messages, messages_tokens(pinned))
    assert (kept, dropped) == (pinned, 5)


def test_root_is_cut_before_the_newest_keeping_its_beginning():
    messages = conversation(3, each="Slack 스레드 요약 " * 400)
    newest_cost = message_tokens(messages[-1])
    budget = 3 + message_tokens(messages[0]) + newest_cost + 300
    kept, dropped = fit_to_budget(messages, budget)
    assert dropped == 3
    assert kept[0] == messages[0]
    assert kept[-1] == messages[-1]  # the newest is untouched while the root can give way
    root = kept[1]["content"]
    assert root.startswith("ROOT Slack 스레드 요약")
    assert root.endswith(CUT_MARKER)
    assert messages_tokens(kept) <= budget
    assert messages_tokens(kept) >= budget - 20  # it keeps as much of the root as fits


def test_then_the_newest_is_cut_too():
    messages = conversation(2, each="long question " * 2000)
    budget = 600
    kept, dropped = fit_to_budget(messages, budget)
    assert dropped == 2
    assert kept[1]["content"] == CUT_MARKER.strip()  # the root gave all it could
    assert kept[2]["content"].startswith("NEWEST long question")
    assert kept[2]["content"].endswith(CUT_MARKER)
    assert messages_tokens(kept) <= budget


def test_everything_must_go_leaves_markers_not_an_error():
    messages = conversation(4)
    kept, dropped = fit_to_budget(messages, 0)
    assert dropped == 4
    assert kept[0] == messages[0]  # the system prompt is never cut
    assert [m["content"] for m in kept[1:]] == [CUT_MARKER.strip()] * 2
    assert [m["role"] for m in kept] == ["system", "user", "user"]


def test_input_is_not_modified():
    messages = conversation(4)
    snapshot = [dict(m) for m in messages]
    fit_to_budget(messages, 50)
    assert messages == snapshot


@pytest.mark.parametrize("count", [0, 1, 2, 3])
def test_short_lists(count):
    messages = [{"role": "system", "content": "SYS"}, user("a " * 500), user("b " * 500)][:count]
    kept, dropped = fit_to_budget(messages, 60)
    assert dropped == 0
    assert len(kept) == count
    if count >= 2:
        assert messages_tokens(kept) <= 60
        assert kept[-1]["content"].endswith(CUT_MARKER)


def test_a_question_that_is_the_root_is_cut_once():
    messages = [{"role": "system", "content": "SYS"}, user("질문 " * 1000)]
    kept, dropped = fit_to_budget(messages, 100)
    assert dropped == 0
    assert kept[1]["content"].startswith("질문 질문")
    assert messages_tokens(kept) <= 100


def test_newest_with_images_keeps_its_text_then_drops_images_that_do_not_fit():
    newest = {
        "role": "user",
        "content": [{"type": "text", "text": "what is in these pictures? " * 50}, IMAGE, IMAGE],
    }
    messages = [{"role": "system", "content": "SYS"}, user("root"), newest]
    budget = messages_tokens(messages) - IMAGE_TOKENS + 40  # room for one image and the note
    kept, _ = fit_to_budget(messages, budget)
    parts = kept[-1]["content"]
    assert parts[0] == newest["content"][0]
    assert parts[1] == IMAGE
    assert parts[-1]["type"] == "text"
    assert "1 image was left out" in parts[-1]["text"]
    assert sum(p["type"] == "image_url" for p in parts) == 1
    assert messages_tokens(kept) <= budget


def test_long_text_part_is_cut_and_images_after_it_left_out():
    newest = {"role": "user", "content": [{"type": "text", "text": "x y " * 5000}, IMAGE]}
    messages = [{"role": "system", "content": "SYS"}, user("root"), newest]
    kept, _ = fit_to_budget(messages, 500)
    parts = kept[-1]["content"]
    assert parts[0]["text"].startswith("x y x y")
    assert len(parts[0]["text"]) < 2000
    assert "1 image was left out" in parts[-1]["text"]
    assert messages_tokens(kept) <= 500


# --- truncate_text ---------------------------------------------------------------------


def test_truncate_text_keeps_text_that_fits():
    assert truncate_text("short", 10) == "short"


def test_truncate_text_cuts_at_a_line_break_and_marks_it():
    text = "\n".join(f"line {i} of the log" for i in range(500))
    cut = truncate_text(text, 200)
    assert cut.startswith("line 0 of the log\nline 1")
    head = cut.removesuffix(CUT_MARKER)
    assert head.endswith("of the log")  # a whole line, not half of one
    assert estimate_tokens(cut) <= 200


def test_truncate_text_never_splits_an_emoji_sequence():
    family = "👨\u200d👩\u200d👧"
    for limit in range(20, 60):
        head = truncate_text(family * 30, limit).removesuffix(CUT_MARKER)
        assert not head.endswith("\u200d")


def test_a_short_root_is_not_replaced_by_a_longer_marker():
    messages = [{"role": "system", "content": "SYS"}, user("hi"), user("question " * 500)]
    kept, _ = fit_to_budget(messages, 100)
    assert kept[1] == user("hi")
    assert kept[2]["content"].endswith(CUT_MARKER)
    assert messages_tokens(kept) <= 100
