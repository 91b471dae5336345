"""Terminal previews (plotext): banded heatmap and 1D lines."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from lstui.landscape.grid import Axis, SurfaceGrid
from lstui.plots import contour_levels, terminal_heatmap, terminal_lines
from lstui.plots.palette import PLAIN_RAMP
from lstui.plots.terminal import strip_ansi

ANSI = re.compile(r"\x1b\[")


def canvas(text: str) -> list[str]:
    """The rows inside the plot frame, without the frame and the y tick labels."""
    lines = strip_ansi(text).split("\n")
    top = next(k for k, line in enumerate(lines) if "┌" in line)
    bottom = next(k for k, line in enumerate(lines) if "└" in line)
    left = lines[top].index("┌") + 1
    right = lines[top].index("┐")
    return [line[left:right] for line in lines[top + 1 : bottom]]


@pytest.fixture
def two_minima_with_hole(two_minima):
    x, y, Z = two_minima
    X, Y = np.meshgrid(x, y)
    holed = np.where((X > 0.95) & (Y < -0.45), np.nan, Z)
    return x, y, holed


@pytest.mark.parametrize(("width", "height"), [(80, 24), (60, 20), (40, 12)])
def test_heatmap_fills_the_asked_size(two_minima_with_hole, width, height):
    x, y, Z = two_minima_with_hole
    for color in (True, False):
        text = terminal_heatmap(x, y, Z, width=width, height=height, color=color, title="surface")
        lines = text.split("\n")
        assert len(lines) == height
        assert max(len(strip_ansi(line)) for line in lines) <= width


def test_heatmap_without_colour_is_plain_text_with_a_legend(two_minima_with_hole):
    x, y, Z = two_minima_with_hole
    text = terminal_heatmap(x, y, Z, width=70, height=22, color=False)
    assert not ANSI.search(text)
    levels = contour_levels(Z, num=9)
    legend = text.split("\n")[-2]
    for level in levels:
        assert f" {level:g} " in f" {legend} "
    assert legend.startswith(PLAIN_RAMP[0])
    assert "+ centre" in text and "* min 0 at (1, 0.5)" in text
    assert "66 points NaN/inf (blank)" in text


def test_a_minimum_at_the_centre_is_named_there_not_under_a_hidden_plus() -> None:
    grid = np.linspace(-1.0, 1.0, 9)
    Z = 0.5 + grid[None, :] ** 2 + grid[:, None] ** 2
    text = terminal_heatmap(grid, grid, Z, width=70, height=22, color=False)
    assert "+ centre" not in text
    assert "* min 0.5 at the centre (0, 0)" in text


def test_a_minimum_in_the_centres_character_is_named_over_it_not_beside_a_hidden_plus() -> None:
    """On a grid finer than the plot, a minimum at (0.01, 0) is drawn in the centre's
    character: its * hid the +, which the legend still named."""
    x, y = np.linspace(-1.0, 1.0, 401), np.linspace(-1.0, 1.0, 101)
    for off, hidden in ((0.01, True), (-0.01, True), (0.5, False)):
        Z = 0.1 + (x[None, :] - off) ** 2 + y[:, None] ** 2
        text = terminal_heatmap(x, y, Z, width=80, height=24, color=False)
        drawn = "".join(canvas(text))
        assert drawn.count("*") == 1
        if hidden:
            assert "+" not in drawn and "+ centre" not in text
            assert f"* min 0.1 at ({off:g}, 0), over the centre" in text
        else:
            assert drawn.count("+") == 1 and "+ centre" in text and "over the centre" not in text


def test_heatmap_with_colour_uses_truecolour_blocks(two_minima):
    x, y, Z = two_minima
    text = terminal_heatmap(x, y, Z, width=60, height=18)
    assert "\x1b[38;2;" in text and "█" in text
    assert "█" in text.split("\n")[-2]  # the legend swatches


def test_heatmap_puts_the_minimum_centre_and_gaps_where_they_are(two_minima_with_hole):
    x, y, Z = two_minima_with_hole
    rows = canvas(terminal_heatmap(x, y, Z, width=70, height=24, color=False))
    n_rows, n_cols = len(rows), len(rows[0])
    (star,) = [(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch == "*"]
    # (1, 0.5) on x ∈ [-2, 2], y ∈ [-1, 1], y upward: 3/4 across, 1/4 down.
    assert star[1] == pytest.approx(0.75 * (n_cols - 1), abs=1)
    assert star[0] == pytest.approx(0.25 * (n_rows - 1), abs=1)
    (plus,) = [(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch == "+"]
    assert plus == (pytest.approx((n_rows - 1) / 2, abs=1), pytest.approx((n_cols - 1) / 2, abs=1))
    # The NaN corner (x > 0.95, y < -0.45) is blank; the rest is drawn.
    corner = [row[int(0.75 * n_cols) + 2 :] for row in rows[int(0.8 * n_rows) :]]
    assert all(set(part) == {" "} for part in corner)
    assert " " not in "".join(row[: n_cols // 2] for row in rows)


def test_lowest_band_character_marks_the_basin(two_minima):
    x, y, Z = two_minima
    rows = canvas(
        terminal_heatmap(x, y, Z, levels=[0.02, 0.5, 1.0], width=70, height=24, color=False)
    )
    lowest = [
        (r, c)
        for r, row in enumerate(rows)
        for c, ch in enumerate(row)
        if ch in (PLAIN_RAMP[0], "*")
    ]
    assert lowest
    n_rows, n_cols = len(rows), len(rows[0])
    for r, c in lowest:
        assert abs(c - 0.75 * (n_cols - 1)) <= 3 and abs(r - 0.25 * (n_rows - 1)) <= 2


def test_heatmap_is_the_same_from_several_threads(two_minima):
    x, y, Z = two_minima

    def draw(k: int) -> str:
        return terminal_heatmap(x, y, Z + k, width=50, height=15, color=bool(k % 2))

    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(draw, range(6)))
    assert parallel == [draw(k) for k in range(6)]


def test_lines_show_loss_and_accuracy_with_labels():
    x = np.linspace(-1, 1, 41)
    curves = {"train_loss": x**2 + 0.1, "test_loss": x**2 + 0.3, "train_acc": 100 - 20 * x**2}
    text = terminal_lines(x, curves, width=70, height=18, title="1D")
    plain = strip_ansi(text)
    assert len(text.split("\n")) == 18
    assert "train loss" in plain and "test loss" in plain and "train acc %" in plain
    assert ANSI.search(text)
    bare = terminal_lines(x, curves, width=70, height=18, color=False)
    assert not ANSI.search(bare)
    assert "*" in bare and "o" in bare and "+" in bare


def test_lines_report_nan_points():
    x = np.linspace(-1, 1, 21)
    loss = x**2
    loss[4] = np.nan
    text = terminal_lines(x, {"train_loss": loss}, width=50, height=12, color=False)
    lines = text.split("\n")
    assert len(lines) == 12
    assert lines[-1] == "1 point NaN/inf (gaps)"
    with pytest.raises(ValueError, match="unknown curve"):
        terminal_lines(x, {"loss": loss})


def test_a_partial_surface_shows_every_computed_point_and_counts_the_rest_as_not_computed():
    """A 51 × 51 job paused after 333 points (coarse points first): the grid is finer
    than the plot, yet the row of the minimum is drawn, not left blank around its ``*``."""
    grid = SurfaceGrid(Axis(-1.0, 1.0, 51), Axis(-1.0, 1.0, 51))
    x, y = grid.x.coordinates, grid.y.coordinates
    X, Y = np.meshgrid(x, y)
    full = 0.5 + (X - 0.3) ** 2 + 2 * (Y - 0.6) ** 2
    done = grid.coarse_to_fine()[:333]
    partial = np.full(full.shape, -1.0)  # the surface file's "not computed yet"
    partial.flat[done] = full.flat[done]
    partial.flat[done[-1]] = np.nan  # one diverged point
    pending = partial == -1.0
    text = terminal_heatmap(x, y, partial, width=80, height=24, color=False, pending=pending)
    assert text.split("\n")[-1].endswith("2268 points not computed, 1 NaN/inf (blank)")
    # the minimum of the computed points (every 4th column from the centre: 0.32, not the true 0.3)
    assert "* min 0.504 at (0.32, 0.64)" in text
    rows = canvas(text)
    (star_row,) = [row for row in rows if "*" in row]
    assert sum(ch in PLAIN_RAMP for ch in star_row) >= 10


def test_lines_count_points_not_computed_yet_apart():
    x = np.linspace(-1, 1, 21)
    loss = x**2
    pending = x > 0.55
    loss[pending] = -1.0
    loss[4] = np.nan
    text = terminal_lines(x, {"train_loss": loss, "train_acc": 100 - loss}, width=50, height=12,
                          color=False, pending=pending)
    assert text.split("\n")[-1] == "5 points not computed, 1 NaN/inf (gaps)"


def test_a_trajectory_path_is_drawn_as_a_line_over_the_bands(two_minima):
    x, y, Z = two_minima
    # from the left edge's middle to the centre, with a NaN point (dropped) on the way
    path = (np.array([-2.0, -1.0, np.nan, 0.0]), np.array([0.0, 0.0, 5.0, 0.0]))
    text = terminal_heatmap(x, y, Z, width=70, height=24, color=False, path=path)
    rows = canvas(text)
    n_rows, n_cols = len(rows), len(rows[0])
    middle = rows[round((n_rows - 1) / 2)]
    marks = [c for c, ch in enumerate(middle) if ch == "•"]
    # a line of marks across the left half, none past the centre (the `+` covers its end)
    assert len(marks) >= n_cols // 4
    assert min(marks) <= 1 and max(marks) < n_cols // 2
    assert sum(row.count("•") for row in rows) == len(marks)
    assert "• trajectory" in text.split("\n")[-1]
    assert "•" not in terminal_heatmap(x, y, Z, width=70, height=24, color=False)
