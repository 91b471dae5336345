"""Terminal previews drawn with plotext: a banded heatmap of a surface, and 1D curves.

plotext keeps its figure in module globals, so every build here holds one lock; the
functions are safe to call from several threads. Each returns the rendered text (ANSI
colours unless ``color=False``, which gives plain text for ``NO_COLOR``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping

import numpy as np
import plotext
from numpy.typing import ArrayLike

from lstui.plots import _style as st
from lstui.plots.levels import (
    bad_note,
    blank_pending,
    contour_levels,
    count_bad,
    count_bad_points,
    finite_values,
    quantise,
)
from lstui.plots.palette import band_chars, band_colours

_PLOTEXT_LOCK = threading.Lock()
_ANSI = re.compile(r"\x1b\[[0-9;]*m")

TERMINAL_NUM_LEVELS = 9
BLOCK = "█"
CENTRE_MARK = "+"
MIN_MARK = "*"
PATH_MARK = "•"
_MARK_COLOUR = (255, 40, 40)
_PATH_COLOUR = (255, 255, 255)
_PATH_STEPS = 8
"""Marks drawn between two points of a trajectory, so the path reads as a line."""
_MIN_PLOT_HEIGHT = 6

_CURVE_STYLE = {
    # name: (label, colour, plain marker)
    "train_loss": ("train loss", (31, 119, 180), "*"),
    "test_loss": ("test loss", (23, 190, 207), "o"),
    "train_acc": ("train acc %", (214, 39, 40), "+"),
    "test_acc": ("test acc %", (255, 127, 14), "x"),
}


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences."""
    return _ANSI.sub("", text)


def _paint(text: str, rgb: tuple[int, int, int]) -> str:
    return f"\x1b[38;2;{rgb[0]};{rgb[1]};{rgb[2]}m{text}\x1b[0m"


def _wrap(tokens: list[tuple[str, str]], width: int, sep: str = " ") -> list[str]:
    """Greedy word wrap of (shown text, visible text) tokens into lines of ``width``."""
    lines: list[str] = []
    shown, visible = "", 0
    for token, plain in tokens:
        extra = len(plain) + (len(sep) if visible else 0)
        if visible and visible + extra > width:
            lines.append(shown)
            shown, visible = "", 0
            extra = len(plain)
        shown += (sep if visible else "") + token
        visible += extra
    if visible:
        lines.append(shown)
    return lines


def _canvas_size(
    width: int, height: int, xlim: tuple[float, float], ylim: tuple[float, float], title: str | None
) -> tuple[int, int]:
    """The plot area plotext leaves inside its frame for these limits (columns, rows)."""
    plotext.clear_figure()
    plotext.plot_size(width, height)
    plotext.theme("clear")
    plotext.scatter([xlim[0]], [ylim[0]], marker=" ")
    plotext.xlim(*xlim)
    plotext.ylim(*ylim)
    if title:
        plotext.title(title)
    lines = strip_ansi(plotext.build()).splitlines()
    top = next(k for k, line in enumerate(lines) if "┌" in line)
    bottom = next(k for k, line in enumerate(lines) if "└" in line)
    frame = lines[top]
    cols = frame.index("┐") - frame.index("┌") - 1
    return cols, bottom - top - 1


