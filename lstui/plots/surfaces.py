"""2D figures of a surface: contours, filled contours, heatmap, 3D surface, trajectory,
and surfaces compared side by side.

Every function takes ``x`` (nx,), ``y`` (ny,) and ``Z`` (ny, nx) with ``Z[i, j]`` the
value at ``x[j]``, ``y[i]`` (the layout of ``numpy.meshgrid(x, y)``). NaN and ±inf points
are gaps: masked in the drawing, left out of every level and colour scale, and counted in
the legend under the axes ("3 points NaN/inf (not shown)"). ``pending``, a boolean mask of
``Z``'s shape, names the points not computed yet (a partial job), so the legend tells
them from diverged ones ("2268 points not computed yet (not shown)").

Levels follow :func:`lstui.plots.levels.contour_levels`: explicit ``levels``, or the
reference's ``vmin``/``vmax``/``vlevel``, or automatic ones. ``log=None`` switches to
log-spaced levels and a log colour scale when the finite, all-positive values span two
decades or more; ``log=True``/``False`` forces either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.contour import QuadContourSet
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox
from numpy.typing import ArrayLike

from lstui.plots import _style as st
from lstui.plots.levels import (
    blank_pending,
    contour_levels,
    count_bad,
    finite_values,
    robust_range,
    wants_log,
    with_basin_level,
)

if TYPE_CHECKING:
    from mpl_toolkits.mplot3d.axes3d import Axes3D

Panel = tuple[str, ArrayLike, ArrayLike, ArrayLike]
"""One surface of a comparison: ``(name, x, y, Z)``."""


def resolve_levels(
    Z: np.ndarray,
    levels: ArrayLike | None,
    vmin: float | None,
    vmax: float | None,
    vlevel: float | None,
    log: bool | None,
) -> tuple[np.ndarray, bool]:
    """The levels to draw and whether the colour scale is logarithmic.

    Explicit ``levels`` are used as given (sorted; duplicates and non-finite dropped) with
    a linear scale unless ``log=True``. Automatic levels get one more inside a wide basin
    around the minimum (:func:`~lstui.plots.levels.with_basin_level`), unless ``vmin`` or
    ``vlevel`` says where they start.
    """
    if levels is not None:
        chosen = np.unique(finite_values(levels))
        return chosen, bool(log) and chosen.size > 0 and chosen[0] > 0
    if log is None:
        # The reference's evenly spaced levels (vlevel) go with a linear colour scale.
        log = vlevel is None and wants_log(Z) and (vmin is None or vmin > 0)
    chosen = contour_levels(Z, vmin, vmax, vlevel, log=log)
    if vmin is None and vlevel is None:
        # a contour inside the basin too, not only around it
        chosen = with_basin_level(chosen, Z, log=bool(log))
    return chosen, bool(log)


def _extend(Z: np.ndarray, lo: float, hi: float) -> str:
    """Which ends of the colour scale the finite values run past."""
    values = finite_values(Z)
    below = bool(values.size) and float(values.min()) < lo
    above = bool(values.size) and float(values.max()) > hi
    return {(False, False): "neither", (True, False): "min", (False, True): "max"}.get(
        (below, above), "both"
    )


def _limits(ax: Axes, x: np.ndarray, y: np.ndarray) -> None:
    ax.set_xlim(float(x.min()), float(x.max()))
    ax.set_ylim(float(y.min()), float(y.max()))


def _draw_lines(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    Z: np.ndarray,
    levels: np.ndarray,
    norm: Normalize,
    *,
    linewidth: float = 0.9,
) -> QuadContourSet:
    """Contour lines coloured by value (labelled later by :func:`_label_lines`)."""
    masked = np.ma.masked_invalid(Z)
    return ax.contour(
        x, y, masked, levels=levels, cmap=st.line_cmap(), norm=norm, linewidths=linewidth
    )


LABEL_ARC = 3.5
"""A contour piece holds a label only when it is at least this many label widths long."""
LABEL_PAD_PT = 2.0
"""Labels keep at least this many points apart, and from the markers."""


def _label_lines(
    fig: Figure,
    ax: Axes,
    cs: QuadContourSet,
    avoid: Sequence[tuple[float, float, float]] = (),
) -> list[float]:
    """Write the values on the contour lines where they fit.

    Every line (every other one beyond :data:`~lstui.plots._style.CLABEL_MAX` levels)
    gets at most one label per connected piece, placed where the piece runs nearly
    straight for the label's length, inside the axes, clear of the labels already placed
    and of the points in ``avoid`` (``(x, y, radius in points)``: the markers). A piece
    too short to hold its label (the small rings around a minimum) gets none, so labels
    never pile up. Call it last: it lays the figure out to know where things are.

    Returns:
        The levels that got a label (each once).
    """
    drawn = np.asarray(cs.levels)
    if not drawn.size:
        return []
    fig.draw_without_rendering()  # the final layout: the display coordinates below hold
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    points = fig.dpi / 72.0
    pad = LABEL_PAD_PT * points
    fmt = st.level_formatter(drawn)
    font = FontProperties(size=st.CLABEL_SIZE)
    frame = ax.get_window_extent(renderer)
    to_display = ax.transData.transform
    taken: list[tuple[float, float, float, float]] = []  # centre x, y, half width, height
    for ax_x, ax_y, radius in avoid:
        cx, cy = to_display((ax_x, ax_y))
        if np.isfinite(cx) and np.isfinite(cy):
            taken.append((float(cx), float(cy), radius * points, radius * points))
    step = 1 if drawn.size <= st.CLABEL_MAX else 2
    positions: list[tuple[float, float]] = []
    labelled: list[float] = []
    for k in range(0, drawn.size, step):
        width, height, _ = renderer.get_text_width_height_descent(
            fmt(drawn[k], None), font, ismath=False
        )
        for segment in cs.allsegs[k]:
            spot = _label_spot(to_display(segment), width, height, frame, taken, pad)
            if spot is None:
                continue
            centre, half = spot
            taken.append((*centre, *half))
            positions.append(tuple(ax.transData.inverted().transform(centre)))
            if not labelled or labelled[-1] != drawn[k]:
                labelled.append(float(drawn[k]))
    if positions:
        ax.clabel(
            cs,
            levels=labelled,
            manual=positions,
            inline=True,
            inline_spacing=2,
            fontsize=st.CLABEL_SIZE,
            fmt=fmt,
        )
    return labelled


def _label_spot(
    path: np.ndarray,
    width: float,
    height: float,
    frame: Bbox,
    taken: Sequence[tuple[float, float, float, float]],
    pad: float,
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """Where on one contour piece (display coordinates) a label of ``width`` × ``height``
    fits, and the half extents of its (rotated) box; None when it fits nowhere."""
    finite = np.all(np.isfinite(path), axis=1)
    path = path[finite]
    if len(path) < 2:
        return None
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])
    length = float(arc[-1])
    if length < LABEL_ARC * width:
        return None
    for fraction in (0.5, 0.3, 0.7, 0.15, 0.85, 0.4, 0.6, 0.05, 0.95):
        at = fraction * length
        if at - width / 2.0 < 0 or at + width / 2.0 > length:
            continue
        x0, y0, x1, y1 = (
            float(np.interp(at + d, arc, path[:, i])) for d in (-width / 2.0, width / 2.0) for i in (0, 1)
        )
        if np.hypot(x1 - x0, y1 - y0) < 0.85 * width:
            continue  # the line bends under the label
        angle = np.arctan2(y1 - y0, x1 - x0)
        cos, sin = abs(float(np.cos(angle))), abs(float(np.sin(angle)))
        hx = width / 2.0 * cos + height / 2.0 * sin
        hy = width / 2.0 * sin + height / 2.0 * cos
        cx, cy = float(np.interp(at, arc, path[:, 0])), float(np.interp(at, arc, path[:, 1]))
        inside = frame.x0 + hx <= cx <= frame.x1 - hx and frame.y0 + hy <= cy <= frame.y1 - hy
        clear = all(
            abs(cx - ox) >= hx + ow + pad or abs(cy - oy) >= hy + oh + pad
            for ox, oy, ow, oh in taken
        )
        if inside and clear:
            return (cx, cy), (hx, hy)
    return None


def _draw_filled(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    Z: np.ndarray,
    levels: np.ndarray,
    norm: Normalize,
    extend: str,
) -> QuadContourSet:
    """Filled bands between the levels, thin dark lines on their edges, gaps in grey."""
    masked = np.ma.masked_invalid(Z)
    ax.set_facecolor(st.GAP_COLOUR)
    filled = ax.contourf(x, y, masked, levels=levels, cmap=st.fill_cmap(), norm=norm, extend=extend)
    ax.contour(x, y, masked, levels=levels, colors="black", linewidths=0.3, alpha=0.4)
    return filled


def plot_contour(
    x: ArrayLike,
    y: ArrayLike,
    Z: ArrayLike,
    levels: ArrayLike | None = None,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    vlevel: float | None = None,
    log: bool | None = None,
    title: str | None = None,
    xlabel: str | None = st.XLABEL_2D,
    ylabel: str | None = st.YLABEL_2D,
    pending: ArrayLike | None = None,
) -> Figure:
    """Contour lines with their values written on them; centre and minimum marked.

    Returns:
        The figure; its first axes holds the :class:`~matplotlib.contour.QuadContourSet`.
    """
    xs, ys, zs = st.check_surface(x, y, Z)
    zs, n_pending = blank_pending(zs, pending)
    chosen, use_log = resolve_levels(zs, levels, vmin, vmax, vlevel, log)
    rows = 1 + (count_bad(zs) > 0)
    fig = st.new_figure(st.figsize_2d(xs, ys, colorbar=False, title=bool(title), legend_rows=rows))
    ax = fig.add_subplot()
    cs = _draw_lines(ax, xs, ys, zs, chosen, st.make_norm(chosen, use_log)) if chosen.size else None
    _limits(ax, xs, ys)
    st.style_axes(ax, xlabel, ylabel)
    st.figure_title(fig, title)
    st.equal_aspect_if_sensible(ax, xs, ys)
    handles = st.mark_centre_and_min(ax, xs, ys, zs)
    st.legend_below(fig, handles, count_bad(zs), zs.size, n_pending=n_pending)
    st.trim_height(fig, ax)
    if cs is not None:
        _label_lines(fig, ax, cs, _marker_spots(xs, ys, zs))
    return fig


def _marker_spots(x: np.ndarray, y: np.ndarray, Z: np.ndarray) -> list[tuple[float, float, float]]:
    """``(x, y, radius in points)`` of the centre and minimum markers, for labels to avoid."""
    spots = [(0.0, 0.0, float(st.CENTRE_STYLE["markersize"]) / 2)]  # type: ignore[arg-type]
    position = st.argmin_position(x, y, Z)
    if position is not None:
        spots.append((position[0], position[1], float(st.MIN_STYLE["markersize"]) / 2))  # type: ignore[arg-type]
    return spots


def plot_filled_contour(
    x: ArrayLike,
    y: ArrayLike,
    Z: ArrayLike,
    levels: ArrayLike | None = None,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    vlevel: float | None = None,
    log: bool | None = None,
    title: str | None = None,
    zlabel: str = "loss",
    xlabel: str | None = st.XLABEL_2D,
    ylabel: str | None = st.YLABEL_2D,
    pending: ArrayLike | None = None,
) -> Figure:
    """Filled contours (one colour per band between levels) with a colorbar.

    Values beyond the outer levels take the end colours (arrows on the colorbar).
    """
    xs, ys, zs = st.check_surface(x, y, Z)
    zs, n_pending = blank_pending(zs, pending)
    chosen, use_log = resolve_levels(zs, levels, vmin, vmax, vlevel, log)
    rows = 1 + (count_bad(zs) > 0)
    fig = st.new_figure(st.figsize_2d(xs, ys, colorbar=True, title=bool(title), legend_rows=rows))
    ax = fig.add_subplot()
    ax.set_facecolor(st.GAP_COLOUR)
    if chosen.size >= 2:
        extend = _extend(zs, chosen[0], chosen[-1])
        filled = _draw_filled(ax, xs, ys, zs, chosen, st.make_norm(chosen, use_log), extend)
        st.colorbar(fig, filled, ax, zlabel, ticks=chosen)
    _limits(ax, xs, ys)
    st.style_axes(ax, xlabel, ylabel)
    st.figure_title(fig, title)
    st.equal_aspect_if_sensible(ax, xs, ys)
    handles = st.mark_centre_and_min(ax, xs, ys, zs)
    st.legend_below(fig, handles, count_bad(zs), zs.size, n_pending=n_pending, gap_patch=True)
    st.trim_height(fig, ax)
    return fig


def plot_heatmap(
    x: ArrayLike,
    y: ArrayLike,
    Z: ArrayLike,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    log: bool | None = None,
    title: str | None = None,
    zlabel: str = "loss",
    xlabel: str | None = st.XLABEL_2D,
    ylabel: str | None = st.YLABEL_2D,
    pending: ArrayLike | None = None,
) -> Figure:
    """One coloured cell per grid point (cells centred on the coordinates, y upward).

    The colour scale runs from ``vmin`` (default: finite min) to ``vmax`` (default:
    robust max; larger values take the top colour, shown by the colorbar's arrow).
    """
    xs, ys, zs = st.check_surface(x, y, Z)
    zs, n_pending = blank_pending(zs, pending)
    use_log = resolve_levels(zs, None, vmin, vmax, None, log)[1]
    values = finite_values(zs)
    span = robust_range(values[values > 0] if use_log else values)
    edges_x, edges_y = st.cell_edges(xs), st.cell_edges(ys)
    rows = 1 + (count_bad(zs) > 0)
    fig = st.new_figure(
        st.figsize_2d(edges_x, edges_y, colorbar=True, title=bool(title), legend_rows=rows)
    )
    ax = fig.add_subplot()
    ax.set_facecolor(st.GAP_COLOUR)
    if span is not None:
        lo = vmin if vmin is not None else span[0]
        hi = vmax if vmax is not None else span[1]
        if hi <= lo:
            hi = lo * 10.0 if use_log else lo + max(abs(lo), 1.0)
        mesh = ax.pcolormesh(
            edges_x,
            edges_y,
            np.ma.masked_invalid(zs),
            cmap=st.fill_cmap(),
            norm=st.make_norm(np.array([lo, hi]), use_log),
            shading="flat",
            rasterized=True,
        )
        # a log scale's default ticks are its decades only: two labels for 0.128 to 30
        ticks = contour_levels(np.array([lo, hi]), lo, hi, log=True, num=7) if use_log else None
        st.colorbar(fig, mesh, ax, zlabel, ticks=ticks, extend=_extend(zs, lo, hi))
    ax.set_xlim(float(edges_x[0]), float(edges_x[-1]))
    ax.set_ylim(float(edges_y[0]), float(edges_y[-1]))
    st.style_axes(ax, xlabel, ylabel)
    st.figure_title(fig, title)
    st.equal_aspect_if_sensible(ax, edges_x, edges_y)
    handles = st.mark_centre_and_min(ax, xs, ys, zs)
    st.legend_below(fig, handles, count_bad(zs), zs.size, n_pending=n_pending, gap_patch=True)
    st.trim_height(fig, ax)
    return fig


def plot_surface_3d(
    x: ArrayLike,
    y: ArrayLike,
    Z: ArrayLike,
    *,
    zmax: float | None = None,
    log: bool | None = None,
    title: str | None = None,
    zlabel: str = "loss",
    xlabel: str | None = st.XLABEL_2D,
    ylabel: str | None = st.YLABEL_2D,
    elev: float = 30.0,
    azim: float = -60.0,
    pending: ArrayLike | None = None,
) -> Figure:
    """The surface in 3D, coloured by value; NaN/inf points leave holes.

    ``zmax`` clips larger values to a plateau (the reference's ``--zmax``). ``log`` sets
    the colour scale only (None: as for contours); heights stay linear.
    """
    xs, ys, zs = st.check_surface(x, y, Z)
    zs, n_pending = blank_pending(zs, pending)
    n_bad = count_bad(zs)
    if zmax is not None:
        zs = np.where(zs > zmax, zmax, zs)
    use_log = resolve_levels(zs, None, None, None, None, log)[1]
    fig = st.new_figure(st.FIGSIZE_3D)
    ax = fig.add_subplot(projection="3d")
    values = finite_values(zs)
    if values.size:
        lo, hi = float(values.min()), float(values.max())
        use_log = use_log and lo > 0
        norm = st.make_norm(np.array([lo, hi if hi > lo else lo + 1.0]), use_log)
        X, Y = np.meshgrid(xs, ys)
        surface = ax.plot_surface(
            X,
            Y,
            zs,
            cmap=st.fill_cmap(),
            norm=norm,
            rcount=min(ys.size, 101),
            ccount=min(xs.size, 101),
            linewidth=0,
            antialiased=True,
        )
        st.colorbar(fig, surface, ax, zlabel, shrink=0.6, pad=0.1)
    ax.view_init(elev=elev, azim=azim)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=st.LABEL_SIZE, labelpad=0)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=st.LABEL_SIZE, labelpad=0)
    if not values.size:  # the colorbar names the values when there is one
        ax.set_zlabel(zlabel, fontsize=st.LABEL_SIZE, labelpad=1)
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    ax.tick_params(labelsize=st.TICK_SIZE - 1, pad=-1)
    st.figure_title(fig, title)
    st.legend_below(fig, [], n_bad, zs.size, n_pending=n_pending)
    _fit_3d(fig, ax)
    return fig


def _fit_3d(fig: Figure, ax: Axes3D) -> None:
    """Draw the box as large as the page allows with every label of its axes on the page
    (the layout does not see where a 3D axis writes its label: "1st PC: 93.15 %" runs
    off the bottom at the size "α" fits)."""
    for zoom in (0.95, 0.9, 0.85, 0.8, 0.75):
        ax.set_box_aspect(None, zoom=zoom)
        fig.draw_without_rendering()
        drawn = ax.get_tightbbox(fig.canvas.get_renderer())  # type: ignore[attr-defined]
        if drawn is None or (
            drawn.x0 >= fig.bbox.x0 and drawn.y0 >= fig.bbox.y0 and drawn.x1 <= fig.bbox.x1
        ):
            return


def pc_axis_labels(explained_variance: tuple[float, float] | None) -> tuple[str, str]:
    """The axis labels of a PCA plane: "1st PC: 42.17 %", "2nd PC: 12.03 %".

    Args:
        explained_variance: the explained variance *ratios* (0 to 1) of the two
            components, or None for "1st PC", "2nd PC".

    Raises:
        ValueError: for a ratio outside [0, 1] (percentages passed as ratios).
    """
    if explained_variance is None:
        return "1st PC", "2nd PC"
    r1, r2 = (float(r) for r in explained_variance)
    if not (0.0 <= r1 <= 1.0 and 0.0 <= r2 <= 1.0):
        raise ValueError(f"explained_variance takes ratios in [0, 1], got ({r1}, {r2})")
    return f"1st PC: {100 * r1:.2f} %", f"2nd PC: {100 * r2:.2f} %"


def plot_trajectory(
    x: ArrayLike | None,
    y: ArrayLike | None,
    Z: ArrayLike | None,
    path_x: ArrayLike,
    path_y: ArrayLike,
    *,
    explained_variance: tuple[float, float] | None = None,
    levels: ArrayLike | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    vlevel: float | None = None,
    log: bool | None = None,
    title: str | None = None,
    pending: ArrayLike | None = None,
) -> Figure:
    """An optimisation path drawn over the contours of the surface on its PCA plane.

    Args:
        x, y, Z: the surface on the plane of the two principal directions, or all None
            to draw the path alone.
        path_x, path_y: the projected checkpoints, first to last (the last is the final
            model, usually at the origin).
        explained_variance: the explained variance *ratios* (0 to 1) of the two
            components; the axes then read "1st PC: 42.17 %".
        pending: the surface's points not computed yet (a mask of ``Z``'s shape).
    """
    px = np.asarray(path_x, dtype=np.float64).ravel()
    py = np.asarray(path_y, dtype=np.float64).ravel()
    if px.size != py.size or px.size == 0:
        raise ValueError(
            f"path_x and path_y need the same, non-zero length ({px.size} vs {py.size})"
        )
    xlabel, ylabel = pc_axis_labels(explained_variance)

    surface = None
    n_pending = 0
    if Z is not None:
        if x is None or y is None:
            raise ValueError("plot_trajectory needs x and y with Z")
        xs, ys, zs = st.check_surface(x, y, Z)
        zs, n_pending = blank_pending(zs, pending)
        surface = (xs, ys, zs)
    span_x = surface[0] if surface else px
    span_y = surface[1] if surface else py
    rows = 1 + (surface is not None and count_bad(surface[2]) > 0)
    fig = st.new_figure(
        st.figsize_2d(span_x, span_y, colorbar=False, title=bool(title), legend_rows=rows)
    )
    ax = fig.add_subplot()
    n_bad = n_total = 0
    cs = None
    if surface is not None:
        xs, ys, zs = surface
        n_bad, n_total = count_bad(zs), zs.size
        chosen, use_log = resolve_levels(zs, levels, vmin, vmax, vlevel, log)
        if chosen.size:
            cs = _draw_lines(ax, xs, ys, zs, chosen, st.make_norm(chosen, use_log), linewidth=0.8)
        _limits(ax, xs, ys)
    ax.plot(px, py, color=st.PATH_COLOUR, linewidth=1.2, marker=".", markersize=4, zorder=3)
    (start,) = ax.plot(
        px[:1],
        py[:1],
        linestyle="none",
        marker="o",
        markersize=6,
        color="#2ca02c",
        markeredgecolor="black",
        markeredgewidth=0.6,
        label="start",
        zorder=4,
    )
    (end,) = ax.plot(px[-1:], py[-1:], linestyle="none", label="end", zorder=4, **st.MIN_STYLE)  # type: ignore[arg-type]
    if surface is None:
        ax.margins(0.08)
    st.style_axes(ax, xlabel, ylabel)
    st.figure_title(fig, title)
    st.equal_aspect_if_sensible(ax, span_x, span_y)
    st.legend_below(fig, [start, end], n_bad, n_total, n_pending=n_pending)
    st.trim_height(fig, ax)
    if cs is not None:
        ends = [(float(px[0]), float(py[0]), 3.5), (float(px[-1]), float(py[-1]), 5.5)]
        _label_lines(fig, ax, cs, [*ends, *((float(a), float(b), 2.5) for a, b in zip(px, py, strict=True))])
    return fig


def plot_comparison_2d(
    panels: Sequence[Panel],
    *,
    levels: ArrayLike | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    vlevel: float | None = None,
    log: bool | None = None,
    title: str | None = None,
    zlabel: str = "loss",
    xlabel: str | None = st.XLABEL_2D,
    ylabel: str | None = st.YLABEL_2D,
) -> Figure:
    """Filled contours side by side on ONE colour scale, with one shared colorbar.

    The levels and the norm are computed once over the finite values of all panels, so
    a colour means the same value in every panel (as the paper compares small- and
    large-batch minimizers). Each panel marks its centre and its minimum.

    Args:
        panels: ``(name, x, y, Z)`` for each surface, left to right.
    """
    if not panels:
        raise ValueError("plot_comparison_2d needs at least one panel")
    surfaces = [(name, *st.check_surface(x, y, Z)) for name, x, y, Z in panels]
    every = np.concatenate([zs.ravel() for _, _, _, zs in surfaces])
    chosen, use_log = resolve_levels(every, levels, vmin, vmax, vlevel, log)
    n = len(surfaces)
    _, first_x, first_y, _ = surfaces[0]
    height = st.figsize_2d(
        first_x, first_y, colorbar=False, width=st.PANEL_WIDTH, title=bool(title)
    )[1]
    fig = st.new_figure((st.PANEL_WIDTH * n + 0.8, height))
    axes = [fig.add_subplot(1, n, k + 1) for k in range(n)]
    drawable = chosen.size >= 2
    norm = st.make_norm(chosen, use_log) if drawable else None
    extend = _extend(every, chosen[0], chosen[-1]) if drawable else "neither"
    mappable = None
    handles: list = []
    for k, (ax, (name, xs, ys, zs)) in enumerate(zip(axes, surfaces, strict=True)):
        if norm is not None:
            mappable = _draw_filled(ax, xs, ys, zs, chosen, norm, extend)
        _limits(ax, xs, ys)
        st.style_axes(ax, xlabel, ylabel if k == 0 else None)
        bad = count_bad(zs)
        st.set_title(ax, f"{name}  ({bad} NaN/inf)" if bad else name, st.PANEL_WIDTH - 0.2)
        st.equal_aspect_if_sensible(ax, xs, ys)
        handles = st.mark_centre_and_min(ax, xs, ys, zs, min_label=False)
    if mappable is not None:
        st.colorbar(fig, mappable, axes, zlabel, ticks=chosen)
    st.figure_title(fig, title)
    st.legend_below(fig, handles, count_bad(every), every.size, gap_patch=True, ncols=3)
    return fig
