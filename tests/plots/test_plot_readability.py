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
    if kind == "surface3d":  # its axes reach up behind the title, empty: no ink there
        title.set_visible(False)
        assert not ink_rows(fig)[: int(fig.bbox.height - box.y0)].any()
        return
    for ax in fig.axes:  # the plot and its colorbar
        assert box.y0 >= ax.get_window_extent(renderer).y1 - 1, ax


def ink_rows(fig: Figure) -> np.ndarray:
    """Which rows of the drawn page, top first, hold anything but white."""
    fig.canvas.draw()
    grey = np.asarray(fig.canvas.buffer_rgba())[..., :3].mean(axis=2)  # type: ignore[attr-defined]
    return (grey < 250).any(axis=1)


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
    # minimizers compared: linear unless told, as the paper's (on a log axis the lower
    # minimum looked the sharper well, against the sharpness table)
    both = plot_comparison_1d([("a", x, loss), ("b", x, 2 * loss)])
    assert both.axes[0].get_yscale() == "linear"
    assert plot_comparison_1d([("a", x, loss)], log=True).axes[0].get_yscale() == "log"


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


def test_3d_surface_names_its_values_on_both_scales_and_wastes_little_height():
    x, y, Z = wide_bowl()
    fig = plot_surface_3d(x, y, Z, zlabel="train loss")
    ax, colorbar = fig.axes
    assert ax.get_zlabel() == "train loss" and colorbar.get_ylabel() == "train loss"
    fig.canvas.draw()
    grey = np.asarray(fig.canvas.buffer_rgba())[..., :3].mean(axis=2)  # type: ignore[attr-defined]
    blank_rows = float(np.mean(np.all(grey > 250, axis=1)))
    assert blank_rows < 0.28, blank_rows  # 0.34 before


def test_a_3d_surface_starts_under_its_title_with_no_band_of_blank_between():
    x, y, Z = wide_bowl()
    for title in ("t", LONG_TITLE):
        fig = plot_surface_3d(x, y, Z, title=title)
        fig.canvas.draw()
        below = int(fig.bbox.height - fig._suptitle.get_window_extent().y0) + 1
        first = int(np.flatnonzero(ink_rows(fig)[below:])[0])
        assert first < 0.12 * fig.dpi, first  # 0.38 in before, for "t"
        assert ink_rows(fig)[-int(0.3 * fig.dpi):].any()  # the bottom was not cut


def test_3d_axis_labels_as_long_as_a_pcs_stay_on_the_page():
    x, y, Z = wide_bowl()
    fig = plot_surface_3d(x, y, Z, xlabel="1st PC: 93.15 %", ylabel="2nd PC: 5.46 %")
    fig.canvas.draw()
    drawn = fig.axes[0].get_tightbbox(fig.canvas.get_renderer())  # type: ignore[attr-defined]
    assert drawn.x0 >= 0 and drawn.y0 >= 0 and drawn.x1 <= fig.bbox.x1


def test_a_linear_loss_peaks_under_the_accuracies_not_among_them():
    """The demo's interpolation: its test-loss peak touched the top of the axes, under
    the accuracy curves running at 96-100 %."""
    x = np.linspace(-0.5, 1.5, 21)
    loss = 0.05 + 0.1 * np.exp(-((x - 0.75) ** 2) / 0.05)
    fig = plot_1d(x, {"train_loss": loss, "train_acc": np.full(21, 98.0)}, interpolation=True)
    bottom, top = fig.axes[0].get_ylim()
    assert fig.axes[0].get_yscale() == "linear" and bottom == 0
    assert loss.max() / top == pytest.approx(0.8)
    alone = plot_1d(x, {"train_loss": loss})  # no accuracy: the loss has the height
    assert loss.max() / alone.axes[0].get_ylim()[1] > 0.9


def test_an_interpolation_whose_last_point_is_far_higher_is_drawn_on_a_log_axis():
    """A walker's interpolation: 0.0009 to 0.012 between the minima, 1.59 at its last
    point. Its top 5 % were left out of the decision, so the axis was linear, up to 1.59,
    and the barrier between the minima a flat line at 0."""
    x = np.linspace(-0.5, 1.5, 21)
    loss = np.array([1.9e-3, 1.2e-3, 9e-4, 9e-4, 1e-3, 1.4e-3, 2.1e-3, 3.4e-3, 5.5e-3, 8e-3, 1.05e-2,
                     1.19e-2, 1.16e-2, 9.9e-3, 7.4e-3, 5.6e-3, 5e-3, 6e-3, 1.07e-2, 3.19e-2, 1.5874])
    assert plot_1d(x, {"train_loss": loss}, interpolation=True).axes[0].get_yscale() == "log"


def legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def marker_labels(fig: Figure) -> list[str]:
    return [str(line.get_label()) for line in fig.axes[0].get_lines()]


def test_a_flat_surface_says_so_and_has_one_colour_scale_in_every_figure():
    x = y = np.linspace(-1, 1, 21)
    Z = np.full((21, 21), 2.302585)
    scales = []
    for draw in (plot_contour, plot_filled_contour, plot_heatmap, plot_surface_3d):
        fig = draw(x, y, Z)
        assert "flat: every point 2.3026" in legend_texts(fig), draw.__name__
        assert not any(label.startswith("minimum") for label in marker_labels(fig)), draw.__name__
        if draw is not plot_contour:
            mappable = next(c for c in fig.axes[0].collections if c.get_array() is not None)
            scales.append((round(mappable.norm.vmin, 9), round(mappable.norm.vmax, 9)))
    assert len(set(scales)) == 1, scales  # not 2.2–2.4, 2.3–4.6 and 2.3–3.3
    lo, hi = scales[0]
    assert lo < 2.302585 < hi and hi - lo < 0.5


def test_a_minimum_tied_over_a_plateau_is_not_marked_off_centre():
    x = y = np.linspace(-1, 1, 21)
    X, Y = np.meshgrid(x, y)
    error = np.where(X**2 + Y**2 < 0.3, 0.0, 10 * (X**2 + Y**2))  # 0 % error around the centre
    fig = plot_filled_contour(x, y, error, zlabel="train error (%)")
    assert "centre (0, 0) = minimum" in marker_labels(fig)
    assert not any(label.startswith("minimum") for label in marker_labels(fig))
    shifted = np.where((X - 0.5) ** 2 + Y**2 < 0.1, 0.0, 10 * ((X - 0.5) ** 2 + Y**2))
    fig = plot_contour(x, y, shifted)  # tied away from the centre: no one place to mark
    assert not any(label.startswith("minimum") for label in marker_labels(fig))
    assert "centre (0, 0)" in marker_labels(fig)
    unique = plot_contour(x, y, 1 + X**2 + Y**2)  # a minimum of its own is still marked
    assert "minimum (1)" in marker_labels(unique)


def test_the_rings_around_the_minimum_are_labelled_first():
    """1-2-5 log levels 0.01 … 20: every other label skipped 0.1, between 0.05 and 0.2."""
    x = y = np.linspace(-1, 1, 51)
    X, Y = np.meshgrid(x, y)
    fig = plot_contour(x, y, 0.01 + 5 * (X**2 + 0.5 * Y**2) + 20 * (X**4 + Y**4))
    texts = {t.get_text() for t in contour_labels(fig)}
    assert {"0.05", "0.1", "0.2"} <= texts, texts
    assert len(line_sets(fig)[0].levels) > 8  # more levels than all get a label


def test_diverged_points_are_grey_in_a_contour_line_figure():
    from matplotlib.colors import to_rgb
    from matplotlib.patches import PathPatch

    from lstui.plots._style import GAP_COLOUR

    x = y = np.linspace(-1, 1, 41)
    X, Y = np.meshgrid(x, y)
    Z = 0.5 + X**2 + Y**2
    Z[(X > 0.5) & (Y > 0.3)] = np.nan
    for fig in (plot_contour(x, y, Z), plot_trajectory(x, y, Z, [0.2, 0.0], [0.2, 0.0])):
        ax = fig.axes[0]
        assert ax.get_facecolor()[:3] == pytest.approx(to_rgb(GAP_COLOUR))
        white = [p for p in ax.patches if isinstance(p, PathPatch)]
        assert white and all(p.get_facecolor()[:3] == (1.0, 1.0, 1.0) for p in white)
        covered = white[0].get_path().contains_points([(0.0, 0.0), (0.9, 0.9)])
        assert list(covered) == [True, False]  # white where computed, grey where diverged
        # the note's legend entry is a swatch of the same grey, as in the filled figures
        (swatch,) = [h for h in fig.legends[0].legend_handles if "NaN/inf" in str(h.get_label())]
        assert swatch.get_facecolor()[:3] == pytest.approx(to_rgb(GAP_COLOUR))
    clean = plot_contour(x, y, 0.5 + X**2 + Y**2)
    assert clean.axes[0].get_facecolor()[:3] == (1.0, 1.0, 1.0) and not clean.axes[0].patches


