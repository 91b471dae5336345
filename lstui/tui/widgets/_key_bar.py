"""The footer of key bindings, in rows of equal cells when one row is too short."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.keys import _character_to_key
from textual.widget import Widget
from textual.widgets import Footer, Input
from textual.widgets._footer import FooterKey
from textual.widgets._toast import ToastRack

ONE_ROW_MIN = 120
"""Terminal widths from this one on show every key in one row, if they fit in it."""

TYPED_KEYS = frozenset(_character_to_key(chr(code)) for code in range(32, 127))
"""The keys that type a character (``n``, ``plus``, ``question_mark``…): in a text field
they go into the text, not to their bindings."""

GIVES_WAY = frozenset({"cycle_quantity"})
"""Actions whose key is shown only where it adds no row to the bar: ``t What`` at 80
columns fills the two rows, and a kept filter's ``esc Clear`` (the way out of it)
matters more there than a key the help and the command palette also list."""


def key_rows(width: int, keys: int, cell: int, row: int = 0) -> int:
    """How many rows ``keys`` cells of at least ``cell`` columns need in ``width``
    columns: one from :data:`ONE_ROW_MIN` on where their ``row`` (the columns of all of
    them side by side) fits, else at least two (at exactly 120 columns a one-row bar
    lost its ``q Quit`` past the edge)."""
    if (width >= ONE_ROW_MIN and width >= row) or keys == 0:
        return 1
    per_row = max(1, width // max(1, cell))
    return max(2, math.ceil(keys / per_row))


class KeyBar(Footer):
    """:class:`~textual.widgets.Footer`, folded into a grid below :data:`ONE_ROW_MIN`
    columns: two rows at 80 columns, more when the terminal is narrower still, so that
    every label stays whole (``/ Filte`` and ``c Cance`` below 73 columns).

    While a text field has the focus (the filter), the keys that would type into it are
    left out: ``+ Prio+`` promised what the key no longer does there. The keys of
    :data:`GIVES_WAY` are left out where they would take one more row.
    """

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._cell = 1
        self._counts = (0, 0)  # the keys, and those of GIVES_WAY among them
        self._rows = (0, 0)  # their columns side by side (:func:`_row_width`), and without GIVES_WAY's
        self._shown: tuple[int, bool] | None = None
        self._resizing = False  # the next compose is a resize's

    def _layout(self) -> tuple[int, bool]:
        """The rows at the terminal's width now, and whether the keys of
        :data:`GIVES_WAY` show."""
        width, (keys, spare), (row, row_kept) = self.app.size.width, self._counts, self._rows
        rows = key_rows(width, keys, self._cell, row)
        fewer = key_rows(width, keys - spare, self._cell, row_kept)
        if spare and fewer < rows:
            return fewer, False
        return rows, True

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        if isinstance(self.screen.focused, Input):
            keys = [k for k in keys if not (isinstance(k, FooterKey) and k.key in TYPED_KEYS)]
        self._cell = max((_label_width(k) for k in keys), default=1)
        spare = [k for k in keys if isinstance(k, FooterKey) and k.action in GIVES_WAY]
        self._counts = (len(keys), len(spare))
        self._rows = (_row_width(keys), _row_width([k for k in keys if k not in spare]))
        before = self._shown[0] if self._shown is not None else None
        self._shown = rows, keep = self._layout()
        # keys changed (a dialog closed): toasts shown meanwhile stand above the bar; not
        # on a resize, as the margin lays the screen out again (the table lost its scroll)
        if before is not None and rows != before and not self._resizing:
            self.call_after_refresh(lift_toasts, self.screen, None, rows)
        self._resizing = False
        if not keep:
            keys = [k for k in keys if k not in spare]
        self.set_class(rows > 1, "-grid")
        if rows > 1:
            self.styles.grid_size_columns = math.ceil(len(keys) / rows)
            self.styles.height = rows
        else:
            self.styles.clear_rule("height")
        yield from keys

    def on_resize(self, event: events.Resize) -> None:
        if self._shown is not None and self._shown != self._layout():
            self._resizing = True
            self.call_after_refresh(self.recompose)


def _row_width(keys: Sequence[Widget]) -> int:
    """The columns ``keys`` (the command palette's among them) take in one row: each
    label and the gap after it (measured: 16 keys took 127 columns of 128)."""
    return sum(_label_width(k) + 1 for k in keys)


def _label_width(key: Widget) -> int:
    """The columns a key's cell needs: ``^p palette``."""
    if isinstance(key, FooterKey):
        return cell_len(key.key_display) + 1 + cell_len(key.description)
    return 1


def lift_toasts(screen: Widget, bars_of: Widget | None = None, rows: int | None = None) -> None:
    """Notifications on ``screen`` stand above its key bar, not over its rows (Textual
    leaves one row, a one-row footer's: at 80 columns one hid ``c Cancel p Pause r
    Retry``); a screen without a key bar of its own (the form, a dialog: its toasts go
    to the screen below when it closes) takes ``bars_of``'s. Called as one is shown,
    not at each layout: setting the margin lays the screen out again, and the table
    lost its scroll to the selected row."""
    if rows is None:  # (``rows``: the bar's own, as it lays itself out again)
        bars = list(screen.query(KeyBar)) or (list(bars_of.query(KeyBar)) if bars_of is not None else [])
        rows = max((bar.size.height for bar in bars), default=1) or 1
    for rack in screen.query(ToastRack):
        if rack.styles.margin.bottom != rows:
            rack.styles.margin = (0, 0, rows, 0)
