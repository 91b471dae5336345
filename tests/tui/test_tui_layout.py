"""80×24 and larger terminals, resizing, and screens without colour."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, RichLog
from textual.widgets._footer import FooterKey

from lstui.scheduler.submit import submit_spec
from lstui.store import Store
from lstui.tui import LstuiApp
from lstui.tui.screens import JobScreen
from lstui.tui.widgets import JobTable, KeyBar
from tests.tui.support import (
    NOW,
    Clock,
    compute_units,
    fixed_app,
    fixed_devices,
    open_form,
    preview_ready,
    screen_text,
    select_job,
    settle,
    tiny_spec,
    wait_for,
)


def test_resizing_folds_and_unfolds_the_device_panel(fixed_home: Path) -> None:
    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            main = app.main
            assert app.has_class("narrow")
            assert not main._devices.display or main._devices.region.width == 0
            assert "cuda:0 util 87%" in str(main._status.render()), "devices folded into the status"
            narrow_name = main.table.columns[next(k for k in main.table.columns if k.value == "name")].width
            await pilot.resize_terminal(160, 48)
            await wait_for(pilot, lambda: not app.has_class("narrow"), 5, "the wide layout")
            await wait_for(pilot, lambda: main._devices.region.width > 30
                           and "NVIDIA H100" in str(main._devices.render())
                           and main.table.columns[next(k for k in main.table.columns if k.value == "name")].width
                           > narrow_name + 40, 5, "the device panel and the wide name column")
            wide_name = main.table.columns[next(k for k in main.table.columns if k.value == "name")].width
            assert wide_name > narrow_name + 40
            assert main.table.virtual_size.width <= 160
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, JobScreen), 5, "the job screen")
            await pilot.resize_terminal(80, 24)
            await wait_for(pilot, lambda: app.has_class("narrow"), 5, "the narrow layout")
            await wait_for(pilot, lambda: isinstance(app.screen, JobScreen) and app.screen._preview.region.width == 0,
                           5, "no room for the preview beside the facts")
            screen = app.screen
            assert isinstance(screen, JobScreen)
            assert screen._preview.region.width == 0, "no room for the preview beside the facts"
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is main and main.table.virtual_size.width <= 80, 5,
                           "the main screen's table within 80 columns")

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
            assert before[running].split()[-3:-1] == ["15m", "24m"], before[running]  # 14m31s, to the nearest minute
            assert after[running].split()[-3:-1] == ["17m", "27m"], "elapsed and ETA two minutes on"
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


def test_long_names_are_cut_so_that_id_kind_state_and_points_stay_in_view(fixed_home: Path) -> None:
    """A 79-character name wrapped the job screen's one-line title down to ``job 9 ·``
    and pushed the preview's points line out of view."""
    long_name = "resnet56 sgd lr0.1 batch128 weight-decay5e-4 seed7 " + "x" * 28
    assert len(long_name) == 79
    with Store.open_home(fixed_home) as store:
        spec = tiny_spec(long_name, y=None)
        job_id = submit_spec(store, spec, unit_size=2)
        worker = store.register_worker("cpu", 4244, "lab")
        compute_units(store, worker, job_id, spec, Clock(NOW), units=1)

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select_job(pilot, job_id)
            await wait_for(pilot, lambda: app.main.preview.job_id == job_id and preview_ready(app), 10, "the preview")
            await wait_for(pilot, lambda: any(f"job {job_id} · resnet56" in line for line in screen_text(app))
                           and any("2/5 points · prio 0 · ━ train loss" in line for line in screen_text(app)), 5,
                           "the preview's head and points line")
            lines = screen_text(app)
            head = next(n for n, line in enumerate(lines) if f"job {job_id} · resnet56" in line)
            assert lines[head].rstrip().endswith("…"), lines[head]
            assert "2/5 points · prio 0 · ━ train loss" in lines[head + 1], lines[head:head + 2]
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, JobScreen), 5, "the job screen")
            await wait_for(pilot, lambda: screen_text(app)[0].rstrip().startswith(f" job {job_id} · resnet56 sgd")
                           and screen_text(app)[0].rstrip().endswith("… · surface · running"), 5, "the job's title")
            title = screen_text(app)[0].rstrip()
            assert title.startswith(f" job {job_id} · resnet56 sgd")
            assert title.endswith("… · surface · running"), title
            assert len(title) <= 80

    asyncio.run(drive())


