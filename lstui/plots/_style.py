"""The look of lstui's figures: sizes, colours, markers, legends, colorbars.

Every figure is a :class:`matplotlib.figure.Figure` made directly (never pyplot), with an
Agg canvas attached, so figures can be drawn from any thread of the daemon. Text sizes
are in points and chosen for a figure printed at single-column width (about 3.3 in).
Legends (markers, and the note counting points not computed or NaN/inf) sit under
the axes, so they never cover data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colorbar import Colorbar
from matplotlib.colors import Colormap, ListedColormap, LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import Formatter, FuncFormatter, MaxNLocator

from lstui.plots.levels import bad_note, format_level, level_digits

# Embed TrueType (Type 42) fonts in PDF/PS output: publishers reject Type 3 fonts. Set
# once at import (a read-only setting for everything after), never per figure.
matplotlib.rcParams["pdf.fonttype"] = 42
matplotlib.rcParams["ps.fonttype"] = 42

FIGSIZE_2D = (4.0, 3.6)
FIGSIZE_1D = (4.2, 3.4)
FIGSIZE_3D = (4.0, 3.0)
PANEL_WIDTH = 3.0
MAX_FIGURE_WIDTH = 6.75
"""The widest figure drawn (a comparison): a two-column format's full text width."""

LABEL_SIZE = 10.0
TICK_SIZE = 8.5
TITLE_SIZE = 10.0
LEGEND_SIZE = 8.0
CLABEL_SIZE = 7.0
CLABEL_MAX = 8
"""Label at most about this many contour lines (every other one beyond)."""
TITLE_MARGIN_IN = 0.12
"""A title is wrapped to the figure's width less this much on each side."""

CMAP_NAME = "viridis"
GAP_COLOUR = "#d9d9d9"
"""Where a filled figure has no value (NaN/inf), this light grey background shows."""
LOSS_COLOUR = "#1f4e9c"
ACC_COLOUR = "#c0392b"
PATH_COLOUR = "#d62728"
CENTRE_STYLE: dict[str, object] = {
    "marker": "+",
    "color": "black",
    "markersize": 9,
    "markeredgewidth": 1.6,
}
MIN_STYLE: dict[str, object] = {
    "marker": "*",
    "color": "#ff6f00",
    "markersize": 11,
    "markeredgecolor": "black",
    "markeredgewidth": 0.6,
}
XLABEL_2D = "α"
YLABEL_2D = "β"
"""The paper's coordinates: f(α, β) = L(θ* + α·δ + β·η)."""


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A figure with constrained layout and an Agg canvas (thread-safe, no pyplot)."""
    fig = Figure(figsize=figsize, layout="constrained")
    # A little more than the default padding, so edge tick labels do not touch the page edge.
    fig.get_layout_engine().set(w_pad=0.06, h_pad=0.06)  # type: ignore[union-attr,call-arg]
    FigureCanvasAgg(fig)
    return fig


def line_cmap() -> Colormap:
    """Viridis without its palest yellow, so every contour line shows on white."""
    base = matplotlib.colormaps[CMAP_NAME]
    return ListedColormap(base(np.linspace(0.0, 0.85, 256)), name="viridis_lines")


def fill_cmap() -> Colormap:
    return matplotlib.colormaps[CMAP_NAME]


def make_norm(levels: np.ndarray, log: bool) -> Normalize:
    """The colour scale spanning ``levels`` (log when asked and the levels are positive)."""
    lo, hi = float(levels[0]), float(levels[-1])
    if log and lo > 0:
        return LogNorm(vmin=lo, vmax=hi)
    return Normalize(vmin=lo, vmax=hi)


def level_formatter(levels: np.ndarray | None) -> Formatter:
    """Ticks written like contour labels, in as few digits as tell ``levels`` apart; with
    no levels, as few as tell the axis's own ticks apart (2.2982 and 2.2984, not "2.3"
    twice)."""
    if levels is None:
        return TickDigits()
    digits = level_digits(levels)
    return FuncFormatter(lambda value, _pos: format_level(value, digits))


class TickDigits(Formatter):
    """Ticks in as few significant digits (3 at least) as tell them apart."""

    def __init__(self) -> None:
        self.digits = 3

    def set_locs(self, locs: list[float]) -> None:
        super().set_locs(locs)
        values = np.asarray(locs, dtype=float)
        if self.axis is not None and values.size:  # the locator's ticks beyond the view are not drawn
            lo, hi = sorted(float(v) for v in self.axis.get_view_interval())
            slack = 1e-9 * max(abs(lo), abs(hi), 1e-300)
            values = values[(values >= lo - slack) & (values <= hi + slack)]
        self.digits = level_digits(values)

    def __call__(self, x: float, pos: int | None = None) -> str:
        return format_level(x, self.digits)


def style_axes(ax: Axes, xlabel: str | None, ylabel: str | None, *, locate: str = "xy") -> None:
    """Label and tick sizes; at most ~6 round ticks on the linear axes named in ``locate``."""
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    ax.tick_params(which="both", labelsize=TICK_SIZE)  # a log axis labels minor ticks too
    for name in locate:
        axis = ax.xaxis if name == "x" else ax.yaxis
        if axis.get_scale() == "linear":
            axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))


def text_width_in(text: str, fontsize: float) -> float:
    """The width in inches of ``text`` on one line, as Agg draws it at ``fontsize`` points."""
    renderer = RendererAgg(1, 1, 72)  # 72 dpi: one pixel is one point
    width, _, _ = renderer.get_text_width_height_descent(
        text, FontProperties(size=fontsize), ismath=False
    )
    return float(width) / 72.0


def wrap_text(text: str, width_in: float, fontsize: float) -> str:
    """``text`` broken at spaces into lines no wider than ``width_in`` inches.

    A word wider than a line by itself is cut between characters, so no line runs past
    ``width_in``. Lines the text already holds are kept.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in _title_words(paragraph, width_in, fontsize):
            candidate = f"{line} {word}" if line else word
            if text_width_in(candidate, fontsize) <= width_in:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = word
            while len(line) > 1 and text_width_in(line, fontsize) > width_in:
                cut = len(line) - 1
                while cut > 1 and text_width_in(line[:cut], fontsize) > width_in:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line)
    return "\n".join(lines)


