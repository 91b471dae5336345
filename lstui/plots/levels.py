"""Contour levels and bands: pure numbers, shared by the figures and the terminal previews.

A surface may hold points not computed yet or diverged; the caller maps the reference's
``-1`` ("not computed") to NaN, and may pass which points those are (``pending``) so that
the notes tell them from diverged ones. Here every non-finite value (NaN, +inf, -inf) is
a *bad* point: it never takes part in a range, a level or a colour scale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from lstui.errors import BadInput

DEFAULT_NUM_LEVELS = 15
ROBUST_PERCENTILE = 95.0
"""The automatic top level: this percentile of the finite values, so that a few huge
losses at the edge of a grid do not squeeze every contour into the basin."""
LOG_DECADES = 2.0
"""Automatic levels are log-spaced when the finite, all-positive range spans this many decades."""

_LINEAR_STEPS = (1.0, 2.0, 2.5, 5.0)
_LOG_MANTISSAS = ((1.0,), (1.0, 3.0), (1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 5.0, 7.0))


def finite_values(Z: ArrayLike) -> np.ndarray:
    """The finite values of ``Z``, flattened, as float64."""
    values = np.asarray(Z, dtype=np.float64).ravel()
    return values[np.isfinite(values)]


def count_bad(Z: ArrayLike) -> int:
    """How many points of ``Z`` are NaN or ±inf (not computed, or diverged)."""
    values = np.asarray(Z, dtype=np.float64)
    return int(values.size - np.count_nonzero(np.isfinite(values)))


def count_bad_points(curves: Iterable[ArrayLike]) -> int:
    """How many points of curves along one ``x`` have a NaN or ±inf value on some curve
    (a diverged point counts once, with its loss and its accuracy)."""
    bad: np.ndarray | None = None
    for values in curves:
        here = ~np.isfinite(np.asarray(values, dtype=np.float64))
        bad = here if bad is None else bad | here
    return 0 if bad is None else int(np.count_nonzero(bad))


def blank_pending(Z: np.ndarray, pending: ArrayLike | None) -> tuple[np.ndarray, int]:
    """``Z`` with its points not computed yet set to NaN, and how many those are.

    Args:
        Z: the values, as float64.
        pending: a boolean mask of ``Z``'s shape, True where a point is not computed
            yet (a surface file's ``-1``); None when the caller cannot tell.

    Raises:
        ValueError: when the mask's shape is not ``Z``'s.
    """
    if pending is None:
        return Z, 0
    mask = np.asarray(pending, dtype=bool)
    if mask.shape != Z.shape:
        raise ValueError(f"pending has shape {mask.shape}, expected the values' {Z.shape}")
    if not mask.any():
        return Z, 0
    # A point not computed yet is never drawn, whatever the caller left in its place.
    return np.where(mask, np.nan, Z), int(np.count_nonzero(mask))


def _points(n: int) -> str:
    return "point" if n == 1 else "points"


def bad_note(n_bad: int, n_total: int, n_pending: int = 0, *, partial: bool = False) -> str | None:
    """The note a figure carries about its bad points, or None when there are none.

    ``n_pending`` of the ``n_bad`` points are not computed (a job still running, paused
    or cancelled: the note does not guess which), and said so: "2268 points not
    computed"; the rest are NaN/inf (diverged, or of unknown cause when the caller could
    not tell): "3 points NaN/inf (not shown)". ``partial``: the figure is drawn on a
    coarser lattice of the computed points (:func:`lattice`), and the note counts
    what was computed instead: "partial: 777 of 6561 points".
    """
    if n_bad <= 0:
        return None
    n_pending = min(max(n_pending, 0), n_bad)
    n_nan = n_bad - n_pending
    if n_bad >= n_total and not (n_pending and n_nan):
        what = "not computed" if n_pending else "NaN/inf"
        return f"all {n_total} points {what} (nothing to show)"
    if partial and n_pending:
        pending = f"partial: {n_total - n_pending} of {n_total} points"
    else:
        pending = f"{n_pending} {_points(n_pending)} not computed"
    if not n_nan:
        return pending
    nan = f"{n_nan} NaN/inf" if n_pending else f"{n_nan} {_points(n_nan)} NaN/inf"
    shown = "(nothing to show)" if n_bad >= n_total else "(not shown)"
    return f"{pending}, {nan} {shown}" if n_pending else f"{nan} {shown}"


def flat_note(Z: ArrayLike) -> str | None:
    """"flat: every point 2.3026" when every finite value of ``Z`` (two or more) is the
    same, so a figure with no contour to draw says why; None otherwise."""
    values = finite_values(Z)
    if values.size < 2 or float(np.ptp(values)) > 1e-12 * max(1.0, float(np.abs(values).max())):
        return None
    return f"flat: every point {float(values[0]):.5g}"


LATTICE_SHARE = 0.9
"""A finer lattice is drawn when it covers at least this share of what the best one does."""


def lattice(pending: ArrayLike | None, anchors: Sequence[int] | None = None) -> tuple[np.ndarray, ...] | None:
    """The indices, axis by axis, of the lattice a partial surface's contours and 3D view
    are drawn on; None for the full grid.

    Points are computed coarse first (the lattice of every ``2^k``-th point of every
    axis, then of half that step: :meth:`lstui.landscape.grid.SurfaceGrid.coarse_to_fine`),
    so a job stopped early holds scattered points of the full grid, no grid cell has its
    corners computed, and a contour has nothing to join. A lattice of those
    (:func:`~lstui.landscape.grid.lattice_indices`) is then complete. This picks the
    finest step whose complete cells cover at least :data:`LATTICE_SHARE` of the area
    the best step covers; None (the full grid) when nothing is pending, or when the
    missing points are whole rows or regions and the computed part has complete cells.

    Args:
        pending: a boolean mask, True where a point is not computed; None: unknown.
        anchors: each axis's :func:`~lstui.landscape.grid.axis_anchor` (its point at 0),
            which the lattices count from; lattices counted from the first point are
            tried too (a job queued before they counted from the centre).
    """
    from lstui.landscape.grid import lattice_indices

    if pending is None:
        return None
    known = ~np.asarray(pending, dtype=bool)
    if known.all() or not known.any() or known.ndim == 0:
        return None
    # (origin, with the ends): this order's lattices; those of a job queued in the order
    # before (every step-th point from the first, no ends) after them
    origins = [(tuple(anchors) if anchors is not None else (0,) * known.ndim, True), ((0,) * known.ndim, False)]
    covered: list[tuple[int, tuple[np.ndarray, ...], int]] = []
    for origin, ends in origins:
        step = 1
        # the longer axis sets the steps: a 3 × 51 grid's first pass is its ends and centre
        while any((n - 1) // step >= 1 for n in known.shape):
            index = tuple(lattice_indices(n, a, step, ends=ends) for n, a in zip(known.shape, origin, strict=True))
            if any(i.size < 2 for i in index):  # no cell on an axis
                step *= 2
                continue
            cells = known[np.ix_(*index)]
            spans = [np.diff(i) for i in index]
            for axis in range(cells.ndim):
                head = [slice(None)] * cells.ndim
                tail = list(head)
                head[axis], tail[axis] = slice(None, -1), slice(1, None)
                cells = cells[tuple(head)] & cells[tuple(tail)]
            area = cells.astype(np.int64)
            for axis, span in enumerate(spans):  # each cell's area on the full grid
                area = area * span.reshape([-1 if a == axis else 1 for a in range(cells.ndim)])
            covered.append((step, index, int(area.sum())))
            step *= 2
    best = max((area for *_, area in covered), default=0)
    if best == 0:
        return None
    # the finest step near the best cover; of its lattices, the one that covers most
    step, index, _ = min((c for c in covered if c[2] >= LATTICE_SHARE * best), key=lambda c: (c[0], -c[2]))
    return None if step == 1 else index


def robust_range(Z: ArrayLike) -> tuple[float, float] | None:
    """``(finite min, robust max)`` of ``Z``, or None when no value is finite.

    The robust max is the :data:`ROBUST_PERCENTILE` percentile of the finite values, or
    the finite max when that percentile equals the min (a mostly flat surface).
    """
    values = finite_values(Z)
    if values.size == 0:
        return None
    lo = float(values.min())
    hi = float(np.percentile(values, ROBUST_PERCENTILE))
    if hi <= lo:
        hi = float(values.max())
    return lo, hi


def wants_log(Z: ArrayLike, *, robust: bool = True) -> bool:
    """Whether automatic levels for ``Z`` are log-spaced.

    True when every finite value is positive and the robust range spans at least
    :data:`LOG_DECADES` decades (``robust max / min >= 100``). ``robust=False`` (a 1D
    curve's axis, which draws every value): the whole range, so that a curve from 0.001
    to 1.6 is not drawn on a linear axis where its low part is a flat line.
    """
    values = finite_values(Z)
    if values.size == 0 or values.min() <= 0:
        return False
    span = robust_range(values) if robust else (float(values.min()), float(values.max()))
    assert span is not None
    lo, hi = span
    return math.log10(hi / lo) >= LOG_DECADES - 1e-12


def contour_levels(
    Z: ArrayLike,
    vmin: float | None = None,
    vmax: float | None = None,
    vlevel: float | None = None,
    *,
    log: bool | None = None,
    num: int = DEFAULT_NUM_LEVELS,
) -> np.ndarray:
    """The contour levels for ``Z``, strictly increasing.

    With ``vlevel`` the reference's rule holds exactly: ``numpy.arange(vmin, vmax, vlevel)``
    (``vmax`` excluded); a missing ``vmin``/``vmax`` is taken from the data (finite min,
    robust max). Otherwise about ``num`` "nice" levels (1-2-2.5-5 steps, or 1-2-5 per
    decade when log-spaced) lie between ``vmin`` (default: finite min) and ``vmax``
    (default: robust max, see :func:`robust_range`). ``log=None`` picks log spacing by
    :func:`wants_log`; ``log=True`` uses only the positive values.

    Args:
        Z: the surface (any shape); NaN and ±inf are ignored.
        vmin, vmax, vlevel: the reference's ``--vmin``, ``--vmax``, ``--vlevel``.
        log: log-spaced levels; None decides from the data.
        num: the approximate number of automatic levels (at least 2).

    Returns:
        The levels as float64; empty when ``Z`` holds no finite value and no explicit
        ``vmin``/``vmax`` pair makes a range.

    Raises:
        BadInput: for ``vlevel <= 0``, ``vmax <= vmin``, non-finite bounds, or log levels
            with a non-positive ``vmin``.
    """
    for name, value in (("vmin", vmin), ("vmax", vmax), ("vlevel", vlevel)):
        if value is not None and not math.isfinite(value):
            raise BadInput(f"--{name} must be a finite number, not {value!r}")
    if vlevel is not None and vlevel <= 0:
        raise BadInput(f"--vlevel must be positive (the spacing between contours), not {vlevel:g}")
    if vmin is not None and vmax is not None and vmax <= vmin:
        raise BadInput(f"--vmax ({vmax:g}) must be greater than --vmin ({vmin:g})")
    num = max(2, int(num))

    values = finite_values(Z)
    if log is None:
        log = vlevel is None and wants_log(values) and (vmin is None or vmin > 0)
    if log:
        if vmin is not None and vmin <= 0:
            raise BadInput(f"log-scale levels need --vmin > 0, not {vmin:g}")
        values = values[values > 0]

    span = robust_range(values)
    lo = vmin if vmin is not None else (span[0] if span else None)
    hi = vmax if vmax is not None else (span[1] if span else None)
    if lo is None or hi is None:
        return np.empty(0)
    if hi <= lo:
        # A flat surface, or a data range on the wrong side of one given bound.
        lo, hi = nonempty_range(lo, hi, log, fixed_lo=vmin is not None, fixed_hi=vmax is not None)

    if vlevel is not None:
        if vmin is None:  # round levels (1.1, 1.2, …), not the minimum's 1.03295 + k·0.1
            lo = math.floor(lo / vlevel) * vlevel
        if (hi - lo) / vlevel > MAX_LEVELS:
            raise BadInput(
                f"--vlevel {vlevel:g} draws {(hi - lo) / vlevel:.3g} contours between {lo:g} and {hi:g}; "
                f"give one of at least {(hi - lo) / MAX_LEVELS:.3g} (at most {MAX_LEVELS} contours)"
            )
        levels = np.arange(lo, hi, vlevel, dtype=np.float64)
        return levels if levels.size else np.array([lo])
    return _log_levels(lo, hi, num) if log else _linear_levels(lo, hi, num)


MAX_LEVELS = 1000
"""More contours than this (a tiny ``--vlevel``) are refused: they cannot be told apart,
and a few million of them exhaust memory before anything is drawn."""


def nonempty_range(
    lo: float, hi: float, log: bool, *, fixed_lo: bool = False, fixed_hi: bool = False
) -> tuple[float, float]:
    """``(lo, hi)``, made a non-empty range around a single value when ``hi <= lo``.

    The one rule for a flat surface (every value 2.302585), for levels and colour
    scales alike: ±5 % around it (at least ±0.001), or half a decade either way on a
    log scale; a bound the caller gave (``fixed_lo``/``fixed_hi``) stays where it is.
    """
    if hi > lo:
        return lo, hi
    hi, lo = _widen(lo, hi, log, fixed_lo=fixed_lo, fixed_hi=fixed_hi)
    return lo, hi


def _widen(
    lo: float, hi: float, log: bool, *, fixed_lo: bool, fixed_hi: bool
) -> tuple[float, float]:
    """Return ``(hi, lo)`` made into a non-empty range around a single value."""
    if log:
        if fixed_lo and not fixed_hi:
            return lo * 10.0, lo
        if fixed_hi and not fixed_lo:
            return hi, hi / 10.0
        centre = lo if lo > 0 else hi
        return centre * math.sqrt(10.0), centre / math.sqrt(10.0)
    if fixed_lo and not fixed_hi:
        return lo + max(abs(lo), 1.0), lo
    if fixed_hi and not fixed_lo:
        return hi, hi - max(abs(hi), 1.0)
    delta = max(abs(lo) * 0.05, 1e-3)
    return lo + delta, lo - delta


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step)) + 2)


def _linear_levels(lo: float, hi: float, num: int) -> np.ndarray:
    """Levels at multiples of a 1-2-2.5-5 step, at most ``num`` of them, within [lo, hi]."""
    raw = (hi - lo) / (num - 1)
    exponent = math.floor(math.log10(raw))
    chosen: np.ndarray | None = None
    for power in (exponent, exponent + 1):
        for mantissa in _LINEAR_STEPS:
            step = mantissa * 10.0**power
            first = math.ceil(lo / step - 1e-9)
            last = math.floor(hi / step + 1e-9)
            if last - first + 1 <= num:
                chosen = np.round(np.arange(first, last + 1) * step, _decimals(step))
                break
        if chosen is not None:
            break
    if chosen is None or chosen.size < 2:
        return np.linspace(lo, hi, num)
    return chosen


def _log_levels(lo: float, hi: float, num: int) -> np.ndarray:
    """Levels at 1-2-5 (or denser/sparser) mantissas per decade, within [lo, hi]."""
    first_decade = math.floor(math.log10(lo))
    last_decade = math.ceil(math.log10(hi))
    best: np.ndarray | None = None
    for mantissas in _LOG_MANTISSAS:
        candidates = np.array(
            [m * 10.0**d for d in range(first_decade, last_decade + 1) for m in mantissas]
        )
        tolerance = 1e-9 * hi
        inside = candidates[(candidates >= lo * (1 - 1e-9)) & (candidates <= hi + tolerance)]
        if inside.size > num * 1.3:
            break
        best = inside
    if best is None:  # more decades than levels (0.005 to 2e20): every k-th decade
        k = math.ceil((last_decade - first_decade) / max(num - 1, 1))
        powers = np.array([10.0**d for d in range(first_decade, last_decade + 1) if d % k == 0])
        best = powers[(powers >= lo * (1 - 1e-9)) & (powers <= hi * (1 + 1e-9))]
    if best.size < 2 or best.size < num // 3:
        return np.geomspace(lo, hi, num)
    return np.array([float(f"{v:.6g}") for v in best])


BASIN_SHARE = 0.01
"""A basin level is added when more than this share of the finite points (and at least
three) lie below the lowest automatic level."""
_BASIN_DIVISORS = (2, 4, 5, 10, 20, 50, 100)
_BASIN_MANTISSAS = ((1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 5.0, 7.0), tuple(np.arange(10, 100) / 10))


def with_basin_level(levels: ArrayLike, Z: ArrayLike, *, log: bool) -> np.ndarray:
    """``levels`` with one more level inside the basin, when the basin would have none.

    Automatic levels start at a round number at or above the minimum, so the region
    around the minimum, below the lowest level, can be wide (a minimum of 1.03 under a
    lowest level of 1.5) and hold no contour. This adds the roundest number between the
    minimum and the lowest level, near the middle of the gap (1.25 there; for log levels,
    near the middle in log space), when more than :data:`BASIN_SHARE` of the finite
    points (and at least three) lie below the lowest level.

    Args:
        levels: increasing levels (automatic ones).
        Z: the surface they were chosen for; NaN and ±inf are ignored.
        log: the levels are log-spaced (only the positive values count).

    Returns:
        The levels, with the basin level first when one was added.
    """
    chosen = np.asarray(levels, dtype=np.float64)
    values = finite_values(Z)
    if log:
        values = values[values > 0]
    if chosen.size < 2 or values.size == 0:
        return chosen
    lo, first = float(values.min()), float(chosen[0])
    below = int(np.count_nonzero(values < first))
    if lo >= first or below < max(3, BASIN_SHARE * values.size):
        return chosen
    extra = _round_between(lo, first, log=log, step=float(chosen[1] - chosen[0]))
    return chosen if extra is None else np.concatenate([[extra], chosen])


def _round_between(lo: float, hi: float, *, log: bool, step: float) -> float | None:
    """The roundest number in the middle part of (lo, hi), nearest its centre; or None."""
    if log:
        a, b = math.log10(lo), math.log10(hi)
        inner_lo, inner_hi = a + 0.2 * (b - a), b - 0.2 * (b - a)
        centre = (a + b) / 2
        for mantissas in _BASIN_MANTISSAS:
            candidates = [
                float(f"{m * 10.0**d:.6g}")
                for d in range(math.floor(a), math.ceil(b) + 1)
                for m in mantissas
            ]
            inside = [c for c in candidates if inner_lo <= math.log10(c) <= inner_hi]
            if inside:
                return min(inside, key=lambda c: abs(math.log10(c) - centre))
        return None
    inner_lo, inner_hi = lo + 0.2 * (hi - lo), hi - 0.2 * (hi - lo)
    for divisor in _BASIN_DIVISORS:
        sub = step / divisor
        first, last = math.ceil(inner_lo / sub - 1e-9), math.floor(inner_hi / sub + 1e-9)
        if first <= last:
            middle = min(range(first, last + 1), key=lambda m: abs(m * sub - (lo + hi) / 2))
            return round(middle * sub, _decimals(sub))
    return None


def quantise(Z: ArrayLike, levels: ArrayLike) -> np.ndarray:
    """The band of every point: which pair of levels it lies between.

    Band ``0`` is below ``levels[0]``, band ``k`` is ``levels[k-1] <= z < levels[k]``, and
    band ``len(levels)`` is at or above the top level (``numpy.digitize``), so there are
    ``len(levels) + 1`` bands. NaN and ±inf points get ``-1``.

    Returns:
        An int array of ``Z``'s shape.
    """
    values = np.asarray(Z, dtype=np.float64)
    edges = np.asarray(levels, dtype=np.float64)
    bands = np.full(values.shape, -1, dtype=np.int64)
    finite = np.isfinite(values)
    bands[finite] = np.digitize(values[finite], edges)
    return bands


def format_level(value: float, digits: int = 3) -> str:
    """A contour or colorbar label: ``digits`` significant digits, no trailing zeros."""
    text = f"{value:.{digits}g}"
    return text.replace("e-0", "e-").replace("e+0", "e")


def level_digits(levels: np.ndarray | None) -> int:
    """Significant digits that tell neighbouring levels apart (2.3125 vs 2.315), at least 3."""
    if levels is None or np.size(levels) < 2:
        return 3
    values = np.asarray(levels, dtype=float)
    for digits in range(3, 9):
        labels = [format_level(v, digits) for v in values]
        if len(set(labels)) == len(labels):
            return digits
    return 9