def test_a_1d_figure_shades_the_range_of_diverged_points():
    x = np.linspace(-1, 1, 41)
    loss = 0.2 + x**2
    loss[30:35] = np.nan  # x = 0.5 … 0.7
    fig = plot_1d(x, {"train_loss": loss, "train_acc": 100 - 20 * x**2})
    spans = [p for p in fig.axes[0].patches]
    assert len(spans) == 1
    (span,) = spans  # a Rectangle in data x, axes y
    assert (span.get_x(), span.get_x() + span.get_width()) == pytest.approx((0.475, 0.725))
    assert "5 points NaN/inf (not shown)" in legend_texts(fig)


def test_3d_surface_z_axis_reads_without_an_offset_and_its_log_colorbar_has_ticks():
    x = y = np.linspace(-1, 1, 21)
    X, Y = np.meshgrid(x, y)
    fig = plot_surface_3d(x, y, 1e7 * (0.01 + X**2 + Y**2), zlabel="loss")
    fig.canvas.draw()
    ax, colorbar = fig.axes
    assert ax.get_zlabel() == "loss"
    assert ax.zaxis.get_offset_text().get_text() == ""
    labels = [t.get_text() for t in ax.zaxis.get_ticklabels() if t.get_text()]
    assert "1e7" in labels or "2e7" in labels
    lo, hi = colorbar.get_ylim()
    ticks = [t for t in colorbar.get_yticks() if lo <= t <= hi]
    assert len(ticks) >= 4  # not "1e6" and "1e7" alone


def test_a_log_axis_over_two_decades_labels_its_2_and_5_ticks():
    x = np.linspace(-1, 1, 41)
    fig = plot_1d(x, {"train_loss": 0.17 + 22 * x**2})
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    fig.canvas.draw()
    low, high = ax.get_ylim()
    shown = {t.get_text() for t in ax.yaxis.get_ticklabels(which="both")
             if t.get_text() and low <= t.get_position()[1] <= high}
    assert {"0.2", "0.5", "1", "2", "5", "10", "20"} <= shown, shown


def test_a_log_axis_within_a_decade_labels_every_tick():
    """`export --loss-max 0.5 --log` of a curve from 0.13: "0.2" and "0.5" were its only
    labels, the bottom near 0.13 unlabelled."""
    x = np.linspace(-0.5, 1.5, 41)
    fig = plot_1d(x, {"train_loss": np.clip(0.13 + 0.58 * (x - 0.3) ** 2, 0, 0.5)}, log=True)
    fig.canvas.draw()
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    shown = {t.get_text() for t in ax.yaxis.get_ticklabels(which="both")
             if t.get_text() and low <= t.get_position()[1] <= high}
    assert shown == {"0.2", "0.3", "0.4", "0.5"}, shown


@pytest.mark.parametrize("n, rows", [(2, 1), (3, 1), (4, 2), (5, 2)])
def test_a_comparison_fits_a_pages_text_width_on_one_colour_scale(n, rows):
    from lstui.plots import plot_comparison_2d

    x = y = np.linspace(-1, 1, 21)
    X, Y = np.meshgrid(x, y)
    fig = plot_comparison_2d([(f"m{k}", x, y, (k + 1) * (X**2 + Y**2) + 0.1) for k in range(n)])
    assert fig.get_figwidth() <= 6.75
    panels = fig.axes[:n]
    assert len({round(ax.get_position().y0, 3) for ax in panels}) == rows
    norms = {(c.norm.vmin, c.norm.vmax) for ax in panels for c in ax.collections
             if isinstance(c, ContourSet) and c.filled}
    assert len(norms) == 1


