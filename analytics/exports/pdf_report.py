"""The performance report as a PDF (ReportLab: pure Python, no system libraries): the scope,
the metric cards, equity and drawdown charts, the breakdowns and the first trades."""

from __future__ import annotations

import io
import itertools
from decimal import Decimal

from django.http import HttpResponse

from analytics import presenters
from analytics.exports.csv_files import TRADE_HEADER, stamp, trade_rows
from analytics.selectors import Performance, Scope

PDF_TRADE_ROWS = 200
# The trades table's columns after the close time, as the CSV names them.
PDF_TRADE_COLUMNS = (
    "symbol",
    "side",
    "quantity",
    "entry_price",
    "exit_price",
    "net_pnl",
    "close_reason",
)


def _line_chart(points: list[float], *, width: float, height: float, colour, fill=False):
    from reportlab.graphics.charts.lineplots import LinePlot
    from reportlab.graphics.shapes import Drawing

    drawing = Drawing(width, height)
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 40, 15, width - 50, height - 25
    data = [(i, value) for i, value in enumerate(points)] or [(0, 0)]
    plot.data = [data]
    plot.lines[0].strokeColor = colour
    plot.lines[0].strokeWidth = 1.2
    plot.xValueAxis.visibleLabels = False
    plot.xValueAxis.visibleTicks = False
    plot.yValueAxis.labels.fontSize = 7
    if fill:
        plot.lines[0].inFill = True
    drawing.add(plot)
    return drawing


def pdf_bytes(perf: Performance, *, title: str = "Performance report", progress=None) -> bytes:
    """The performance report: scope, metrics, equity and drawdown charts, breakdowns, trades.
    `progress(share, stage)` hears how far it got (the Celery job shows it on the page)."""
    progress = progress or (lambda share, stage: None)
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, title=title, leftMargin=15 * mm, rightMargin=15 * mm
    )
    width = A4[0] - 30 * mm
    grid = _pdf_grid()
    story = _pdf_heading(perf.scope, title, styles) + _pdf_metrics(perf, styles, width, grid)
    progress(30, "Drawing the equity and drawdown charts")
    story += _pdf_charts(perf, styles, width)
    progress(55, "Adding the breakdowns")
    story += _pdf_breakdowns(perf, styles, grid)
    progress(70, "Listing the trades")
    story += _pdf_trades(perf.scope, styles, grid)
    progress(85, "Laying out the pages")
    doc.build(story)
    return buffer.getvalue()


def _pdf_grid():
    """The table style every table of the report uses."""
    from reportlab.lib import colors
    from reportlab.platypus import TableStyle

    return TableStyle(
        [
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.lightgrey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )


def _pdf_heading(scope: Scope, title: str, styles) -> list:
    """The title and the scope line (mode, period, last day, test-mode notice)."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    return [
        Paragraph(title, styles["Title"]),
        Paragraph(
            f"{scope.mode} · {scope.period_label} · up to {scope.last_day:%d %b %Y}"
            + (" · Test mode — no real money" if scope.no_real_money else ""),
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
    ]


def _pdf_metrics(perf: Performance, styles, width: float, grid) -> list:
    """The metric cards as a table, the pages' minus sign written as a plain "-"."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Table

    metric_rows = [["Metric", "Value", "Detail"]] + [
        [card["label"], card["value"].replace("−", "-"), card["hint"].replace("−", "-")]
        for card in presenters.cards(perf)
    ]
    return [
        Paragraph("Metrics", styles["Heading2"]),
        Table(metric_rows, colWidths=[40 * mm, 35 * mm, width - 75 * mm], style=grid),
    ]


def _pdf_charts(perf: Performance, styles, width: float) -> list:
    """The equity curve and the drawdown (%) below it."""
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    return [
        Spacer(1, 5 * mm),
        Paragraph("Equity", styles["Heading2"]),
        _line_chart(
            [float(v) for _, v in perf.equity], width=width, height=55 * mm, colour=colors.blue
        ),
        Paragraph("Drawdown (%)", styles["Heading2"]),
        _line_chart(
            [dd * 100 for _, dd in perf.drawdown()],
            width=width,
            height=35 * mm,
            colour=colors.red,
        ),
    ]


def _pdf_breakdowns(perf: Performance, styles, grid) -> list:
    """One table per breakdown panel that has rows."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Table

    story = []
    for panel in presenters.breakdown_panels(perf):
        if not panel["rows"]:
            continue
        story.append(Paragraph(panel["title"], styles["Heading3"]))
        rows = [["", "Trades", "Win rate", "Net P&L"]] + [
            [
                row["label"],
                row["count"],
                presenters.percent(row["win_rate"]),
                _plain_money(row["net_pnl"]),
            ]
            for row in panel["rows"]
        ]
        story.append(Table(rows, colWidths=[60 * mm, 25 * mm, 25 * mm, 35 * mm], style=grid))
    return story


def _pdf_trades(scope: Scope, styles, grid) -> list:
    """The first PDF_TRADE_ROWS closed trades, or the empty state."""
    from reportlab.platypus import Paragraph, Table

    story = [Paragraph("Trades", styles["Heading2"])]
    trades = [
        dict(zip(TRADE_HEADER, row, strict=True))
        for row in itertools.islice(trade_rows(scope), PDF_TRADE_ROWS)
    ]
    if trades:
        rows = [["Closed", "Symbol", "Side", "Qty", "Entry", "Exit", "Net P&L", "Reason"]] + [
            [trade["closed_at"][:16].replace("T", " ")]
            + [trade[column] for column in PDF_TRADE_COLUMNS]
            for trade in trades
        ]
        story.append(Table(rows, repeatRows=1, style=grid))
    else:
        story.append(
            Paragraph(
                "No closed trades in this period. Run a pipeline in simulation.", styles["Normal"]
            )
        )
    return story


def _plain_money(amount: Decimal) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def pdf_response(perf: Performance) -> HttpResponse:
    response = HttpResponse(pdf_bytes(perf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="performance-{stamp(perf.scope)}.pdf"'
    return response
