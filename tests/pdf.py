"""Reading what a generated PDF says, for tests."""

import re
import zlib


def pdf_text(data: bytes) -> str:
    """The text of a PDF's content streams (fpdf2 compresses them with zlib)."""
    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            out.append(zlib.decompress(m.group(1)).decode("latin-1"))
        except zlib.error:
            out.append(m.group(1).decode("latin-1"))
    return "\n".join(out)