def test_a_path_leaving_the_grid_is_said_to():
    x = y = np.linspace(-1, 1, 21)
    X, Y = np.meshgrid(x, y)
    Z = 0.5 + X**2 + Y**2
    fig = plot_trajectory(x, y, Z, np.linspace(1.6, 0, 10), np.linspace(0.9, 0, 10))
    assert "start (off the grid)" in legend_texts(fig)
    through = plot_trajectory(x, y, Z, [0.5, 1.5, 0.2, 0.0], [0.5, 0.0, 0.1, 0.0])
    assert "path leaves the grid" in legend_texts(through) and "start" in legend_texts(through)
    inside = plot_trajectory(x, y, Z, [0.5, 0.0], [0.5, 0.0])
    assert legend_texts(inside) == ["start", "end"]


@pytest.mark.parametrize("surf_names, titles", [
    (None, ["job 3 — train loss"]),
    (["train_err"], ["job 3 — train error (%)"]),
])
def test_every_exported_2d_figure_names_what_it_draws(tmp_path, surf_names, titles):
    """The export's own titles (the exporter lives in lstui.scheduler; its figures are
    these). One split: the title was the job's name alone."""
    import json
    import xml.etree.ElementTree as ET

    import matplotlib

    from lstui.results import SurfaceFile, write_surface
    from lstui.scheduler.exporting import export_surface

    x = y = np.linspace(-1, 1, 9)
    X, Y = np.meshgrid(x, y)
    arrays = {"train_loss": 0.5 + X**2 + Y**2, "train_acc": 90 - X**2}
    path = tmp_path / "surface.h5"
    write_surface(path, SurfaceFile(x, y, arrays, attrs={"lstui_spec": json.dumps({"name": "job 3"})}))
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        written = export_surface(path, tmp_path / "out", formats=("svg",), kinds=("2dcontour", "2dcontourf"),
                                 surf_names=surf_names)
    assert len(written) == 2
    for figure in written:
        text = " ".join(t.text or "" for t in ET.parse(figure).getroot().iter() if t.tag.endswith("text"))
        assert all(title in text for title in titles), (figure.name, text[:200])
        assert "((" not in text and "(%))" not in text


def test_a_narrow_3d_surface_s_ticks_tell_their_values_apart():
    """A loss of 2.2982 to 2.2990 was ticked "2.3" three times on the z axis and six times
    on the colorbar: three significant digits, whatever the span."""
    x = y = np.linspace(-0.1, 0.05, 5)
    X, Y = np.meshgrid(x, y)
    fig = plot_surface_3d(x, y, 2.2986 - 0.004 * X - 0.002 * Y, zlabel="train loss")
    fig.canvas.draw()
    ax, colorbar = fig.axes
    for axis in (ax.zaxis, colorbar.yaxis):
        labels = [t.get_text() for t in axis.get_ticklabels() if t.get_text() and t.get_visible()]
        lo, hi = sorted(axis.get_view_interval())
        shown = [t for t, v in zip(labels, axis.get_ticklocs(), strict=False) if lo <= v <= hi]
        assert len(shown) >= 2 and len(set(shown)) == len(shown), labels
        assert all(len(t) <= 7 for t in shown), labels  # as few digits as tell them apart


def test_a_minimum_on_the_grid_s_edge_is_marked_whole():
    """The large-batch trajectory's minimum, on the bottom row, showed half a star."""
    x, y = np.linspace(-1, 1, 11), np.linspace(-0.3, 1, 9)
    X, Y = np.meshgrid(x, y)
    fig = plot_filled_contour(x, y, 0.5 + (X - 0.25) ** 2 + (Y + 0.5) ** 2, zlabel="train loss")
    markers = {line.get_label().split(" ")[0]: line for line in fig.axes[0].lines}
    assert markers["minimum"].get_ydata()[0] == pytest.approx(-0.3)  # on the edge
    assert not markers["minimum"].get_clip_on() and not markers["centre"].get_clip_on()


