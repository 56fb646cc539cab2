"""Bytes to text: encodings, Korean CP949, binary data."""

import pytest

from slackgpt.files.decoding import decode_text
from tests.helpers import PNG


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("한글 메모".encode(), "한글 메모"),
        ("\ufeffBOM and UTF-8".encode(), "BOM and UTF-8"),
        ("UTF-16 텍스트".encode("utf-16"), "UTF-16 텍스트"),
        ("이름,점수\n김철수,90\n".encode("cp949"), "이름,점수\n김철수,90\n"),  # Excel's Korean CSV
        ("café crème brûlée".encode("cp1252"), "café crème brûlée"),
        ("Ärger".encode("cp1252"), "Ärger"),  # also valid CP949, as one rare Hangul syllable
        ("ÄÄ Ölkanne".encode("cp1252"), "ÄÄ Ölkanne"),
        ("“quotes” \u2013 dash".encode("cp1252"), "“quotes” \u2013 dash"),
        (b"mostly fine " * 50 + b"\xff" + b" end", "mostly fine " * 50 + "\ufffd end"),
    ],
)
def test_decode_text_falls_back_sensibly(data, text):
    assert decode_text(data) == text


@pytest.mark.parametrize(
    "data",
    [
        PNG,
        b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)),  # a zip (docx) renamed .txt
        bytes(range(1, 32)) * 10,
    ],
)
def test_decode_text_refuses_binary(data):
    assert decode_text(data) is None
