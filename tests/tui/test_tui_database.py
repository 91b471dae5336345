"""The TUI on a database file that is deleted or replaced while it runs."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from lstui.scheduler.submit import submit_spec
from lstui.store import DB_NAME, JobState, Store
from lstui.tui.screens import ConfirmScreen, MainScreen
from lstui.tui.snapshot import StorePoller
from tests.tui.support import fixed_app, fixed_devices, screen_text, settle, tiny_spec, wait_for

DAMAGED = "is damaged"
"""What the store says of a file that is not (or no longer) an SQLite database."""


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
            assert table.selected_job_id() == 1, "placed as at startup: the first queued job"
            await pilot.press("down")
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


def _damage_in_place(home: Path) -> None:
    """What ``rm lstui.db-wal lstui.db-shm; head -c 8192 /dev/urandom > lstui.db`` does:
    the same file (inode), other bytes."""
    for suffix in ("-wal", "-shm"):
        (home / (DB_NAME + suffix)).unlink(missing_ok=True)
    with open(home / DB_NAME, "r+b") as f:
        f.write(os.urandom(8192))
        f.truncate()


def test_the_poller_notices_a_database_damaged_in_place_and_its_repair(stopped_home: Path) -> None:
    """With its WAL files deleted, a connection kept reading its cached pages and the
    deleted WAL: the jobs written since the last checkpoint showed as live, with no
    error, while ``lstui ls`` said the file was damaged."""
    backup = (stopped_home / DB_NAME).read_bytes()
    poller = StorePoller(stopped_home, device_facts=fixed_devices)
    try:
        assert len(poller.poll(preview_job=2).jobs) == 7
        _new_database(stopped_home, ("one more", "and another"))  # pages in the WAL
        assert len(poller.poll(preview_job=2).jobs) == 9
        _damage_in_place(stopped_home)
        damaged = poller.poll(preview_job=2, detail_job=2)
        assert damaged.jobs == () and damaged.preview is None and damaged.detail is None
        assert damaged.error is not None and DAMAGED in damaged.error
        try:
            Store.open_home(stopped_home).close()
        except Exception as exc:  # noqa: BLE001 - the same words as lstui ls says now
            assert str(exc) == damaged.error
        else:
            raise AssertionError("the damaged file opened")
        assert poller.poll().error == damaged.error, "still damaged"
        with open(stopped_home / DB_NAME, "r+b") as f:  # a copy restored in place
            f.write(backup)
            f.truncate()
        back = poller.poll(preview_job=2)
        assert back.error is None and len(back.jobs) == 7
        assert back.notice is not None and "can be read again" in back.notice
        assert back.preview is not None and back.preview.done_points == back.jobs[1].done_points
    finally:
        poller.close()


def test_the_app_says_the_store_cannot_be_read_in_the_status_and_the_preview(fixed_home: Path) -> None:
    """Damaged while the app ran, the table kept its rows as if live; started on a
    damaged file, the preview said "no jobs yet — press n" and the status line was cut
    in the middle of the reason."""

    def text(app: object) -> list[str]:
        return screen_text(app)  # type: ignore[arg-type]

    def says_unreadable(app: object) -> bool:
        lines = text(app)
        shown = " ".join(line.strip() for line in lines)
        return (lines[0].rstrip() == " lstui can't read the job store (see below) │ 0 jobs"
                and "The job store can't be read:" in shown and DAMAGED in shown)

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            _new_database(fixed_home, ("queued from the shell",))
            await wait_for(pilot, lambda: app.main.table.row_count == 8, 5, "the new job")
            _damage_in_place(fixed_home)
            await wait_for(pilot, lambda: app.main.table.row_count == 0, 5, "the table emptied")
            await wait_for(pilot, lambda: says_unreadable(app), 5, "the store named unreadable")
            lines = text(app)
            assert lines[0].rstrip() == " lstui can't read the job store (see below) │ 0 jobs", lines[0]
            shown = " ".join(line.strip() for line in lines)
            assert "The job store can't be read:" in shown and DAMAGED in shown and "move it aside" in shown
            assert "no jobs yet" not in shown
            assert any(s == "error" and DAMAGED in m for s, m in app.notices)
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.refreshes >= 2, 10, "the first snapshots")
            await wait_for(pilot, lambda: says_unreadable(app), 5, "the store named unreadable")
            lines = text(app)
            assert lines[0].rstrip() == " lstui can't read the job store (see below) │ 0 jobs", lines[0]
            shown = " ".join(line.strip() for line in lines)
            assert "The job store can't be read:" in shown and DAMAGED in shown and "no jobs yet" not in shown

    asyncio.run(drive())


def test_the_app_keeps_its_locks_so_another_process_leaves_the_wal_alone(stopped_home: Path) -> None:
    """A poll that opened and closed the database file by path (to read its header)
    dropped the process's POSIX locks on it: the next `lstui submit` closed as if it
    were the last connection and deleted the WAL under the app's connections (a false
    "changed under the app", and rows lost when the app wrote next)."""
    import subprocess
    import sys

    env = {**os.environ, "LSTUI_HOME": str(stopped_home)}
    poller = StorePoller(stopped_home, device_facts=fixed_devices)
    try:
        assert len(poller.poll(preview_job=2).jobs) == 7
        for n in (8, 9):
            subprocess.run([sys.executable, "-m", "lstui.cli", "submit", "surface", "--x", "-1:1:3"],
                           env=env, check=True, capture_output=True)
            assert (stopped_home / (DB_NAME + "-wal")).exists(), "the WAL went while the app read it"
            polled = poller.poll(preview_job=2)
            assert polled.notice is None and polled.error is None and len(polled.jobs) == n
    finally:
        poller.close()
