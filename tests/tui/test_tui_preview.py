"""The preview: diverged (NaN) points, the 1D plot's legend, ticks and size, the
trajectory's info lines."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lstui.landscape.grid import parse_axis
from lstui.store import PointRow, Store
from lstui.tui import LstuiApp
from lstui.tui.heatmap import NOT_FINITE_CHAR, NOT_FINITE_LABEL, draw_surface, legend_lines
from lstui.tui.snapshot import StorePoller
from lstui.tui.widgets import CurvePlot, SurfaceView
from lstui.tui.widgets._preview import TOO_SMALL, row_ticks
from tests.tui.support import fixed_app, fixed_devices, screen_text, select_job, settle, wait_for

NAN_FROM = 33
"""The interpolation's points from this index on (α ≥ 1.15) are NaN, as when BatchNorm
variances turn negative."""


def _diverged_home(home: Path) -> Path:
    """Job 1: an interpolation over -0.5:1.5:41 whose last 8 points are NaN; job 2: a
    5×5 surface, four times wider than high as trajectory planes often are, whose
    right column is NaN and whose top row is not computed yet."""
    with Store.open_home(home) as store:
        worker = store.register_worker("cpu", 1, "here")
        interp = store.add_job(kind="interp", name="small → large", spec={"x": "-0.5:1.5:41", "split": "train"},
                               total_points=41, units=[list(range(41))], results_root=home / "results")
        claim = store.claim_unit(worker, 60, job_ids=[interp])
        assert claim is not None
        xs = np.linspace(-0.5, 1.5, 41)
        store.write_points(claim.unit_id, worker, [
            PointRow(i, math.nan, math.nan) if i >= NAN_FROM else PointRow(i, 0.2 + (x - 0.1) ** 2, 90.0 - 10 * x)
            for i, x in enumerate(xs)])
        assert store.complete_unit(claim.unit_id, worker)
        surface = store.add_job(kind="surface", name="bowl", spec={"x": "-1:1:5", "y": "-0.25:0.25:5", "split": "train"},
                                total_points=25, units=[list(range(20)), list(range(20, 25))],
                                results_root=home / "results")
        claim = store.claim_unit(worker, 60, job_ids=[surface])
        assert claim is not None and list(claim.todo) == list(range(20))
        store.write_points(claim.unit_id, worker, [
            PointRow(i, math.nan, math.nan) if i % 5 == 4 else PointRow(i, 1.0 + i % 5 + i // 5, 50.0)
            for i in range(20)])
        assert store.complete_unit(claim.unit_id, worker)
    return home


def test_the_poller_keeps_which_points_are_stored_apart_from_their_nan(tmp_path: Path) -> None:
    home = _diverged_home(tmp_path / "home")
    poller = StorePoller(home, device_facts=fixed_devices)
    try:
        interp = poller.poll(1).preview
        assert interp is not None and interp.computed is not None
        assert interp.computed.all() and np.isnan(interp.arrays["train_loss"][NAN_FROM:]).all()
        assert interp.not_finite_count() == 41 - NAN_FROM
        surface = poller.poll(2).preview
        assert surface is not None and surface.computed is not None
        assert surface.computed.sum() == 20 and not surface.computed[4].any(), "the top row is not computed"
        assert surface.not_finite("train_loss").sum() == 4
        assert surface.not_finite_count() == 4
    finally:
        poller.close()


def test_nan_cells_are_drawn_apart_from_cells_not_computed_yet() -> None:
    x = y = np.linspace(-1, 1, 5)
    Z = np.full((5, 5), np.nan)
    Z[:4, :4] = 1.0 + np.arange(16).reshape(4, 4)
    bad = np.zeros((5, 5), dtype=bool)
    bad[:4, 4] = True  # the right column computed, NaN; the top row not computed
    levels = np.linspace(2, 15, 5)
    picture = draw_surface(x, y, Z, 10, 5, levels=levels, plain=True, not_finite=bad)
    rows = ["".join(s.text for s in line) for line in picture.lines]
    assert rows[0].strip() == "", "not computed yet: blank"
    assert all(row[-2:] == NOT_FINITE_CHAR * 2 for row in rows[1:])
    assert all(NOT_FINITE_CHAR not in row[:-2] for row in rows)
    legend = ["".join(s.text for s in line) for line in legend_lines(levels, [(0, 0, 0)] * 6, 5, plain=True,
                                                                      not_finite=True)]
    assert len(legend) <= 5 and legend[-1] == f"{NOT_FINITE_CHAR * 2} {NOT_FINITE_LABEL}"


def test_the_preview_says_how_many_points_diverged_and_keeps_the_grid_s_range(tmp_path: Path) -> None:
    home = _diverged_home(tmp_path / "home")

    async def drive() -> None:
        app = fixed_app(home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select_job(pilot, 1)
            await wait_for(pilot, lambda: app.main.preview.curves.display, 5, "the curves")
            await wait_for(pilot, lambda: any("41/41 points · 8 NaN/inf" in line for line in screen_text(app)), 5,
                           "job 1's points line")
            text = screen_text(app)
            assert any("41/41 points · 8 NaN/inf" in line for line in text), text
            axis = next(line for line in text if "-0.50" in line)
            assert axis.split()[-1] == "1.50", "the x axis ends where the grid does"
            await select_job(pilot, 2)
            await wait_for(pilot, lambda: app.main.preview.surface.display, 5, "the surface")
            await wait_for(pilot, lambda: any("20/25 points · 4 NaN/inf" in line for line in screen_text(app))
                           and any(f"██ {NOT_FINITE_LABEL}" in line for line in screen_text(app)), 5,
                           "job 2's points line and colour bar")
            text = screen_text(app)
            assert any("20/25 points · 4 NaN/inf" in line for line in text), text
            assert any(f"██ {NOT_FINITE_LABEL}" in line for line in text), "the colour bar names NaN cells"

    asyncio.run(drive())


def test_the_1d_preview_has_its_legend_in_the_title_and_ticks_on_every_other_row(tmp_path: Path) -> None:
    home = _diverged_home(tmp_path / "home")

    async def drive() -> None:
        app = fixed_app(home)
        async with app.run_test(size=(80, 30)) as pilot:
            await settle(pilot)
            await select_job(pilot, 1)
            curves = app.main.preview.curves
            await wait_for(pilot, lambda: curves.display, 5, "the curves")
            await wait_for(pilot, lambda: curves.plot_rows() >= 5
                           and "━ train loss · ━ train acc % (right)"
                           in next((line for line in screen_text(app) if "points ·" in line), ""), 5,
                           "the curves' title")
            assert isinstance(curves, CurvePlot) and curves.plot_rows() >= 5
            text = screen_text(app)
            title = next(line for line in text if "points ·" in line)
            assert "━ train loss · ━ train acc % (right)" in title, title
            top = curves.region.y
            plot = text[top + 1: top + 1 + curves.plot_rows()]
            assert not any("train loss" in line for line in plot), "no legend over the curves"
            ticked = [i for i, line in enumerate(plot) if "┤" in line]
            assert ticked == list(range(0, len(plot), 2)), plot
            # each label is its row's value: evenly spaced from the top row down
            values = [float(re.search(r"([-\d.e]+)┤", plot[i]).group(1)) for i in ticked]  # type: ignore[union-attr]
            steps = np.diff(values)
            assert np.allclose(steps, steps[0], rtol=0.05, atol=0.002)
            await pilot.resize_terminal(60, 14)
            await wait_for(pilot, lambda: curves.plot_rows() < 3
                           and any(TOO_SMALL in line for line in screen_text(app)), 5, "the panel too small")
            assert curves.plot_rows() < 3
            assert any(TOO_SMALL in line for line in screen_text(app))

    asyncio.run(drive())


def test_the_info_lines_under_a_trajectory_s_map_clear_its_colour_bar(tmp_path: Path) -> None:
    """A tall, narrow panel puts the info under the map; the colour bar is taller than
    the map there, and the info once started on its last line (``██ <1.5job 11``)."""
    home = _diverged_home(tmp_path / "home")

    async def drive() -> None:
        app = fixed_app(home)
        async with app.run_test(size=(60, 40)) as pilot:
            await settle(pilot)
            await select_job(pilot, 2)
            surface = app.main.preview.surface
            await wait_for(pilot, lambda: surface.display, 5, "the surface")

            def info_under_the_bar() -> bool:
                lines = [strip.text for strip in surface._build()]
                head = next((i for i, line in enumerate(lines) if "job 2 · bowl" in line), None)
                bar = [i for i, line in enumerate(lines) if "██" in line]
                return (head is not None and bool(bar) and len(bar) > head - 2 and head > max(bar)
                        and lines[head].lstrip().startswith("job 2"))

            await wait_for(pilot, info_under_the_bar, 5, "the info lines under the colour bar")
            assert isinstance(surface, SurfaceView)
            lines = [strip.text for strip in surface._build()]
            head = next(i for i, line in enumerate(lines) if "job 2 · bowl" in line)
            bar = [i for i, line in enumerate(lines) if "██" in line]
            assert len(bar) > head - 2, "the colour bar is taller than the map"
            assert head > max(bar), lines
            assert lines[head].lstrip().startswith("job 2"), lines

    asyncio.run(drive())


NARROW_LOSS = (2.3112, 2.3247)
"""An untrained network's loss along a line: a range its ticks once labelled 2.32, 2.31,
2.31, 2.31, 2.31."""
FLAT_LOSS = 2.302585


def _narrow_home(home: Path) -> Path:
    """Job 1: a 1D line whose loss spans only :data:`NARROW_LOSS` (and its accuracy 10.2
    to 10.7 %); job 2: one whose loss is :data:`FLAT_LOSS` and accuracy 10 % everywhere."""
    xs = np.linspace(-1, 1, 21)
    lo, hi = NARROW_LOSS
    curves = {
        "narrow": [PointRow(i, lo + (hi - lo) * ((x + 1) / 2) ** 2, 10.7 - 0.5 * abs(x)) for i, x in enumerate(xs)],
        "flat": [PointRow(i, FLAT_LOSS, 10.0) for i in range(21)],
    }
    with Store.open_home(home) as store:
        worker = store.register_worker("cpu", 1, "here")
        for name, points in curves.items():
            job = store.add_job(kind="interp", name=name, spec={"x": "-1:1:21", "split": "train"},
                                total_points=21, units=[list(range(21))], results_root=home / "results")
            claim = store.claim_unit(worker, 60, job_ids=[job])
            assert claim is not None
            store.write_points(claim.unit_id, worker, points)
            assert store.complete_unit(claim.unit_id, worker)
    return home


def _tick_labels(app: LstuiApp, curves: CurvePlot) -> tuple[list[str], list[str]]:
    """The labels of the 1D plot's left and right axes, top down."""
    top = curves.region.y
    plot = screen_text(app)[top + 1: top + 1 + curves.plot_rows()]
    left = [m.group(1) for line in plot if (m := re.search(r"([-\d.e]+)┤", line))]
    right = [m.group(1) for line in plot if (m := re.search(r"├([-\d.e]+)", line))]
    return left, right


