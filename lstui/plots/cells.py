"""The cells of a table of numbers (a comparison's sharpness table) as text: for its
figure, ``lstui show`` and the TUI alike. No matplotlib here: the TUI imports it."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence


def format_cell(value: object) -> str:
    """Four significant digits for reals ("NaN", "inf": a diverged value), "–" for
    missing, text on one line otherwise."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        return "NaN" if math.isnan(number) else f"{number:.4g}"
    return " ".join(str(value).split())  # one line


def table_cells(rows: Sequence[Mapping[str, object]]) -> tuple[list[str], list[list[str]]]:
    """The columns (the keys, in first-seen order) and each row's cells as text
    (:func:`format_cell`; "–" where a row lacks the key)."""
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(str(key))
    return columns, [[format_cell(row.get(column)) for column in columns] for row in rows]
