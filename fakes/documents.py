"""Test documents made here, with no external tools: PDFs written byte by byte.

- ``hostile_pdf``: the attack of issue #9, small on the wire, very expensive for pypdf.
- ``text_pdf``: a valid PDF of about a given size whose text pypdf extracts (Korean too).
- ``encrypted_pdf``: ``text_pdf`` encrypted by pypdf (empty user password by default).
- ``damaged_pdf``: a PDF header followed by garbage.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence

EMPTY_SHOW = b"BT /F1 12 Tf () Tj ET\n"
"""One empty text-show: a text object that selects a font and shows no characters."""

ENGLISH = "The quarterly report lists revenue, costs and the plan for the next release"
KOREAN = "분기 보고서에는 매출과 비용, 그리고 다음 출시 계획이 담겨 있습니다"
LINES_PER_PAGE = 40
_BMP_MAX = 0xFFFF


def hostile_pdf(pages: int = 20, repeats: int = 160_000) -> bytes:
    """The PDF of issue #9: ``pages`` pages that all share ONE content stream.

    The stream is ``EMPTY_SHOW`` repeated ``repeats`` times: by default 3.5 MB of 800,000
    operators, 9 KB once FlateDecode-compressed, 12 KB for the whole file. pypdf parses the
    whole stream again for every page, and finds no text, so a cap on characters never
    stops it: measured in-process (pypdf 7.1, Python 3.11), each page costs about 4 s of CPU
    and a peak of 170 MB more, 80 s for the file. Lower ``repeats`` for cheaper pages (about
    25 µs and 1 KB of peak memory per repeat): e.g. a CPU-bound file that stays small.
    """
    content = zlib.compress(EMPTY_SHOW * repeats, 9)
    font = 3 + pages
    contents = font + 1
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
    ]
    page = (
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {contents} 0 R "
        f"/Resources << /Font << /F1 {font} 0 R >> >> >>"
    ).encode()
    objects += [page] * pages
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(_stream(content, b"/Filter /FlateDecode"))
    return _assemble(objects)


def text_pdf(approx_bytes: int = 700_000, text: Sequence[str] | None = None) -> bytes:
    """A valid PDF of about ``approx_bytes`` (a few KB over at most) whose text pypdf reads.

    Each page has ``LINES_PER_PAGE`` lines, taken in turn from ``text`` (default: numbered
    English and Korean lines) and repeated until the file is big enough; there is always
    at least one page. Text is drawn in a Type0 font whose character codes are the
    characters' Unicode code points (BMP only), mapped back by a ToUnicode CMap, so any
    language extracts. Streams are uncompressed: the size on the wire is the text's.
    """
    lines = list(text) if text else [ENGLISH, KOREAN]
    page_streams: list[bytes] = []
    size, number = 2_000, 0  # the fixed objects and the cross-reference table
    while not page_streams or size < approx_bytes:
        stream = bytearray(b"BT /F1 10 Tf 12 TL 36 760 Td\n")
        for _ in range(LINES_PER_PAGE):
            line = lines[number % len(lines)]
            if text is None:
                line = f"{number + 1:05d} {line}"
            stream += b"<%s> Tj T*\n" % _hex_codes(line)
            number += 1
        stream += b"ET\n"
        page_streams.append(bytes(stream))
        size += len(stream) + 260
    code_points = {ord(c) for line in lines for c in line + "0123456789 ?"}
    return _text_document(page_streams, {c for c in code_points if c <= _BMP_MAX})


def pages_pdf(*pages: str) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page (empty: no text)."""
    count = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
    ]
    font = 3 + 2 * count
    for i, text in enumerate(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 200] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        content = f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode() if text else b""
        objects.append(_stream(content))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return _assemble(objects)


def encrypted_pdf(
    text: Sequence[str] = ("Encrypted but readable",), user_password: str = ""
) -> bytes:
    """``text_pdf`` of one page encrypted with RC4-128 (pure Python in pypdf, no crypto lib).

    With an empty user password (the default) any reader opens it, as with the many
    "protected" PDFs that only forbid printing or copying; with another, it stays locked.
    """
    from pypdf import PdfReader, PdfWriter  # only the tests that need it import pypdf

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(1, text))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def damaged_pdf() -> bytes:
    """A PDF header followed by garbage: no objects, no cross-reference table."""
    return b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


def _hex_codes(line: str) -> bytes:
    """``line`` as a hex string of 2-byte codes, one per character (outside the BMP: ?)."""
    codes = (ord(c) if ord(c) <= _BMP_MAX else ord("?") for c in line)
    return "".join(f"{code:04X}" for code in codes).encode()


def _text_document(page_streams: list[bytes], code_points: set[int]) -> bytes:
    """A PDF with one page per stream, all sharing the Unicode Type0 font as /F1."""
    count = len(page_streams)
    font = 3 + 2 * count
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
    ]
    for i, stream in enumerate(page_streams):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(_stream(stream))
    objects += [
        f"<< /Type /Font /Subtype /Type0 /BaseFont /Unicode /Encoding /Identity-H "
        f"/DescendantFonts [{font + 1} 0 R] /ToUnicode {font + 2} 0 R >>".encode(),
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Unicode /DW 1000 "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> >>",
        _stream(_to_unicode(code_points)),
    ]
    return _assemble(objects)


def _to_unicode(code_points: set[int]) -> bytes:
    """A ToUnicode CMap mapping each 2-byte code in ``code_points`` to that code point.

    Only the characters used, as in the subset fonts of real PDFs (a CMap of the whole BMP
    would cost pypdf some 30 MB per page).
    """
    pairs = [b"<%04X> <%04X>" % (code, code) for code in sorted(code_points)]
    blocks = b"".join(
        b"%d beginbfchar\n%s\nendbfchar\n" % (len(part), b"\n".join(part))
        for part in (pairs[i : i + 100] for i in range(0, len(pairs), 100))
    )
    return (
        b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        b"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        b"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + blocks
        + b"endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    )


def _stream(data: bytes, entries: bytes = b"") -> bytes:
    """A stream object's body: its dictionary (with ``entries``) and ``data``."""
    return b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(data), entries, data)


def _assemble(objects: list[bytes]) -> bytes:
    """A whole PDF file: ``objects`` numbered from 1 (the first is the catalog), xref, trailer."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
