"""1D figures: loss and accuracy along one direction, and several curves compared.

NaN and ±inf values break a line (a gap) and are counted in the legend under the axes;
points not computed (``pending``) are counted apart from diverged ones. In :func:`plot_1d`
the x-range of a diverged point is shaded in the light grey of the 2D figures' gaps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from numpy.typing import ArrayLike

from lstui.landscape.grid import axis_anchor
from lstui.plots import _style as st
from lstui.plots.levels import (
    blank_pending,
    count_bad,
    count_bad_points,
    finite_values,
    lattice,
    wants_log,
)

CURVE_NAMES = ("train_loss", "test_loss", "train_acc", "test_acc")
_LABELS = {
    "train_loss": "train loss",
    "test_loss": "test loss",
    "train_acc": "train accuracy",
    "test_acc": "test accuracy",
}
_LINESTYLES = ("-", "--", "-.", ":")
ACC_MARGIN = 2.0
"""The accuracy axis runs from −2 to 102 %, so a curve at 100 % is not drawn on the frame."""
FEW_POINTS = 15
"""A curve of at most this many points drawn marks each (a 2-point grid was a plain line)."""


def _curve(x: np.ndarray, values: ArrayLike, name: str) -> np.ndarray:
    ys = np.array(values, dtype=np.float64).ravel()
    if ys.size != x.size:
        raise ValueError(f"{name} has {ys.size} values for {x.size} x coordinates")
    ys[~np.isfinite(ys)] = np.nan
    return ys


def plot_1d(
    x: ArrayLike,
    curves: Mapping[str, ArrayLike],
    *,
    log: bool | None = None,
    title: str | None = None,
    interpolation: bool = False,
    names: tuple[str, str] = ("A", "B"),
    xlabel: str | None = None,
    loss_max: float | None = None,
    pending: ArrayLike | None = None,
    loss_label: str = "loss",
) -> Figure:
    """Loss (left axis) and accuracy in percent (right axis) along one direction.

    Train curves are solid, test curves dashed; one legend below the axes holds all.

    Args:
        x: the coordinates (α).
        curves: any of ``train_loss``, ``test_loss``, ``train_acc``, ``test_acc``.
        log: a log-scale loss axis (non-positive losses are not drawn); None: log when
            every finite loss is positive and they span two decades or more, their
            largest included (:func:`~lstui.plots.levels.wants_log` with ``robust=False``:
            2D figures leave out their top 5 %, a curve's axis draws every value).
        interpolation: the paper's interpolation figure, θ(α) = (1 − α)·θ_A + α·θ_B:
            α = 0 and α = 1 are marked by dotted lines and named on the top axis.
        names: the names of the models at α = 0 and α = 1 (``interpolation`` only).
        xlabel: the x-axis label (default "α").
        loss_max: the top of the loss axis (the reference's ``--loss_max``); default auto.
        pending: a boolean mask of ``x``'s shape, True where a point is not computed;
            a job stopped early (points computed coarse first) is drawn on a
            lattice of them (:func:`~lstui.plots.levels.lattice`), where its lines join.
        loss_label: the loss axis's label ("MSE loss" for a surface of ``--loss mse``).
    """
    xs = np.asarray(x, dtype=np.float64).ravel()
    unknown = sorted(set(curves) - set(CURVE_NAMES))
    if unknown:
        raise ValueError(f"unknown curve(s) {unknown}; expected some of {list(CURVE_NAMES)}")
    if not curves:
        raise ValueError("plot_1d needs at least one curve")
    data = {name: _curve(xs, curves[name], name) for name in CURVE_NAMES if name in curves}
    n_pending = 0
    for name, values in data.items():
        data[name], n_pending = blank_pending(values, pending)
    index = lattice(pending, (axis_anchor(xs),)) if n_pending else None
    drawn = index[0] if index is not None else np.arange(xs.size)
    n_bad = count_bad_points(data.values())

    fig = st.new_figure(st.FIGSIZE_1D)
    ax_loss = fig.add_subplot()
    losses = [n for n in data if n.endswith("_loss")]
    accs = [n for n in data if n.endswith("_acc")]
    ax_acc = ax_loss.twinx() if (losses and accs) else ax_loss
    computed = ~np.asarray(pending, dtype=bool).ravel() if n_pending else np.ones(xs.size, bool)
    diverged = _shade_diverged(ax_loss, xs, data.values(), computed)

    handles: list[Line2D] = []
    for keys, ax, colour in ((losses, ax_loss, st.LOSS_COLOUR), (accs, ax_acc, st.ACC_COLOUR)):
        for name in keys:
            style = "-" if name.startswith("train") else "--"
            x_drawn, y_drawn = xs[drawn], data[name][drawn]
            # a curve of few points shows them: its straight segments are not measured values
            marker = "." if x_drawn.size <= FEW_POINTS else None
            label = _LABELS[name].replace("loss", loss_label) if name.endswith("_loss") else _LABELS[name]
            (line,) = ax.plot(x_drawn, y_drawn, style, color=colour, linewidth=1.4, label=label,
                              marker=marker, markersize=6)
            handles.append(line)
            alone = _isolated(y_drawn)
            if alone.any():  # a line needs two points: a finite one between gaps was not drawn
                ax.plot(x_drawn[alone], y_drawn[alone], "o", color=colour, markersize=3)

    if losses:
        every_loss = finite_values(np.concatenate([data[name] for name in losses]))
        if log is None:
            log = wants_log(np.concatenate([data[name] for name in losses]), robust=False)
        elif log and not (every_loss > 0).any():  # no value a log axis can show (all 0): linear
            log = False
        if log:
            if loss_max is not None:  # capped first: its ticks are labelled for the range shown
                ax_loss.set_yscale("log")
                ax_loss.set_ylim(top=loss_max)
            _log_axis(ax_loss)
        else:  # from 0, as the reference's plot_1D.py draws it, with --loss-max too
            ax_loss.set_ylim(bottom=0)
            highest = finite_values(np.concatenate([data[name] for name in losses]))
            if loss_max is None and accs and highest.size and highest.max() > 0:
                # the loss peaks at 4/5 of the height, under the accuracies (near 100 % at
                # a good minimizer), not among them at the top
                ax_loss.set_ylim(top=1.25 * float(highest.max()))
        if loss_max is not None:
            ax_loss.set_ylim(top=loss_max)
        elif not every_loss.size:  # no loss to read: no made-up scale (0 to 0.05) beside the note
            ax_loss.set_yticks([])
        colour = st.LOSS_COLOUR if accs else "black"
        ax_loss.set_ylabel(loss_label, color=colour, fontsize=st.LABEL_SIZE)
        ax_loss.tick_params(axis="y", which="both", colors=colour, labelsize=st.TICK_SIZE)
    if accs:
        ax_acc.set_ylim(-ACC_MARGIN, 100 + ACC_MARGIN)
        ax_acc.set_yticks(np.arange(0, 101, 20))
        colour = st.ACC_COLOUR if losses else "black"
        ax_acc.set_ylabel("accuracy (%)", color=colour, fontsize=st.LABEL_SIZE)
        ax_acc.tick_params(axis="y", colors=colour, labelsize=st.TICK_SIZE)
    st.style_axes(ax_loss, xlabel or "α", None, locate="x")
    if xs.size:
        ax_loss.set_xlim(float(xs.min()), float(xs.max()))

    if interpolation:
        _mark_endpoints(ax_loss, xs, names)
    st.figure_title(fig, title)
    st.legend_below(fig, handles, n_bad, xs.size, n_pending=n_pending, partial=index is not None,
                    gap_patch=diverged)
    return fig


def _isolated(values: np.ndarray) -> np.ndarray:
    """Where ``values`` is finite with no finite neighbour: a point a line leaves out."""
    finite = np.isfinite(values)
    left = np.concatenate([[False], finite[:-1]])
    right = np.concatenate([finite[1:], [False]])
    return finite & ~left & ~right


def _shade_diverged(
    ax: Axes, xs: np.ndarray, curves: Iterable[np.ndarray], computed: np.ndarray
) -> bool:
    """Shade the x-range of every computed point with a NaN/inf value on some curve (from
    the midpoints with its neighbours), so a diverged region is seen, not just a gap in
    the lines. Returns whether any was shaded."""
    bad = np.zeros(xs.size, dtype=bool)
    for values in curves:
        bad |= ~np.isfinite(values)
    bad &= computed & np.isfinite(xs)
    if xs.size < 2 or not bad.any():
        return False
    order = np.argsort(xs)
    sorted_x, sorted_bad = xs[order], bad[order]
    edges = st.cell_edges(sorted_x)
    start = None
    for k, here in enumerate([*sorted_bad.tolist(), False]):
        if here and start is None:
            start = k
        elif not here and start is not None:
            ax.axvspan(float(edges[start]), float(edges[k]), color=st.GAP_COLOUR, linewidth=0,
                       zorder=0)
            start = None
    return True


LABEL_SUBS_BELOW = 1000.0
"""A log axis spanning less than this ratio has its 2 and 5 ticks labelled too."""
LABEL_ALL_SUBS_BELOW = 10.0
"""A log axis spanning less than a decade has every tick (2 to 9) labelled."""


def _log_axis(ax: Axes) -> None:
    """A log-scale y axis whose ticks read 0.01, 1, 100 (as the colorbars do), not 10⁻²;
    over up to :data:`LABEL_SUBS_BELOW` (three decades: 0.17 to 22 had only "1" and
    "10"), or wherever fewer than four decades would be labelled, its 2 and 5 ticks are
    labelled the same way, in the axis's colour and size, not 2×10⁰."""
    ax.set_yscale("log")
    plain = FuncFormatter(lambda value, _pos: st.format_level(value))
    ax.yaxis.set_major_formatter(plain)
    low, high = ax.get_ylim()
    decades = (
        np.floor(np.log10(high) + 1e-9) - np.ceil(np.log10(low) - 1e-9) + 1 if 0 < low < high else 0
    )
    if 0 < low < high and high / low < LABEL_ALL_SUBS_BELOW:
        # 0.13 to 0.5 read "0.2" and "0.5" only: every tick of its decades labelled
        ax.yaxis.set_minor_locator(LogLocator(base=10.0, subs=tuple(float(n) for n in range(2, 10))))
        ax.yaxis.set_minor_formatter(plain)
    elif 0 < low < high and (high / low < LABEL_SUBS_BELOW or decades < 4):
        ax.yaxis.set_minor_locator(LogLocator(base=10.0, subs=(2.0, 5.0)))
        ax.yaxis.set_minor_formatter(plain)
    else:
        ax.yaxis.set_minor_formatter(NullFormatter())


def _mark_endpoints(ax: Axes, xs: np.ndarray, names: tuple[str, str]) -> None:
    """Dotted lines at α = 0 and α = 1, named on a top axis."""
    lo, hi = (float(xs.min()), float(xs.max())) if xs.size else (0.0, 1.0)
    ticks, labels = [], []
    for position, name in zip((0.0, 1.0), names, strict=True):
        if lo <= position <= hi:
            ax.axvline(position, color="0.45", linestyle=":", linewidth=1.0, zorder=0)
            ticks.append(position)
            labels.append(name)
    if ticks:
        top = ax.secondary_xaxis("top")
        top.set_xticks(ticks, labels=labels)
        top.tick_params(labelsize=st.TICK_SIZE, length=0)


def plot_comparison_1d(
    curves: Sequence[tuple[str, ArrayLike, ArrayLike]],
    *,
    ylabel: str = "loss",
    xlabel: str = "α",
    log: bool | None = None,
    title: str | None = None,
) -> Figure:
    """Several 1D curves on one axes, each named in the legend.

    Args:
        curves: ``(label, x, y)`` for each curve.
        log: a log-scale y axis; None: linear, as the paper draws its comparisons (on
            a log axis the curve with the lower minimum looks the narrower, sharper
            well, whatever the widths the sharpness table gives).
    """
    if not curves:
        raise ValueError("plot_comparison_1d needs at least one curve")
    fig = st.new_figure(st.FIGSIZE_1D)
    ax = fig.add_subplot()
    n_bad = n_total = 0
    handles: list[Line2D] = []
    colours = [f"C{k}" for k in range(10)]
    for k, (label, x, y) in enumerate(curves):
        xs = np.asarray(x, dtype=np.float64).ravel()
        ys = _curve(xs, y, label)
        n_bad += count_bad(ys)
        n_total += ys.size
        (line,) = ax.plot(
            xs,
            ys,
            _LINESTYLES[k % len(_LINESTYLES)],
            color=colours[k % len(colours)],
            linewidth=1.4,
            label=label,
        )
        handles.append(line)
        alone = _isolated(ys)
        if alone.any():  # a finite point between gaps, which no line draws
            ax.plot(xs[alone], ys[alone], "o", color=colours[k % len(colours)], markersize=3)
    if log:
        _log_axis(ax)
    ax.margins(x=0)
    st.style_axes(ax, xlabel, ylabel, locate="x")
    st.figure_title(fig, title)
    st.legend_below(fig, handles, n_bad, n_total)
    return fig
