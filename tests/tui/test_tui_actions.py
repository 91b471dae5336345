"""Every action, driven with keys against a real store and a daemon with a CPU worker."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from rich.text import Text
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input, RichLog, Static

from lstui.landscape.grid import parse_axis
from lstui.scheduler.daemon import daemon_status, stop_daemon
from lstui.scheduler.submit import submit_spec
from lstui.store import JobState, Store
from lstui.tui import LstuiApp
from lstui.tui.app import COMMANDS
from lstui.tui.screens import ConfirmScreen, HelpScreen, JobScreen, MainScreen, NewJobScreen
from tests.tui.support import fixed_app, select_job, settle, tiny_spec, wait_for


def _wait_store(home: Path, job_id: int, state: JobState, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with Store.open_home(home) as store:
        while store.get_job(job_id).state is not state:
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} is {store.get_job(job_id).state}, not {state}")
            time.sleep(0.1)


def _palette_choice(app: LstuiApp) -> str | None:
    """The title of the command the palette would run on enter."""
    if not isinstance(app.screen, CommandPalette):
        return None
    commands = app.screen.query_one(CommandList)
    index = commands.highlighted
    if index is None or index >= commands.option_count:
        return None
    prompt = commands.get_option_at_index(index).prompt
    text = prompt.plain if isinstance(prompt, Text) else str(prompt)
    return text.split("\n")[0].strip()


def _state_cell(app: LstuiApp, job_id: int) -> str:
    return app.main.table.get_cell(str(job_id), "state").plain.strip()


async def _act(pilot: Pilot[None], *keys: str) -> None:
    """Press keys, then wait for the store writes they started."""
    app = pilot.app
    assert isinstance(app, LstuiApp)
    await pilot.press(*keys)
    await pilot.pause(0.05)
    await wait_for(pilot, lambda: not app.actions_running(), 120, "the action")


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_every_action_changes_the_store(daemon_home: Path, size: tuple[int, int]) -> None:
    tag = f"{size[0]}x{size[1]}"
    with Store.open_home(daemon_home) as store:
        done = submit_spec(store, tiny_spec(f"done-{tag}"))
        big = parse_axis("-1:1:41")
        blocker = submit_spec(store, tiny_spec(f"blocker-{tag}", x=big, y=big))
        store.pause(blocker)
        held = submit_spec(store, tiny_spec(f"held-{tag}"), depends_on=[blocker])
    _wait_store(daemon_home, done, JobState.DONE)
    asyncio.run(_drive(daemon_home, size, tag, done, held))


async def _drive(home: Path, size: tuple[int, int], tag: str, done: int, held: int) -> None:
    app = LstuiApp(home, poll_s=0.5)
    store = Store.open_home(home)
    try:
        async with app.run_test(size=size) as pilot:
            await wait_for(pilot, lambda: app.refreshes >= 1 and app.main.ready, 10, "the first snapshot")
            assert app.has_class("narrow") is (size[0] < 81)
            await wait_for(pilot, lambda: _state_cell(app, done) == "done", 10, "the done job")

            # pause, resume
            await select_job(pilot, held)
            await _act(pilot, "p")
            assert store.get_job(held).state is JobState.PAUSED
            await wait_for(pilot, lambda: _state_cell(app, held) == "paused", 5, "the paused cell")
            await _act(pilot, "p")
            assert store.get_job(held).state is JobState.QUEUED

            # priority
            await _act(pilot, "plus")
            await _act(pilot, "plus")
            await _act(pilot, "minus")
            assert store.get_job(held).priority == 1

            # a refused move is a one-line error
            await _act(pilot, "r")
            assert app.notices[-1] == ("error", f"job {held} is queued; cannot retry it")

            # cancel asks first
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "the question")
            await _act(pilot, "n")
            assert store.get_job(held).state is JobState.QUEUED
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "the question")
            await _act(pilot, "y")
            assert store.get_job(held).state is JobState.CANCELLED
            await wait_for(pilot, lambda: _state_cell(app, held) == "cancelled", 5, "the cancelled cell")

            # retry
            await _act(pilot, "r")
            assert store.get_job(held).state is JobState.QUEUED

            # the command palette runs the same actions
            await pilot.press("ctrl+p")
            await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), 5, "the palette")
            await pilot.press(*"lower")
            await wait_for(pilot, lambda: _palette_choice(app) == "Lower priority", 10, "the command")
            await _act(pilot, "enter")
            assert store.get_job(held).priority == 0
            titles = {title for _, title, _ in COMMANDS}
            palette = {c.title for c in app.get_system_commands(app.screen)}
            assert titles <= palette
            assert "Keys" not in palette, "Textual's keys panel, which esc did not close: ? is the help"
            assert "Maximize" not in palette, "the table at its height in a screen of hatching"

            # export figures of the finished job
            await select_job(pilot, done)
            await _act(pilot, "e")
            results = store.get_job(done).results_dir
            assert sorted(p.suffix for p in results.glob("*_2dcontour.*")) == [".pdf", ".png"]
            assert any(sev == "information" and "figures in" in msg for sev, msg in app.notices)
            wrote = [e.message for e in store.events(done) if e.message.startswith("wrote ")]
            assert f"wrote {results / 'surface_train_loss_2dcontour.png'}" in wrote
            # a job without points: one error line
            await select_job(pilot, held)
            await _act(pilot, "e")
            assert app.notices[-1] == ("error", f"job {held} has no computed points yet; nothing to draw")
            await select_job(pilot, done)

            # open the job: spec, files, log; l gives the log the screen; esc goes back
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, JobScreen), 5, "the job screen")
            screen = app.screen
            assert isinstance(screen, JobScreen)
            await wait_for(pilot, lambda: "2dcontour.png" in str(screen.query_one("#job-files", Static).render()),
                           10, "the figures listed")
            await wait_for(pilot, lambda: screen._last_event > 0, 10, "the log")
            # the log names the job's files without the folder the files panel shows
            log_text = "\n".join(line.text for line in screen.query_one("#job-log", RichLog).lines)
            assert "wrote surface_train_loss_2dcontour.png" in log_text
            assert str(results) not in log_text
            await pilot.press("l")
            assert screen.has_class("log-full")
            # v gives the plot the screen: at 80 columns it has no room beside the facts
            await pilot.press("v")
            assert screen.has_class("plot-full") and not screen.has_class("log-full")
            await wait_for(pilot, lambda: screen.query_one("#job-preview").region.width >= size[0] - 4
                           and screen.query_one("#job-info").region.width == 0, 5, "the plot full width")
            await pilot.press("v")
            assert not screen.has_class("plot-full")
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), 5, "the main screen")
            await pilot.press("l")
            await wait_for(pilot, lambda: isinstance(app.screen, JobScreen), 5, "the log screen")
            assert app.screen.has_class("log-full")
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), 5, "the main screen")

            # filter
            await pilot.press("slash")
            await pilot.press(*"done")
            await wait_for(pilot, lambda: done in app.main.table._shown and held not in app.main.table._shown
                           and all("done" in f"{j.name} {j.state.value}"
                                   for j in (store.get_job(k) for k in app.main.table._shown)), 5, "the filter")
            await pilot.press("enter", "escape")
            await wait_for(pilot, lambda: len(app.main.table._shown) == len(store.list_jobs())
                           and not app.main.query_one("#filter", Input).display, 5, "the filter cleared")

            # log scale of the preview
            await pilot.press("g")
            assert app.main.preview.log_scale
            await pilot.press("g")
            assert not app.main.preview.log_scale

            # help
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), 5, "the help")
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), 5, "the main screen")

            # the daemon runs already
            await pilot.press("d")
            assert "already runs" in app.notices[-1][1]

            # a new job through the form
            count = len(store.list_jobs())
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, NewJobScreen), 5, "the form")
            assert app.focused is app.screen.query_one("#field-model"), "the first text field"
            await pilot.press("ctrl+u", *"mlp")
            for _ in range(3):  # checkpoint, data, x (checkpoint-b: an interp's, hidden)
                await pilot.press("tab")
            await pilot.press(*"-1:1:3", "tab", *"-1:1:3")
            for _ in range(6):  # norm, dir-type, split, precision, subset, name
                await pilot.press("tab")
            await pilot.press(*tag)
            await _act(pilot, "enter")
            await wait_for(pilot, lambda: len(store.list_jobs()) == count + 1, 60, "the new job")
            jobs = store.list_jobs()
            new = jobs[-1]
            assert (new.name, new.spec["model"], new.spec["x"], new.spec["y"]) == (tag, "mlp", "-1:1:3", "-1:1:3")
            await wait_for(pilot, lambda: app.main.table.selected_job_id() == new.id, 10, "the new job selected")

            await pilot.press("q")
            await pilot.pause(0.2)
        assert app.return_code == 0
    finally:
        store.close()


def test_d_starts_a_daemon_when_none_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"

    async def drive() -> None:
        app = LstuiApp(home, poll_s=0.2, daemon_devices="cpu:1")
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.refreshes >= 1, 10, "the first snapshot")
            assert app.snapshot is not None and not app.snapshot.daemon.running
            await _act(pilot, "d")
            assert app.notices[-1][1].startswith("daemon started")
            assert "): cpu; others with lstui daemon start --devices" in app.notices[-1][1], "its workers"
            await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.daemon.running, 10,
                           "the daemon in the status line")

    try:
        asyncio.run(drive())
        assert daemon_status(home).running
    finally:
        stop_daemon(home)


def test_an_action_waiting_for_a_locked_database_says_so_at_once(fixed_home: Path) -> None:
    """``p`` while another process held the write lock: 30 s of silence, then a toast."""
    holder = sqlite3.connect(fixed_home / "lstui.db", isolation_level=None)

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select_job(pilot, 5)
            holder.execute("BEGIN IMMEDIATE")
            try:
                await pilot.press("p")
                await wait_for(pilot, lambda: any("waiting for the database" in m for _, m in app.notices), 5,
                               "the waiting notice")
                assert app.actions_running()
            finally:
                holder.execute("ROLLBACK")
            await wait_for(pilot, lambda: not app.actions_running(), 30, "the pause")
            assert app.notices[-1] == ("information", "job 5: paused")

    try:
        asyncio.run(drive())
    finally:
        holder.close()
    with Store.open_home(fixed_home) as store:
        assert store.get_job(5).state is JobState.PAUSED


def test_x_removes_a_finished_job_after_asking_and_refuses_an_unfinished_one(fixed_home: Path) -> None:
    """The TUI had no way to remove a job: a researcher cleaning up quit for `lstui rm`."""
    with Store.open_home(fixed_home) as store:
        jobs = store.list_jobs(include_finished=True)
    done = next(j for j in jobs if j.state is JobState.DONE)
    queued = next(j for j in jobs if j.state is JobState.QUEUED)
    folder = Path(done.results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "surface.h5").write_bytes(b"x" * 4096)

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select_job(pilot, queued.id)
            await _act(pilot, "x")
            assert app.notices[-1] == ("error", f"job {queued.id} is queued; only a finished job is removed "
                                                "(cancel it first)")
            await select_job(pilot, done.id)
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "the question")
            await _act(pilot, "n")
            assert folder.is_dir()
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "the question")
            await _act(pilot, "y")
            assert app.notices[-1][1].startswith(f"removed job {done.id}, "), app.notices[-1]

    asyncio.run(drive())
    assert not folder.exists()
    with Store.open_home(fixed_home) as store:
        assert done.id not in {j.id for j in store.list_jobs(include_finished=True)}
        assert queued.id in {j.id for j in store.list_jobs(include_finished=True)}


def _done_job(home: Path) -> int:
    with Store.open_home(home) as store:
        return next(j.id for j in store.list_jobs(include_finished=True) if j.state is JobState.DONE)


async def _open_job_screen(pilot: Pilot[None], app: LstuiApp, job_id: int) -> None:
    await settle(pilot)
    await select_job(pilot, job_id)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, JobScreen), 5, "the job screen")


def test_x_on_a_job_s_own_screen_goes_back_to_the_list(fixed_home: Path) -> None:
    """Removed from its own screen, the job's screen stayed up, its files gone."""
    done = _done_job(fixed_home)

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await _open_job_screen(pilot, app, done)
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "the question")
            await _act(pilot, "y")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), 5, "the list")
            assert app.notices[-1][1].startswith(f"removed job {done}")

    asyncio.run(drive())


