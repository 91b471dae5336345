"""80×24 and larger terminals, resizing, and screens without colour."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import RichLog

from lstui.tui import LstuiApp
from lstui.tui.screens import JobScreen
from lstui.tui.widgets import JobTable
from tests.tui.support import NOW, Clock, fixed_app, fixed_devices, settle, wait_for


def test_resizing_folds_and_unfolds_the_device_panel(fixed_home: Path) -> None:
    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            main = app.main
            assert app.has_class("narrow")
            assert not main._devices.display or main._devices.region.width == 0
            assert "cuda:0 87%" in str(main._status.render()), "devices folded into the status"
            narrow_name = main.table.columns[next(k for k in main.table.columns if k.value == "name")].width
            await pilot.resize_terminal(160, 48)
            await wait_for(pilot, lambda: not app.has_class("narrow"), 5, "the wide layout")
            await pilot.pause(0.3)
            assert main._devices.region.width > 30
            assert "NVIDIA H100" in str(main._devices.render())
            wide_name = main.table.columns[next(k for k in main.table.columns if k.value == "name")].width
            assert wide_name > narrow_name + 40
            assert main.table.virtual_size.width <= 160
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, JobScreen), 5, "the job screen")
            await pilot.resize_terminal(80, 24)
            await wait_for(pilot, lambda: app.has_class("narrow"), 5, "the narrow layout")
            await pilot.pause(0.3)
            screen = app.screen
            assert isinstance(screen, JobScreen)
            assert screen._preview.region.width == 0, "no room for the preview beside the facts"
            await pilot.press("escape")
            await pilot.pause(0.3)
            assert main.table.virtual_size.width <= 80

    asyncio.run(drive())


def test_without_colour_every_state_is_still_written(fixed_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert app.no_color
            table = app.main.table
            states = {table.get_cell(str(j), "state").plain.strip() for j in range(1, 7)}
            assert states == {"done", "running", "failed", "queued", "paused"}
            for j in range(1, 7):
                cell = table.get_cell(str(j), "state")
                assert all("red" not in str(span.style) and "magenta" not in str(span.style) for span in cell.spans)
            assert app.main.preview.surface.plain

    asyncio.run(drive())


def test_a_row_updated_in_place_draws_what_a_full_redraw_draws(fixed_home: Path) -> None:
    """The table redraws only the rows whose cells changed; what it draws must be what
    DataTable would draw after dropping every cache."""
    clock = Clock(NOW)

    def lines(table: JobTable) -> list[str]:
        return [table.render_line(y).text for y in range(table.size.height)]

    async def drive() -> None:
        app = LstuiApp(fixed_home, clock=clock, device_facts=fixed_devices, poll_s=0.1)
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot)
            table = app.main.table
            before = lines(table)
            running = next(i for i, line in enumerate(before) if "resnet56 large batch" in line)
            updated = table.cells_updated
            refreshes = app.refreshes
            clock.advance(125.0)
            await wait_for(pilot, lambda: app.refreshes >= refreshes + 2, 10, "two snapshots")
            assert table.cells_updated > updated, "the running job's elapsed time and ETA changed"
            after = lines(table)
            assert after[running] != before[running]
            assert before[running].split()[-3:-1] == ["14m", "20m"], before[running]
            assert after[running].split()[-3:-1] == ["16m", "22m"], "elapsed and ETA two minutes on"
            changed = [a.split()[0] for a, b in zip(after, before) if a != b]
            assert changed == ["2", "3"], "only the rows of the two running jobs changed"
            table._update_count += 1  # what DataTable.update_cell does: every cache is stale
            assert lines(table) == after
            await pilot.press("up")  # the cursor row is drawn from the same caches
            await pilot.pause(0.1)
            moved = lines(table)
            table._update_count += 1
            assert lines(table) == moved

    asyncio.run(drive())


def test_the_job_log_wraps_long_lines_within_an_80_column_terminal(fixed_home: Path) -> None:
    """A log line longer than the terminal is wide (a figure's path) wraps at the log's own
    width: every character shows, none under the scrollbar or beyond the edge (RichLog's
    default minimum width of 78 columns lost one at each wrap)."""
    from lstui.store import Store

    path = "/srv/lab/results/00001-resnet56-small-batch/" + "x" * 40 + "/surface_train_loss_2dcontour.png"
    with Store.open_home(fixed_home) as store:
        store.add_event(1, "info", f"wrote {path}")

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            app.open_job(1)
            await wait_for(pilot, lambda: bool(app.screen.query("#job-log")), 5, "the job screen's log")
            assert isinstance(app.screen, JobScreen)
            log = app.screen.query_one("#job-log", RichLog)
            await wait_for(pilot, lambda: any("contour.png" in s.text for s in log.lines), 5, "the long line")
            width = log.scrollable_content_region.width
            assert 0 < width < 78
            assert all(strip.cell_length <= width for strip in log.lines)
            assert path in "".join(strip.text.rstrip() for strip in log.lines)

    asyncio.run(drive())
