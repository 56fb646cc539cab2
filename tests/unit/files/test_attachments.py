import sys

import pytest

from fakes.documents import pages_pdf
from slackgpt.files.attachments import (
    MAX_BYTES,
    Attachments,
    Download,
    Kind,
    classify,
    read_attachments,
    user_content,
)
from slackgpt.files.image_reader import ImageReader
from slackgpt.files.pdf_workers import Parser

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 20
LOGIN_PAGE = b"<!DOCTYPE html>\n<html><head><title>Slack</title></head><body>Sign in</body></html>"



def slack_file(name, data=b"", **fields):
    """A Slack file object whose download URL serves ``data``."""
    return {
        "id": "F" + name.upper().replace(".", ""),
        "name": name,
        "size": len(data),
        "url_private_download": f"https://files.slack.test/{name}?download",
        "url_private": f"https://files.slack.test/{name}",
        **fields,
    }


class Downloads:
    """A stand-in ``download(url, limit)``: serves bytes by URL up to ``limit``, as
    :meth:`SlackApi.download` does; records calls; raises for errors."""

    def __init__(self, files: dict[str, bytes | Exception]):
        self.files = files
        self.calls: list[str] = []

    async def __call__(self, url: str, limit: int) -> Download:
        self.calls.append(url)
        result = self.files[url]
        if isinstance(result, Exception):
            raise result
        return Download(result[:limit], complete=len(result) <= limit)


async def read(*pairs, images_allowed=True, max_chars=100_000, parser=None):
    """read_attachments for (file, bytes-or-exception) pairs; returns (result, downloads)."""
    downloads = Downloads({f["url_private_download"]: data for f, data in pairs})
    async with parser or Parser() as reader:
        result = await read_attachments(
            [f for f, _ in pairs],
            downloads,
            read_pdf=reader.pdf_text,
            images=ImageReader(),
            images_allowed=images_allowed,
            max_chars=max_chars,
        )
    return result, downloads


# --- classify --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"name": "notes.txt", "mimetype": "text/plain", "filetype": "text"}, Kind.TEXT),
        ({"name": "README.md", "mimetype": "text/plain", "filetype": "markdown"}, Kind.TEXT),
        ({"name": "data.csv", "mimetype": "text/csv", "filetype": "csv"}, Kind.TEXT),
        ({"name": "a.json", "mimetype": "application/json", "filetype": "json"}, Kind.TEXT),
        ({"name": "ci.yml", "mimetype": "application/octet-stream"}, Kind.TEXT),
        ({"name": "feed.xml", "mimetype": "application/rss+xml"}, Kind.TEXT),
        ({"name": "page.html", "mimetype": "text/html", "filetype": "html"}, Kind.TEXT),
        ({"name": "main.py", "mimetype": "text/x-python", "filetype": "python"}, Kind.TEXT),
        ({"name": "app.ts", "mimetype": "video/mp2t", "filetype": "typescript"}, Kind.TEXT),
        ({"name": "Dockerfile", "mimetype": "application/octet-stream"}, Kind.TEXT),
        ({"name": "Untitled", "mimetype": "text/plain", "filetype": "go"}, Kind.TEXT),
        ({"name": "logo.svg", "mimetype": "image/svg+xml", "filetype": "svg"}, Kind.TEXT),
        ({"name": "shot.png", "mimetype": "image/png", "filetype": "png"}, Kind.IMAGE),
        ({"name": "photo.JPG", "mimetype": "image/jpeg", "filetype": "jpg"}, Kind.IMAGE),
        ({"name": "anim.gif", "mimetype": "image/gif"}, Kind.IMAGE),
        ({"name": "pic.webp", "mimetype": "application/octet-stream"}, Kind.IMAGE),
        ({"name": "paper.pdf", "mimetype": "application/pdf", "filetype": "pdf"}, Kind.PDF),
        ({"name": "scan", "filetype": "pdf"}, Kind.PDF),
        ({"name": "IMG_0001.HEIC", "mimetype": "image/heic", "filetype": "heic"}, Kind.UNSUPPORTED),
        ({"name": "clip.ts", "mimetype": "video/mp2t", "filetype": "mpg"}, Kind.UNSUPPORTED),
        ({"name": "report.docx", "filetype": "docx"}, Kind.UNSUPPORTED),
        (
            {"name": "archive.zip", "mimetype": "application/zip", "filetype": "zip"},
            Kind.UNSUPPORTED,
        ),
        ({"name": "song.mp3", "mimetype": "audio/mpeg"}, Kind.UNSUPPORTED),
        ({}, Kind.UNSUPPORTED),
    ],
)
def test_classify(fields, kind):
    assert classify(fields) is kind