def test_a_narrow_terminal_keeps_elapsed_and_eta_and_puts_columns_back_in_order(fixed_home: Path) -> None:
    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            table = app.main.table
            full = [str(c.key.value) for c in table.ordered_columns]
            await pilot.resize_terminal(64, 24)
            await wait_for(pilot, lambda: len(table.ordered_columns) < len(full), 5, "the narrower layout")
            narrow = ["id", "name", "state", "progress", "points", "elapsed", "eta"]
            await wait_for(pilot, lambda: [str(c.key.value) for c in table.ordered_columns] == narrow
                           and next((line for line in screen_text(app) if " ID " in line), "").split()[-3:]
                           == ["POINTS", "ELAPSED", "ETA"], 5, "the narrow columns drawn")
            assert [str(c.key.value) for c in table.ordered_columns] == [
                "id", "name", "state", "progress", "points", "elapsed", "eta"]
            header = next(line for line in screen_text(app) if " ID " in line)
            assert header.split()[-3:] == ["POINTS", "ELAPSED", "ETA"], header
            row = next(line for line in screen_text(app) if line.startswith("   2 "))
            assert row.split()[-2:] == ["15m", "24m"]
            await wait_for(pilot, lambda: app.main.query_one(KeyBar).size.height == 3, 5, "three rows of keys")
            labels = ("/ Filter", "c Cancel", "e Export", "d Daemon", "^p palette")
            await wait_for(pilot, lambda: all(label in "\n".join(screen_text(app)[-3:]) for label in labels), 5,
                           "the keys drawn")
            footer = "\n".join(screen_text(app)[-3:])
            for label in labels:
                assert label in footer, footer
            await pilot.resize_terminal(80, 24)
            await wait_for(pilot, lambda: len(table.ordered_columns) == len(full), 5, "the 80-column layout")
            await wait_for(pilot, lambda: [str(c.key.value) for c in table.ordered_columns] == full
                           and table.get_cell("2", "device").plain.strip() == "cuda:0", 5, "every column back")
            assert [str(c.key.value) for c in table.ordered_columns] == full
            assert table.get_cell("2", "device").plain.strip() == "cuda:0"

    asyncio.run(drive())


def test_the_footer_hides_the_keys_that_type_into_the_filter(fixed_home: Path) -> None:
    """While the filter has the focus, ``+`` and ``-`` go into its text: the footer
    listed them as Prio+ and Prio- all the same."""

    def footer_keys(app: LstuiApp) -> set[str]:
        return {key.key for key in app.main.query(FooterKey)}

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await wait_for(pilot, lambda: {"plus", "minus", "n", "q"} <= footer_keys(app), 10, "the footer")
            assert "escape" not in footer_keys(app), "no filter to clear"
            await pilot.press("slash")
            await wait_for(pilot, lambda: "plus" not in footer_keys(app), 5, "the footer while filtering")
            assert not footer_keys(app) & {"plus", "minus", "n", "c", "p", "q", "question_mark", "slash"}
            assert "escape" in footer_keys(app)
            await pilot.press(*"+cnn")
            assert app.main.query_one("#filter", Input).value == "+cnn", "typed, not bound"
            await pilot.press("escape")
            await wait_for(pilot, lambda: "plus" in footer_keys(app), 5, "the footer after the filter")
            assert "escape" not in footer_keys(app)

    asyncio.run(drive())


def test_textual_s_own_notices_render_their_markup_and_ours_stay_plain(fixed_home: Path) -> None:
    """Textual's ``Press [b]q[/b] to quit`` showed its markup: every notice was made plain text."""

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await settle(pilot)
            app.action_help_quit()  # Textual's "Press [b]q[/b] to quit the app"
            await wait_for(pilot, lambda: "to quit the app" in "\n".join(screen_text(app)), 5, "Textual's notice")
            shown = "\n".join(screen_text(app))
            assert "to quit the app" in shown
            assert "[b]" not in shown and "[/b]" not in shown
            app.say("wrote ~/figs/[b]run[/b].png")
            await wait_for(pilot, lambda: "~/figs/[b]run[/b].png" in "\n".join(screen_text(app)), 5, "our notice")

    asyncio.run(drive())


