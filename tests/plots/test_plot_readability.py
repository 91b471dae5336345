"""What a reader of an exported figure sees: whole titles, a contour in every basin,
labels that never pile up, log axes where the values span decades, enough ticks."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure
from matplotlib.text import Text

from lstui.plots import (
    contour_levels,
    plot_1d,
    plot_comparison_1d,
    plot_contour,
    plot_filled_contour,
    plot_heatmap,
    plot_surface_3d,
    plot_trajectory,
)
from lstui.plots._style import text_width_in, wrap_text
from lstui.plots.levels import with_basin_level

LONG_TITLE = "surface resnet56 model_300 -1:1:51 × -1:1:51 (train loss)"


def wide_bowl() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 2:1 grid (11 × 7 over [-1, 1] × [-0.5, 0.5]) holding a bowl, minimum 0.007."""
    x, y = np.linspace(-1, 1, 11), np.linspace(-0.5, 0.5, 7)
    X, Y = np.meshgrid(x, y)
    return x, y, 0.007 + 0.12 * X**2 + 0.3 * Y**2


def line_sets(fig: Figure) -> list[ContourSet]:
    return [c for c in fig.axes[0].collections if isinstance(c, ContourSet) and not c.filled]


def contour_labels(fig: Figure) -> list[Text]:
    return [t for cs in line_sets(fig) for t in cs.labelTexts]


@pytest.mark.parametrize("kind", ["contour", "filled", "heatmap", "surface3d", "trajectory"])
def test_a_long_title_is_whole_inside_the_page_and_above_every_axes_and_colorbar(kind):
    x, y, Z = wide_bowl()
    draw = {
        "contour": lambda: plot_contour(x, y, Z, title=LONG_TITLE),
        "filled": lambda: plot_filled_contour(x, y, Z, title=LONG_TITLE),
        "heatmap": lambda: plot_heatmap(x, y, Z, title=LONG_TITLE),
        "surface3d": lambda: plot_surface_3d(x, y, Z, title=LONG_TITLE),
        "trajectory": lambda: plot_trajectory(x, y, Z, [0.8, 0.0], [0.3, 0.0], title=LONG_TITLE),
    }[kind]
    fig = draw()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    title = fig._suptitle
    assert title is not None
    assert " ".join(title.get_text().split()) == LONG_TITLE  # every word, in order
    box = title.get_window_extent(renderer)
    assert 0 <= box.x0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1
    for ax in fig.axes:  # the plot and its colorbar
        assert box.y0 >= ax.get_window_extent(renderer).y1 - 1, ax


def test_the_title_sits_on_the_axes_with_no_band_of_blank_between():
    x, y, Z = wide_bowl()
    for fig in (plot_contour(x, y, Z, title=LONG_TITLE), plot_filled_contour(x, y, Z, title="t")):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        gap = fig._suptitle.get_window_extent(renderer).y0 - fig.axes[0].get_window_extent(renderer).y1
        assert 0 <= gap < 0.25 * fig.dpi  # under a quarter of an inch


def test_wrap_text_keeps_lines_within_the_width_and_a_parenthesised_group_whole():
    wrapped = wrap_text(LONG_TITLE, 3.4, 10.0)
    lines = wrapped.split("\n")
    assert len(lines) == 2 and lines[-1] == "(train loss)"
    assert all(text_width_in(line, 10.0) <= 3.4 for line in lines)
    cut = wrap_text("x" * 200, 1.0, 10.0)  # one word wider than a line: cut, none lost
    assert cut.replace("\n", "") == "x" * 200
    assert all(text_width_in(line, 10.0) <= 1.0 for line in cut.split("\n"))
    assert wrap_text("short", 3.0, 10.0) == "short"