def _title_words(text: str, width_in: float, fontsize: float) -> list[str]:
    """The pieces a line break may fall between: words, and a parenthesised group
    ("(train loss)") as one piece when it fits on a line."""
    words: list[str] = []
    for piece in re.findall(r"\([^()]*\)\S*|\S+", text):
        if " " in piece and text_width_in(piece, fontsize) > width_in:
            words += piece.split()
        else:
            words.append(piece)
    return words


def figure_title(fig: Figure, title: str | None) -> int:
    """Write ``title`` above everything in ``fig`` (axes and colorbar), wrapped to its width.

    A long title (a job's default name) takes as many lines as it needs, and the figure
    grows by the height of the lines beyond the first, so the axes keep their size.

    Returns:
        The number of lines of the title (0 without one).
    """
    if not title:
        return 0
    text = wrap_text(title, fig.get_figwidth() - 2 * TITLE_MARGIN_IN, TITLE_SIZE)
    fig.suptitle(text, fontsize=TITLE_SIZE)
    lines = text.count("\n") + 1
    if lines > 1:
        fig.set_figheight(fig.get_figheight() + (lines - 1) * TITLE_SIZE * 1.2 / 72.0)
    return lines


def set_title(ax: Axes, title: str | None, width_in: float | None = None) -> None:
    """A title over one axes (a panel's name), wrapped to ``width_in`` inches when given."""
    if title:
        text = wrap_text(title, width_in, TITLE_SIZE) if width_in else title
        ax.set_title(text, fontsize=TITLE_SIZE)


def note_handle(note: str, *, gap_patch: bool) -> Artist:
    """A legend entry for the bad-point note: a swatch of the gap colour, or text alone."""
    if gap_patch:
        return Patch(facecolor=GAP_COLOUR, edgecolor="0.6", linewidth=0.5, label=note)
    return Line2D([], [], linestyle="none", label=note)


def legend_below(
    fig: Figure,
    handles: Sequence[Artist],
    n_bad: int,
    n_total: int,
    *,
    n_pending: int = 0,
    partial: bool = False,
    gap_patch: bool = False,
    notes: Sequence[str] = (),
    ncols: int = 2,
) -> str | None:
    """One legend under the axes holding ``handles``, ``notes`` (text alone: "flat:
    every point 2.3026") and the bad-point note.

    ``n_pending`` of the ``n_bad`` points are not computed, and said so; ``partial``:
    the figure draws a coarser lattice of them ("partial: 777 of 6561 points").

    Returns:
        The note ("3 points NaN/inf (not shown)"), or None when every point is finite.
    """
    entries = list(handles)
    entries += [note_handle(text, gap_patch=False) for text in notes]
    note = bad_note(n_bad, n_total, n_pending, partial=partial)
    if note is not None:
        # both counts on one line would run past a single-column figure's edges
        entries.append(note_handle(note.replace(", ", ",\n"), gap_patch=gap_patch))
    if entries:
        fig.legend(
            handles=entries,
            loc="outside lower center",
            ncols=min(ncols, len(entries)),
            fontsize=LEGEND_SIZE,
            frameon=False,
            handletextpad=0.5,
            columnspacing=1.4,
        )
    return note