def test_the_preview_of_a_job_without_points_says_what_its_state_means(fixed_home: Path) -> None:
    """A failed, queued, paused or cancelled job's preview said "waiting for the first
    points", and did not change when the state did (its numbers had not)."""
    with Store.open_home(fixed_home) as store:
        after = submit_spec(store, tiny_spec("after the large batch"), depends_on=[2])

    def shown(app: LstuiApp) -> str:
        return "\n".join(screen_text(app))

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            for job_id, says in (
                (4, "failed: unit 0 failed 3 times: CUDA out of memory"),
                (5, "queued — waiting for a free worker"),
                (6, "paused — p resumes it"),
                (7, "cancelled — r queues it again"),
                (after, "queued behind job 2"),
            ):
                await select_job(pilot, job_id)
                await wait_for(pilot, lambda s=says: s in shown(app), 5, says)  # type: ignore[misc]
                assert "waiting for the first points" not in shown(app)
            await select_job(pilot, 5)
            await wait_for(pilot, lambda: "queued — waiting" in shown(app), 5, "the queued job")
            with Store.open_home(fixed_home) as store:
                store.fail_job(5, "disk full [errno 28] " + "and a long tail " * 8)
            await wait_for(pilot, lambda: "failed: disk full [errno 28]" in shown(app), 5, "the failure")
            lines = screen_text(app)
            first = next(n for n, x in enumerate(lines) if "failed: disk full" in x)
            note = " ".join(x.strip() for x in lines[first:first + 4])
            assert ("and a long tail " * 8).strip() in note, "wrapped whole on the empty rows below"
            assert "…" not in note

    asyncio.run(drive())


def test_the_help_says_how_to_close_it_and_both_keys_do(fixed_home: Path) -> None:
    from lstui.tui.screens import HelpScreen, MainScreen

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            for close in ("question_mark", "escape"):
                await pilot.press("question_mark")
                await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), 5, "the help")
                await wait_for(pilot, lambda: "esc or ?: close" in "\n".join(screen_text(app)), 5, "how to close it")
                await pilot.press(close)
                await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), 5, f"{close} to close it")

    asyncio.run(drive())


def _many_jobs_home(home: Path, count: int, running: int | None = None, done: int = 0) -> Path:
    """``count`` queued 1D jobs (``running``: that one claimed by a worker; ``done``: the
    first that many computed)."""
    from lstui.store import PointRow

    with Store.open_home(home, clock=lambda: NOW) as store:
        for i in range(1, count + 1):
            store.add_job(kind="surface", name=f"job number {i}", spec={"x": "-1:1:3", "split": "train"},
                          total_points=3, units=[[0, 1, 2]], results_root=home / "results")
        worker = store.register_worker("cpu", 1, "here")
        for i in range(1, done + 1):
            claim = store.claim_unit(worker, 3600, job_ids=[i])
            assert claim is not None
            store.write_points(claim.unit_id, worker, [PointRow(n, 1.0, 50.0) for n in claim.todo])
            assert store.complete_unit(claim.unit_id, worker)
        if running is not None:
            assert store.claim_unit(worker, 3600, job_ids=[running]) is not None
    return home


def _cursor_in_view(table: JobTable) -> bool:
    """The selected row is among the rows the table shows (the header takes one)."""
    first = int(table.scroll_y)
    shown = table.size.height - 1
    return table.row_count > 0 and first <= table.cursor_row < first + shown


@pytest.mark.parametrize(("running", "done", "want"), [(None, 34, 34), (None, 29, 30), (31, 29, 31)],
                         ids=["all-done", "queued", "running"])