def _x_refused_at_once(home: Path, job_id: int) -> tuple[str, str]:
    """Press ``x`` on job ``job_id`` at 80×24: no question may come; the last notice."""
    said: list[tuple[str, str]] = []

    async def drive() -> None:
        app = fixed_app(home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select_job(pilot, job_id)
            await _act(pilot, "x")
            assert not isinstance(app.screen, ConfirmScreen), "no question"
            said.append(app.notices[-1])

    asyncio.run(drive())
    return said[-1]


def test_x_on_a_job_another_reads_says_so_before_asking(fixed_home: Path) -> None:
    """The question came first ("deleted, for good"), the refusal only after its yes."""
    with Store.open_home(fixed_home) as store:
        done = next(j for j in store.list_jobs(include_finished=True) if j.state is JobState.DONE)
        folder = Path(done.results_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "directions.h5").write_bytes(b"x")
        reader = store.add_job(kind="surface", name="reads it", spec={"x": "-1:1:3",
                               "dir_file": str(folder / "directions.h5")},
                               total_points=3, units=[[0, 1, 2]], results_root=fixed_home / "results")

    refusal = _x_refused_at_once(fixed_home, done.id)
    assert refusal[0] == "error" and f"job {reader} reads" in refusal[1], refusal
    assert folder.is_dir()


def test_x_on_a_job_a_comparison_is_drawn_from_says_so_before_asking(fixed_home: Path) -> None:
    """A comparison's figure job drawn from a done job: `lstui rm` refused at once, the
    TUI asked "deleted, for good" first and refused only after the yes."""
    with Store.open_home(fixed_home) as store:
        done = next(j for j in store.list_jobs(include_finished=True) if j.state is JobState.DONE)
        figures = store.add_job(kind="figure", name="figures", spec={}, total_points=0, units=[],
                                results_root=fixed_home / "results", depends_on=[done.id])

    refusal = _x_refused_at_once(fixed_home, done.id)
    assert refusal == ("error", f"job {figures} is drawn from job {done.id}: remove it too "
                                f"(lstui rm {done.id} {figures}) or keep job {done.id}"), refusal
    with Store.open_home(fixed_home) as store:
        assert done.id in {j.id for j in store.list_jobs(include_finished=True)}


def test_a_key_on_the_screen_of_a_job_removed_elsewhere_says_the_job_is_gone(fixed_home: Path) -> None:
    """`lstui rm N` under N's open screen: its title said "job N no longer exists", and
    `r` said "no job selected"."""
    from lstui.scheduler.prune import remove_jobs

    done = _done_job(fixed_home)

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await _open_job_screen(pilot, app, done)
            with Store.open_home(fixed_home) as store:
                remove_jobs(store, [done], fixed_home, keep_files=True, daemon_running=False)
            await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.job(done) is None, 5,
                           "the job gone")
            await pilot.press("r")
            await wait_for(pilot, lambda: bool(app.notices), 5, "a notice")
            assert app.notices[-1] == ("warning", f"job {done} no longer exists — esc: back"), app.notices

    asyncio.run(drive())
