"""2D figures of a surface: contours, filled contours, heatmap, 3D surface, trajectory,
and surfaces compared side by side.

Every function takes ``x`` (nx,), ``y`` (ny,) and ``Z`` (ny, nx) with ``Z[i, j]`` the
value at ``x[j]``, ``y[i]`` (the layout of ``numpy.meshgrid(x, y)``). NaN and ±inf points
are gaps: masked in the drawing, left out of every level and colour scale, and counted in
the legend under the axes ("3 points NaN/inf (not shown)"); the contour-line figures show
them on the same grey as the filled ones. ``pending``, a boolean mask of ``Z``'s shape,
names the points not computed (a partial job), so the legend tells them from diverged
ones ("2268 points not computed"). A job stopped early holds points scattered over the
grid (computed coarse first), none with a whole cell around it: its contours and 3D view
are drawn on the finest lattice of every ``s``-th point (counted from the centre, with
the ends) that is computed (:func:`~lstui.plots.levels.lattice`), and the legend says "partial: 777 of 6561
points". A flat surface says so ("flat: every point 2.3026"), and its colour scales all
follow :func:`~lstui.plots.levels.nonempty_range`.

Levels follow :func:`lstui.plots.levels.contour_levels`: explicit ``levels``, or the
reference's ``vmin``/``vmax``/``vlevel``, or automatic ones. ``log=None`` switches to
log-spaced levels and a log colour scale when the finite, all-positive values span two
decades or more; ``log=True``/``False`` forces either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import contourpy
import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.contour import QuadContourSet
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox
from numpy.typing import ArrayLike

from lstui.landscape.grid import axis_anchor
from lstui.plots import _style as st
from lstui.plots.levels import (
    blank_pending,
    contour_levels,
    count_bad,
    finite_values,
    flat_note,
    lattice,
    nonempty_range,
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


def _lattice(
    x: np.ndarray, y: np.ndarray, Z: np.ndarray, pending: ArrayLike | None, n_pending: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """``(x, y, Z)`` of the lattice a partial surface is drawn on, and whether it is a
    coarser one than the grid (see :func:`~lstui.plots.levels.lattice`)."""
    index = _lattice_of(x, y, pending, n_pending)
    if index is None:
        return x, y, Z, False
    iy, ix = index
    return x[ix], y[iy], Z[np.ix_(iy, ix)], True


def _lattice_of(
    x: np.ndarray, y: np.ndarray, pending: ArrayLike | None, n_pending: int
) -> tuple[np.ndarray, ...] | None:
    """The indices (rows, columns) of a partial surface's :func:`~lstui.plots.levels.lattice`."""
    return lattice(pending, (axis_anchor(y), axis_anchor(x))) if n_pending else None


def _notes(Z: np.ndarray) -> list[str]:
    note = flat_note(Z)
    return [note] if note else []


def _draw_gaps(ax: Axes, x: np.ndarray, y: np.ndarray, Z: np.ndarray) -> None:
    """The grey of the filled figures where a contour-line figure has no value: grey
    axes, white wherever :meth:`~matplotlib.axes.Axes.contourf` would fill (the cells
    with four finite corners), so a diverged region does not read as "no contour here".

    The white is plain patches (contourpy's polygons, as contourf computes them), not a
    colour-mapped artist: no colour scale of the figure comes from it.
    """
    ax.set_facecolor(st.GAP_COLOUR)
    values = finite_values(Z)
    if not values.size:
        return
    lo, hi = float(values.min()), float(values.max())
    pad = max(hi - lo, abs(lo), 1.0)
    generator = contourpy.contour_generator(
        x, y, np.ma.masked_invalid(Z),
        name=matplotlib.rcParams["contour.algorithm"],
        corner_mask=matplotlib.rcParams["contour.corner_mask"],
        fill_type=contourpy.FillType.OuterCode,
    )
    points, codes = generator.filled(lo - pad, hi + pad)[:2]  # OuterCode: two lists
    for outline, kinds in zip(points, codes, strict=True):
        if outline is None:
            continue
        ax.add_patch(PathPatch(MplPath(outline, kinds), facecolor="white", edgecolor="none",
                               zorder=0))


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
INNER_LABELS = 3
"""Beyond :data:`~lstui.plots._style.CLABEL_MAX` levels, the lowest levels are labelled
wherever they fit until this many have a label, then every other level above them."""


