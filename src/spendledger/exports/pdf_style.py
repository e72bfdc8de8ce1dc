"""The PDF report's look, shared by its pages and its chart: the embedded font and the colours.

The font is ReportLab's own Bitstream Vera, registered once per process and embedded in
each PDF as a subset: no system font, no network.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import reportlab
from reportlab.lib import colors
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT, BOLD = "SpendledgerSans", "SpendledgerSans-Bold"
INK, MUTED, RULE, SHADE = (
    colors.HexColor("#1f2328"),
    colors.HexColor("#59636e"),
    colors.HexColor("#d0d7de"),
    colors.HexColor("#f3f4f6"),
)
SERIES = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#9c755f"]


@cache
def register_fonts() -> None:
    """Register Vera and Vera Bold under FONT and BOLD: once per process, when first drawn."""
    folder = Path(reportlab.__file__).parent / "fonts"
    pdfmetrics.registerFont(TTFont(FONT, str(folder / "Vera.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(folder / "VeraBd.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)
