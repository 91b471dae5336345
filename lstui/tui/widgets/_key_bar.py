"""The footer of key bindings, in two rows of equal cells when one row is too short."""

from __future__ import annotations

import math

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer

ONE_ROW_MIN = 120
"""Terminal widths from this one on show every key in one row."""


class KeyBar(Footer):
    """:class:`~textual.widgets.Footer`, folded into a two-row grid below
    :data:`ONE_ROW_MIN` columns so that every key stays visible at 80 columns."""

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._two_rows: bool | None = None

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        two_rows = self.app.size.width < ONE_ROW_MIN
        self._two_rows = two_rows
        self.set_class(two_rows, "-two-rows")
        if two_rows and keys:
            self.styles.grid_size_columns = math.ceil(len(keys) / 2)
        yield from keys

    def on_resize(self, event: events.Resize) -> None:
        if self._two_rows is not None and self._two_rows != (self.app.size.width < ONE_ROW_MIN):
            self.call_after_refresh(self.recompose)