# --- text ------------------------------------------------------------------------------


async def test_text_file_is_fenced_under_its_name():
    file = slack_file("data.csv", mimetype="text/csv", filetype="csv")
    result, downloads = await read((file, b"name,score\nAda,3\n"))
    assert result.text_parts == ["File `data.csv`:\n```\nname,score\nAda,3\n\n```"]
    assert result.notes == [] and result.image_parts == []
    assert downloads.calls == ["https://files.slack.test/data.csv?download"]


async def test_code_fences_inside_a_file_cannot_close_its_fence():
    file = slack_file("README.md", filetype="markdown")
    result, _ = await read((file, b"Run:\n```sh\nmake\n```\n"))
    part = result.text_parts[0]
    assert part.startswith("File `README.md`:\n````\nRun:\n```sh")
    assert part.endswith("\n````")


async def test_falls_back_to_url_private_without_a_download_url():
    file = slack_file("a.txt", filetype="text")
    del file["url_private_download"]
    downloads = Downloads({"https://files.slack.test/a.txt": b"hi"})
    async with Parser() as parser:
        result = await read_attachments(
            [file], downloads, read_pdf=parser.pdf_text, images=ImageReader(),
            images_allowed=False, max_chars=100,
        )
    assert downloads.calls == ["https://files.slack.test/a.txt"]
    assert "hi" in result.text_parts[0]


async def test_undecodable_file_becomes_a_note():
    file = slack_file("notes.txt", filetype="text")
    result, _ = await read((file, b"PK\x03\x04\x00\x00" + bytes(range(256))))
    assert result.text_parts == []
    assert result.notes == ["`notes.txt` was skipped: it is not readable text."]


async def test_empty_file_becomes_a_note():
    result, _ = await read((slack_file("empty.txt", filetype="text"), b"  \n"))
    assert (result.text_parts, result.notes) == ([], ["`empty.txt` is empty."])


async def test_text_is_cut_at_max_chars_with_a_note():
    data = "\n".join(f"row {i}" for i in range(1000)).encode()
    result, _ = await read((slack_file("log.txt", filetype="text"), data), max_chars=100)
    part = result.text_parts[0]
    body = part.split("```\n", 1)[1].rsplit("\n```", 1)[0]
    assert len(body) <= 100
    assert body.startswith("row 0\nrow 1\n") and body.endswith(("row 13", "row 14", "row 15"))
    assert part.startswith(f"File `log.txt` (the first {len(body)} of {len(data):,} characters):")
    assert result.notes == [
        f"`log.txt` was too long: only its first {len(body)} of {len(data):,} characters were read."
    ]


async def test_max_chars_is_shared_by_the_files_in_order():
    a = slack_file("a.txt", filetype="text")
    b = slack_file("b.txt", filetype="text")
    c = slack_file("c.txt", filetype="text")
    result, _ = await read((a, b"A" * 60), (b, b"B" * 60), (c, b"C" * 10), max_chars=100)
    assert "A" * 60 in result.text_parts[0]
    assert "B" * 40 in result.text_parts[1] and "B" * 41 not in result.text_parts[1]
    assert len(result.text_parts) == 2
    assert result.notes == [
        "`b.txt` was too long: only its first 40 of 60 characters were read.",
        "`c.txt` was skipped: the other files already used all the room for text.",
    ]


