"""A grid of equal cells that shows as many as fit and pages through the rest.

Screens never shrink text to fit a big hall: the kiosk's service tiles and the display's
window and waiting cells keep their size, and what does not fit goes to the next page
(turned by the citizen on the kiosk, rotated by a timer on the display).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QWidget


class Pager(QWidget):
    """Cells at least ``cell`` big, at most ``max_columns`` × ``max_rows`` on a page.

    Cells are stretched to share the width; their height is the page's height shared by
    the rows, capped at ``max_cell_height`` (0: no cap) and never below the minimum.
    """

    page_changed = Signal(int, int)  # page (0-based), pages

    def __init__(
        self,
        max_columns: int = 4,
        max_rows: int = 99,
        spacing: int = 16,
        optional: bool = False,
        complete: bool = False,
    ) -> None:
        """``optional``: the pager may get no room at all and then shows no cell (the
        display's recent calls on a crowded portrait screen). ``complete``: every cell on
        one page, as many rows as that takes (the kiosk's category bar, which has no page
        buttons)."""
        super().__init__()
        self.optional = optional
        self.complete = complete
        self.max_columns = max_columns
        self.max_rows = max_rows
        self.spacing = spacing
        self.cell = QSize(200, 100)
        self.max_cell_height = 0
        self.cells: list[QWidget] = []
        self.page = 0
        self.columns = 1
        self.rows = 1
        self._min_h = 0

    def set_cell_size(self, cell: QSize, max_cell_height: int = 0) -> None:
        self.cell = cell
        self.max_cell_height = max_cell_height
        self.updateGeometry()
        self._place()

    def set_cells(self, cells: list[QWidget], delete_old: bool = True) -> None:
        """Take these widgets as the cells; the old ones are deleted, or only hidden (a
        filter that shows some of the same cells)."""
        for old in self.cells:
            if old not in cells:
                old.hide()
                if delete_old:
                    old.deleteLater()
        if cells != self.cells:
            self.page = 0
            self.updateGeometry()
        self.cells = cells
        for cell in cells:
            cell.setParent(self)
        self._place()

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    @property
    def pages(self) -> int:
        return max(1, math.ceil(len(self.cells) / max(1, self.per_page)))

    def set_page(self, page: int) -> None:
        self.page = page % self.pages
        self._place()

    def next_page(self) -> None:
        self.set_page(self.page + 1)

    def previous_page(self) -> None:
        self.set_page(self.page - 1)

    def visible_cells(self) -> list[QWidget]:
        start = self.page * self.per_page
        return self.cells[start : start + self.per_page]

    def sizeHint(self) -> QSize:
        """Room for every cell at this width, up to ``max_rows`` rows (a layout with space
        to spare gives it; a crowded one gives at least :meth:`minimumSizeHint`)."""
        min_h = self._min_h or self.cell.height()
        columns = self._fit(self.width(), self.cell.width(), self.max_columns)
        rows = max(1, math.ceil(len(self.cells) / columns))
        if not self.complete:
            rows = min(self.max_rows, rows)
        if self.optional:
            rows = 1  # an optional pager takes what is left, it asks for no more
        return QSize(self.cell.width(), rows * min_h + (rows - 1) * self.spacing)

    def minimumSizeHint(self) -> QSize:
        """One cell (as high as its wrapped text needs at the last width placed)."""
        if self.optional:
            return QSize(self.cell.width(), 0)
        if self.complete:
            return self.sizeHint()
        return QSize(self.cell.width(), self._min_h or self.cell.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place()

    def _fit(self, size: int, cell: int, most: int) -> int:
        return max(1, min(most, (size + self.spacing) // (cell + self.spacing)))

    def fit_cells_to_content(self) -> None:
        """Cells at least as big as their content asks for (buttons' size hints)."""
        hints = [cell.sizeHint() for cell in self.cells]
        if hints:
            self.cell = QSize(max(h.width() for h in hints), max(h.height() for h in hints))
            self._place()

    def _cell_height(self, cell_w: int) -> int:
        """The minimum height, or more when a cell's wrapped text needs it at this width."""
        for cell in self.cells:
            cell.ensurePolished()  # a new style sheet's fonts, before measuring
        needed = [c.heightForWidth(cell_w) for c in self.cells if c.hasHeightForWidth()]
        return max([self.cell.height(), *needed])

    def _place(self) -> None:
        width, height, gap = self.width(), self.height(), self.spacing
        columns = self._fit(width, self.cell.width(), self.max_columns)
        if columns != self.columns:
            self.columns = columns
            self.updateGeometry()  # the rows wanted (sizeHint) follow the columns
        min_h = self._cell_height((width - gap * (self.columns - 1)) // self.columns)
        if min_h != self._min_h:
            self._min_h = min_h
            self.updateGeometry()
        self.rows = self._fit(height, min_h, 99 if self.complete else self.max_rows)
        needed_rows = math.ceil(len(self.cells) / self.columns) if self.cells else 1
        self.rows = max(1, min(self.rows, needed_rows))
        if self.optional and height < min_h:
            self.rows = 0
        self.page = min(self.page, self.pages - 1)
        cell_w = (width - gap * (self.columns - 1)) // self.columns
        cell_h = (height - gap * (self.rows - 1)) // max(1, self.rows)
        if self.max_cell_height:
            cell_h = min(cell_h, max(self.max_cell_height, min_h))
        shown = set(map(id, self.visible_cells()))
        start = self.page * self.per_page
        for i, cell in enumerate(self.cells):
            if id(cell) not in shown:
                cell.hide()
                continue
            row, column = divmod(i - start, self.columns)
            cell.setGeometry(column * (cell_w + gap), row * (cell_h + gap), cell_w, cell_h)
            cell.show()
        self.page_changed.emit(self.page, self.pages)