def test_two_3d_surfaces_share_one_colour_scale_and_z_range_when_asked():
    """The paper's side by side: `export --vmin --vmax --zmax` set the contours' scale,
    and the 3D surfaces kept each its own colour bar (0.005–50 beside 0.03–50)."""
    x = y = np.linspace(-1, 1, 21)
    X, Y = np.meshgrid(x, y)
    sharp, flat = 0.005 + 50 * (X**2 + Y**2), 0.03 + 5 * (X**2 + Y**2)
    shown = []
    for Z in (sharp, flat):
        fig = plot_surface_3d(x, y, Z, vmin=0.01, vmax=20, zmax=60)
        fig.canvas.draw()
        ax, colorbar = fig.axes
        (surface,) = ax.collections
        shown.append(((surface.norm.vmin, surface.norm.vmax), ax.get_zlim()[1]))
    assert shown[0] == shown[1] == ((0.01, 20.0), 60.0), shown
    fig = plot_surface_3d(x, y, flat)  # alone: its own values
    (surface,) = fig.axes[0].collections
    assert (surface.norm.vmin, surface.norm.vmax) == (pytest.approx(0.03), pytest.approx(float(flat.max())))


def test_a_curve_of_few_points_marks_them_and_a_fine_one_does_not():
    few = plot_1d(np.linspace(-1, 1, 7), {"train_loss": np.linspace(1, 2, 7)})
    fine = plot_1d(np.linspace(-1, 1, 41), {"train_loss": np.linspace(1, 2, 41)})
    assert [line.get_marker() for line in few.axes[0].get_lines() if line.get_label() == "train loss"] == ["."]
    assert [line.get_marker() for line in fine.axes[0].get_lines() if line.get_label() == "train loss"] == ["None"]


def test_levels_over_more_decades_than_levels_fall_on_powers_of_ten():
    """0.005 to 2e20 (a grid of ±1e6): the levels were geometric steps (6.96, 9.67e3,
    1.34e7 …), which read as nothing; they are every k-th power of ten now."""
    from lstui.plots.levels import contour_levels

    levels = contour_levels(np.array([0.005, 3.0, 2e20]), log=True, num=9)
    exponents = np.log10(levels)
    assert np.allclose(exponents, np.round(exponents)) and levels.size >= 3, levels


def test_a_log_axis_capped_by_loss_max_labels_its_top():
    """--loss-max 5 on a log axis of 0.004 to 25: its top, 5, had no label (the ticks
    were chosen for the range before the cap)."""
    x = np.linspace(-1, 1, 41)
    fig = plot_1d(x, {"train_loss": 0.004 + 25 * x**4}, loss_max=5, log=True)
    fig.canvas.draw()
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    shown = [t.get_text() for t in ax.yaxis.get_ticklabels(which="both")
             if t.get_text() and lo <= t.get_position()[1] <= hi]
    assert hi == 5 and "5" in shown, shown


def test_a_linear_1d_axis_capped_by_loss_max_starts_at_zero():
    """--loss-max 3 --no-log on losses of 0.13 to 20.7: the axis ran from about -0.9, a
    quarter of the plot negative loss (plot_1D.py draws ylim(0, loss_max))."""
    x = np.linspace(-1, 1, 41)
    fig = plot_1d(x, {"train_loss": 0.13 + 20.6 * x**4, "train_acc": 100 - 60 * x**2}, loss_max=3, log=False)
    assert fig.axes[0].get_ylim() == (0, 3)


def test_the_labelled_minor_ticks_of_a_log_comparison_are_the_size_of_the_others():
    """comparison_1d --log drew its 2 and 5 labels larger than its 1 and 10 (the minor
    ticks kept matplotlib's default size)."""
    x = np.linspace(-1, 1, 21)
    fig = plot_comparison_1d([("a", x, 0.1 + 20 * x**2), ("b", x, 0.3 + 5 * x**2)], log=True)
    fig.canvas.draw()
    ax = fig.axes[0]
    sizes = {t.get_text(): t.get_fontsize() for t in ax.yaxis.get_ticklabels(which="both") if t.get_text()}
    sizes |= {t.get_text(): t.get_fontsize() for t in ax.xaxis.get_ticklabels() if t.get_text()}
    assert len(sizes) > 4 and len(set(sizes.values())) == 1, sizes


def test_a_filled_contour_of_values_near_the_float_maximum_is_drawn():
    """A foreign file's losses of 1e300: contourf failed in a traceback ("upper_level must
    be larger than lower_level", matplotlib's extended bands end at 1e250)."""
    x = np.linspace(-1, 1, 5)
    Z = np.random.default_rng(0).random((5, 5)) * 1e300 + 1
    fig = plot_filled_contour(x, x, Z)
    fig.canvas.draw()