# --- size, download failures, unsupported types ----------------------------------------


async def test_oversized_files_are_skipped_without_downloading():
    big = slack_file("huge.csv", filetype="csv")
    big["size"] = MAX_BYTES[Kind.TEXT] + 1
    result, downloads = await read((big, b"x"))
    assert downloads.calls == []
    assert result.notes == [
        "`huge.csv` was skipped: it is 1.1 MB, over the 1 MB limit for text files."
    ]


async def test_a_big_pdf_names_its_size():
    pdf = slack_file("scan.pdf", filetype="pdf")
    pdf["size"] = 23_456_789
    result, _ = await read((pdf, b""))
    assert result.notes == ["`scan.pdf` was skipped: it is 23.5 MB, over the 10 MB limit for PDFs."]


async def test_a_file_larger_than_it_said_is_skipped_after_download():
    file = slack_file("liar.png", mimetype="image/png")
    del file["size"]
    result, _ = await read((file, PNG + b"\x00" * MAX_BYTES[Kind.IMAGE]))
    assert result.image_parts == []
    assert result.notes == ["`liar.png` was skipped: it is over the 5 MB limit for images."]


async def test_a_download_that_raises_skips_only_that_file():
    bad = slack_file("a.txt", filetype="text")
    good = slack_file("b.txt", filetype="text")
    result, _ = await read((bad, ConnectionResetError("boom")), (good, b"fine"))
    assert result.notes == ["`a.txt` was skipped: it could not be downloaded."]
    assert len(result.text_parts) == 1 and "fine" in result.text_parts[0]


async def test_a_login_page_instead_of_the_file_is_not_given_to_the_model():
    result, _ = await read(
        (slack_file("notes.txt", filetype="text"), LOGIN_PAGE),
        (slack_file("shot.png", mimetype="image/png"), LOGIN_PAGE),
    )
    assert result.text_parts == [] and result.image_parts == []
    assert result.notes == [
        "`notes.txt` was skipped: it could not be downloaded.",
        "`shot.png` was skipped: it could not be downloaded.",
    ]


async def test_an_html_file_is_read_as_text():
    result, _ = await read((slack_file("page.html", filetype="html"), LOGIN_PAGE))
    assert "<title>Slack</title>" in result.text_parts[0]


async def test_unsupported_and_inaccessible_files_become_notes_without_downloading():
    docx = slack_file("report.docx", filetype="docx", pretty_type="Word Document")
    zipped = slack_file("x.bin", filetype="binary")
    hidden = slack_file("old.txt", filetype="text", mode="hidden_by_limit")
    no_url = {"name": "ghost.txt", "filetype": "text", "size": 3}
    downloads = Downloads({})
    async with Parser() as parser:
        result = await read_attachments(
            [docx, zipped, hidden, no_url],
            downloads,
            read_pdf=parser.pdf_text,
            images=ImageReader(),
            images_allowed=True,
            max_chars=100,
        )
    assert downloads.calls == []
    assert result.notes == [
        "`report.docx` was skipped: I can't read Word Document files.",
        "`x.bin` was skipped: I can't read this kind of file.",
        "`old.txt` was skipped: Slack did not give me access to it.",
        "`ghost.txt` was skipped: Slack did not give me access to it.",
    ]


async def test_backticks_in_a_file_name_cannot_break_the_markup():
    result, _ = await read((slack_file("we`ird.txt", filetype="text"), b"x"))
    assert result.text_parts[0].startswith("File `we'ird.txt`:")


# --- images ----------------------------------------------------------------------------


