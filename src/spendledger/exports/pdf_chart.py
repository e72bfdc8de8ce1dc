"""The report's daily chart: stacked vector bars per provider, drawn with ReportLab's graphics.

Bar heights are floats for drawing only; every figure shown as text is `display_money`'s.
"""

from __future__ import annotations

from decimal import Decimal

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.units import mm

from spendledger.exports.pdf_style import FONT, MUTED, RULE, SERIES
from spendledger.exports.report_figures import ReportFigures
from spendledger.records import display_money, shown_amount


def daily_chart(f: ReportFigures, *, width: float) -> Drawing:
    """Stacked bars of each day's spend by provider, in the report's currency."""
    height = 62 * mm
    drawing = Drawing(width, height)
    if not f.daily or not any(v for series in f.daily.values() for v in series):
        drawing.add(
            String(0, height / 2, "No spend in this period.", fontName=FONT, fontSize=9, fillColor=MUTED)
        )
        return drawing
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 16 * mm, 14 * mm, width - 18 * mm, height - 18 * mm
    chart.data = [[float(shown_amount(v)) for v in series] for series in f.daily.values()]
    chart.categoryAxis.style = "stacked"
    step = 1 if len(f.days) <= 10 else 3
    chart.categoryAxis.categoryNames = [
        (f"{d:%-d %b}" if len(f.days) <= 10 else f"{d.day}") if i % step == 0 else ""
        for i, d in enumerate(f.days)
    ]
    chart.categoryAxis.labels.fontName = chart.valueAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = chart.valueAxis.labels.fontSize = 6.5
    chart.categoryAxis.strokeColor = chart.valueAxis.strokeColor = RULE
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labelTextFormat = lambda v: display_money(
        Decimal(str(v)).quantize(Decimal(1)), f.currency
    )
    chart.valueAxis.gridStrokeColor = RULE
    chart.valueAxis.visibleGrid = True
    chart.barSpacing = 0.6
    chart.groupSpacing = 1.5
    for i, _ in enumerate(f.daily):
        chart.bars[i].fillColor = colors.HexColor(SERIES[i % len(SERIES)])
        chart.bars[i].strokeColor = None
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = 16 * mm, 3 * mm
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.fontName, legend.fontSize = FONT, 7
    legend.dx = legend.dy = 6
    legend.deltax = 60
    legend.colorNamePairs = [
        (colors.HexColor(SERIES[i % len(SERIES)]), name) for i, name in enumerate(f.daily)
    ]
    drawing.add(legend)
    return drawing