def colorbar(
    fig: Figure,
    mappable: ScalarMappable,
    ax: Axes | list[Axes],
    label: str,
    *,
    ticks: np.ndarray | None = None,
    extend: str | None = None,
    shrink: float = 0.95,
    pad: float = 0.03,
) -> Colorbar:
    """A colorbar labelled ``label``, its ticks written like contour labels (0.01, not 10⁻²)."""
    kwargs: dict[str, object] = {"ax": ax, "shrink": shrink, "aspect": 22 * shrink, "pad": pad}
    if extend is not None:
        kwargs["extend"] = extend
    cbar = fig.colorbar(mappable, **kwargs)  # type: ignore[arg-type]
    cbar.set_label(label, fontsize=LABEL_SIZE)
    cbar.ax.tick_params(labelsize=TICK_SIZE)
    if ticks is not None and ticks.size:
        step = 1 if ticks.size <= 12 else int(np.ceil(ticks.size / 10))
        cbar.set_ticks(ticks[::step].tolist())
    cbar.minorticks_off()
    cbar.ax.yaxis.set_major_formatter(level_formatter(ticks))
    return cbar


def equal_aspect_wanted(x: np.ndarray, y: np.ndarray, limit: float = 3.0) -> bool:
    """Equal axis scales when both spans are comparable (both directions share a unit)."""
    span_x = float(np.ptp(x)) if x.size else 0.0
    span_y = float(np.ptp(y)) if y.size else 0.0
    return span_x > 0 and span_y > 0 and max(span_x / span_y, span_y / span_x) <= limit


def equal_aspect_if_sensible(ax: Axes, x: np.ndarray, y: np.ndarray) -> None:
    if equal_aspect_wanted(x, y):
        ax.set_aspect("equal", adjustable="box")


def figsize_2d(
    x: np.ndarray,
    y: np.ndarray,
    *,
    colorbar: bool,
    width: float = FIGSIZE_2D[0],
    title: bool = False,
    legend_rows: int = 1,
) -> tuple[float, float]:
    """A figure size whose axes fit the data's aspect (equal scales when sensible).

    The height holds the axes at that aspect plus the tick labels and axis label below
    (and the title above, and the legend rows under everything).
    """
    extra = 0.85 + (0.28 if title else 0.0) + 0.2 * legend_rows
    if not equal_aspect_wanted(x, y):
        return (width, FIGSIZE_2D[1] - 1.17 + extra)
    axes_width = width - (1.55 if colorbar else 0.8)
    ratio = float(np.ptp(y)) / float(np.ptp(x))
    return (width, float(min(max(axes_width * ratio + extra, 2.4), 5.5)))


def trim_height(fig: Figure, ax: Axes, *, min_height: float = 2.0, tries: int = 6) -> None:
    """Take from ``fig``'s height the blank that equal axis scales leave above and below
    ``ax``, so the title sits on the axes and the legend under them.

    The figure's size is an estimate made before the title, the legend and the tick
    labels were measured; the layout does not change linearly with the height (tick
    labels come and go), so the height is searched: the shortest one, down to
    ``min_height``, at which the axes still take the whole width they are given. Lays
    the figure out.
    """

    def blank() -> tuple[float, float]:
        fig.draw_without_rendering()
        given, used = ax.get_position(original=True), ax.get_position()
        return (
            (given.height - used.height) * fig.get_figheight(),
            (given.width - used.width) * fig.get_figwidth(),
        )

    spare, _ = blank()
    good, short = fig.get_figheight(), None
    for _ in range(tries):
        if spare < 0.05 or good <= min_height or (short is not None and good - short < 0.05):
            break  # within a twentieth of an inch
        height = max(good - 0.7 * spare, min_height) if short is None else (good + short) / 2
        fig.set_figheight(height)
        spare_now, spare_width = blank()
        if spare_width > 0.02:  # the axes lost width: too short
            short = height
        else:
            good, spare = height, spare_now
    if fig.get_figheight() != good:
        fig.set_figheight(good)
        fig.draw_without_rendering()


