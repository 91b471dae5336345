"""Grid specs (``min:max:num``) and the point order of a surface.

A surface of ``ny`` rows and ``nx`` columns holds, at ``Z[i, j]``, the value at
``x = xcoordinates[j]``, ``y = ycoordinates[i]`` (the layout of ``numpy.meshgrid(x, y)``).
The flat index of that point is ``k = i * nx + j``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from lstui.errors import GridError

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_SPEC = re.compile(rf"^\s*({_NUMBER})\s*:\s*({_NUMBER})\s*:\s*(\S+)\s*$")
MAX_AXIS_POINTS = 10_001
MAX_COORDINATE = float(np.finfo(np.float32).max)
"""The largest |MIN| or |MAX|: a step is taken in float32 (3.4e38 at most); a larger one
failed every point in the worker ("value cannot be converted to type float")."""
MAX_POINTS = 1001 * 1001
"""Points of one job at most: a 1001×1001 surface is 17 hours at 0.06 s a point, and a
10001×10001 one took 12 GB of memory to queue before it was refused."""


@dataclass(frozen=True)
class Axis:
    """One axis of a grid: ``num`` evenly spaced coordinates from ``min`` to ``max``."""

    min: float
    max: float
    num: int

    @property
    def coordinates(self) -> np.ndarray:
        values = np.linspace(self.min, self.max, self.num)
        if self.num > 1:
            # the centre is 0 exactly, not 1.8e-15 (-11.1:3.7:5): its point is the model itself,
            # and a figure says "minimum at (0, 0)", not "at (0, 8.88e-16)"
            values[np.abs(values) < 1e-9 * (self.max - self.min) / (self.num - 1)] = 0.0
        return values

    def __str__(self) -> str:
        return f"{self.min:g}:{self.max:g}:{self.num}"


def parse_axis(text: str, flag: str = "--x") -> Axis:
    """Parse ``min:max:num``; raise :class:`GridError` naming what is accepted."""
    accepted = f"expected {flag} MIN:MAX:NUM with MIN < MAX and NUM a whole number ≥ 2, e.g. -1:1:51"
    match = _SPEC.match(str(text).replace("\u2212", "-"))  # a minus sign copied from a paper or a PDF
    if match is None:
        raise GridError(f"{flag} {text!r} is not a grid spec; {accepted}")
    lo, hi, num_text = float(match.group(1)), float(match.group(2)), match.group(3)
    if re.fullmatch(r"[-+]\d+", num_text) and int(num_text) < 2:
        raise GridError(f"{flag} {text!r}: NUM must be at least 2; {accepted}")
    if re.fullmatch(_NUMBER, num_text) and float(num_text) > MAX_AXIS_POINTS:
        raise GridError(f"{flag} {text!r}: NUM must be at most {MAX_AXIS_POINTS}; {accepted}")
    # a whole number written as a float (51.0, 5.1e1) is taken, as the reference's int(float(...))
    if not (re.fullmatch(r"\d+", num_text) or (re.fullmatch(_NUMBER, num_text) and float(num_text).is_integer())):
        raise GridError(f"{flag} {text!r}: NUM {num_text!r} is not a whole number; {accepted}")
    num = int(float(num_text)) if not num_text.isdigit() else int(num_text)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise GridError(f"{flag} {text!r}: MIN and MAX must be finite; {accepted}")
    if max(abs(lo), abs(hi)) > MAX_COORDINATE:
        raise GridError(f"{flag} {text!r}: MIN and MAX must lie within ±3.4e38 (a step is taken "
                        f"in float32); {accepted}")
    if num < 2:
        raise GridError(f"{flag} {text!r}: NUM must be at least 2; {accepted}")
    if num > MAX_AXIS_POINTS:
        raise GridError(f"{flag} {text!r}: NUM must be at most {MAX_AXIS_POINTS}; {accepted}")
    if not lo < hi:
        raise GridError(f"{flag} {text!r}: MIN must be smaller than MAX; {accepted}")
    return Axis(lo, hi, num)


@dataclass(frozen=True)
class SurfaceGrid:
    """The points of a 1D (``y is None``) or 2D surface."""

    x: Axis
    y: Axis | None = None

    def check_size(self) -> None:
        """Refuse a grid of more than :data:`MAX_POINTS`, or one whose points are not
        distinct in float32 (a new job's: one queued before these checks, by an older
        lstui, is still computed and read back)."""
        for flag, axis in (("--x", self.x), ("--y", self.y)):
            if axis is not None and np.any(np.diff(axis.coordinates.astype(np.float32)) <= 0):
                # a step is taken in float32: ±1e-320 is 0 there, every point the same
                step = (axis.max - axis.min) / (axis.num - 1)
                shown = ":".join(repr(v) for v in (axis.min, axis.max)) + f":{axis.num}"
                raise GridError(f"{flag} {shown}: a step of {step:.3g} is lost in float32, where the "
                                "weights are stepped (its coordinates would repeat); use a wider range or "
                                "fewer points")
        if self.num_points > MAX_POINTS:
            raise GridError(
                f"--x {self.x} × --y {self.y} is {self.num_points:,} points; one job takes at most "
                f"{MAX_POINTS:,} (1001×1001): queue a coarser grid, or several jobs over parts of it"
            )

    @property
    def ndim(self) -> int:
        return 1 if self.y is None else 2

    @property
    def shape(self) -> tuple[int, ...]:
        """Array shape of a surface: ``(nx,)`` or ``(ny, nx)``."""
        return (self.x.num,) if self.y is None else (self.y.num, self.x.num)

    @property
    def num_points(self) -> int:
        return self.x.num * (1 if self.y is None else self.y.num)

    def coordinates_of(self, index: int) -> tuple[float, float]:
        """``(x, y)`` of flat index ``index`` (``y`` is 0.0 for a 1D grid)."""
        nx = self.x.num
        xs = self.x.coordinates
        if self.y is None:
            return float(xs[index]), 0.0
        return float(xs[index % nx]), float(self.y.coordinates[index // nx])

    def coarse_to_fine(self) -> list[int]:
        """All flat indices, the points of the lattice of every 2^k-th point of both axes
        first (:func:`lattice_indices`: counted from the centre, and the ends), halving k
        each pass.

        A prefix of this order already covers the whole plane, so a partial surface
        is a coarse picture of the full one; the centre, the model itself, is in the
        first pass (counted from the first point, a 51-point axis had its centre, 25,
        in the last, and a paused 51×51 job showed no θ*).
        """
        nx = self.x.num
        ny = 1 if self.y is None else self.y.num
        top = max(0, int(math.floor(math.log2(max(nx, ny) - 1))) if max(nx, ny) > 1 else 0)
        level_x = _axis_levels(nx, axis_anchor(self.x.coordinates), top)
        level_y = (np.zeros(1, dtype=np.int64) + top if self.y is None
                   else _axis_levels(ny, axis_anchor(self.y.coordinates), top))
        levels = np.minimum(level_y[:, None], level_x[None, :]).ravel()
        return [int(k) for k in np.lexsort((np.arange(levels.size), -levels))]

    def work_units(self, chunk: int, taper: int = 0) -> list[list[int]]:
        """The coarse-to-fine order cut into chunks of at most ``chunk`` points; with
        ``taper``, the last ones smaller (:func:`unit_sizes`)."""
        if chunk < 1:
            raise GridError(f"unit size must be at least 1, got {chunk}")
        order = self.coarse_to_fine()
        units, start = [], 0
        for size in unit_sizes(len(order), chunk, taper):
            units.append(order[start : start + size])
            start += size
        return units

    def describe(self) -> str:
        return str(self.x) if self.y is None else f"{self.x} × {self.y}"


def axis_anchor(coordinates: np.ndarray) -> int:
    """The index an axis's coarse-to-fine lattices count from: its point at 0 (the model
    itself: a surface's centre, an interpolation's A) where it has one, else its first."""
    zero = np.flatnonzero(np.asarray(coordinates) == 0.0)
    return int(zero[0]) if zero.size else 0


def lattice_indices(n: int, anchor: int, step: int, *, ends: bool = True) -> np.ndarray:
    """The indices of an axis of ``n`` points on its lattice of ``step``: every
    ``step``-th point counted from ``anchor`` both ways, and the axis's two ends (so that
    a coarse picture spans the whole axis; ``ends=False``: without them, the lattices of
    the jobs queued before). Finer lattices hold the coarser ones."""
    picked = set(range(anchor % step, n, step)) | ({0, n - 1} if ends else set())
    return np.array(sorted(picked), dtype=np.int64)


def _axis_levels(n: int, anchor: int, top: int) -> np.ndarray:
    """Each index's pass: the largest ``k ≤ top`` whose lattice of ``2^k`` holds it."""
    levels = np.zeros(n, dtype=np.int64)
    for k in range(1, top + 1):
        levels[lattice_indices(n, anchor, 2**k)] = k
    return levels


def unit_sizes(points: int, chunk: int, taper: int = 0) -> list[int]:
    """Sizes of the units ``points`` points are cut into: ``chunk`` each, except that with
    ``taper`` the last units halve in size down to one point, ``taper`` units of each size
    (chunk 16, taper 4: 16, …, 16, r, 8, 8, 8, 8, 4, 4, 4, 4, 2, 2, 2, 2, 1, 1, 1, 1 with
    r what is left over, if any). Workers taking units in turn then run out of work
    within about a point of each other, not up to a whole unit apart."""
    tail: list[int] = []
    left, size = points, 1
    while taper and size < chunk and left:
        for _ in range(taper):
            take = min(size, left)
            if take:
                tail.append(take)
                left -= take
        size *= 2
    bulk = [chunk] * (left // chunk) + ([left % chunk] if left % chunk else [])
    return bulk + tail[::-1]
