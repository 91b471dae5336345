"""A small table drawn as a figure (for example sharpness per minimizer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from lstui.plots import _style as st
from lstui.plots.cells import table_cells

_TABLE_FONT = 9.0
_CHAR_WIDTH_IN = 0.085
_ROW_HEIGHT_IN = 0.28


def plot_sharpness_table(
    rows: Sequence[Mapping[str, object]],
    *,
    title: str | None = None,
) -> Figure:
    """Draw ``rows`` as a table; the columns are the keys, in first-seen order.

    A key missing from a row shows "–". The figure is sized to its text.
    """
    columns, cells = table_cells(rows)

    widths = [
        max([len(column)] + [len(r[k]) for r in cells]) + 2 for k, column in enumerate(columns)
    ]
    width_in = max(2.0, sum(widths) * _CHAR_WIDTH_IN + 0.2,
                   st.text_width_in(title, st.TITLE_SIZE) + 0.3 if title else 0.0)
    title_in = 0.35 if title else 0.0
    height_in = max(0.8, (len(cells) + 1) * _ROW_HEIGHT_IN + 0.15 + title_in)
    # A fixed layout: the table fills the axes, which fills the figure under the title.
    fig = Figure(figsize=(width_in, height_in))
    FigureCanvasAgg(fig)
    top = 1.0 - title_in / height_in
    margin_x, margin_y = 0.08 / width_in, 0.06 / height_in
    ax = fig.add_axes((margin_x, margin_y, 1 - 2 * margin_x, top - 2 * margin_y))
    ax.set_axis_off()
    if title:
        fig.text(
            0.5,
            1.0 - 0.5 * title_in / height_in,
            title,
            ha="center",
            va="center",
            fontsize=st.TITLE_SIZE,
        )
    if not columns:
        ax.text(0.5, 0.5, "(no rows)", ha="center", va="center", fontsize=_TABLE_FONT)
        return fig

    table = ax.table(
        cellText=cells or None,
        colLabels=columns,
        colWidths=[w / sum(widths) for w in widths],
        cellLoc="center",
        loc="center",
        bbox=Bbox.from_bounds(0.0, 0.0, 1.0, 1.0),
    )
    table.auto_set_font_size(False)
    table.set_fontsize(_TABLE_FONT)
    for (index, _col), cell in table.get_celld().items():
        cell.set_edgecolor("0.75")
        cell.set_linewidth(0.6)
        if index == 0:
            cell.set_text_props(fontweight="bold")
            cell.set_facecolor("#e8e8e8")
        elif index % 2 == 0:
            cell.set_facecolor("#f7f7f7")
    return fig