def test_the_selected_row_is_in_view_at_startup_and_after_shrinking(tmp_path: Path, running: int | None,
                                                                    done: int, want: int) -> None:
    """The cursor starts on the first running job, else the first queued, else the last
    job: below the fold, at 80×24, they were out of sight."""
    home = _many_jobs_home(tmp_path / "home", 34, running, done)

    async def in_view(pilot: Pilot[None], table: JobTable) -> None:
        # the layout settles over a few refreshes (the footer's rows, the status's)
        await wait_for(pilot, lambda: _cursor_in_view(table), 5, "the selected row in view")

    async def drive() -> None:
        app = fixed_app(home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            table = app.main.table
            assert table.selected_job_id() == want
            await in_view(pilot, table)
            assert any(line.split()[:2] == [str(want), "job"] for line in screen_text(app)[:12] if line.strip())
            await pilot.resize_terminal(120, 40)
            await pilot.pause(0.3)
            await select_job(pilot, 34)
            await pilot.resize_terminal(80, 24)
            await pilot.pause(0.3)
            assert table.selected_job_id() == 34
            await in_view(pilot, table)
            await pilot.resize_terminal(60, 20)
            await pilot.pause(0.3)
            await in_view(pilot, table)

    asyncio.run(drive())


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
def test_the_status_lines_are_cut_not_wrapped_below_81_columns(fixed_home: Path, size: tuple[int, int]) -> None:
    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await pilot.press("slash", *"surface queued", "enter")

            def cut() -> bool:
                lines = screen_text(app)
                return (app.main._status.size.height == 2 and lines[0].startswith(" lstui 7 jobs · 2 running")
                        and lines[1].startswith(" ● daemon running │ cuda:0") and lines[0].rstrip().endswith("…")
                        and any(line.startswith("surface queued") for line in lines))

            await wait_for(pilot, cut, 5, "the status lines cut and the kept filter")
            status = app.main._status
            assert status.size.height == 2
            lines = screen_text(app)[:2]
            assert lines[0].startswith(" lstui 7 jobs · 2 running"), lines
            assert lines[1].startswith(" ● daemon running │ cuda:0"), lines
            assert lines[0].rstrip().endswith("…"), lines
            assert any(line.startswith("surface queued") for line in screen_text(app)), "the kept filter shows"

    asyncio.run(drive())


def test_a_kept_filter_leaves_the_footer_two_rows_at_80_columns(fixed_home: Path) -> None:
    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("slash", *"surface", "enter")
            await wait_for(pilot, lambda: any(k.key == "escape" for k in app.main.query(FooterKey)), 5,
                           "the esc key in the footer")
            await pilot.pause(0.3)
            await wait_for(pilot, lambda: all(label in "\n".join(screen_text(app)[-2:])
                                              for label in ("esc Clear", "^p palette", "q Quit")), 5, "the keys drawn")
            footer = app.main.query_one(KeyBar)
            assert footer.size.height == 2
            keys = list(app.main.query(FooterKey))
            assert len(keys) == 16
            text = "\n".join(screen_text(app)[-2:])
            assert "esc Clear" in text and "^p palette" in text and "q Quit" in text

    asyncio.run(drive())


@pytest.mark.parametrize("width", [120, 126, 127])
def test_the_one_row_key_bar_shows_every_key_it_keeps_whole(fixed_home: Path, width: int) -> None:
    """At exactly 120 columns the one-row bar ended "? Help▏^p palette": q Quit was past
    the edge. A row only where every key fits; t gives way first (as at 80 columns)."""
    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(width, 30)) as pilot:
            await settle(pilot)
            await wait_for(pilot, lambda: app.main.query_one(KeyBar).size.height == 1
                           and "q Quit" in screen_text(app)[-1] and "^p palette" in screen_text(app)[-1], 5,
                           "one row of keys")
            assert app.main.query_one(KeyBar).size.height == 1
            last = screen_text(app)[-1]
            assert "q Quit" in last and "^p palette" in last, last
            assert ("t What" in last) == (width >= 127), last

    asyncio.run(drive())


