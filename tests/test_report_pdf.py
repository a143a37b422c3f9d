"""The PDF report fits its tables to the page: rendered page by page with WeasyPrint (the
renderer ``accelsim.report.render.write_report`` uses), every table, and every line of text
inside it, lies within the page's content box."""

from __future__ import annotations

import pytest

from accelsim.report.model import Report, Section, Table
from accelsim.report.render import render_html

WIDE = 16  # columns: more than the compare table's widest row


def _wide_report() -> Report:
    columns = tuple(f"a long column header number {i}" for i in range(WIDE))
    rows = tuple(
        tuple(f"{1_234_567.891 * (i + 1) * (r + 1):,.2f} USD/Mtok" for i in range(WIDE))
        for r in range(60)
    )
    unbroken = (("x" * 120,) + ("1",) * (WIDE - 1),)  # one token longer than any column
    return Report(
        title="wide",
        facts=(("scenario", "default"), ("what-if", "none " * 40)),
        whatif=(),
        sections=(
            Section(
                "rows",
                "Rows",
                ("a paragraph",),
                tables=(
                    Table(columns, rows, align=("r",) * WIDE, caption="sixty rows, two pages"),
                    Table(columns, unbroken),
                    Table(("k", "v"), (("a", "b"),)),
                ),
            ),
        ),
        generator="accelsim test",
    )


def test_every_table_fits_the_page_box_on_every_page():
    weasyprint = pytest.importorskip("weasyprint")
    from weasyprint.formatting_structure import boxes

    doc = weasyprint.HTML(string=render_html(_wide_report())).render()
    assert len(doc.pages) >= 2  # the long table breaks over pages: each page is checked
    tables = 0
    for number, page in enumerate(doc.pages, start=1):
        box = page._page_box
        left, right = box.content_box_x(), box.content_box_x() + box.width
        for table in box.descendants():
            if not isinstance(table, boxes.TableBox):
                continue
            tables += 1
            assert left - 0.5 <= table.position_x, number
            assert table.position_x + table.margin_width() <= right + 0.5, (
                f"page {number}: a table {table.margin_width():.0f} pt wide at "
                f"{table.position_x:.0f} pt passes the page box's right edge {right:.0f} pt"
            )
            for inner in table.descendants():
                if isinstance(inner, boxes.LineBox | boxes.TextBox):
                    assert inner.position_x + inner.margin_width() <= right + 0.5, number
    assert tables >= 4  # the facts table, and the three tables (the long one on two pages)