def _significant_digits(label: str) -> int:
    return len(label.replace("-", "").replace(".", "").lstrip("0"))


def test_the_1d_preview_labels_a_narrow_curve_s_rows_apart_in_few_digits(tmp_path: Path) -> None:
    """A loss from 2.3112 to 2.3247 was labelled 2.32, 2.31, 2.31, 2.31, 2.31: now each
    label differs from its neighbours, linear and log, on both axes, and takes no more
    digits than that needs."""
    home = _narrow_home(tmp_path / "home")

    async def drive() -> None:
        app = fixed_app(home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select_job(pilot, 1)
            curves = app.main.preview.curves
            await wait_for(pilot, lambda: curves.display, 5, "the curves")

            def labels_apart(digits: tuple[int, int]) -> bool:
                """What the asserts below check, as a condition to wait for."""
                if curves.plot_rows() < 5:
                    return False
                left, right = _tick_labels(app, curves)
                if len(left) < 3 or len(set(left)) != len(left) or len(right) < 3 or len(set(right)) != len(right):
                    return False
                try:
                    values = [float(label) for label in left]
                except ValueError:
                    return False
                return (values == sorted(values, reverse=True)
                        and NARROW_LOSS[0] - 1e-3 <= values[-1] < values[0] <= NARROW_LOSS[1] + 1e-3
                        and (max(map(_significant_digits, left)), max(map(_significant_digits, right))) == digits)

            # digits of the loss and the accuracy: 13 rows of 10.2 to 10.7 % need a fourth
            for size, scale, digits in (((80, 24), "linear", (4, 3)), ((80, 24), "log", (4, 3)),
                                        ((100, 40), "log", (4, 4)), ((100, 40), "linear", (4, 4))):
                if (scale == "log") != app.main.preview.log_scale:
                    await pilot.press("g")
                await pilot.resize_terminal(*size)
                await wait_for(pilot, lambda d=digits: labels_apart(d), 5, f"{size} {scale}: the labels")  # type: ignore[misc]
                assert isinstance(curves, CurvePlot) and curves.plot_rows() >= 5
                left, right = _tick_labels(app, curves)
                where = f"{size} {scale}: {left} {right}"
                assert len(left) >= 3 and len(set(left)) == len(left), where
                assert len(right) >= 3 and len(set(right)) == len(right), where
                values = [float(label) for label in left]
                assert values == sorted(values, reverse=True), where
                assert NARROW_LOSS[0] - 1e-3 <= values[-1] < values[0] <= NARROW_LOSS[1] + 1e-3, where
                assert (max(map(_significant_digits, left)), max(map(_significant_digits, right))) == digits, where

    asyncio.run(drive())


def test_the_1d_preview_labels_a_flat_curve_once_with_its_value(tmp_path: Path) -> None:
    home = _narrow_home(tmp_path / "home")

    async def drive() -> None:
        app = fixed_app(home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select_job(pilot, 2)
            curves = app.main.preview.curves
            await wait_for(pilot, lambda: curves.display, 5, "the curves")
            for log in (False, True):
                if log != app.main.preview.log_scale:
                    await pilot.press("g")
                await wait_for(pilot, lambda: _tick_labels(app, curves) == (["2.3026"], ["10"]), 5, f"log: {log}")
                assert isinstance(curves, CurvePlot)
                assert _tick_labels(app, curves) == (["2.3026"], ["10"]), f"log: {log}"
                top = curves.region.y
                plot = screen_text(app)[top + 1: top + 1 + curves.plot_rows()]
                (row,) = [line for line in plot if "┤" in line]
                assert any("⠁" <= char <= "⣿" for char in row), f"the line is drawn on its label's row: {plot}"

    asyncio.run(drive())


def test_row_ticks_tell_neighbouring_rows_apart_in_as_few_digits_as_the_figures() -> None:
    narrow = np.linspace(*NARROW_LOSS, 21)
    (lo, hi), ticks, labels = row_ticks(narrow, 9, log=False)
    assert (lo, hi) == NARROW_LOSS and ticks[0] == hi and ticks[-1] == lo
    assert labels == ["2.325", "2.321", "2.318", "2.315", "2.311"]
    _, _, labels = row_ticks(np.log10(narrow), 9, log=True)
    assert labels == ["2.325", "2.321", "2.318", "2.315", "2.311"]
    _, _, labels = row_ticks(np.array([0.01, 30.0]), 9, log=False)
    assert labels == ["30", "22.5", "15", "7.51", "0.01"], "three digits where they tell rows apart"
    _, _, labels = row_ticks(np.log10([0.01, 30.0]), 9, log=True)
    assert labels == ["30", "4.05", "0.548", "0.074", "0.01"]


def test_row_ticks_give_a_flat_curve_one_label_on_its_own_row() -> None:
    for values, log, label in ((np.full(5, FLAT_LOSS), False, "2.3026"),
                               (np.log10(np.full(5, FLAT_LOSS)), True, "2.3026"),
                               (np.zeros(5), False, "0"),
                               (np.array([FLAT_LOSS, FLAT_LOSS + 1e-15]), False, "2.3026")):
        for rows in (3, 9, 10):
            (lo, hi), ticks, labels = row_ticks(values, rows, log=log)
            assert labels == [label] and lo < ticks[0] < hi
            row = (hi - ticks[0]) / (hi - lo) * (rows - 1)
            assert row == pytest.approx((rows - 1) // 2), "on a row, the middle one"


def _surface_preview(home: Path, job: int, size: tuple[int, int] = (80, 24)) -> list[str]:
    """The screen's lines once job ``job``'s 2D preview is drawn."""
    lines: list[str] = []

    async def drive() -> None:
        app = fixed_app(home)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await select_job(pilot, job)
            await wait_for(pilot, lambda: app.main.preview.surface.display, 5, "the surface")
            await wait_for(pilot, lambda: any("* min" in line for line in screen_text(app)), 5, "the minimum named")
            lines.extend(screen_text(app))

    asyncio.run(drive())
    return lines


def _stored_surface(home: Path, name: str, x: str, y: str, loss: Callable[[float, float], float]) -> int:
    """A done 2D job of grid ``x`` × ``y`` whose train loss at (x, y) is ``loss(x, y)``."""
    xs, ys = parse_axis(x).coordinates, parse_axis(y).coordinates
    with Store.open_home(home) as store:
        worker = store.register_worker("cpu", 1, "here")
        job = store.add_job(kind="surface", name=name, spec={"x": x, "y": y, "split": "train"},
                            total_points=xs.size * ys.size, units=[list(range(xs.size * ys.size))],
                            results_root=home / "results")
        claim = store.claim_unit(worker, 60, job_ids=[job])
        assert claim is not None
        store.write_points(claim.unit_id, worker, [
            PointRow(i, float(loss(xs[i % xs.size], ys[i // xs.size])), 90.0) for i in range(xs.size * ys.size)])
        assert store.complete_unit(claim.unit_id, worker)
    return job


@pytest.mark.parametrize("size", [(80, 24), (70, 40)])
def test_the_lines_under_a_wide_map_are_all_in_the_panel(tmp_path: Path, size: tuple[int, int]) -> None:
    """A wide map (a trajectory's grid) puts its lines under the map and the colour bar;
    the bar took the panel's whole height, and the lines after "points" ran under the key
    bar: "+ centre", "* min … at", "• trajectory" were not seen."""
    home = tmp_path / "home"
    job = _stored_surface(home, "wide", "-8:2:41", "-1:1:5", lambda x, y: 0.1 * np.exp(0.6 * abs(x + 3)) + y**2)

    text = "\n".join(_surface_preview(home, job, size))
    for said in ("job 1 · wide", "points", "+ centre", "* min", "at (-3, 0)"):
        assert said in text, (said, text)


def test_a_minimum_drawn_in_the_centres_cell_is_named_over_it(tmp_path: Path) -> None:
    """On a grid finer than the map, a minimum at (0.02, 0) is drawn in the centre's
    cell: its * hid the +, which the legend still named."""
    home = tmp_path / "home"
    job = _stored_surface(home, "fine", "-1:1:101", "-1:1:11", lambda x, y: 0.5 + (x - 0.02) ** 2 + y**2)

    lines = _surface_preview(home, job)
    text = "\n".join(lines)
    assert "+ centre" not in text and "+" not in "".join(line[:40] for line in lines), text
    assert "* min 0.5" in text and "at (0.02, 0), over +" in text, text


def test_a_minimum_at_the_centre_is_named_there_not_under_a_hidden_plus(tmp_path: Path) -> None:
    """A trained minimizer's surface has its minimum at (0, 0), where the * is drawn over
    the +: the legend said "+ centre (0,0)" of a mark nowhere to be seen."""
    home = tmp_path / "home"
    job = _stored_surface(home, "basin", "-1:1:5", "-1:1:5", lambda x, y: 0.5 + x**2 + y**2)

    text = "\n".join(_surface_preview(home, job))
    assert "+ centre" not in text, text
    assert "* min 0.5" in text and "at the centre (0,0)" in text, text