def basin() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum 1.03 at the centre: automatic levels start at 1.5, with 8 % of the grid below."""
    x = y = np.linspace(-1, 1, 21)
    X, Y = np.meshgrid(x, y)
    return x, y, 1.03 + 4 * (X**2 + Y**2)


def test_the_basin_around_the_minimum_gets_a_round_contour_of_its_own():
    x, y, Z = basin()
    plain = contour_levels(Z)
    assert plain[0] == 1.5 and (Z < plain[0]).mean() > 0.05  # the defect: a blank basin
    (cs,) = line_sets(plot_contour(x, y, Z))
    assert cs.levels[0] == 1.25 and list(cs.levels[1:]) == list(plain)
    inner = np.concatenate(cs.allsegs[0])
    assert np.allclose(np.hypot(inner[:, 0], inner[:, 1]), np.sqrt(0.22 / 4), atol=0.03)
    # a reference-style choice of levels is the person's: nothing added
    (given,) = line_sets(plot_contour(x, y, Z, vmin=1.5, vmax=5, vlevel=0.5))
    assert given.levels[0] == 1.5


def test_a_basin_level_is_added_only_for_a_basin_worth_one():
    x, y, Z = basin()
    assert with_basin_level([1.5, 2.0, 2.5], Z, log=False)[0] == 1.25
    assert np.array_equal(with_basin_level([1.04, 1.5], Z, log=False), [1.04, 1.5])  # 1 point below
    logged = with_basin_level([0.2, 0.5, 1.0], np.geomspace(0.011, 10, 400), log=True)
    assert 0.011 < logged[0] < 0.2 and logged[0] in (0.05, 0.03, 0.02)  # round, mid-gap in log


def test_contour_labels_never_overlap_nor_sit_on_the_rings_around_a_minimum():
    """Five decades (0.001 to 100): the rings around the minimum are tiny."""
    x = y = np.linspace(-1, 1, 51)
    X, Y = np.meshgrid(x, y)
    Z = 0.001 + 100 * (X**2 + Y**2) ** 2
    fig = plot_contour(x, y, Z)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    labels = contour_labels(fig)
    assert len(labels) >= 3
    boxes = [t.get_window_extent(renderer) for t in labels]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (a, b)
    frame = fig.axes[0].get_window_extent(renderer)
    centre = fig.axes[0].transData.transform((0.0, 0.0))
    for box in boxes:
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
        # no label on the minimum's markers (about 5 points each way)
        assert not box.expanded(1.0, 1.0).contains(*centre)
    values = sorted(float(t.get_text()) for t in labels)
    assert values[0] >= 0.01  # nothing written on the tiny rings of 0.002 and 0.005


def test_contour_labels_of_a_wide_basin_keep_apart():
    """The report's case: "0.7" printed over "0.3"."""
    x = y = np.linspace(-1, 1, 9)
    X, Y = np.meshgrid(x, y)
    Z = 0.128 + 30 * (X**2 + Y**2) * (1 + 0.3 * X)
    fig = plot_contour(x, y, Z)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = [t.get_window_extent(renderer) for t in contour_labels(fig)]
    assert boxes
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_1d_loss_axis_is_log_when_the_loss_spans_decades_unless_told():
    x = np.linspace(-1, 1, 21)
    loss = 0.007 + 90 * x**2
    acc = 100 - 50 * x**2
    assert plot_1d(x, {"train_loss": loss, "train_acc": acc}).axes[0].get_yscale() == "log"
    told = plot_1d(x, {"train_loss": loss}, log=False)
    assert told.axes[0].get_yscale() == "linear" and told.axes[0].get_ylim()[0] == 0
    assert plot_1d(x, {"train_loss": 1 + x**2}).axes[0].get_yscale() == "linear"
    assert plot_1d(x, {"train_loss": 1 + x**2}, log=True).axes[0].get_yscale() == "log"
    both = plot_comparison_1d([("a", x, loss), ("b", x, 2 * loss)])
    assert both.axes[0].get_yscale() == "log"
    assert plot_comparison_1d([("a", x, loss)], log=False).axes[0].get_yscale() == "linear"


def test_a_log_heatmap_colorbar_has_round_ticks_across_its_range():
    x = y = np.linspace(-1, 1, 21)
    X, Y = np.meshgrid(x, y)
    Z = 0.128 + 30 * (X**2 + Y**2)
    fig = plot_heatmap(x, y, Z)
    colorbar = fig.axes[1]
    lo, hi = colorbar.get_ylim()
    ticks = [t for t in colorbar.get_yticks() if lo <= t <= hi]
    assert len(ticks) >= 4
    mantissas = {round(t / 10 ** np.floor(np.log10(t)), 6) for t in ticks}
    assert mantissas <= {1.0, 2.0, 3.0, 5.0}


def test_3d_surface_names_its_values_once_and_wastes_little_height():
    x, y, Z = wide_bowl()
    fig = plot_surface_3d(x, y, Z, zlabel="train loss")
    ax, colorbar = fig.axes
    assert ax.get_zlabel() == "" and colorbar.get_ylabel() == "train loss"
    fig.canvas.draw()
    grey = np.asarray(fig.canvas.buffer_rgba())[..., :3].mean(axis=2)  # type: ignore[attr-defined]
    blank_rows = float(np.mean(np.all(grey > 250, axis=1)))
    assert blank_rows < 0.28, blank_rows  # 0.34 before


def test_3d_axis_labels_as_long_as_a_pcs_stay_on_the_page():
    x, y, Z = wide_bowl()
    fig = plot_surface_3d(x, y, Z, xlabel="1st PC: 93.15 %", ylabel="2nd PC: 5.46 %")
    fig.canvas.draw()
    drawn = fig.axes[0].get_tightbbox(fig.canvas.get_renderer())  # type: ignore[attr-defined]
    assert drawn.x0 >= 0 and drawn.y0 >= 0 and drawn.x1 <= fig.bbox.x1


def test_an_interpolation_whose_last_point_is_far_higher_is_drawn_on_a_log_axis():
    """A walker's interpolation: 0.0009 to 0.012 between the minima, 1.59 at its last
    point. Its top 5 % were left out of the decision, so the axis was linear, up to 1.59,
    and the barrier between the minima a flat line at 0."""
    x = np.linspace(-0.5, 1.5, 21)
    loss = np.array([1.9e-3, 1.2e-3, 9e-4, 9e-4, 1e-3, 1.4e-3, 2.1e-3, 3.4e-3, 5.5e-3, 8e-3, 1.05e-2,
                     1.19e-2, 1.16e-2, 9.9e-3, 7.4e-3, 5.6e-3, 5e-3, 6e-3, 1.07e-2, 3.19e-2, 1.5874])
    assert plot_1d(x, {"train_loss": loss}, interpolation=True).axes[0].get_yscale() == "log"
    assert plot_comparison_1d([("a", x, loss)]).axes[0].get_yscale() == "log"