def _label_lines(
    fig: Figure,
    ax: Axes,
    cs: QuadContourSet,
    avoid: Sequence[tuple[float, float, float]] = (),
) -> list[float]:
    """Write the values on the contour lines where they fit.

    Every line (beyond :data:`~lstui.plots._style.CLABEL_MAX` levels: the lowest ones
    until :data:`INNER_LABELS` have a label, then every other one above them) gets at
    most one label per connected piece, placed where the piece runs nearly straight for the
    label's length, inside the axes, clear of the labels already placed and of the
    points in ``avoid`` (``(x, y, radius in points)``: the markers). The lowest lines
    (the rings around the minimum, which 1-2-5 log spacing makes hard to tell apart) are
    labelled first, so the wide outer ones never take their room. A piece too short to
    hold its label (a tiny ring) gets none, so labels never pile up. Call it last: it
    lays the figure out to know where things are.

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
    positions: list[tuple[float, float]] = []
    labelled: list[float] = []
    last = -2  # the index of the last level that got a label
    for k in range(drawn.size):
        if drawn.size > st.CLABEL_MAX and len(labelled) >= INNER_LABELS and k < last + 2:
            continue
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
                last = k
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


_BAND_BOUND = 1e249
"""The largest value a filled contour is given (below matplotlib's 1e250)."""


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
    # beyond ±1e250, matplotlib's own bounds of the extended bands, contourf fails ("upper_level
    # must be larger than lower_level"): such values (a foreign file's) fill the top band alike
    if levels.size and float(np.abs(levels).max()) >= _BAND_BOUND:  # levels beyond too: no extended bands
        extend, Z = "neither", np.clip(Z, levels[0], levels[-1])
    masked = np.ma.masked_invalid(np.clip(Z, -_BAND_BOUND, _BAND_BOUND))
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
    n_bad = count_bad(zs)
    notes = _notes(zs)
    rows = 1 + (n_bad > 0) + len(notes)
    fig = st.new_figure(st.figsize_2d(xs, ys, colorbar=False, title=bool(title), legend_rows=rows))
    ax = fig.add_subplot()
    dx, dy, dz, partial = _lattice(xs, ys, zs, pending, n_pending)
    if n_bad:
        _draw_gaps(ax, dx, dy, dz)
    cs = _draw_lines(ax, dx, dy, dz, chosen, st.make_norm(chosen, use_log)) if chosen.size else None
    _limits(ax, xs, ys)
    st.style_axes(ax, xlabel, ylabel)
    st.figure_title(fig, title)
    st.equal_aspect_if_sensible(ax, xs, ys)
    handles = st.mark_centre_and_min(ax, xs, ys, zs)
    st.legend_below(fig, handles, n_bad, zs.size, n_pending=n_pending, partial=partial,
                    gap_patch=True, notes=notes)
    st.trim_height(fig, ax)
    if cs is not None:
        _label_lines(fig, ax, cs, _marker_spots(xs, ys, zs))
    return fig


def _marker_spots(x: np.ndarray, y: np.ndarray, Z: np.ndarray) -> list[tuple[float, float, float]]:
    """``(x, y, radius in points)`` of the centre and minimum markers, for labels to avoid."""
    spots = [(0.0, 0.0, float(st.CENTRE_STYLE["markersize"]) / 2)]  # type: ignore[arg-type]
    position = st.minimum_to_mark(x, y, Z)
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
    notes = _notes(zs)
    rows = 1 + (count_bad(zs) > 0) + len(notes)
    fig = st.new_figure(st.figsize_2d(xs, ys, colorbar=True, title=bool(title), legend_rows=rows))
    ax = fig.add_subplot()
    ax.set_facecolor(st.GAP_COLOUR)
    dx, dy, dz, partial = _lattice(xs, ys, zs, pending, n_pending)
    if chosen.size >= 2:
        extend = _extend(zs, chosen[0], chosen[-1])
        filled = _draw_filled(ax, dx, dy, dz, chosen, st.make_norm(chosen, use_log), extend)
        st.colorbar(fig, filled, ax, zlabel, ticks=chosen)
    _limits(ax, xs, ys)
    st.style_axes(ax, xlabel, ylabel)
    st.figure_title(fig, title)
    st.equal_aspect_if_sensible(ax, xs, ys)
    handles = st.mark_centre_and_min(ax, xs, ys, zs)
    st.legend_below(fig, handles, count_bad(zs), zs.size, n_pending=n_pending, partial=partial,
                    gap_patch=True, notes=notes)
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
    notes = _notes(zs)
    rows = 1 + (count_bad(zs) > 0) + len(notes)
    fig = st.new_figure(
        st.figsize_2d(edges_x, edges_y, colorbar=True, title=bool(title), legend_rows=rows)
    )
    ax = fig.add_subplot()
    ax.set_facecolor(st.GAP_COLOUR)
    if span is not None:
        lo = vmin if vmin is not None else span[0]
        hi = vmax if vmax is not None else span[1]
        flat_ticks = None
        if hi <= lo:  # a flat surface: the scale (and ticks) of its filled contours
            flat_ticks = _flat_levels(zs, vmin, vmax, use_log)
            lo, hi = float(flat_ticks[0]), float(flat_ticks[-1])
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
        ticks = contour_levels(np.array([lo, hi]), lo, hi, log=True, num=7) if use_log else flat_ticks
        st.colorbar(fig, mesh, ax, zlabel, ticks=ticks, extend=_extend(zs, lo, hi))
    ax.set_xlim(float(edges_x[0]), float(edges_x[-1]))
    ax.set_ylim(float(edges_y[0]), float(edges_y[-1]))
    st.style_axes(ax, xlabel, ylabel)
    st.figure_title(fig, title)
    st.equal_aspect_if_sensible(ax, edges_x, edges_y)
    handles = st.mark_centre_and_min(ax, xs, ys, zs)
    partial = _lattice_of(xs, ys, pending, n_pending) is not None  # (the cells are drawn as they are)
    st.legend_below(fig, handles, count_bad(zs), zs.size, n_pending=n_pending, partial=partial,
                    gap_patch=True, notes=notes)
    st.trim_height(fig, ax)
    return fig


def _flat_levels(Z: np.ndarray, vmin: float | None, vmax: float | None, log: bool) -> np.ndarray:
    """The levels of a surface with one value (or a range given on its wrong side): the
    filled contours' own, whose ends make the colour scale, so every figure of it agrees."""
    chosen = contour_levels(Z, vmin, vmax, log=log)
    if chosen.size >= 2:
        return chosen
    value = float(finite_values(Z).min())
    return np.array(nonempty_range(value, value, log))


def plot_surface_3d(
    x: ArrayLike,
    y: ArrayLike,
    Z: ArrayLike,
    *,
    zmax: float | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
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

    ``zmax`` clips larger values to a plateau (the reference's ``--zmax``) and tops the
    z axis there. ``vmin``/``vmax`` set the colour scale (the filled contours' flags), so
    that two minimizers' surfaces drawn side by side share it, and ``vmin`` the z axis's
    bottom where no value lies below it. ``log`` sets the colour scale only (None: as
    for contours), its colorbar ticked at 1-2-5 values as the filled contours' is;
    heights stay linear, and the z axis is labelled ``zlabel`` as the colorbar is.
    """
    xs, ys, zs = st.check_surface(x, y, Z)
    zs, n_pending = blank_pending(zs, pending)
    n_bad = count_bad(zs)
    if zmax is not None:
        zs = np.where(zs > zmax, zmax, zs)
    use_log = resolve_levels(zs, None, None, None, None, log)[1]
    notes = _notes(zs)
    fig = st.new_figure(st.FIGSIZE_3D)
    ax = fig.add_subplot(projection="3d")
    values = finite_values(zs)
    dx, dy, dz, partial = _lattice(xs, ys, zs, pending, n_pending)
    if values.size:
        lo, hi = float(values.min()), float(values.max())
        use_log = use_log and lo > 0
        data_lo = lo
        lo = lo if vmin is None else float(vmin)
        hi = hi if vmax is None else float(vmax)
        use_log = use_log and lo > 0
        if hi <= lo and (vmin is None or vmax is None or vmax <= vmin):  # a flat surface: the
            flat = _flat_levels(zs, None, None, use_log)  # scale of its filled contours
            lo, hi = float(flat[0]), float(flat[-1])
        norm = st.make_norm(np.array([lo, hi]), use_log)
        X, Y = np.meshgrid(dx, dy)
        surface = ax.plot_surface(
            X,
            Y,
            dz,
            cmap=st.fill_cmap(),
            norm=norm,
            rcount=min(dy.size, 101),
            ccount=min(dx.size, 101),
            linewidth=0,
            antialiased=True,
        )
        # a log scale's default ticks are its decades only: "1" and "10" for 0.1 to 20
        ticks = contour_levels(np.array([lo, hi]), lo, hi, log=True, num=7) if use_log else None
        st.colorbar(fig, surface, ax, zlabel, ticks=ticks, shrink=0.6, pad=0.16)
        if vmin is not None and vmin <= data_lo:
            ax.set_zlim(bottom=float(vmin))
        if zmax is not None and zmax > (vmin if vmin is not None and vmin <= data_lo else data_lo):
            ax.set_zlim(top=float(zmax))
    ax.view_init(elev=elev, azim=azim)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=st.LABEL_SIZE, labelpad=0)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=st.LABEL_SIZE, labelpad=0)
    ax.set_zlabel(zlabel, fontsize=st.LABEL_SIZE - 1, labelpad=2)
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    # 2e7, not 2 under an offset "1e7" floating between the box and the colorbar
    ax.zaxis.set_major_formatter(st.TickDigits())  # 2.2982 and 2.2984, not "2.3" twice
    ax.tick_params(labelsize=st.TICK_SIZE - 1, pad=-1)
    st.figure_title(fig, title)
    st.legend_below(fig, [], n_bad, zs.size, n_pending=n_pending, partial=partial, notes=notes)
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
            break
    _close_title_gap(fig, ax)


def _close_title_gap(fig: Figure, ax: Axes3D, margin_pt: float = 6.0) -> None:
    """Take out the band of page a 3D axes leaves empty above its box, under the title.

    The layout keeps the axes' whole square, but the box drawn in it stops well short
    of its top; the first row of ink under the title is found in the drawn page. The
    layout is then frozen and the page cut by the band, every axes keeping its place
    in inches from the bottom.
    """
    title = fig._suptitle  # type: ignore[attr-defined]
    if title is None:
        return
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    below = int(fig.bbox.height - title.get_window_extent(renderer).y0) + 1  # rows from top
    left, right = (int(v) for v in ax.get_window_extent(renderer).intervalx)
    ink = np.asarray(fig.canvas.buffer_rgba())[below:, max(left, 0) : right, :3] < 250  # type: ignore[attr-defined]
    rows = np.flatnonzero(ink.any(axis=(1, 2)))
    band = (rows[0] if rows.size else 0) - margin_pt * fig.dpi / 72.0
    if band <= 1:
        return
    height = fig.bbox.height
    places = [(axes, axes.get_position()) for axes in fig.axes]
    fig.set_layout_engine("none")
    fig.set_figheight((height - band) / fig.dpi)
    scale = height / (height - band)
    for axes, box in places:
        axes.set_position((box.x0, box.y0 * scale, box.width, box.height * scale))


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
    return f"1st PC: {pc_percent(r1)} %", f"2nd PC: {pc_percent(r2)} %"


def pc_percent(ratio: float) -> str:
    """A PC's share of the variance in percent: "93.15", and "5e-05" rather than "0.00" for
    a share too small for two decimals (a path along a line: its 2nd PC)."""
    return f"{100 * ratio:.2f}" if 100 * ratio >= 0.005 or ratio == 0 else f"{100 * ratio:.1g}"


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
    axis_labels: tuple[str, str] | None = None,
    other_path: tuple[ArrayLike, ArrayLike] | None = None,
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
        axis_labels: the axes' labels, instead of the PCs' (a plane of given directions).
        other_path: the path of the run the plane was made from, in the same frame
            (drawn grey, under this one, ending at (0, 0)).
    """
    px = np.asarray(path_x, dtype=np.float64).ravel()
    py = np.asarray(path_y, dtype=np.float64).ravel()
    if px.size != py.size or px.size == 0:
        raise ValueError(
            f"path_x and path_y need the same, non-zero length ({px.size} vs {py.size})"
        )
    xlabel, ylabel = axis_labels or pc_axis_labels(explained_variance)

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
    partial = False
    off = np.zeros(px.size, dtype=bool)
    if surface is not None:
        xs, ys, zs = surface
        n_bad, n_total = count_bad(zs), zs.size
        chosen, use_log = resolve_levels(zs, levels, vmin, vmax, vlevel, log)
        dx, dy, dz, partial = _lattice(xs, ys, zs, pending, n_pending)
        if n_bad:
            _draw_gaps(ax, dx, dy, dz)
        if chosen.size:
            cs = _draw_lines(ax, dx, dy, dz, chosen, st.make_norm(chosen, use_log), linewidth=0.8)
        _limits(ax, xs, ys)
        off = (px < xs.min()) | (px > xs.max()) | (py < ys.min()) | (py > ys.max())
    handles = []
    if other_path is not None:
        ox = np.asarray(other_path[0], dtype=np.float64).ravel()
        oy = np.asarray(other_path[1], dtype=np.float64).ravel()
        (other,) = ax.plot(ox, oy, color="0.45", linewidth=1.0, marker=".", markersize=3, zorder=2,
                           linestyle="--", label="the plane's own run")
        handles.append(other)
    (path_line,) = ax.plot(px, py, color=st.PATH_COLOUR, linewidth=1.2, marker=".", markersize=4, zorder=3,
                           label="this run")
    if handles:  # two paths: the legend names both, not the plane's own alone
        handles.insert(0, path_line)
    (start,) = ax.plot(
        px[:1],
        py[:1],
        linestyle="none",
        marker="o",
        markersize=6,
        color="#2ca02c",
        markeredgecolor="black",
        markeredgewidth=0.6,
        label="start (off the grid)" if off[0] else "start",
        zorder=4,
    )
    (end,) = ax.plot(px[-1:], py[-1:], linestyle="none", label="end (off the grid)" if off[-1] else "end",
                     zorder=4, **st.MIN_STYLE)  # type: ignore[arg-type]
    if surface is None:
        ax.margins(0.08)
    st.style_axes(ax, xlabel, ylabel)
    st.figure_title(fig, title)
    st.equal_aspect_if_sensible(ax, span_x, span_y)
    # a path leaving the surface is cut at the axes' edge: say so, or it reads as whole
    notes = ["path leaves the grid"] if off[1:-1].any() and not (off[0] or off[-1]) else []
    st.legend_below(fig, [start, end, *handles], n_bad, n_total, n_pending=n_pending, partial=partial,
                    gap_patch=n_bad > 0, notes=notes)
    st.trim_height(fig, ax)
    if cs is not None:
        ends = [(float(px[0]), float(py[0]), 3.5), (float(px[-1]), float(py[-1]), 5.5)]
        beside = [] if other_path is None else [  # contour labels off the plane's own run's path too
            (float(a), float(b), 2.5) for a, b in zip(np.ravel(other_path[0]), np.ravel(other_path[1]), strict=True)]
        _label_lines(fig, ax, cs, [*ends, *((float(a), float(b), 2.5) for a, b in zip(px, py, strict=True)),
                                   *beside])
    return fig


COLORBAR_WIDTH = 0.8
"""Inches a comparison's shared colorbar takes beside its panels."""


def comparison_columns(n: int) -> int:
    """Panels in a row of a comparison of ``n``: all up to three, else rows of three
    at most, as even as they come (4: 2 + 2, 5: 3 + 2)."""
    if n <= 3:
        return n
    rows = -(-n // 3)
    return -(-n // rows)


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

    The figure is at most :data:`~lstui.plots._style.MAX_FIGURE_WIDTH` wide (a
    two-column page's text width): up to three panels side by side, more in rows of
    :func:`comparison_columns`, panels narrower than
    :data:`~lstui.plots._style.PANEL_WIDTH` where the width asks for it.

    Args:
        panels: ``(name, x, y, Z)`` for each surface, left to right, top to bottom.
    """
    if not panels:
        raise ValueError("plot_comparison_2d needs at least one panel")
    surfaces = [(name, *st.check_surface(x, y, Z)) for name, x, y, Z in panels]
    every = np.concatenate([zs.ravel() for _, _, _, zs in surfaces])
    chosen, use_log = resolve_levels(every, levels, vmin, vmax, vlevel, log)
    n = len(surfaces)
    cols = comparison_columns(n)
    rows = -(-n // cols)
    panel_width = min(st.PANEL_WIDTH, (st.MAX_FIGURE_WIDTH - COLORBAR_WIDTH) / cols)
    _, first_x, first_y, _ = surfaces[0]
    panel_height = st.figsize_2d(first_x, first_y, colorbar=False, width=panel_width)[1]
    height = panel_height * rows + (0.28 if title else 0.0)
    fig = st.new_figure((panel_width * cols + COLORBAR_WIDTH, height))
    axes = [fig.add_subplot(rows, cols, k + 1) for k in range(n)]
    drawable = chosen.size >= 2
    norm = st.make_norm(chosen, use_log) if drawable else None
    extend = _extend(every, chosen[0], chosen[-1]) if drawable else "neither"
    mappable = None
    handles: list = []
    for k, (ax, (name, xs, ys, zs)) in enumerate(zip(axes, surfaces, strict=True)):
        if norm is not None:
            mappable = _draw_filled(ax, xs, ys, zs, chosen, norm, extend)
        _limits(ax, xs, ys)
        st.style_axes(ax, xlabel if k + cols >= n else None, ylabel if k % cols == 0 else None)
        if panel_width < st.PANEL_WIDTH - 0.5:  # five tick labels would touch: -1.0-0.5 0.0
            ax.xaxis.set_major_locator(MaxNLocator(nbins=3, steps=[1, 2, 2.5, 5, 10]))
        bad = count_bad(zs)
        st.set_title(ax, f"{name}  ({bad} NaN/inf)" if bad else name, panel_width - 0.2)
        st.equal_aspect_if_sensible(ax, xs, ys)
        handles = st.mark_centre_and_min(ax, xs, ys, zs, min_label=False)
    if mappable is not None:
        st.colorbar(fig, mappable, axes, zlabel, ticks=chosen)
    st.figure_title(fig, title)
    st.legend_below(fig, handles, count_bad(every), every.size, gap_patch=True, ncols=3)
    return fig
