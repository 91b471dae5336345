"""A surface drawn with half-block cells: two pixels per terminal cell, in contour bands.

Pure drawing: numpy arrays in, lines of rich :class:`~rich.segment.Segment` out. A
terminal cell is about twice as tall as wide, so ``▀`` with the top pixel's colour as
foreground and the bottom pixel's as background gives square pixels. Values are
quantised into the bands between contour levels (:func:`lstui.plots.levels.quantise`)
and coloured with viridis, the figures' colour map. Points not computed yet are blank;
computed points whose value is NaN or infinite (a diverged network) are grey, ``x``
without colours.

Rows go from the largest ``y`` at the top to the smallest at the bottom, as in a figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.ma  # noqa: F401  (np.percentile imports it on first use: 20 ms of the event loop)
from rich.color import Color
from rich.segment import Segment
from rich.style import Style

from lstui.errors import BadInput
from lstui.plots.levels import contour_levels, quantise
from lstui.plots.palette import RGB, band_chars, band_colours

CENTRE_MARK = "+"
MIN_MARK = "*"
"""Marks the smallest value computed (the largest, for an accuracy)."""
PATH_MARK = "•"
CENTRE_STYLE = Style(color=Color.from_rgb(255, 255, 255), bold=True)
MIN_STYLE = Style(color=Color.from_rgb(255, 50, 50), bold=True)
PATH_STYLE = Style(color=Color.from_rgb(255, 255, 255))
PLAIN_MARK_STYLE = Style(bold=True, reverse=True)
NOT_FINITE: RGB = (150, 150, 150)
"""The colour of pixels whose computed points are all NaN or infinite (no viridis grey)."""
NOT_FINITE_CHAR = "x"
NOT_FINITE_BAND = -2
"""The band of such pixels in a band array (``-1``: nothing computed there yet)."""
NOT_FINITE_LABEL = "NaN/inf"


def surface_levels(Z: np.ndarray, *, log: bool, num: int, highest: bool = False) -> tuple[np.ndarray, bool]:
    """Contour levels for the preview, and whether they are log-spaced.

    A log scale that the data cannot have (no positive value) falls back to linear.
    ``highest``: ``Z`` is best where it is high (an accuracy). Its levels are linear and
    mirror a loss's: from a robust low (see :func:`~lstui.plots.levels.robust_range`)
    up to the largest value, so that the bands resolve the top, where the basin is,
    instead of folding it into one ``≥`` band.
    """
    if highest:
        return 0.0 - contour_levels(-Z, log=False, num=num)[::-1], False  # 0.0 -: no "-0" level
    try:
        return contour_levels(Z, log=log, num=num), log
    except BadInput:
        return contour_levels(Z, log=False, num=num), False


def merged_levels(levels: np.ndarray, max_bands: int, *, highest: bool = False) -> np.ndarray:
    """The levels of at most ``max_bands`` bands: ``levels`` when they make no more, else
    ``max_bands - 1`` of them (neighbouring bands merge), the lowest and the highest
    among them and the others spread as evenly between as the levels allow.

    The ``≥`` and ``<`` bands stay those of all the levels. With room for one level only,
    it is the lowest (the highest with ``highest``, an accuracy's): the basin's edge. A
    map and its colour bar (:func:`legend_lines`) drawn with the result name every colour
    the map uses, one row a band.
    """
    levels = np.asarray(levels, dtype=np.float64)
    most = max(0, max_bands - 1)
    if len(levels) <= most:
        return levels
    if most <= 1:
        return levels[len(levels) - most:] if highest else levels[:most]
    return levels[np.unique(np.round(np.linspace(0, len(levels) - 1, most)).astype(int))]


def fit(x_span: float, y_span: float, cols: int, rows: int) -> tuple[int, int]:
    """The largest ``(width, pixel height)`` with the data's aspect ratio in ``cols × rows`` cells.

    Pixels are square: one column wide and half a row high.
    """
    px_rows = 2 * rows
    if cols <= 0 or rows <= 0:
        return 0, 0
    aspect = x_span / y_span if y_span > 0 and x_span > 0 else 1.0
    # a span of 1e-320 beside one of 2 made it infinite (and the app end on an OverflowError)
    aspect = min(max(aspect, 1e-6), 1e6) if math.isfinite(aspect) else 1.0
    width = min(cols, max(1, int(round(px_rows * aspect))))
    height = min(px_rows, max(1, int(round(width / aspect))))
    return width, height


def resample(Z: np.ndarray, height: int, width: int) -> np.ndarray:
    """``Z`` (ny, nx) as a (height, width) picture: the mean of the finite points each
    pixel covers (NaN where none is), with the last row of ``Z`` (largest y) on top."""
    ny, nx = Z.shape
    flipped = Z[::-1]
    finite = np.isfinite(flipped)
    values = np.where(finite, flipped, 0.0)
    sums = _pixel_sums(values, height, width)
    counts = _pixel_sums(finite.astype(np.int32), height, width)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def resample_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Which pixels of a (height, width) picture of ``mask`` (ny, nx) cover a True cell
    (the same pixels :func:`resample` draws, largest y on top)."""
    return _pixel_sums(mask[::-1].astype(np.int32), height, width) > 0


def _pixel_sums(values: np.ndarray, height: int, width: int) -> np.ndarray:
    ny, nx = values.shape
    rows = (np.arange(height) * ny) // height
    cols = (np.arange(width) * nx) // width
    return np.add.reduceat(np.add.reduceat(values, rows, axis=0), cols, axis=1)


@dataclass(frozen=True)
class Mark:
    """A character drawn over the map at data coordinates ``(x, y)``."""

    x: float
    y: float
    char: str
    style: Style


def extreme_mark(x: np.ndarray, y: np.ndarray, Z: np.ndarray, *,
                 highest: bool = False) -> tuple[float, float, float] | None:
    """``(x, y, value)`` of the smallest computed value of ``Z`` (the largest with
    ``highest``), or None."""
    if not np.isfinite(Z).any():
        return None
    finite = np.where(np.isfinite(Z), Z, np.nan)
    flat = int(np.nanargmax(finite) if highest else np.nanargmin(finite))
    i, j = divmod(flat, Z.shape[1])
    return float(x[j]), float(y[i]), float(Z[i, j])


def path_marks(xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray, steps: int = 8) -> list[Mark]:
    """Marks along a path: its points and ``steps`` points between each pair."""
    out: list[Mark] = []
    pts = list(zip(xs, ys, strict=True))
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        for t in np.linspace(0.0, 1.0, steps, endpoint=False):
            out.append(Mark(x0 + t * (x1 - x0), y0 + t * (y1 - y0), PATH_MARK, PATH_STYLE))
    if pts:
        out.append(Mark(pts[-1][0], pts[-1][1], PATH_MARK, PATH_STYLE))
    return out


class HeatmapPainter:
    """Turns a resampled picture into lines of segments, caching one style per colour pair."""

    def __init__(self, colours: Sequence[RGB], *, plain: bool = False) -> None:
        # one more "band" past the last: NaN/inf pixels (NOT_FINITE_BAND in band arrays)
        self.colours = [Color.from_rgb(*c) for c in (*colours, NOT_FINITE)]
        self.chars = [*band_chars(len(colours)), NOT_FINITE_CHAR]
        self.plain = plain
        self._styles: dict[tuple[int, int], tuple[str, Style | None]] = {}

    def cell(self, top: int, bottom: int) -> tuple[str, Style | None]:
        key = (top, bottom)
        found = self._styles.get(key)
        if found is not None:
            return found
        c = self.colours
        if self.plain:
            band = top if top >= 0 else bottom
            out: tuple[str, Style | None] = (" ", None) if band < 0 else (self.chars[band], None)
        elif top < 0 and bottom < 0:
            out = (" ", None)
        elif bottom < 0:
            out = ("▀", Style(color=c[top]))
        elif top < 0:
            out = ("▄", Style(color=c[bottom]))
        else:
            out = ("▀", Style(color=c[top], bgcolor=c[bottom]))
        self._styles[key] = out
        return out

    def paint(
        self,
        bands: np.ndarray,
        marks: dict[tuple[int, int], tuple[str, Style]] | None = None,
    ) -> list[list[Segment]]:
        """Lines of segments from a (pixel rows, width) band array (``-1`` blank).

        ``marks`` maps ``(cell row, column)`` to a character and a style drawn there,
        over the background colour of the cell's lower pixel.
        """
        px_rows, width = bands.shape
        marks = marks or {}
        bands = np.where(bands == NOT_FINITE_BAND, len(self.colours) - 1, bands)
        lines: list[list[Segment]] = []
        for row in range((px_rows + 1) // 2):
            top = bands[2 * row]
            bottom = bands[2 * row + 1] if 2 * row + 1 < px_rows else np.full(width, -1)
            segments: list[Segment] = []
            run_text = ""
            run_style: Style | None = None
            for col in range(width):
                mark = marks.get((row, col))
                if mark is not None:
                    char, style = mark
                    under = int(bottom[col]) if bottom[col] >= 0 else int(top[col])
                    if under >= 0 and not self.plain:
                        style = style + Style(bgcolor=self.colours[under])
                else:
                    char, style_or_none = self.cell(int(top[col]), int(bottom[col]))
                    style = style_or_none  # type: ignore[assignment]
                if style is run_style or style == run_style:
                    run_text += char
                else:
                    if run_text:
                        segments.append(Segment(run_text, run_style))
                    run_text, run_style = char, style
            if run_text:
                segments.append(Segment(run_text, run_style))
            lines.append(segments)
        return lines


@dataclass(frozen=True)
class Picture:
    """A drawn surface: lines of ``width`` cells, its levels and colours."""

    lines: list[list[Segment]]
    width: int
    levels: np.ndarray
    colours: list[RGB]
    log: bool
    extreme: tuple[float, float, float] | None
    """``(x, y, value)`` of the point :data:`MIN_MARK` marks (see :func:`extreme_mark`)."""
    centre_hidden: bool = False
    """The extreme, off (0, 0), is drawn in the centre's cell: no :data:`CENTRE_MARK` shows."""


def draw_surface(
    x: np.ndarray,
    y: np.ndarray,
    Z: np.ndarray,
    cols: int,
    rows: int,
    *,
    levels: np.ndarray,
    log: bool = False,
    path: tuple[np.ndarray, np.ndarray] | None = None,
    plain: bool = False,
    not_finite: np.ndarray | None = None,
    highest: bool = False,
    eight_bit: bool = False,
) -> Picture:
    """Draw ``Z`` (ny, nx) in at most ``cols × rows`` cells, keeping its aspect ratio.

    Args:
        x, y: the coordinates of ``Z``'s columns and rows.
        levels: contour levels (see :func:`surface_levels`); bands lie between them.
        path: a trajectory's ``(xs, ys)`` to draw over the map.
        plain: one band character per cell instead of colours (NO_COLOR).
        not_finite: (ny, nx), True where a point is computed but NaN or infinite;
            a pixel with no finite point and one of these is drawn as such, not blank.
        highest: mark the largest value (an accuracy), not the smallest.
        eight_bit: colours a 256-colour terminal tells apart (see :func:`band_colours`).
    """
    x_lo, x_hi = float(x[0]), float(x[-1])
    y_lo, y_hi = float(y[0]), float(y[-1])
    n_bands = len(levels) + 1
    colours = band_colours(n_bands, eight_bit=eight_bit)
    width, px_rows = fit(x_hi - x_lo, y_hi - y_lo, cols, rows)
    extreme = extreme_mark(x, y, Z, highest=highest)
    if width == 0 or px_rows == 0:
        return Picture([], 0, levels, colours, log, extreme)
    if plain:
        px_rows = 2 * ((px_rows + 1) // 2)
    picture = resample(Z, px_rows, width)
    bands = quantise(picture, levels) if len(levels) else np.where(np.isfinite(picture), 0, -1)
    if not_finite is not None and not_finite.any():
        bands = np.where((bands < 0) & resample_mask(not_finite, px_rows, width), NOT_FINITE_BAND, bands)

    ny, nx = Z.shape

    def cell_of(mx: float, my: float) -> tuple[int, int] | None:
        """The cell of data point (mx, my), on the pixels that draw its grid point."""
        if not (x_lo <= mx <= x_hi and y_lo <= my <= y_hi):
            return None
        fx = (mx - x_lo) / (x_hi - x_lo) * (nx - 1) if x_hi > x_lo else 0.0
        fy = (y_hi - my) / (y_hi - y_lo) * (ny - 1) if y_hi > y_lo else 0.0
        col = min(width - 1, int((fx + 0.5) * width / nx))
        prow = min(px_rows - 1, int((fy + 0.5) * px_rows / ny))
        return prow // 2, col

    marks: dict[tuple[int, int], tuple[str, Style]] = {}
    all_marks: list[Mark] = []
    if path is not None:
        all_marks += path_marks(path[0], path[1])
    all_marks.append(Mark(0.0, 0.0, CENTRE_MARK, CENTRE_STYLE))
    if extreme is not None:
        all_marks.append(Mark(extreme[0], extreme[1], MIN_MARK, MIN_STYLE))
    for m in all_marks:
        where = cell_of(m.x, m.y)
        if where is not None:
            marks[where] = (m.char, PLAIN_MARK_STYLE if plain else m.style)
    centre = cell_of(0.0, 0.0)
    hidden = (extreme is not None and (extreme[0], extreme[1]) != (0.0, 0.0) and centre is not None
              and cell_of(extreme[0], extreme[1]) == centre)
    painter = HeatmapPainter(colours, plain=plain)
    return Picture(painter.paint(bands, marks), width, levels, colours, log, extreme, hidden)


def level_formatter(levels: np.ndarray) -> Callable[[float], str]:
    """A format that tells neighbouring levels apart: as many decimals as their spacing
    needs (``2.295``, ``2.300``), or three significant digits for log-spaced ones, written
    as the axes' ticks and the figures write them (``1.23e6``, not ``1.23e+06``)."""
    from lstui.plots.levels import format_level

    finite = levels[np.isfinite(levels)]
    if finite.size < 2:
        return format_level
    steps = np.diff(finite)
    if np.any(steps <= 0) or finite.min() <= 0 or finite.max() / finite.min() < 50:
        step = float(steps.min()) if steps.size and steps.min() > 0 else 1.0
        big = float(np.abs(finite).max())
        if 1e-3 <= big < 1e6:
            decimals = max(0, min(6, math.ceil(-math.log10(step) + 1e-9)))
            return lambda v: f"{v:.{decimals}f}"
    return format_level


def legend_lines(levels: np.ndarray, colours: Sequence[RGB], rows: int, *, plain: bool = False,
                 not_finite: bool = False, eight_bit: bool = False) -> list[list[Segment]]:
    """A colour bar: one line per band, highest first, labelled with its lower edge,
    and with ``not_finite`` a last line for NaN/inf pixels.

    Every band has its line: levels that make more bands than there are rows for
    (``rows``, less one with ``not_finite``) are merged first, as :func:`merged_levels`
    merges them, in the :func:`band_colours` of the merged bands. Draw the map with
    those merged levels too, or it uses colours that no line names.
    """
    if rows <= 0:
        return []
    if not_finite:
        extra = Segment(NOT_FINITE_CHAR * 2) if plain else Segment("██", Style(color=Color.from_rgb(*NOT_FINITE)))
        bar = legend_lines(levels, colours, max(1, rows - 1), plain=plain, eight_bit=eight_bit) if rows > 1 else []
        return [*bar, [extra, Segment(" " + NOT_FINITE_LABEL)]]
    if len(levels) + 1 > rows:
        levels = merged_levels(levels, rows)
        colours = band_colours(len(levels) + 1, eight_bit=eight_bit)
    n = len(levels) + 1
    chars = band_chars(n)
    format_level = level_formatter(np.asarray(levels, dtype=np.float64))
    entries: list[tuple[int, str]] = []
    for band in range(n - 1, -1, -1):
        if band == n - 1 and n > 1:
            label = f"≥{format_level(levels[-1])}"
        elif band == 0:
            label = f"<{format_level(levels[0])}" if len(levels) else "all"
        else:
            label = f" {format_level(levels[band - 1])}"
        entries.append((band, label))
    lines = []
    for band, label in entries:
        if plain:
            swatch = Segment(chars[band] * 2)
        else:
            swatch = Segment("██", Style(color=Color.from_rgb(*colours[band])))
        lines.append([swatch, Segment(" " + label)])
    return lines
