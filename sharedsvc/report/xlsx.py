"""Typed tables as an Excel workbook, one sheet per table, because finance officers live
in spreadsheets: numbers stay numbers (formatted as pounds or percentages, so they sum
and chart), headers are frozen and the columns wide enough to read."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sharedsvc.report import tables
from sharedsvc.report.tables import Table

NUMBER_FORMATS = {
    tables.MONEY: '"£"#,##0;-"£"#,##0',
    tables.UNIT_COST: '"£"#,##0.00',
    tables.PERCENT: "0.0%",
    tables.INTEGER: "0",
    tables.NUMBER: "#,##0.00",
}
SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
"""Characters Excel refuses in a sheet's name."""


def sheet_names(found: Sequence[Table]) -> list[str]:
    """Each table's name as Excel allows it: at most 31 characters, none of []:*?/\\,
    unique without regard to case."""
    names: list[str] = []
    for t in found:
        base = SHEET_NAME.sub("-", t.name)[:31] or "sheet"
        name, n = base, 2
        while name.lower() in (x.lower() for x in names):
            suffix = f" ({n})"
            name, n = base[: 31 - len(suffix)] + suffix, n + 1
        names.append(name)
    return names


def write_workbook(path: str, found: Sequence[Table]) -> None:
    """Write `found` to the .xlsx file `path` (the caller makes it atomic)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for name, t in zip(sheet_names(found), found, strict=True):
        sheet = book.create_sheet(title=name)
        sheet.append(list(t.headers))
        for cell in sheet[1]:
            cell.font = bold
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # a heading is text, never a formula
        for r, row in enumerate(t.rows):
            sheet.append([_value(v) for v in row])
            for c, value in enumerate(row):
                cell = sheet.cell(row=r + 2, column=c + 1)
                if isinstance(value, str) and value.startswith("="):
                    cell.data_type = "s"  # a name is text, never a formula Excel runs
                fmt = NUMBER_FORMATS.get(t.kind(r, c))
                if fmt is not None and isinstance(value, int | float):
                    cell.number_format = fmt
        sheet.freeze_panes = "A2"
        for c, header in enumerate(t.headers, start=1):
            width = max([len(str(header))] + [len(str(row[c - 1])) for row in t.rows[:200]])
            sheet.column_dimensions[get_column_letter(c)].width = min(60, max(10, width + 2))
    book.save(path)


def _value(value):
    """A cell's value: numbers and text as they are; anything else as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