def test_the_preview_shows_the_priority_the_narrow_table_leaves_out(fixed_home: Path) -> None:
    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert "prio" not in app.main.table.layout_spec.columns
            await select_job(pilot, 5)
            await wait_for(pilot, lambda: preview_ready(app) and app.main.preview.job_id == 5, 5, "job 5")
            await wait_for(pilot, lambda: any("0/2601 points · queued · prio 3" in line for line in screen_text(app)),
                           5, "job 5's priority")
            await select_job(pilot, 1)
            await wait_for(pilot, lambda: preview_ready(app) and app.main.preview.job_id == 1, 5, "job 1")
            await wait_for(pilot, lambda: any("441/441 points · prio 0" in line for line in screen_text(app)), 5,
                           "job 1's priority")

    asyncio.run(drive())


@pytest.mark.parametrize(("start", "then"), [((120, 40), (80, 24)), ((80, 24), (120, 40))],
                         ids=["wide-then-narrow", "narrow-then-wide"])
def test_the_main_screen_takes_the_layout_of_a_resize_made_on_the_job_screen(
        fixed_home: Path, start: tuple[int, int], then: tuple[int, int]) -> None:
    """Resized while the job screen was on top, the main screen came back in the old
    width's layout: at 80 columns the device panel squeezed the preview to 8 columns
    and the status line had no daemon line, until it was widened again."""

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=start) as pilot:
            await settle(pilot)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, JobScreen), 5, "the job screen")
            await pilot.resize_terminal(*then)
            await pilot.pause(0.3)
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is app.main, 5, "the main screen")

            def laid_out() -> bool:
                main = app.main
                if then[0] < 81:
                    return (main._devices.region.width == 0 and main._status.size.height == 2
                            and main.preview.region.width == then[0] and "daemon" in screen_text(app)[1])
                return (main._devices.region.width == 44 and main._status.size.height == 1
                        and main.preview.region.width == then[0] - 44)

            await wait_for(pilot, laid_out, 5, "the new width's layout")
            main = app.main
            width = then[0]
            if width < 81:
                assert main._devices.region.width == 0, "no device panel at 80 columns"
                assert main._status.size.height == 2
                assert main.preview.region.width == width
                assert "daemon" in screen_text(app)[1]
            else:
                assert main._devices.region.width == 44
                assert main._status.size.height == 1
                assert main.preview.region.width == width - 44

    asyncio.run(drive())


def test_the_form_title_keeps_esc_cancel_at_60_columns(fixed_home: Path) -> None:
    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(60, 20)) as pilot:
            await open_form(pilot)
            await wait_for(pilot, lambda: any("New job" in line and "esc: cancel" in line and "enter: queue" in line
                                              for line in screen_text(app)), 5, "the form's title")
            title = next(line for line in screen_text(app) if "New job" in line)
            assert "esc: cancel" in title and "enter: queue" in title, title

    asyncio.run(drive())


def test_ctrl_c_quits_from_the_form_the_help_and_a_dialog_too(fixed_home: Path) -> None:
    """ctrl+c did nothing while the form, the help or a confirm dialog was open ("quit" is
    off under them, for q); the main screen's key bar under a dialog still offered
    "⏎ Open" (enter answers the dialog) and "/ Filter"."""
    from lstui.store import JobState
    from lstui.tui.screens import MainScreen

    with Store.open_home(fixed_home) as store:
        queued = next(job.id for job in store.list_jobs() if job.state is JobState.QUEUED)

    async def drive() -> None:
        for opener in ("n", "question_mark", "c"):
            app = fixed_app(fixed_home)
            async with app.run_test(size=(80, 24)) as pilot:
                await settle(pilot)
                if opener == "c":
                    await select_job(pilot, queued)
                await pilot.press(opener)
                await wait_for(pilot, lambda: not isinstance(app.screen, MainScreen), 5, "the screen over it")  # noqa: B023
                await pilot.pause(0.2)
                if opener == "c":
                    bar = app.main.query_one(KeyBar)
                    shown = {key.action for key in bar.query(FooterKey)}
                    assert not shown & {"open_job", "select_cursor", "filter", "new_job", "cancel_job",
                                        "command_palette"}, shown
                await pilot.press("ctrl+c")
                await wait_for(pilot, lambda: not app.is_running, 5, f"the app to end from {opener}")  # noqa: B023

    asyncio.run(drive())


