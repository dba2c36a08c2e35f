"""The fonts of the claim PDFs and their chart: DejaVu Sans (regular, bold) and DejaVu Sans Mono, the files
fontconfig resolves (`fonts-dejavu-core`), registered with ReportLab once per process. ReportLab embeds the
glyphs a document uses (a subset, with its Unicode map: the text stays extractable)."""

from __future__ import annotations

import functools
import subprocess

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

SANS = "DejaVuSans"
BOLD = "DejaVuSans-Bold"
MONO = "DejaVuSansMono"
_PATTERNS = {SANS: "DejaVu Sans", BOLD: "DejaVu Sans:bold", MONO: "DejaVu Sans Mono"}


def _font_file(pattern: str) -> str:
    return subprocess.run(
        ["fc-match", "--format=%{file}", pattern], capture_output=True, text=True, check=True, timeout=10
    ).stdout


@functools.cache
def register() -> None:
    """Register the three faces (parses the TTF files: once per process). `<b>` in a Paragraph is the bold
    face; there is no italic in the documents, so italics map to the upright faces."""
    for name, pattern in _PATTERNS.items():
        pdfmetrics.registerFont(TTFont(name, _font_file(pattern)))
    pdfmetrics.registerFontFamily(SANS, normal=SANS, bold=BOLD, italic=SANS, boldItalic=BOLD)


def text_width(text: str, font: str, size: float) -> float:
    """The width in pt of `text` set in `font` (one of ours) at `size` pt."""
    register()
    return pdfmetrics.stringWidth(text, font, size)