def terminal_heatmap(
    x: ArrayLike,
    y: ArrayLike,
    Z: ArrayLike,
    *,
    width: int = 80,
    height: int = 24,
    levels: ArrayLike | None = None,
    log: bool | None = None,
    title: str | None = None,
    color: bool = True,
    path: tuple[ArrayLike, ArrayLike] | None = None,
    pending: ArrayLike | None = None,
    eight_bit: bool = False,
) -> str:
    """A surface as a heatmap of contour bands, ``height`` lines of at most ``width`` columns.

    Values are quantised into the bands between ``levels`` (default: about 9 automatic
    levels, log-spaced by the same rule as the figures); each band has one viridis colour
    (or, with ``color=False``, one character of :data:`~lstui.plots.palette.PLAIN_RAMP`, low to high). NaN/inf
    points stay blank. ``+`` marks the centre (0, 0) and ``*`` the minimum. Below the plot
    a legend reads like a colorbar: ``█ 0.01 █ 0.02 █`` (the band between two numbers
    holds the values between them), then the markers and the count of blank points.
    ``path`` (a trajectory's ``(xs, ys)``) is drawn over the bands with ``•``.
    ``pending`` (a boolean mask of ``Z``'s shape) names the points not computed yet, so
    the last line counts them apart from the NaN/inf ones. ``eight_bit``: for a terminal
    of 256 colours, one palette colour a band (:func:`~lstui.plots.palette.distinct_in_256`).

    A grid finer than the plot shows each computed point in the character it falls in,
    so a partial surface (computed coarse points first) shows every point it has.
    """
    xs, ys, zs = st.check_surface(x, y, Z)
    zs, n_pending = blank_pending(zs, pending)
    if levels is not None:
        chosen = np.unique(finite_values(levels))
    else:
        chosen = contour_levels(zs, log=log, num=TERMINAL_NUM_LEVELS)
    bands = quantise(zs, chosen)
    n_bands = chosen.size + 1
    colours = band_colours(n_bands, eight_bit=eight_bit)  # 256 colours: one palette colour a band
    chars = band_chars(n_bands)

    def swatch(k: int) -> tuple[str, str]:
        if color:
            return _paint(BLOCK, colours[k]), BLOCK
        return chars[k], chars[k]

    tokens: list[tuple[str, str]] = []
    if chosen.size:
        tokens.append(swatch(0))
        digits = st.level_digits(chosen)
        for k, level in enumerate(chosen, start=1):
            label = st.format_level(float(level), digits)
            tokens.append((f"{label} {swatch(k)[0]}", f"{label} {swatch(k)[1]}"))
    finite = np.isfinite(zs)
    position = st.argmin_position(xs, ys, zs)
    # a minimum at the centre (a trained minimizer's usual picture) hides its +
    at_centre = position is not None and position[0] == 0 and position[1] == 0
    centre_in = bool(xs.min() <= 0 <= xs.max() and ys.min() <= 0 <= ys.max())
    path_x, path_y = _path_points(path)
    note = bad_note(count_bad(zs), zs.size, n_pending)

    def footer_of(over_centre: bool) -> list[str]:
        """The legend's lines; ``over_centre``: the minimum's * is drawn in the centre's
        character, off (0, 0), and the legend named a + that is not there."""
        markers: list[str] = []
        if centre_in and not at_centre and not over_centre:
            markers.append(f"{CENTRE_MARK} centre")
        if position is not None:
            where = "the centre (0, 0)" if at_centre else f"({position[0]:.3g}, {position[1]:.3g})"
            markers.append(f"{MIN_MARK} min {st.format_level(position[2])} at {where}"
                           + (", over the centre" if over_centre else ""))
        if path_x.size:
            markers.append(f"{PATH_MARK} trajectory")
        if note is not None:
            markers.append(note.replace("not shown", "blank"))
        return _wrap(tokens, width) + _wrap([(m, m) for m in markers], width, sep="  ")

    footer = footer_of(False)
    plot_height = max(_MIN_PLOT_HEIGHT, height - len(footer))

    xlim = (float(xs.min()), float(xs.max()))
    ylim = (float(ys.min()), float(ys.max()))

    def cell(px: float, py: float, cols: int, rows: int) -> tuple[int, int]:
        """The character (column, row) plotext draws the point ``(px, py)`` in."""
        return (round((px - xlim[0]) / ((xlim[1] - xlim[0]) or 1.0) * (cols - 1)),
                round((py - ylim[0]) / ((ylim[1] - ylim[0]) or 1.0) * (rows - 1)))

    with _PLOTEXT_LOCK:
        cols, rows = _canvas_size(width, plot_height, xlim, ylim, title)
        draw_centre = centre_in and not at_centre
        if (draw_centre and position is not None and cols > 0 and rows > 0
                and cell(position[0], position[1], cols, rows) == cell(0.0, 0.0, cols, rows)):
            draw_centre = False
            footer = footer_of(True)
            if max(_MIN_PLOT_HEIGHT, height - len(footer)) != plot_height:
                plot_height = max(_MIN_PLOT_HEIGHT, height - len(footer))
                cols, rows = _canvas_size(width, plot_height, xlim, ylim, title)
        plotext.clear_figure()
        plotext.plot_size(width, plot_height)
        plotext.theme("clear")
        if cols > 0 and rows > 0 and finite.any():
            sample_x = np.linspace(xlim[0], xlim[1], cols)
            sample_y = np.linspace(ylim[0], ylim[1], rows)
            col_index = np.clip(np.searchsorted(st.cell_edges(xs), sample_x) - 1, 0, xs.size - 1)
            row_index = np.clip(np.searchsorted(st.cell_edges(ys), sample_y) - 1, 0, ys.size - 1)
            sampled = bands[np.ix_(row_index, col_index)]
            # Sampling alone skips grid rows and columns between two characters; a
            # computed point there still colours the blank character it falls in.
            at_row = np.rint((ys - ylim[0]) / ((ylim[1] - ylim[0]) or 1.0) * (rows - 1)).astype(int)
            at_col = np.rint((xs - xlim[0]) / ((xlim[1] - xlim[0]) or 1.0) * (cols - 1)).astype(int)
            ii, jj = np.nonzero(bands >= 0)
            r, c = at_row[ii], at_col[jj]
            blank = sampled[r, c] < 0
            sampled[r[blank], c[blank]] = bands[ii[blank], jj[blank]]
            grid_x, grid_y = np.meshgrid(sample_x, sample_y)
            for k in range(n_bands):
                where = sampled == k
                if not where.any():
                    continue
                px, py = grid_x[where].tolist(), grid_y[where].tolist()
                if color:
                    plotext.scatter(px, py, marker=BLOCK, color=colours[k])
                else:
                    plotext.scatter(px, py, marker=chars[k])
        if path_x.size:
            plotext.scatter(path_x.tolist(), path_y.tolist(), marker=PATH_MARK,
                            color=_PATH_COLOUR if color else None)
        mark_colour = _MARK_COLOUR if color else None
        if draw_centre:
            plotext.scatter([0.0], [0.0], marker=CENTRE_MARK, color=mark_colour)
        if position is not None:
            plotext.scatter([position[0]], [position[1]], marker=MIN_MARK, color=mark_colour)
        plotext.xlim(*xlim)
        plotext.ylim(*ylim)
        if title:
            plotext.title(title)
        text = plotext.build()
        plotext.clear_figure()
    lines = text.rstrip("\n").split("\n") + footer
    result = "\n".join(lines)
    return result if color else strip_ansi(result)


