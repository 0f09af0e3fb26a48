"""Spreadsheets written row by row, in bounded memory, and sent as they are finished.

openpyxl's write-only mode keeps no cell in memory: each appended row is serialised at once
into a temporary file of its sheet (strings inline, so no shared-strings table grows with the
rows), and saving zips those files. The workbook is saved into a temporary file too, which is
then sent in chunks: a spreadsheet of 100,000 rows never sits in memory, only a page of rows
at a time.

Every sheet starts with a bold header row, frozen. Times are real Excel date-times in
Asia/Shanghai (to the second; Excel keeps no offset), dates real dates.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from ledger.domain.context import SHANGHAI

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 64 * 1024
_BOLD = Font(bold=True)


def local(moment: datetime | None) -> datetime | None:
    """``moment`` as an Excel date-time: Asia/Shanghai wall time, to the second, no offset."""
    if moment is None:
        return None
    return moment.astimezone(SHANGHAI).replace(tzinfo=None, microsecond=0)


def yes_no(value: bool) -> str:
    return "是" if value else "否"


Cell = str | int | float | date | datetime | None


@dataclass(frozen=True)
class SheetData:
    """A sheet whose rows are all at hand (a report's)."""

    title: str
    headers: Sequence[str]
    rows: list[list[Cell]]
    width: int = 16


class Sheet:
    """One sheet of a ``Book``: its header row written and frozen."""

    def __init__(self, book: Book, title: str, headers: Sequence[str], width: int = 16) -> None:
        self.rows = 0
        self._sheet = book.workbook.create_sheet(title)
        self._sheet.freeze_panes = "A2"
        for index, header in enumerate(headers, start=1):
            self._sheet.column_dimensions[get_column_letter(index)].width = max(
                width, 2 * len(header) + 2
            )
        cells = []
        for header in headers:
            cell = WriteOnlyCell(self._sheet, value=header)
            cell.font = _BOLD
            cells.append(cell)
        self._sheet.append(cells)

    def extend(self, rows: Iterable[Sequence[Cell]]) -> None:
        """Append ``rows`` (blocking: call it in a worker thread for many rows)."""
        append = self._sheet.append
        for row in rows:
            append(row)
            self.rows += 1


class Book:
    """A write-only workbook, saved into a temporary file and read back in chunks."""

    def __init__(self) -> None:
        self.workbook = Workbook(write_only=True)
        self.sheets: list[Sheet] = []

    @classmethod
    def of(cls, sheets: Iterable[SheetData]) -> Book:
        """A workbook of these sheets, written (blocking: call it in a worker thread)."""
        book = cls()
        for data in sheets:
            book.sheet(data.title, data.headers, data.width).extend(data.rows)
        return book

    def sheet(self, title: str, headers: Sequence[str], width: int = 16) -> Sheet:
        sheet = Sheet(self, title, headers, width)
        self.sheets.append(sheet)
        return sheet

    @property
    def rows(self) -> int:
        """The data rows of every sheet (headers not counted)."""
        return sum(sheet.rows for sheet in self.sheets)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The saved workbook, ``CHUNK`` bytes at a time; the temporary file is removed after."""
        file: IO[bytes] = await asyncio.to_thread(tempfile.TemporaryFile)
        try:
            await asyncio.to_thread(self.workbook.save, file)
            await asyncio.to_thread(file.seek, 0)
            while chunk := await asyncio.to_thread(file.read, CHUNK):
                yield chunk
        finally:
            await asyncio.to_thread(file.close)


def disposition(filename: str, fallback: str) -> str:
    """A ``Content-Disposition`` for an attachment named ``filename`` (RFC 6266: the ASCII
    ``fallback`` for old clients, and the name itself in UTF-8)."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


def cells(values: Iterable[Any]) -> list[Cell]:
    """Values as cells: times in Asia/Shanghai (``local``), the rest as they are."""
    return [local(v) if isinstance(v, datetime) else v for v in values]
