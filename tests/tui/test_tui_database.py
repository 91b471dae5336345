"""The TUI on a database file that is deleted or replaced while it runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lstui.scheduler.submit import submit_spec
from lstui.store import DB_NAME, JobState, Store
from lstui.tui.screens import ConfirmScreen, MainScreen
from lstui.tui.snapshot import StorePoller
from tests.tui.support import fixed_app, fixed_devices, screen_text, settle, tiny_spec, wait_for


def _remove_database(home: Path) -> None:
    """What ``rm $LSTUI_HOME/lstui.db*`` does."""
    for path in home.glob(DB_NAME + "*"):
        path.unlink()


def _new_database(home: Path, names: tuple[str, ...]) -> None:
    """Another database at the same path, as ``lstui submit`` makes after the ``rm``."""
    with Store.open_home(home) as store:
        for name in names:
            submit_spec(store, tiny_spec(name))


def test_the_poller_reads_the_new_file_when_the_database_is_replaced(stopped_home: Path) -> None:
    poller = StorePoller(stopped_home, device_facts=fixed_devices)
    try:
        first = poller.poll(preview_job=2)
        assert len(first.jobs) == 7 and first.notice is None and first.preview is not None
        _remove_database(stopped_home)
        gone = poller.poll(preview_job=2)
        assert gone.jobs == () and gone.database is None
        assert gone.error is not None and "was deleted" in gone.error
        assert not (stopped_home / DB_NAME).exists(), "the poller does not create it again"
        _new_database(stopped_home, ("fresh one", "fresh two"))
        back = poller.poll(preview_job=2)
        assert [j.name for j in back.jobs] == ["fresh one", "fresh two"]
        assert back.error is None and back.notice is not None and "new database" in back.notice
        assert back.database not in (None, first.database)
        assert back.preview is not None and back.preview.name == "fresh two"
        assert back.preview.done_points == 0, "not the old job 2's points"
        _remove_database(stopped_home)
        _new_database(stopped_home, ("third",))
        swapped = poller.poll()
        assert [j.name for j in swapped.jobs] == ["third"]
        assert swapped.notice is not None and "replaced by another file" in swapped.notice
        assert poller.poll().notice is None, "said once"
    finally:
        poller.close()


def test_keys_never_act_on_a_job_of_a_replaced_database(fixed_home: Path) -> None:
    """c on job 2, the database replaced under the question, then y: nothing is
    cancelled; the table shows the new file's jobs, and c, y there cancel its job."""

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert app.main.table.selected_job_id() == 2
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "the question")
            _remove_database(fixed_home)
            _new_database(fixed_home, ("new one", "new two"))
            await wait_for(pilot, lambda: any("replaced by another file" in m for _, m in app.notices), 10,
                           "the notice")
            await pilot.press("y")
            await wait_for(pilot, lambda: not app.actions_running() and isinstance(app.screen, MainScreen), 10,
                           "the answer")
            assert any(s == "error" and "not done: the database" in m for s, m in app.notices)
            with Store.open_home(fixed_home) as store:
                assert store.get_job(2).state is JobState.QUEUED
            table = app.main.table
            await wait_for(pilot, lambda: table.row_count == 2, 5, "the new table")
            assert table.get_cell("2", "name").plain.strip() == "new two"
            text = "\n".join(screen_text(app))
            assert "resnet56" not in text and "new two" in text
            assert table.selected_job_id() == 2
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "the question")
            assert "new two" in "\n".join(screen_text(app))
            await pilot.press("y")
            await wait_for(pilot, lambda: any(m == "job 2: cancelled" for _, m in app.notices), 10, "the cancel")
        with Store.open_home(fixed_home) as store:
            assert store.get_job(2).state is JobState.CANCELLED
            assert store.get_job(1).state is JobState.QUEUED

    asyncio.run(drive())
