"""Contour levels and bands (lstui.plots.levels): pure numbers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from lstui.errors import BadInput
from lstui.plots.levels import (
    bad_note,
    contour_levels,
    count_bad,
    quantise,
    robust_range,
    wants_log,
)


def test_vmin_vmax_vlevel_give_the_reference_arange_exactly(paraboloid):
    _, _, Z = paraboloid
    levels = contour_levels(Z, 0.1, 10, 0.5)
    assert np.array_equal(levels, np.arange(0.1, 10, 0.5))
    assert np.array_equal(contour_levels(Z, 0.0, 1.0, 0.25), [0.0, 0.25, 0.5, 0.75])


def test_vlevel_alone_fills_the_bounds_from_the_data(paraboloid):
    _, _, Z = paraboloid
    levels = contour_levels(Z, vlevel=0.2, log=False)
    lo, hi = robust_range(Z)
    assert levels[0] == lo == 0.0
    assert np.allclose(np.diff(levels), 0.2)
    assert levels[-1] < hi


def test_vlevel_alone_gives_round_levels_from_below_the_minimum():
    """Levels started at the minimum, 1.03295 + k·0.1, labelled 1.23, 1.43 …"""
    Z = np.array([[1.03295, 1.5], [2.0, 2.41]])
    levels = contour_levels(Z, vlevel=0.1, log=False)
    assert np.allclose(levels[:3], [1.0, 1.1, 1.2]) and levels[0] <= Z.min()
    assert np.allclose(levels, np.round(levels, 6)) and np.allclose(np.diff(levels), 0.1)


def test_vmin_vmax_bound_the_automatic_levels(paraboloid):
    _, _, Z = paraboloid
    levels = contour_levels(Z, vmin=0.3, vmax=1.7, log=False)
    assert levels[0] >= 0.3 and levels[-1] <= 1.7
    assert 5 <= levels.size <= 15
    assert np.all(np.diff(levels) > 0)


def test_automatic_levels_are_round_and_span_min_to_robust_max(paraboloid):
    _, _, Z = paraboloid
    levels = contour_levels(Z)
    lo, hi = robust_range(Z)
    assert not wants_log(Z)  # the minimum is 0: linear
    assert lo <= levels[0] and levels[-1] <= hi
    assert 8 <= levels.size <= 15
    steps = np.diff(levels)
    assert np.allclose(steps, steps[0])
    assert steps[0] in (0.05, 0.1, 0.2, 0.25)


def test_levels_are_log_spaced_when_the_positive_range_spans_two_decades(loss_like):
    _, _, Z = loss_like
    assert wants_log(Z)
    levels = contour_levels(Z)
    mantissas = {round(v / 10 ** np.floor(np.log10(v)), 6) for v in levels}
    assert mantissas <= {1.0, 1.5, 2.0, 3.0, 5.0, 7.0}
    assert levels[0] >= Z.min() and levels[-1] <= robust_range(Z)[1]
    assert np.all(np.diff(np.log10(levels)) > 0)
    assert not wants_log(Z + 1.0)  # 1.01 … ~30: under two decades
    assert contour_levels(Z, log=False).size and np.allclose(
        np.diff(contour_levels(Z, log=False)), np.diff(contour_levels(Z, log=False))[0]
    )


def test_nan_and_inf_never_reach_the_levels(loss_like, with_bad_points):
    _, _, Z = loss_like
    bad = with_bad_points(Z)
    levels = contour_levels(bad)
    finite = bad[np.isfinite(bad)]
    assert np.all(np.isfinite(levels))
    assert finite.min() <= levels[0] and levels[-1] <= finite.max()
    assert count_bad(bad) == 3


def test_no_finite_value_gives_no_levels():
    assert contour_levels(np.full((3, 4), np.nan)).size == 0
    assert robust_range([np.nan, np.inf]) is None


def test_a_flat_surface_still_gets_increasing_levels():
    levels = contour_levels(np.full((5, 5), 2.0))
    assert levels.size >= 2 and np.all(np.diff(levels) > 0)
    assert levels[0] < 2.0 < levels[-1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vlevel": 0.0}, "--vlevel must be positive"),
        ({"vmin": 2.0, "vmax": 1.0}, "--vmax (1) must be greater than --vmin (2)"),
        ({"vmin": 0.0, "vmax": 1.0, "log": True}, "log-scale levels need --vmin > 0"),
        ({"vmax": float("nan")}, "--vmax must be a finite number"),
    ],
)
def test_bad_level_options_say_what_is_wrong(kwargs, message):
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        contour_levels(np.arange(10.0), **kwargs)


def test_quantise_follows_digitize_and_marks_bad_points_minus_one():
    levels = [1.0, 2.0, 3.0]
    Z = np.array([[0.5, 1.0, 1.5], [2.0, 3.0, 9.0], [np.nan, np.inf, -np.inf]])
    assert quantise(Z, levels).tolist() == [[0, 1, 1], [2, 3, 3], [-1, -1, -1]]


def test_quantised_minima_fall_on_the_right_grid_cells(two_minima):
    x, y, Z = two_minima
    bands = quantise(Z, [0.001, 0.105, 0.5, 1.0])
    assert bands.shape == (y.size, x.size)
    # The global minimum (1, 0.5) is alone in the lowest band…
    assert np.argwhere(bands == 0).tolist() == [[15, 30]]
    assert (x[30], y[15]) == (1.0, 0.5)
    # …and the local minimum (-1, -0.5), value 0.1, is a one-cell island of band 1.
    assert bands[5, 10] == 1 and (x[10], y[5]) == (-1.0, -0.5)
    neighbours = bands[4:7, 9:12].copy()
    neighbours[1, 1] = 99
    assert neighbours.min() == 2


def test_bad_note_counts_points():
    assert bad_note(0, 10) is None
    assert bad_note(1, 10) == "1 point NaN/inf (not shown)"
    assert bad_note(3, 10) == "3 points NaN/inf (not shown)"
    assert bad_note(10, 10) == "all 10 points NaN/inf (nothing to show)"


def test_bad_note_tells_points_not_computed_from_nan_ones():
    """Neutral: a cancelled job's points will not be computed "yet"."""
    assert bad_note(2268, 2601, n_pending=2268) == "2268 points not computed"
    assert bad_note(1, 10, n_pending=1) == "1 point not computed"
    assert bad_note(5, 10, n_pending=4) == "4 points not computed, 1 NaN/inf (not shown)"
    assert bad_note(10, 10, n_pending=10) == "all 10 points not computed (nothing to show)"
    assert bad_note(10, 10, n_pending=7) == "7 points not computed, 3 NaN/inf (nothing to show)"
    assert bad_note(3, 10, n_pending=0) == "3 points NaN/inf (not shown)"


def test_a_figure_drawn_on_a_coarser_lattice_counts_what_was_computed():
    assert bad_note(5784, 6561, n_pending=5784, partial=True) == "partial: 777 of 6561 points"
    assert (bad_note(5785, 6561, n_pending=5784, partial=True)
            == "partial: 777 of 6561 points, 1 NaN/inf (not shown)")


def test_importing_the_levels_for_a_preview_does_not_load_matplotlib_or_plotext():
    code = (
        "import sys; from lstui.plots import quantise, contour_levels; "
        "print('matplotlib' in sys.modules, 'plotext' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
