"""A job stopped early: its points lie scattered over the grid (computed coarse first),
yet its contours, filled contours and 3D view are drawn, and the figure says it is partial."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

from lstui.landscape.grid import Axis, SurfaceGrid
from lstui.plots import plot_1d, plot_contour, plot_filled_contour, plot_surface_3d, plot_trajectory
from lstui.plots.levels import lattice


def legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def cancelled_job(n: int = 81, done: int = 777) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """An n × n job over [-1, 1]² cancelled after its first ``done`` points, in the
    order the scheduler computes them; the rest hold the surface file's -1."""
    grid = SurfaceGrid(Axis(-1.0, 1.0, n), Axis(-1.0, 1.0, n))
    x, y = grid.x.coordinates, grid.y.coordinates
    X, Y = np.meshgrid(x, y)
    full = 0.01 + 5 * (X**2 + 0.5 * Y**2) + 20 * (X**4 + Y**4)
    pending = np.ones(full.size, dtype=bool)
    pending[grid.coarse_to_fine()[:done]] = False
    pending = pending.reshape(full.shape)
    return x, y, np.where(pending, -1.0, full), pending


def test_the_lattice_of_a_coarse_first_prefix_is_the_finest_one_complete():
    *_, pending = cancelled_job(81, 777)  # every 4th point (21 × 21 = 441) done, every 2nd not
    rows, cols = lattice(pending, (40, 40))
    assert list(rows) == list(cols) == list(range(0, 81, 4))
    assert not pending[::4, ::4].any()
    *_, pending = cancelled_job(81, 81 * 81)
    assert lattice(pending, (40, 40)) is None
    assert lattice(None) is None


def test_missing_whole_rows_keep_the_full_grid():
    pending = np.zeros((21, 41), dtype=bool)
    pending[11:, :] = True  # the top half not computed: the bottom half has whole cells
    assert lattice(pending) is None
    pending = np.zeros((21, 41), dtype=bool)
    pending[:, 30:] = True
    assert lattice(pending) is None


def test_a_51x51_job_paused_early_has_its_centre_and_draws_it():
    """θ* (the point at (0, 0)) came in the last pass of a 51×51 grid, counted from its
    first point: a paused job's figures marked a "minimum" beside a centre never
    computed. The lattices count from the centre now, and hold the axes' ends."""
    x, y, Z, pending = cancelled_job(51, 200)
    assert not pending[25, 25]
    rows, cols = lattice(pending, (25, 25))
    assert 25 in rows and 25 in cols and rows[0] == 0 and rows[-1] == 50
    fig = plot_filled_contour(x, y, Z, pending=pending)
    assert "partial: 200 of 2601 points" in legend_texts(fig)
    assert "minimum (0.01)" in legend_texts(fig), "θ*, the surface's minimum, not a neighbour of it"


def test_a_job_queued_in_the_old_order_is_still_drawn_on_its_lattice():
    """Jobs queued before hold the lattices counted from the first point."""
    pending = np.ones((51, 51), dtype=bool)
    pending[::8, ::8] = False
    pending[::16, ::16] = False
    rows, cols = lattice(pending, (25, 25))
    assert list(rows) == list(cols) == list(range(0, 51, 8))  # (not its end, not computed yet)


@pytest.mark.parametrize("draw", [plot_contour, plot_filled_contour])
def test_a_cancelled_jobs_contours_are_drawn_on_its_complete_lattice(draw):
    x, y, Z, pending = cancelled_job()
    fig = draw(x, y, Z, pending=pending)
    sets = [c for c in fig.axes[0].collections if isinstance(c, ContourSet)]
    assert sets and sum(len(seg) for cs in sets for level in cs.allsegs for seg in level) > 100
    assert fig.axes[0].get_xlim() == (-1.0, 1.0) and fig.axes[0].get_ylim() == (-1.0, 1.0)
    assert "partial: 777 of 6561 points" in legend_texts(fig)
    assert not any("not computed yet" in text for text in legend_texts(fig))


def test_a_cancelled_jobs_3d_surface_has_faces():
    x, y, Z, pending = cancelled_job()
    fig = plot_surface_3d(x, y, Z, pending=pending)
    (surface,) = fig.axes[0].collections
    assert len(surface.get_paths()) >= 20 * 20  # 21 × 21 points of every 4th: 400 faces
    assert np.nanmin(surface.get_array()) >= 0.01  # no -1 of a pending point among them
    assert "partial: 777 of 6561 points" in legend_texts(fig)


def test_a_cancelled_jobs_trajectory_contours_are_drawn():
    x, y, Z, pending = cancelled_job()
    fig = plot_trajectory(x, y, Z, [0.5, 0.0], [0.5, 0.0], pending=pending)
    sets = [c for c in fig.axes[0].collections if isinstance(c, ContourSet)]
    assert sets and any(len(level) for level in sets[0].allsegs)
    assert "partial: 777 of 6561 points" in legend_texts(fig)


def test_a_cancelled_1d_job_draws_its_curve_through_the_computed_points():
    grid = SurfaceGrid(Axis(-1.0, 1.0, 33))
    x = grid.x.coordinates
    pending = np.ones(x.size, dtype=bool)
    pending[grid.coarse_to_fine()[:9]] = False  # every 4th point
    loss = np.where(pending, -1.0, 0.1 + x**2)
    fig = plot_1d(x, {"train_loss": loss}, pending=pending)
    (line,) = fig.axes[0].get_lines()
    ydata = np.asarray(line.get_ydata(), dtype=float)
    assert ydata.size == 9 and np.isfinite(ydata).all()
    assert "partial: 9 of 33 points" in legend_texts(fig)


def test_a_grid_far_longer_than_high_is_drawn_from_its_first_pass():
    """3 × 51: the steps were capped by the short axis, and the first 16 points (its ends
    and centre, then more) drew no cell."""
    grid = SurfaceGrid(Axis(-1.0, 1.0, 51), Axis(-1.0, 1.0, 3))
    pending = np.ones((3, 51), dtype=bool)
    pending.flat[grid.coarse_to_fine()[:9]] = False
    rows, cols = lattice(pending, (1, 25))
    assert list(rows) == [0, 1, 2] and list(cols) == [0, 25, 50]
