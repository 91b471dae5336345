"""Where the job table's cursor goes: to the work, and then where the person puts it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lstui.scheduler.submit import submit_spec
from lstui.store import Store
from lstui.tui.screens import HelpScreen
from tests.tui.support import fixed_app, screen_text, settle, tiny_spec, wait_for


def _start(home: Path, job_id: int) -> None:
    """A worker claims a unit of ``job_id``, which starts it running (as the daemon does)."""
    with Store.open_home(home) as store:
        worker = store.register_worker("cpu", 4250 + job_id, "lab")
        assert store.claim_unit(worker, 3600, job_ids=[job_id]) is not None


def _queue(home: Path, name: str) -> int:
    """``lstui submit`` from another shell."""
    with Store.open_home(home) as store:
        return submit_spec(store, tiny_spec(name))


def _row_in_view(app: object, job_id: int) -> bool:
    from lstui.tui import LstuiApp

    assert isinstance(app, LstuiApp)
    table = app.main.table
    return any(line.split()[:1] == [str(job_id)] for line in screen_text(app)[3:3 + table.size.height - 1])


def test_home_and_end_go_to_the_first_and_last_job_and_the_help_says_so(fixed_home: Path) -> None:
    """DataTable binds home and end to scrolling sideways, which a row cursor ignores."""

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            table = app.main.table
            assert table.selected_job_id() == 2
            for key, want in (("end", 7), ("home", 1), ("ctrl+end", 7), ("ctrl+home", 1), ("end", 7)):
                await pilot.press(key)
                await wait_for(pilot, lambda w=want: table.selected_job_id() == w, 5, f"{key} to job {want}")  # type: ignore[misc]
            await wait_for(pilot, lambda: app.main.preview.job_id == 7, 5, "the last job's preview")
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), 5, "the help")
            await wait_for(pilot, lambda: any("home / end" in line and "the first / the last job" in line
                                              for line in screen_text(app)), 5, "home / end in the help")

    asyncio.run(drive())


def test_the_cursor_follows_jobs_that_start_until_the_person_moves_it(fixed_home: Path) -> None:
    """At 80×24 the running and queued jobs sat below the rows in view, the cursor on
    job 1; now it starts on the first running job and moves to each job that starts
    running, until a key moves it: then it stays on the person's row."""

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            table = app.main.table
            assert table.selected_job_id() == 2, "the first running job"
            shell = _queue(fixed_home, "queued from the shell")
            await wait_for(pilot, lambda: shell in table._shown, 5, "the job queued from the shell")
            await pilot.pause(0.3)
            assert table.selected_job_id() == 2, "a queued job does not take the cursor from a running one"
            _start(fixed_home, shell)
            await wait_for(pilot, lambda: table.selected_job_id() == shell, 5, "the cursor on the started job")
            await wait_for(pilot, lambda: _row_in_view(app, shell), 5, "its row in view")
            await wait_for(pilot, lambda: app.main.preview.job_id == shell, 5, "its preview")
            _start(fixed_home, 5)
            await wait_for(pilot, lambda: table.selected_job_id() == 5, 5, "the cursor on job 5")
            await pilot.press("up")
            assert table.selected_job_id() == 4 and not table.follows
            later = _queue(fixed_home, "queued later")
            await wait_for(pilot, lambda: later in table._shown, 5, "the later job")
            _start(fixed_home, later)
            await wait_for(pilot, lambda: table.job(later) is not None
                           and table.job(later).state.value == "running", 5, "the later job running")  # type: ignore[union-attr]
            await pilot.pause(0.5)
            assert table.selected_job_id() == 4, "the person's row is kept"

    asyncio.run(drive())


def test_the_selected_row_stays_in_view_after_questions_are_answered(fixed_home: Path) -> None:
    """End, then `x` and `n` twice: the table had grown while the question hid the key bar,
    and shrank back without scrolling: the selected job's row was out of view, and the
    next `x` or `c` acted on a job nobody could see."""
    from lstui.tui.screens import ConfirmScreen

    ids = [_queue(fixed_home, f"more {n}") for n in range(8)]

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            table = app.main.table
            await pilot.press("end")
            await wait_for(pilot, lambda: table.selected_job_id() == ids[-1], 5, "the last job")
            for _ in range(3):
                await pilot.press("c")  # a queued job: cancel asks first
                await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "the question")
                await pilot.press("n")
                await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), 5, "the answer")
                assert table.selected_job_id() == ids[-1]
                await wait_for(pilot, lambda: _row_in_view(app, ids[-1]), 5, "the selected row in view")

    asyncio.run(drive())