def _path_points(path: tuple[ArrayLike, ArrayLike] | None) -> tuple[np.ndarray, np.ndarray]:
    """A path's finite points and :data:`_PATH_STEPS` points between each pair."""
    if path is None:
        return np.empty(0), np.empty(0)
    xs, ys = (np.asarray(a, dtype=np.float64).ravel() for a in path)
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    if xs.size < 2:
        return xs, ys
    t = np.arange(_PATH_STEPS) / _PATH_STEPS
    fill_x = (xs[:-1, None] + t * np.diff(xs)[:, None]).ravel()
    fill_y = (ys[:-1, None] + t * np.diff(ys)[:, None]).ravel()
    return np.append(fill_x, xs[-1]), np.append(fill_y, ys[-1])


def _segments(x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The runs of finite points (a NaN/inf point breaks the line)."""
    finite = np.isfinite(y) & np.isfinite(x)
    runs: list[tuple[np.ndarray, np.ndarray]] = []
    start = None
    for k, ok in enumerate(list(finite) + [False]):
        if ok and start is None:
            start = k
        elif not ok and start is not None:
            runs.append((x[start:k], y[start:k]))
            start = None
    return runs


def terminal_lines(
    x: ArrayLike,
    curves: Mapping[str, ArrayLike],
    *,
    width: int = 80,
    height: int = 24,
    title: str | None = None,
    color: bool = True,
    log: bool = False,
    pending: ArrayLike | None = None,
    loss_label: str = "loss",
) -> str:
    """1D loss (left axis) and accuracy (right axis) curves, ``height`` lines.

    ``curves`` holds any of ``train_loss``, ``test_loss``, ``train_acc``, ``test_acc``.
    NaN/inf points break the lines and are counted on the last line. With
    ``color=False`` each curve has its own marker (``* o + x``) instead of a colour.
    ``pending`` (a boolean mask of ``x``'s shape) names the points not computed yet.
    ``loss_label``: what the losses are called in the legend ("MSE loss" for ``--loss mse``).
    """
    xs = np.asarray(x, dtype=np.float64).ravel()
    unknown = sorted(set(curves) - set(_CURVE_STYLE))
    if unknown:
        raise ValueError(f"unknown curve(s) {unknown}; expected some of {list(_CURVE_STYLE)}")
    data = {}
    for name in _CURVE_STYLE:
        if name in curves:
            values = np.asarray(curves[name], dtype=np.float64).ravel()
            if values.size != xs.size:
                raise ValueError(f"{name} has {values.size} values for {xs.size} x coordinates")
            data[name] = values
    n_pending = 0
    for name, values in data.items():
        data[name], n_pending = blank_pending(values, pending)
    note = bad_note(count_bad_points(data.values()), xs.size, n_pending)
    footer = [note.replace("not shown", "gaps")] if note else []
    has_loss = any(n.endswith("loss") for n in data)

    with _PLOTEXT_LOCK:
        plotext.clear_figure()
        plotext.plot_size(width, max(_MIN_PLOT_HEIGHT, height - len(footer)))
        plotext.theme("clear")
        for name, values in data.items():
            label, rgb, plain_marker = _CURVE_STYLE[name]
            label = label.replace("loss", loss_label)
            side = "right" if (name.endswith("acc") and has_loss) else "left"
            for k, (sx, sy) in enumerate(_segments(xs, values)):
                plotext.plot(
                    sx.tolist(),
                    sy.tolist(),
                    marker="braille" if color else plain_marker,
                    color=rgb if color else None,
                    yside=side,
                    label=label if k == 0 else None,
                )
        if log and has_loss:
            plotext.yscale("log", yside="left")
        if xs.size:
            plotext.xlim(float(np.nanmin(xs)), float(np.nanmax(xs)))
        if title:
            plotext.title(title)
        text = plotext.build()
        plotext.clear_figure()
    result = "\n".join(text.rstrip("\n").split("\n") + footer)
    return result if color else strip_ansi(result)
