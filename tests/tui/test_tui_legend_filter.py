"""The 2D preview's colour bar names every colour its map draws, at any height; a
filter keeps the cursor on its job, or puts it on the first match."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from rich.color import Color
from textual.strip import Strip

from lstui.store import PointRow, Store
from lstui.tui.heatmap import NOT_FINITE, band_colours, draw_surface, legend_lines, merged_levels
from lstui.tui.widgets import SurfaceView
from tests.tui.support import fixed_app, select_job, settle, wait_for

SURFACE_AXIS = np.linspace(-1, 1, 5)
SWATCH = "██"
MAP_CHARS = frozenset("▀▄")


def _map_and_bar_colours(strips: list[Strip], background: Color | None = None) -> tuple[set[Color], list[Color]]:
    """The colours of a surface's map cells (both pixels of each, and the cell under a
    mark) and those of its colour bar's swatches, top down; ``background`` (the
    widget's, under a blank pixel) is none of them."""
    drawn: set[Color] = set()
    bar: list[Color] = []
    for strip in strips:
        for segment in strip:
            style = segment.style
            if style is None:
                continue
            if segment.text == SWATCH:
                assert style.color is not None
                bar.append(style.color)
            elif set(segment.text) <= MAP_CHARS and style.color is not None:
                drawn.add(style.color)
                if style.bgcolor is not None:
                    drawn.add(style.bgcolor)
            elif style.bgcolor is not None:
                drawn.add(style.bgcolor)  # a mark (+ * •) over its cell's lower pixel
    drawn.discard(background)  # type: ignore[arg-type]
    return drawn, bar


