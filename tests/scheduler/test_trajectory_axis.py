"""The grid a trajectory job chooses over its path: the path inside, the centre (the
final model, at 0) a grid point, so the surface holds the final model's own loss."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from lstui.scheduler.trajectory import _covering_axis

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


@given(st.lists(finite, min_size=2, max_size=50), st.integers(min_value=3, max_value=101))
def test_the_path_is_covered_and_the_centre_is_a_grid_point(values: list[float], num: int) -> None:
    path = np.asarray(values)
    axis = _covering_axis(path, num)
    xs = axis.coordinates
    assert axis.num == num and xs[0] <= path.min() and xs[-1] >= path.max()
    assert np.min(np.abs(xs)) <= 1e-12 * (xs[-1] - xs[0])  # 0, to rounding
    span = max(path.max(), 0.0) - min(path.min(), 0.0)
    assert xs[-1] - xs[0] <= 2.5 * max(span, 1e-3) + 2 * (xs[1] - xs[0])  # not much wider


def test_the_quick_demos_path_gets_its_centre() -> None:
    """The case a tester met: x from -17 to 4 in 7 points had no point at 0, and the
    figure's "minimum (0.136)" was not the final model's 0.128."""
    xs = _covering_axis(np.array([-17.0, 3.0]), 7).coordinates
    assert 0.0 in xs.tolist()


def test_the_grid_hugs_a_lopsided_path_on_both_sides() -> None:
    """A walker's path, x from -0.77 to 9.63 in 11 points, got the grid -4:16: 40 % of it
    empty on the right (the split of intervals rounded from the proportions)."""
    path = np.array([-0.77, 9.63])
    axis = _covering_axis(path, 11)
    assert 0.0 in axis.coordinates.tolist() and axis.min <= -0.77 and axis.max >= 9.63
    assert axis.max - axis.min <= 17.5, axis  # the path and a quarter of its span each side


def test_a_path_outside_the_grid_a_person_gave_is_said() -> None:
    from pathlib import Path

    from lstui.landscape.grid import parse_axis
    from lstui.scheduler.trajectory import TrajectoryPlane, path_outside

    plane = TrajectoryPlane(Path("d.h5"), Path("p.h5"), np.array([-0.77, 9.63]), np.array([0.0, 3.44]), (0.8, 0.1))
    note = path_outside(plane, parse_axis("-1:1:5"), parse_axis("-4:4:5", "--y"))
    assert note is not None and note.startswith("the checkpoints' path leaves the grid --x -1:1:5 (the path spans -0.77 to 9.63)")
    assert "leaves the grid --x -1:1:5 (the path spans -0.77 to 9.63):" in note  # --y holds it
    assert path_outside(plane, parse_axis("-1:10:5"), parse_axis("-1:4:5", "--y")) is None