async def test_images_are_not_downloaded_when_the_model_does_not_take_them():
    result, downloads = await read(
        (slack_file("shot.png", mimetype="image/png"), PNG), images_allowed=False
    )
    assert downloads.calls == []
    assert result.image_parts == []
    assert result.notes == ["`shot.png` was skipped: this model doesn't take images."]


async def test_a_broken_image_becomes_a_note():
    result, _ = await read((slack_file("shot.png", mimetype="image/png"), b"not an image"))
    assert result.notes == ["`shot.png` was skipped: it is not a PNG, JPEG, GIF or WebP image."]


# --- PDF -------------------------------------------------------------------------------


async def test_pdf_text_is_extracted():
    pytest.importorskip("pypdf")
    file = slack_file("paper.pdf", mimetype="application/pdf", filetype="pdf")
    result, _ = await read((file, pages_pdf("Hello from page one", "And page two")))
    assert result.notes == []
    part = result.text_parts[0]
    assert part.startswith("File `paper.pdf`:\n```\n")
    assert "Hello from page one" in part and "And page two" in part
    assert part.index("page one") < part.index("page two")


async def test_long_pdf_is_cut_to_max_chars():
    pytest.importorskip("pypdf")
    pdf = pages_pdf(*(f"Page number {i} of the report" for i in range(30)))
    file = slack_file("long.pdf", mimetype="application/pdf")
    result, _ = await read((file, pdf), max_chars=80)
    assert "Page number 0" in result.text_parts[0]
    assert "Page number 29" not in result.text_parts[0]
    assert result.notes[0].startswith("`long.pdf` was too long: only its first")


async def test_pdf_without_text_says_so():
    pytest.importorskip("pypdf")
    result, _ = await read((slack_file("scan.pdf", filetype="pdf"), pages_pdf("")))
    assert result.text_parts == []
    assert result.notes == ["`scan.pdf` has no text I can read (it may be scanned images)."]


async def test_damaged_pdf_becomes_a_note():
    pytest.importorskip("pypdf")
    result, _ = await read((slack_file("bad.pdf", filetype="pdf"), b"%PDF-1.4\ngarbage"))
    assert result.notes == ["`bad.pdf` was skipped: the PDF could not be read."]


async def test_pdf_without_pypdf_becomes_a_note():
    no_pypdf = (  # the worker, in a Python where `import pypdf` fails
        "import runpy, sys; sys.modules['pypdf'] = None; "
        "runpy.run_module('slackgpt.files.pdf_child', run_name='__main__')"
    )
    parser = Parser(command=[sys.executable, "-c", no_pypdf])
    file = slack_file("paper.pdf", filetype="pdf")
    result, _ = await read((file, pages_pdf("Hello")), parser=parser)
    assert result.text_parts == []
    assert result.notes == ["`paper.pdf` was skipped: PDF reading is not available."]


# --- user_content ----------------------------------------------------------------------


def test_user_content_is_a_string_without_images():
    attachments = Attachments(text_parts=["File `a.txt`:\n```\nA\n```"])
    assert user_content("U1: summarize", attachments) == (
        "U1: summarize\n\nFile `a.txt`:\n```\nA\n```"
    )
    assert user_content("just text", Attachments()) == "just text"


def test_user_content_tells_the_model_about_skipped_files():
    attachments = Attachments(notes=["`r.docx` was skipped: I can't read docx files."])
    content = user_content("U1: what does the doc say?", attachments)
    assert content.startswith("U1: what does the doc say?\n\n(Attachments not given")
    assert "- `r.docx` was skipped: I can't read docx files." in content


def test_user_content_is_parts_with_images():
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    attachments = Attachments(text_parts=["File `a.txt`:\n```\nA\n```"], image_parts=[image])
    assert user_content("U1: look", attachments) == [
        {"type": "text", "text": "U1: look\n\nFile `a.txt`:\n```\nA\n```"},
        image,
    ]
    assert user_content("", Attachments(image_parts=[image])) == [image]
