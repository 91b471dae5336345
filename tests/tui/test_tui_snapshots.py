"""Snapshots of every screen on a store whose content and clock never change.

Update them with ``pytest tests/tui --snapshot-update`` after looking at the new SVGs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input

from lstui.tui import LstuiApp
from lstui.tui.screens import JobScreen
from tests.tui.support import fixed_app, open_form, settle, wait_for


async def _open_job(pilot: Pilot[None], job_id: int) -> None:
    app = pilot.app
    assert isinstance(app, LstuiApp)
    await settle(pilot)
    while app.main.table.selected_job_id() != job_id:
        await pilot.press("up" if (app.main.table.selected_job_id() or 0) > job_id else "down")
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, JobScreen), 5, "the job screen")
    start = app.refreshes
    await wait_for(
        pilot,
        lambda: app.refreshes >= start + 2 and app.snapshot is not None
        and app.snapshot.detail is not None and app.snapshot.detail.job_id == job_id,
        10,
        "the job's log",
    )
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_main_screen_shows_jobs_devices_and_preview(snap_compare, fixed_home: Path, size: tuple[int, int]) -> None:
    assert snap_compare(fixed_app(fixed_home), terminal_size=size, run_before=settle)


def test_main_screen_without_colour_keeps_states_readable(snap_compare, fixed_home: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(fixed_app(fixed_home), terminal_size=(80, 24), run_before=settle)


@pytest.mark.parametrize(("size", "job_id"), [((80, 24), 2), ((160, 48), 1)], ids=["80x24", "160x48"])
def test_job_screen_shows_spec_timings_files_and_log(snap_compare, fixed_home: Path,
                                                     size: tuple[int, int], job_id: int) -> None:
    async def open_job(pilot: Pilot[None]) -> None:
        await _open_job(pilot, job_id)

    assert snap_compare(fixed_app(fixed_home), terminal_size=size, run_before=open_job)


def test_job_screen_of_a_failed_job_shows_the_error(snap_compare, fixed_home: Path) -> None:
    async def open_job(pilot: Pilot[None]) -> None:
        await _open_job(pilot, 4)

    assert snap_compare(fixed_app(fixed_home), terminal_size=(80, 24), run_before=open_job)


def _still(screen: Screen[object]) -> None:
    """No blinking cursor (a snapshot would catch it on or off)."""
    for box in screen.query(Input):
        box.cursor_blink = False


def test_new_job_form(snap_compare, fixed_home: Path) -> None:
    async def opened(pilot: Pilot[None]) -> None:
        _still(await open_form(pilot))
        await pilot.pause(0.2)

    assert snap_compare(fixed_app(fixed_home), terminal_size=(80, 24), run_before=opened)


def test_new_job_form_marks_each_wrong_field(snap_compare, fixed_home: Path) -> None:
    async def fill_badly(pilot: Pilot[None]) -> None:
        form = await open_form(pilot)
        _still(form)
        form.set_value("x", "1:-1:5")
        form.set_value("y", "zero")
        form.set_value("priority", "high")
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)

    assert snap_compare(fixed_app(fixed_home), terminal_size=(80, 24), run_before=fill_badly)


def test_help_screen(snap_compare, fixed_home: Path) -> None:
    async def open_help(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(fixed_app(fixed_home), terminal_size=(80, 24), run_before=open_help)


def test_main_screen_without_a_daemon_shows_running_jobs_stalled(snap_compare, stopped_home: Path) -> None:
    """As after ``kill -9`` of the daemon: the two running jobs are stalled, with no ETA."""
    assert snap_compare(fixed_app(stopped_home), terminal_size=(80, 24), run_before=settle)
