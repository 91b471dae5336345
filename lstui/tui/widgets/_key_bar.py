"""The footer of key bindings, in rows of equal cells when one row is too short."""

from __future__ import annotations

import math

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.keys import _character_to_key
from textual.widget import Widget
from textual.widgets import Footer, Input
from textual.widgets._footer import FooterKey

ONE_ROW_MIN = 120
"""Terminal widths from this one on show every key in one row."""

TYPED_KEYS = frozenset(_character_to_key(chr(code)) for code in range(32, 127))
"""The keys that type a character (``n``, ``plus``, ``question_mark``…): in a text field
they go into the text, not to their bindings."""


def key_rows(width: int, keys: int, cell: int) -> int:
    """How many rows ``keys`` cells of at least ``cell`` columns need in ``width``
    columns: one from :data:`ONE_ROW_MIN` on, else at least two."""
    if width >= ONE_ROW_MIN or keys == 0:
        return 1
    per_row = max(1, width // max(1, cell))
    return max(2, math.ceil(keys / per_row))


class KeyBar(Footer):
    """:class:`~textual.widgets.Footer`, folded into a grid below :data:`ONE_ROW_MIN`
    columns: two rows at 80 columns, more when the terminal is narrower still, so that
    every label stays whole (``/ Filte`` and ``c Cance`` below 73 columns).

    While a text field has the focus (the filter), the keys that would type into it are
    left out: ``+ Prio+`` promised what the key no longer does there.
    """

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._rows: int | None = None
        self._cell = 1

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        if isinstance(self.screen.focused, Input):
            keys = [k for k in keys if not (isinstance(k, FooterKey) and k.key in TYPED_KEYS)]
        self._cell = max((_label_width(k) for k in keys), default=1)
        rows = key_rows(self.app.size.width, len(keys), self._cell)
        self._rows = rows
        self.set_class(rows > 1, "-grid")
        if rows > 1:
            self.styles.grid_size_columns = math.ceil(len(keys) / rows)
            self.styles.height = rows
        else:
            self.styles.clear_rule("height")
        yield from keys

    def on_resize(self, event: events.Resize) -> None:
        if self._rows is not None and self._rows != key_rows(self.app.size.width, len(self.children), self._cell):
            self.call_after_refresh(self.recompose)


def _label_width(key: Widget) -> int:
    """The columns a key's cell needs: ``^p palette``."""
    if isinstance(key, FooterKey):
        return cell_len(key.key_display) + 1 + cell_len(key.description)
    return 1