def argmin_position(
    x: np.ndarray, y: np.ndarray, Z: np.ndarray
) -> tuple[float, float, float] | None:
    """``(x, y, value)`` of the smallest finite value of ``Z``, or None."""
    finite = np.isfinite(Z)
    if not finite.any():
        return None
    masked = np.where(finite, Z, np.inf)
    i, j = np.unravel_index(int(np.argmin(masked)), Z.shape)
    return float(x[j]), float(y[i]), float(Z[i, j])


def minimum_to_mark(
    x: np.ndarray, y: np.ndarray, Z: np.ndarray
) -> tuple[float, float, float] | None:
    """``(x, y, value)`` of the minimum a figure marks, or None when none is worth a marker.

    Only a minimum held by one point is marked: a value tied over several points (a
    flat surface, a plateau of 0 % error) has no one place, and the first tied point (a
    corner) would be a wrong one; where the centre is one of them, the centre's marker
    says so (:func:`mark_centre_and_min`).
    """
    position = argmin_position(x, y, Z)
    if position is None:
        return None
    value = position[2]
    tied = int(np.count_nonzero(Z == value))
    if tied > 1:
        return None
    return position


def centre_value(x: np.ndarray, y: np.ndarray, Z: np.ndarray) -> float | None:
    """The value at the centre (0, 0) when it is a grid point, else None."""
    at_x, at_y = np.flatnonzero(x == 0.0), np.flatnonzero(y == 0.0)
    if not (at_x.size and at_y.size):
        return None
    return float(Z[at_y[0], at_x[0]])


def mark_centre_and_min(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    Z: np.ndarray,
    *,
    min_label: bool = True,
) -> list[Artist]:
    """Mark the centre (0, 0) when it lies on the grid, and the finite minimum.

    The centre is drawn over the minimum, so both show when they coincide. The minimum
    is marked only where :func:`minimum_to_mark` says; when the centre holds it, tied
    with other points, the centre's label says so ("centre (0, 0) = minimum").

    Returns:
        The marker artists, labelled for a legend.
    """
    handles: list[Artist] = []
    position = minimum_to_mark(x, y, Z)
    if position is not None:
        mx, my, value = position
        label = f"minimum ({format_level(value)})" if min_label else "minimum"
        # not clipped: a minimum on the grid's edge shows whole, not half a star
        (minimum,) = ax.plot([mx], [my], linestyle="none", label=label, zorder=5, clip_on=False,
                             **MIN_STYLE)  # type: ignore[arg-type]
        handles.append(minimum)
    if x.min() <= 0 <= x.max() and y.min() <= 0 <= y.max():
        label = "centre (0, 0)"
        lowest = argmin_position(x, y, Z)
        at_centre = centre_value(x, y, Z)
        finite = Z[np.isfinite(Z)]
        flat = finite.size > 1 and bool(np.all(finite == finite[0]))
        if position is None and lowest is not None and at_centre == lowest[2] and not flat:
            label = "centre (0, 0) = minimum"
        (centre,) = ax.plot(
            [0.0],
            [0.0],
            linestyle="none",
            label=label,
            zorder=6,
            clip_on=False,
            **CENTRE_STYLE,  # type: ignore[arg-type]
        )
        handles.insert(0, centre)
    return handles


def check_surface(x: object, y: object, Z: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a 2D surface and return float64 arrays ``(x, y, Z)`` with ±inf as NaN.

    Raises:
        ValueError: when the shapes do not follow ``Z.shape == (len(y), len(x))``.
    """
    xs = np.asarray(x, dtype=np.float64).ravel()
    ys = np.asarray(y, dtype=np.float64).ravel()
    zs = np.array(Z, dtype=np.float64)
    if zs.ndim != 2 or zs.shape != (ys.size, xs.size):
        hint = ""
        if zs.ndim == 2 and zs.shape == (xs.size, ys.size):
            hint = " (it looks transposed: the reference allocates (nx, ny); pass Z.T)"
        raise ValueError(
            f"Z has shape {zs.shape}, expected (len(y), len(x)) = ({ys.size}, {xs.size}){hint}"
        )
    if xs.size < 2 or ys.size < 2:
        raise ValueError(
            f"a 2D surface needs at least 2 points along x and y, got {xs.size}×{ys.size}"
        )
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError("x and y coordinates must be finite")
    zs[~np.isfinite(zs)] = np.nan
    return xs, ys, zs


def cell_edges(coords: np.ndarray) -> np.ndarray:
    """Edges of the cells centred on ``coords`` (midpoints, extended half a cell outward)."""
    mids = (coords[:-1] + coords[1:]) / 2.0
    first = coords[0] - (mids[0] - coords[0])
    last = coords[-1] + (coords[-1] - mids[-1])
    return np.concatenate([[first], mids, [last]])
