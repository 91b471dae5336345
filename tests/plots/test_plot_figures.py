"""What the figures draw: contours where they belong, one colour scale, gaps for NaN/inf."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.colors import LogNorm
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

from lstui.plots import (
    plot_1d,
    plot_comparison_1d,
    plot_comparison_2d,
    plot_contour,
    plot_filled_contour,
    plot_heatmap,
    plot_sharpness_table,
    plot_surface_3d,
    plot_trajectory,
)


def contour_sets(fig: Figure) -> list[ContourSet]:
    return [c for ax in fig.axes for c in ax.collections if isinstance(c, ContourSet)]


def filled_sets(fig: Figure) -> list[ContourSet]:
    return [c for c in contour_sets(fig) if c.filled]


def legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def marker_data(fig: Figure, label_start: str) -> tuple[float, float]:
    for line in fig.axes[0].get_lines():
        if line.get_label().startswith(label_start):
            return float(line.get_xdata()[0]), float(line.get_ydata()[0])
    raise AssertionError(f"no marker labelled {label_start!r}")


def test_paraboloid_contour_of_level_c_lies_at_radius_sqrt_c(paraboloid):
    x, y, Z = paraboloid
    levels = [0.1, 0.25, 0.5, 0.81]
    fig = plot_contour(x, y, Z, levels)
    (cs,) = contour_sets(fig)
    assert np.array_equal(cs.levels, levels)
    for level, segments in zip(levels, cs.allsegs, strict=True):
        vertices = np.concatenate(segments)
        radii = np.hypot(vertices[:, 0], vertices[:, 1])
        assert np.allclose(radii, np.sqrt(level), atol=0.01), level  # grid step 0.02


def test_contour_levels_respect_vmin_vmax_vlevel(paraboloid):
    x, y, Z = paraboloid
    fig = plot_contour(x, y, Z, vmin=0.1, vmax=1.5, vlevel=0.2)
    (cs,) = contour_sets(fig)
    assert np.array_equal(cs.levels, np.arange(0.1, 1.5, 0.2))


def test_centre_and_minimum_are_marked_where_they_are(two_minima):
    x, y, Z = two_minima
    for fig in (plot_contour(x, y, Z), plot_filled_contour(x, y, Z), plot_heatmap(x, y, Z)):
        assert marker_data(fig, "minimum") == (1.0, 0.5)
        assert marker_data(fig, "centre") == (0.0, 0.0)
        assert "minimum (0)" in legend_texts(fig)


def test_heatmap_cells_follow_the_meshgrid_layout(two_minima):
    x, y, Z = two_minima
    fig = plot_heatmap(x, y, Z, log=False)
    (mesh,) = [c for c in fig.axes[0].collections if isinstance(c, QuadMesh)]
    coords = mesh.get_coordinates()
    assert coords.shape == (y.size + 1, x.size + 1, 2)
    centres_x = (coords[0, :-1, 0] + coords[0, 1:, 0]) / 2
    centres_y = (coords[:-1, 0, 1] + coords[1:, 0, 1]) / 2
    assert np.allclose(centres_x, x) and np.allclose(centres_y, y)
    assert np.array_equal(np.asarray(mesh.get_array()).reshape(Z.shape), Z)
    assert fig.axes[0].get_ylim()[0] < fig.axes[0].get_ylim()[1]  # origin lower


def test_filled_contour_lowest_band_surrounds_the_global_minimum(two_minima):
    x, y, Z = two_minima
    fig = plot_filled_contour(x, y, Z, levels=[0.05, 0.5, 1.0, 2.0])
    (cf,) = filled_sets(fig)
    assert cf.extend in ("min", "both")
    lowest = np.concatenate(cf.allsegs[0])
    assert np.all(np.hypot(lowest[:, 0] - 1.0, lowest[:, 1] - 0.5) < 0.3)


def test_log_scale_uses_a_log_norm_on_positive_levels(loss_like):
    x, y, Z = loss_like
    (auto,) = filled_sets(plot_filled_contour(x, y, Z))
    assert isinstance(auto.norm, LogNorm) and auto.levels[0] > 0
    (linear,) = filled_sets(plot_filled_contour(x, y, Z, log=False))
    assert not isinstance(linear.norm, LogNorm)
    # The reference's evenly spaced levels keep a linear scale.
    (reference,) = filled_sets(plot_filled_contour(x, y, Z, vmin=0.1, vmax=10, vlevel=0.5))
    assert not isinstance(reference.norm, LogNorm)
    assert np.array_equal(reference.levels, np.arange(0.1, 10, 0.5))


def test_comparison_panels_share_one_norm_and_one_set_of_levels(paraboloid):
    x, y, Z = paraboloid
    fig = plot_comparison_2d([("small batch", x, y, Z), ("large batch", x, y, 10 * Z)], log=False)
    sets = filled_sets(fig)
    assert len(sets) == 2
    first, second = sets
    assert np.array_equal(first.levels, second.levels)
    assert first.norm.vmin == second.norm.vmin and first.norm.vmax == second.norm.vmax
    assert first.norm.vmax > Z.max()  # the scale covers the steeper panel too
    # Two panels and a single colorbar.
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes[:2]] == ["small batch", "large batch"]


def test_comparison_honours_reference_levels(paraboloid):
    x, y, Z = paraboloid
    fig = plot_comparison_2d([("a", x, y, Z), ("b", x, y, Z)], vmin=0.1, vmax=1.0, vlevel=0.1)
    for cf in filled_sets(fig):
        assert np.array_equal(cf.levels, np.arange(0.1, 1.0, 0.1))


@pytest.mark.parametrize("kind", ["contour", "filled", "heatmap", "surface3d", "comparison"])
def test_nan_and_inf_points_are_gaps_reported_and_off_the_colour_scale(
    kind, loss_like, with_bad_points
):
    x, y, Z = loss_like
    bad = with_bad_points(Z)
    finite = bad[np.isfinite(bad)]
    figure = {
        "contour": lambda: plot_contour(x, y, bad),
        "filled": lambda: plot_filled_contour(x, y, bad),
        "heatmap": lambda: plot_heatmap(x, y, bad),
        "surface3d": lambda: plot_surface_3d(x, y, bad),
        "comparison": lambda: plot_comparison_2d([("a", x, y, bad), ("b", x, y, Z)]),
    }[kind]
    fig = figure()
    fig.canvas.draw()
    assert "3 points NaN/inf (not shown)" in legend_texts(fig)
    mappables = [c for ax in fig.axes for c in ax.collections if c.get_array() is not None]
    assert mappables
    for artist in mappables:
        norm = artist.norm
        assert np.isfinite(norm.vmin) and np.isfinite(norm.vmax)
        assert finite.min() <= norm.vmin < norm.vmax <= finite.max()


def test_an_all_nan_surface_still_renders_with_its_note(paraboloid):
    x, y, _ = paraboloid
    empty = np.full((y.size, x.size), np.nan)
    for fig in (
        plot_contour(x, y, empty),
        plot_filled_contour(x, y, empty),
        plot_heatmap(x, y, empty),
        plot_surface_3d(x, y, empty),
        plot_trajectory(x, y, empty, [0.5, 0.0], [0.5, 0.0]),
    ):
        fig.canvas.draw()
        assert f"all {empty.size} points NaN/inf (nothing to show)" in legend_texts(fig)


@pytest.mark.parametrize("kind", ["contour", "filled", "heatmap", "surface3d", "trajectory"])
def test_points_not_computed_yet_are_named_apart_from_nan_ones_and_never_drawn(kind, two_minima):
    """A partial surface: the top half not computed yet, left as the reference's -1 (a
    value lower than any computed one), and one computed point diverged (NaN)."""
    x, y, Z = two_minima
    partial = Z.copy()
    pending = np.zeros(Z.shape, dtype=bool)
    pending[11:, :] = True  # y > 0: the global minimum (1, 0.5) is not computed yet
    partial[pending] = -1.0
    partial[0, 0] = np.nan
    draw = {
        "contour": plot_contour,
        "filled": plot_filled_contour,
        "heatmap": plot_heatmap,
        "surface3d": plot_surface_3d,
        "trajectory": lambda x, y, Z, pending: plot_trajectory(x, y, Z, [1, 0], [-1, 0], pending=pending),
    }[kind]
    fig = draw(x, y, partial, pending=pending)
    fig.canvas.draw()
    n_pending = int(pending.sum())
    assert f"{n_pending} points not computed,\n1 NaN/inf (not shown)" in legend_texts(fig)
    for artist in (c for ax in fig.axes for c in ax.collections if c.get_array() is not None):
        assert artist.norm.vmin >= 0  # the -1 of the points not computed is on no scale
    if kind in ("contour", "filled", "heatmap"):
        # the minimum of the computed points: the local one at (-1, -0.5), not a pending -1
        assert marker_data(fig, "minimum") == (-1.0, -0.5)


def test_1d_points_count_once_whatever_the_number_of_curves():
    x = np.linspace(-1, 1, 11)
    loss, acc = x**2 + 0.1, 90 - x**2
    pending = x > 0.5
    loss[pending], acc[pending] = -1.0, -1.0
    loss[2] = acc[2] = np.nan  # diverged: no loss, no accuracy
    fig = plot_1d(x, {"train_loss": loss, "train_acc": acc}, pending=pending)
    fig.canvas.draw()
    assert "3 points not computed,\n1 NaN/inf (not shown)" in legend_texts(fig)
    (line,) = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "train loss"]
    assert np.isnan(line.get_ydata()[pending]).all()


def test_a_pending_mask_of_the_wrong_shape_is_refused(two_minima):
    x, y, Z = two_minima
    with pytest.raises(ValueError, match="pending has shape"):
        plot_contour(x, y, Z, pending=np.zeros(Z.T.shape, dtype=bool))


def test_a_transposed_surface_is_refused_with_a_hint(two_minima):
    x, y, Z = two_minima
    with pytest.raises(ValueError, match="looks transposed"):
        plot_contour(x, y, Z.T)


def test_trajectory_axes_carry_the_explained_variance(paraboloid):
    x, y, Z = paraboloid
    path_x, path_y = [0.8, 0.4, 0.1, 0.0], [0.3, 0.2, 0.05, 0.0]
    fig = plot_trajectory(x, y, Z, path_x, path_y, explained_variance=(0.4217, 0.1203))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "1st PC: 42.17 %"
    assert ax.get_ylabel() == "2nd PC: 12.03 %"
    assert marker_data(fig, "start") == (0.8, 0.3)
    assert marker_data(fig, "end") == (0.0, 0.0)
    assert contour_sets(fig)
    path_only = plot_trajectory(None, None, None, path_x, path_y)
    assert path_only.axes[0].get_xlabel() == "1st PC" and not contour_sets(path_only)
    with pytest.raises(ValueError, match="ratios"):
        plot_trajectory(x, y, Z, path_x, path_y, explained_variance=(42.17, 12.03))


def test_1d_figure_puts_loss_left_accuracy_right_train_solid_test_dashed():
    x = np.linspace(-0.5, 1.5, 21)
    loss = 1 + np.sin(np.pi * x) ** 2
    curves = {
        "train_loss": loss,
        "test_loss": loss + 0.2,
        "train_acc": 90 - loss,
        "test_acc": 80 - loss,
    }
    fig = plot_1d(x, curves, interpolation=True, names=("small batch", "large batch"))
    ax_loss, ax_acc = fig.axes[0], fig.axes[1]
    styles = {
        line.get_label(): line.get_linestyle()
        for ax in (ax_loss, ax_acc)
        for line in ax.get_lines()
    }
    assert styles["train loss"] == "-" and styles["test loss"] == "--"
    assert styles["train accuracy"] == "-" and styles["test accuracy"] == "--"
    assert ax_loss.get_ylabel() == "loss" and ax_acc.get_ylabel() == "accuracy (%)"
    assert ax_acc.get_ylim() == (-2.0, 102.0)  # 100 % is not drawn on the frame
    assert list(ax_acc.get_yticks()) == [0, 20, 40, 60, 80, 100]
    assert legend_texts(fig) == ["train loss", "test loss", "train accuracy", "test accuracy"]
    top = [child for child in ax_loss.child_axes]
    assert [t.get_text() for t in top[0].get_xticklabels()] == ["small batch", "large batch"]
    assert list(top[0].get_xticks()) == [0.0, 1.0]


def test_1d_figure_breaks_lines_at_nan_and_reports_them():
    x = np.linspace(-1, 1, 11)
    loss = x**2 + 0.1
    loss[3] = np.nan
    loss[7] = np.inf
    fig = plot_1d(x, {"train_loss": loss}, log=True)
    fig.canvas.draw()
    assert fig.axes[0].get_yscale() == "log"
    assert "2 points NaN/inf (not shown)" in legend_texts(fig)
    with pytest.raises(ValueError, match="unknown curve"):
        plot_1d(x, {"train_err": loss})


def test_an_all_nan_1d_figure_has_no_made_up_loss_scale():
    """Every loss NaN drew a loss axis from 0 to 0.05 beside "nothing to show"."""
    x = np.linspace(-1, 1, 5)
    fig = plot_1d(x, {"train_loss": np.full(5, np.nan), "train_acc": np.full(5, np.nan)})
    fig.canvas.draw()
    assert list(fig.axes[0].get_yticks()) == []
    assert "all 5 points NaN/inf (nothing to show)" in legend_texts(fig)


def test_1d_figure_marks_a_finite_point_between_gaps():
    """A lone finite point between diverged ones drew nothing: a line needs two points
    (only the centre finite left an empty axis)."""
    x = np.linspace(-1, 1, 5)
    loss = np.array([np.inf, np.inf, 0.17, np.inf, np.inf])
    fig = plot_1d(x, {"train_loss": loss, "train_acc": np.full(5, 12.0)})
    fig.canvas.draw()
    markers = [line for ax in fig.axes for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(markers) == 1 and list(markers[0].get_xdata()) == [0.0]
    assert list(markers[0].get_ydata()) == [0.17]
    # no marker where a line is drawn
    fig = plot_1d(x, {"train_loss": np.array([1.0, 0.5, 0.2, 0.5, np.nan])})
    assert not [line for line in fig.axes[0].get_lines() if line.get_marker() == "o"]
    # and a comparison's curves alike
    fig = plot_comparison_1d([("small", x, loss), ("large", x, np.array([1.0, 0.5, 0.2, 0.5, 1.0]))])
    dots = [line for line in fig.axes[0].get_lines() if line.get_marker() == "o"]
    assert len(dots) == 1 and list(dots[0].get_xdata()) == [0.0] and dots[0].get_color() == "C0"


def test_comparison_1d_draws_every_curve_with_its_label():
    x = np.linspace(-1, 1, 11)
    fig = plot_comparison_1d(
        [("small batch", x, x**2), ("large batch", x, 3 * x**2)], ylabel="loss"
    )
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["small batch", "large batch"]
    assert legend_texts(fig) == ["small batch", "large batch"]


def test_sharpness_table_has_a_column_per_key_and_formats_values():
    rows = [
        {"model": "bs=128", "sharpness": 12.3456789},
        {"model": "bs=8192", "sharpness": float("nan"), "test acc": 91.25},
        {"model": "bs=512", "sharpness": None, "test acc": float("inf")},
    ]
    fig = plot_sharpness_table(rows, title="Sharpness")
    (table,) = fig.axes[0].tables
    cells = {key: cell.get_text().get_text() for key, cell in table.get_celld().items()}
    assert [cells[(0, c)] for c in range(3)] == ["model", "sharpness", "test acc"]
    assert [cells[(1, c)] for c in range(3)] == ["bs=128", "12.35", "–"]
    # a diverged value is said, not shown as missing
    assert [cells[(2, c)] for c in range(3)] == ["bs=8192", "NaN", "91.25"]
    assert [cells[(3, c)] for c in range(3)] == ["bs=512", "–", "inf"]


def test_the_sharpness_table_says_what_its_columns_are_in_a_title_on_the_page():
    """"sharpness" alone: Δloss@d was defined nowhere a reader of the figure could see."""
    from lstui.scheduler.compare import SHARPNESS_TITLE

    fig = plot_sharpness_table([{"model": "a", "loss@0": 0.0045}], title=SHARPNESS_TITLE)
    fig.canvas.draw()
    (title,) = fig.texts
    assert title.get_text() == SHARPNESS_TITLE and "½ (L(−d) + L(+d)) − L(0)" in SHARPNESS_TITLE
    box = title.get_window_extent(fig.canvas.get_renderer())  # type: ignore[attr-defined]
    assert box.x0 >= 0 and box.x1 <= fig.bbox.x1  # a narrow table widens its page for it


def test_figures_can_be_drawn_from_several_threads(paraboloid):
    x, y, Z = paraboloid

    def draw(k: int) -> bytes:
        fig = plot_filled_contour(x, y, Z * (k + 1), log=False)
        fig.canvas.draw()
        return bytes(fig.canvas.buffer_rgba())  # type: ignore[attr-defined]

    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(draw, range(4)))
    assert parallel == [draw(k) for k in range(4)]
