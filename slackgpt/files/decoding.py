"""Bytes → text and types: encodings (Korean CP949 included), binary data, image signatures,
and which Slack file types, mimetypes and names are text.

Pure: no I/O.
"""

from __future__ import annotations

import codecs
import re

_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
# Control characters that do not occur in text files (tab, newlines, form feed, escape do).
_BINARY_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")


def decode_text(data: bytes) -> str | None:
    """The text in ``data``, or None for binary data.

    Tries a byte-order mark, then UTF-8 (tolerating a few bad bytes), then Korean CP949 when
    the result is mostly Hangul, then Windows-1252 and Latin-1.
    """
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return _unless_binary(data.decode(encoding))
            except UnicodeDecodeError:
                return None
    if b"\x00" in data:
        return None
    try:
        return _unless_binary(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    lenient = data.decode("utf-8", errors="replace")
    if lenient.count("\ufffd") * 200 <= len(lenient):  # a few stray bytes in UTF-8 text
        return _unless_binary(lenient)
    korean = _korean(data)
    if korean is not None:
        return _unless_binary(korean)
    try:
        return _unless_binary(data.decode("cp1252"))
    except UnicodeDecodeError:
        return _unless_binary(data.decode("latin-1"))


_SAMPLE_CHARS = 20_000


def _korean(data: bytes) -> str | None:
    """``data`` as CP949 (Korean Windows, e.g. Excel's CSV) if it reads as Korean text.

    Accepted when most non-ASCII characters are Hangul syllables and nearly all of those are
    the common ones of EUC-KR: Latin-1 text decoded as CP949 gives rare syllables. Only the
    beginning is inspected character by character, so a large file costs no more.
    """
    try:
        text = data.decode("cp949")
    except UnicodeDecodeError:
        return None
    non_ascii = [c for c in text[:_SAMPLE_CHARS] if ord(c) > 0x7F]
    hangul = [c for c in non_ascii if 0xAC00 <= ord(c) <= 0xD7A3]
    common = sum(_in_euc_kr(c) for c in hangul)
    if hangul and len(hangul) * 2 >= len(non_ascii) and common * 10 >= len(hangul) * 9:
        return text
    return None


def _in_euc_kr(char: str) -> bool:
    try:  # Python spells syllables outside KS X 1001 as 8-byte jamo sequences
        return len(char.encode("euc_kr")) == 2
    except UnicodeEncodeError:
        return False


def _unless_binary(text: str) -> str | None:
    controls = len(_BINARY_CONTROLS.findall(text))
    return None if controls > max(1, len(text) // 100) else text


def image_mimetype(data: bytes) -> str | None:
    for magic, mime in _IMAGE_MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def is_web_page(data: bytes) -> bool:
    """True for an HTML page, what Slack sends instead of the file when a download is refused."""
    head = data[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


# Slack `filetype` values (and file extensions) of text the model can read as is.
_TEXT_TYPE_NAMES = """
    text txt plain markdown md mdx rst adoc asciidoc org tex latex log csv tsv json jsonl ndjson
    geojson yaml yml toml ini cfg conf config env properties xml svg html htm xhtml css scss sass
    less python py pyi ipynb javascript js mjs cjs jsx typescript ts tsx java kotlin kt kts scala
    groovy gradle c h cpp cc cxx hpp hh csharp cs fsharp fs go rust rs ruby rb php perl pl pm lua
    r dart swift objc m mm shell sh bash zsh fish powershell ps1 bat cmd sql graphql gql proto
    diff patch dockerfile makefile mk cmake haskell hs erlang erl elixir ex exs clojure clj lisp
    scheme ocaml ml elm julia jl matlab vb vbscript verilog v vhdl zig nim tf hcl nix vue svelte
    handlebars hbs velocity coffeescript coffee d pascal fortran f90 smalltalk puppet pig
    applescript mumps haxe cfm vcard ics srt vtt
"""
TEXT_TYPES = frozenset(_TEXT_TYPE_NAMES.split())
TEXT_MIMETYPES = frozenset(
    {
        "application/json",
        "application/ld+json",
        "application/x-ndjson",
        "application/xml",
        "application/yaml",
        "application/x-yaml",
        "application/toml",
        "application/javascript",
        "application/x-javascript",
        "application/typescript",
        "application/x-sh",
        "application/x-shellscript",
        "application/sql",
        "application/x-python",
        "application/x-python-code",
        "application/x-httpd-php",
        "application/x-tex",
        "application/xhtml+xml",
        "image/svg+xml",
    }
)
TEXT_NAMES = frozenset(
    {"dockerfile", "makefile", "readme", "license", "gemfile", "procfile", "jenkinsfile"}
)