def test_a_dialog_over_a_job_s_screen_leaves_none_of_its_keys_in_its_bar(fixed_home: Path) -> None:
    """esc Back, l Log and v Plot stayed in the job screen's bar under a dialog, where
    esc answers it and l and v do nothing."""
    from lstui.store import JobState

    with Store.open_home(fixed_home) as store:
        done = next(job.id for job in store.list_jobs(include_finished=True) if job.state is JobState.DONE)

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select_job(pilot, done)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, JobScreen), 5, "the job screen")
            job_screen = app.screen
            await wait_for(pilot, lambda: {"back", "toggle_log"} <= {key.action for key in job_screen.query(FooterKey)},
                           5, "the job screen's keys")
            before = {key.action for key in job_screen.query(FooterKey)}
            assert {"back", "toggle_log"} <= before, before
            await pilot.press("x")
            await wait_for(pilot, lambda: app.screen is not job_screen, 5, "the dialog")
            await pilot.pause(0.2)
            under = {key.action for key in job_screen.query(FooterKey)}
            assert not under & {"back", "toggle_log", "toggle_plot", "command_palette"}, under
            await pilot.press("n")
            await wait_for(pilot, lambda: app.screen is job_screen, 5, "the job screen again")
            await wait_for(pilot, lambda: {"back", "toggle_log"} <= {key.action for key in job_screen.query(FooterKey)},
                           5, "the job screen's keys again")

    asyncio.run(drive())


def test_ctrl_c_quits_as_q_does_even_from_a_text_field(fixed_home: Path) -> None:
    async def drive() -> None:
        for first in ((), ("slash", *"surf")):
            app = fixed_app(fixed_home)
            async with app.run_test(size=(80, 24)) as pilot:
                await settle(pilot)
                await pilot.press(*first, "ctrl+c")
                await wait_for(pilot, lambda: not app.is_running, 5, "the app to end")  # noqa: B023

    asyncio.run(drive())


@pytest.mark.parametrize("size", [(80, 18), (80, 16), (60, 14)])
def test_a_short_terminal_keeps_the_main_screen_whole_without_scrolling(fixed_home: Path,
                                                                      size: tuple[int, int]) -> None:
    """Below about 20 rows the main screen scrolled as a whole: its scrollbar took two
    columns (the ETA column lost) and, at 16 rows, lay over the keys."""
    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await wait_for(pilot, lambda: app.main.ready and app.has_class("short"), 5, "the short layout")
            await settle(pilot)
            assert app.screen.max_scroll_y == 0, app.screen.virtual_size
            header = next(line for line in screen_text(app) if line.lstrip().startswith("ID "))
            assert header.rstrip().endswith("ETA"), header

    asyncio.run(drive())


@pytest.mark.parametrize("size", [(20, 5), (39, 10), (49, 14), (50, 11)])
def test_a_tiny_pane_shows_jobs_not_only_keys(fixed_home: Path, size: tuple[int, int]) -> None:
    """At 20×5 (a small tmux pane) the key bar took every row, no job in sight. Below
    50 columns or 12 rows the keys (working unseen; `?` lists them) and the preview give
    way to the job table; they come back with the room."""
    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.resize_terminal(*size)
            await wait_for(pilot, lambda: app.has_class("tiny"), 5, "the tiny layout")
            await pilot.pause(0.3)
            bar = app.main.query_one(KeyBar)
            assert bar.region.height == 0 and app.main.preview.region.height == 0
            rows = [line.split() for line in screen_text(app)]
            assert ["ID", "NAME"] in [r[:2] for r in rows], screen_text(app)
            assert any(r[:1] == ["1"] for r in rows), screen_text(app)
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: any("lstui — keys" in line for line in screen_text(app)), 5, "the help")
            await pilot.press("escape")
            await pilot.resize_terminal(80, 24)
            await wait_for(pilot, lambda: not app.has_class("tiny") and bar.region.height == 2
                           and app.main.preview.region.height > 5, 5, "the keys and the preview back")

    asyncio.run(drive())