def _untrained_home(home: Path) -> Path:
    """Job 1: a done 5×5 surface of an untrained network's loss (2.31 to 2.61: nine
    levels, ten bands); jobs 2 to 5: queued, to fill the table."""
    with Store.open_home(home) as store:
        worker = store.register_worker("cpu", 1, "here")
        spec = {"x": "-1:1:5", "y": "-1:1:5", "split": "train"}
        job = store.add_job(kind="surface", name="untrained", spec=spec, total_points=25,
                            units=[list(range(25))], results_root=home / "results")
        claim = store.claim_unit(worker, 60, job_ids=[job])
        assert claim is not None
        xs, ys = SURFACE_AXIS, SURFACE_AXIS
        loss = [2.3 + 0.1 * ((ys[i // 5] + 0.3) ** 2 + (xs[i % 5] - 0.2) ** 2) for i in range(25)]
        store.write_points(claim.unit_id, worker, [PointRow(i, v, 10.0) for i, v in enumerate(loss)])
        assert store.complete_unit(claim.unit_id, worker)
        for n in range(4):
            store.add_job(kind="surface", name=f"queued {n}", spec=spec, total_points=25,
                          units=[list(range(25))], results_root=home / "results")
    return home


@pytest.mark.parametrize("size", [(60, 20), (80, 24)])
def test_every_colour_the_map_draws_has_its_row_in_the_colour_bar(tmp_path: Path, size: tuple[int, int]) -> None:
    """At 60×20 the colour bar had room for half of the ten bands and left every other
    one out, while the map drew all ten: the colour most of the map had was in no row.
    Now a low panel draws its map in as many merged bands as the bar has rows."""
    home = _untrained_home(tmp_path / "home")

    async def drive() -> None:
        app = fixed_app(home)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await select_job(pilot, 1)
            surface = app.main.preview.surface
            await wait_for(pilot, lambda: surface.display and surface.surface_data is not None
                           and surface.surface_data.job_id == 1, 5, "job 1's surface")

            def every_colour_in_the_bar() -> bool:
                """What the asserts below check, as a condition to wait for."""
                drawn, bar = _map_and_bar_colours(surface._build(), surface.rich_style.bgcolor)
                if not (len(drawn) >= 3 and bar and drawn <= set(bar)):
                    return False
                if size == (60, 20):
                    return surface.size.height < len(surface.levels) + 1 and len(bar) == surface.size.height
                return len(bar) == len(surface.levels) + 1

            await wait_for(pilot, every_colour_in_the_bar, 5, "every colour drawn in the colour bar")
            assert isinstance(surface, SurfaceView)
            drawn, bar = _map_and_bar_colours(surface._build(), surface.rich_style.bgcolor)
            assert len(drawn) >= 3 and bar, (drawn, bar)
            assert drawn <= set(bar), f"drawn, not in the colour bar: {drawn - set(bar)}"
            if size == (60, 20):
                assert surface.size.height < len(surface.levels) + 1, "a panel too low for every band"
                assert len(bar) == surface.size.height, "the merged bands fill the bar's rows"
            else:
                assert len(bar) == len(surface.levels) + 1, "room for every band: none merged"

    asyncio.run(drive())


def test_merged_levels_keep_the_end_levels_and_spread_the_others_evenly() -> None:
    levels = np.round(np.arange(2.32, 2.47, 0.02), 2)  # eight levels, nine bands
    assert list(merged_levels(levels, 9)) == list(levels)
    assert list(merged_levels(levels, 5)) == [2.32, 2.36, 2.42, 2.46]
    assert list(merged_levels(levels, 4)) == [2.32, 2.40, 2.46]
    assert list(merged_levels(levels, 2)) == [2.32], "room for one level: the basin's edge"
    assert list(merged_levels(levels, 2, highest=True)) == [2.46], "an accuracy's basin is at the top"
    assert merged_levels(levels, 1).size == merged_levels(levels, 1, highest=True).size == 0
    for rows in range(2, 12):
        merged = merged_levels(levels, rows)
        assert len(merged) + 1 == min(rows, len(levels) + 1), "the bar fills its rows"
        assert np.all(np.diff(merged) > 0) and np.isin(merged, levels).all()


def test_a_map_drawn_with_merged_levels_uses_only_its_bar_s_colours() -> None:
    x = y = np.linspace(-1, 1, 21)
    Z = np.add.outer(y**2, x**2)
    levels = np.linspace(0.1, 1.7, 9)
    for rows in (3, 5, 7, 10):
        merged = merged_levels(levels, rows)
        colours = band_colours(len(merged) + 1)
        picture = draw_surface(x, y, Z, 30, 10, levels=merged)
        bar = legend_lines(levels, band_colours(len(levels) + 1), rows)
        assert len(bar) <= rows
        drawn, swatches = _map_and_bar_colours([Strip(line) for line in picture.lines + bar])
        assert drawn <= set(swatches), rows
        assert set(swatches) == {Color.from_rgb(*c) for c in colours}
        assert Color.from_rgb(*NOT_FINITE) not in drawn


def test_a_filter_keeps_the_selected_job_or_goes_to_the_first_match(fixed_home: Path) -> None:
    """The cursor landed on the last matching row: the rows a filter takes away left
    it at its row number, cut to the rows left."""

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            table = app.main.table
            await select_job(pilot, 5)  # "cnn wide": no "mlp" in it
            await pilot.press("slash", *"mlp")
            await wait_for(pilot, lambda: table.filter_text == "mlp" and table.row_count == 2, 5, "mlp")
            assert table.selected_job_id() == 6, "the first match, not the last (7)"
            assert table.cursor_row == 0
            await wait_for(pilot, lambda: app.main.preview.job_id == 6, 5, "job 6's preview")

            await pilot.press("escape")
            await wait_for(pilot, lambda: table.filter_text == "" and table.row_count == 7, 5, "no filter")
            assert table.selected_job_id() == 6, "clearing the filter keeps the job"
            await select_job(pilot, 2)
            await pilot.press("slash", *"resnet")
            await wait_for(pilot, lambda: table.filter_text == "resnet" and table.row_count == 2, 5, "resnet")
            assert table.selected_job_id() == 2, "the selected job matches: it stays selected"
            await pilot.press(*" small")
            await wait_for(pilot, lambda: table.row_count == 1, 5, "resnet small")
            assert table.selected_job_id() == 1, "job 2 hidden: the first (and only) match"

    asyncio.run(drive())


def test_the_colour_bar_writes_large_levels_as_the_axes_do() -> None:
    """The bar said 1.23e+06 beside axis ticks and figures that say 1.23e6."""
    from lstui.plots.levels import format_level
    from lstui.tui.heatmap import level_formatter

    levels = np.array([1234567.0, 2345678.0, 3456789.0])
    assert [level_formatter(levels)(v) for v in levels] == [format_level(v) for v in levels] == [
        "1.23e6", "2.35e6", "3.46e6"]
