"""The TUI over a store of thousands of jobs: a filter keystroke and an idle poll cost
about one step a job, not one a job per job, and nothing is read again that did not change."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from lstui.scheduler.submit import results_root
from lstui.store import JobState, Store
from lstui.tui import LstuiApp
from lstui.tui.snapshot import StorePoller
from lstui.tui.widgets import JobTable
from lstui.tui.widgets._job_table import no_match_note, rebuild_is_cheaper
from lstui.views import elapsed_s
from tests.tui.support import (
    NOW,
    Clock,
    fixed_app,
    fixed_devices,
    holding_daemon_lock,
    screen_text,
    settle,
    wait_for,
)

MANY = 3000
SPEC = {"kind": "surface", "model": "mlp", "data": "digits", "x": "-1:1:3"}


def _many_jobs(home: Path, n: int = MANY) -> Path:
    """``n`` queued jobs named ``scan 0`` … (as ``lstui submit`` of a job file queues them)."""
    with Store.open_home(home) as store:
        for i in range(n):
            store.add_job(kind="surface", name=f"scan {i}", spec=SPEC, total_points=3, units=[[0, 1, 2]],
                          results_root=results_root(store))
    return home


def test_a_filter_over_thousands_of_jobs_takes_their_rows_away_in_one_go(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each ``DataTable.remove_row`` renumbers every row left: ``/`` then ``z`` (matching
    nothing) took the rows away one by one and froze the app 7.8 s at 4,103 jobs, 38 s
    at 8,508. Now the rows renumbered stay fewer than the jobs, the cursor comes back to
    its job when the filter is taken back, and the rows come back with their cells."""
    home = _many_jobs(tmp_path / "home")
    renumbered: list[int] = []
    remove_row = JobTable.remove_row

    def counted(self: JobTable, row_key: object) -> None:
        renumbered.append(self.row_count)
        remove_row(self, row_key)  # type: ignore[arg-type]

    monkeypatch.setattr(JobTable, "remove_row", counted)

    async def drive() -> None:
        app = fixed_app(home)
        async with app.run_test(size=(80, 24)) as pilot:
            table = app.main.table
            await wait_for(pilot, lambda: table.row_count == MANY, 60, "every job")
            await pilot.press("end")
            await wait_for(pilot, lambda: table.selected_job_id() == MANY, 5, "the last job")
            cells = table.cells_updated
            await pilot.press("slash", "z")
            await wait_for(pilot, lambda: table.filter_text == "z" and table.row_count == 0, 30, "the filter")
            assert sum(renumbered) <= MANY, f"{len(renumbered)} rows removed one by one"
            await pilot.press("backspace")
            await wait_for(pilot, lambda: table.filter_text == "" and table.row_count == MANY, 30, "no filter")
            assert table.selected_job_id() == MANY, "back on its job"
            assert table.cells_updated == cells, "the rows came back with the cells they had"
            await pilot.press("9")  # the last job ("scan 2999") matches, most others not
            await wait_for(pilot, lambda: table.filter_text == "9" and table.row_count < MANY // 2, 30, "9")
            assert table.selected_job_id() == MANY, "kept on its job, which still shows"
            await pilot.press("escape")
            await wait_for(pilot, lambda: table.row_count == MANY, 30, "the filter cleared")
            assert table.rebuilds >= 2
            assert sum(renumbered) <= MANY, f"{len(renumbered)} rows removed one by one"

    asyncio.run(drive())


def test_a_few_rows_hidden_by_the_filter_go_one_by_one_and_many_in_one_go() -> None:
    """A job that leaves a filter's rows at a poll is one ``remove_row`` (the table
    keeps its render caches); a keystroke hiding thousands empties the table."""
    assert not rebuild_is_cheaper(1, 9500, 9499)
    assert not rebuild_is_cheaper(0, 9500, 9500)
    assert rebuild_is_cheaper(9500, 9500, 0)
    assert rebuild_is_cheaper(4000, 8000, 4000)
    assert rebuild_is_cheaper(1, 5, 0), "the last row goes: the table is just emptied"


def test_a_filter_that_matches_nothing_says_so_in_the_table(fixed_home: Path) -> None:
    """The table was empty under its header with no word; now its first line names the
    filter and the way out, within 80 columns, and goes with the filter."""

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            table = app.main.table
            await pilot.press("slash", *"zebra")
            await wait_for(pilot, lambda: table.filter_text == "zebra" and table.row_count == 0, 5, "the filter")
            await wait_for(pilot, lambda: any(line.strip() == "no job matches 'zebra' — esc clears"
                                              for line in screen_text(app)), 5, "the table's line")
            lines = screen_text(app)
            header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ID NAME"))
            assert lines[header + 1].strip() == "no job matches 'zebra' — esc clears"
            await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace", *"mlp")
            await wait_for(pilot, lambda: table.filter_text == "mlp" and table.row_count == 2, 5, "mlp")
            await pilot.pause(0.2)
            assert not any("no job matches" in line for line in screen_text(app))
            await pilot.press(*" zz")
            await wait_for(pilot, lambda: table.row_count == 0, 5, "mlp zz")
            await wait_for(pilot, lambda: any("no job matches 'mlp zz'" in line for line in screen_text(app)), 5,
                           "the filter it quotes follows")
            await pilot.press("escape")
            await wait_for(pilot, lambda: table.row_count == 7, 5, "the filter cleared")
            await pilot.pause(0.2)
            assert not any("no job matches" in line for line in screen_text(app))

    asyncio.run(drive())


@pytest.mark.parametrize("width", [40, 79, 80, 159])
def test_the_no_match_note_fits_the_table(width: int) -> None:
    for words in ("z", "surface queued", "a filter of many words " * 6):
        note = no_match_note(words, width)
        assert len(note) <= width and note.startswith(" no job matches '")
    assert no_match_note("z", 80) == " no job matches 'z' — esc clears"
    assert no_match_note("x" * 100, 80).endswith("…' — esc clears")


# -- the poller ---------------------------------------------------------------------


def test_the_poller_reads_the_jobs_again_only_when_the_store_changed(stopped_home: Path) -> None:
    """Reading 9,508 jobs took 0.27 s, every second, with nothing changing. Now a poll
    of an unchanged store hands back the jobs it read (the same tuple) with the time of
    the poll, and a write from another process, or this one's actions, is read at once."""
    clock = Clock(NOW)
    poller = StorePoller(stopped_home, clock=clock, device_facts=fixed_devices)
    try:
        first = poller.poll(preview_job=2)
        clock.advance(120)
        later = poller.poll(preview_job=2)
        same = later.jobs is first.jobs
        assert same and len(first.jobs) == 7, "nothing was written: not read again"
        assert poller.jobs_reads == 1 and later.taken == first.taken + 120
        running = later.job(2)
        assert running is not None and running.state is JobState.RUNNING
        assert elapsed_s(running, later.taken) == pytest.approx(elapsed_s(running, first.taken) + 120)  # type: ignore[operator]
        with Store.open_home(stopped_home) as store:  # `lstui priority 5 7` in another shell
            store.set_priority(5, 7)
        changed = poller.poll(preview_job=2)
        assert poller.jobs_reads == 2
        assert changed.job(5) is not None and changed.job(5).priority == 7  # type: ignore[union-attr]
        poller.poll()
        assert poller.jobs_reads == 2
    finally:
        poller.close()


def test_idle_polls_reuse_the_jobs_but_times_and_the_daemon_move_on(stopped_home: Path) -> None:
    """With the store unchanged the snapshots carry the jobs read before, while the
    running job's elapsed time goes on and, once the daemon is gone, it reads stalled."""

    async def drive() -> None:
        clock = Clock(NOW)
        app = LstuiApp(stopped_home, clock=clock, device_facts=fixed_devices, poll_s=0.2)
        with contextlib.ExitStack() as daemon:
            daemon.enter_context(holding_daemon_lock(stopped_home))
            async with app.run_test(size=(80, 24)) as pilot:
                await settle(pilot)
                table = app.main.table
                await wait_for(pilot, lambda: table.get_cell("2", "state").plain.strip() == "running", 5, "running")
                assert app.snapshot is not None
                jobs = app.snapshot.jobs
                elapsed = table.get_cell("2", "elapsed").plain
                clock.advance(600)
                seen = app.refreshes
                await wait_for(pilot, lambda: app.refreshes >= seen + 2, 10, "two polls")
                same = app.snapshot.jobs is jobs
                assert same, "not read again"
                assert table.get_cell("2", "elapsed").plain != elapsed, "the time moves on"
                daemon.close()  # the daemon is gone
                await wait_for(pilot, lambda: table.get_cell("2", "state").plain.strip() == "stalled", 10,
                               "stalled")
                same = app.snapshot.jobs is jobs
                assert same, "still not read again"

    asyncio.run(drive())


def test_between_reads_of_every_job_the_poller_reads_only_those_that_can_change(tmp_path: Path,
                                                                                monkeypatch) -> None:
    """With 15,000 jobs the TUI read every one at each second a job ran (12 % of a core).
    Finished jobs are read again every half minute, or at once when an action of the app
    asks; one retried, removed or added shows at the next poll."""
    from lstui.scheduler.submit import submit_spec
    from lstui.store import PointRow
    from lstui.tui import snapshot as snapshot_module
    from tests.tui.support import Clock, tiny_spec

    home = tmp_path / "home"
    clock = Clock(NOW - 7200)
    with Store.open_home(home, clock=clock) as store:  # finished two hours ago
        old = [submit_spec(store, tiny_spec(name=f"old{n}"), check=False) for n in range(3)]
        store.fail_job(old[0], "boom")
        store.cancel(old[1])
        store.cancel(old[2])
    clock.now = NOW
    with Store.open_home(home, clock=clock) as store:
        running = submit_spec(store, tiny_spec(name="running"), check=False)
    poller = StorePoller(home, clock=clock, device_facts=fixed_devices)
    try:
        assert poller.store is not None
        asked: list[object] = []
        listed = poller.store.list_jobs
        monkeypatch.setattr(poller.store, "list_jobs", lambda **kw: asked.append(kw.get("finished_after")) or listed(**kw))
        first = poller.poll()
        assert [j.id for j in first.jobs] == [*old, running] and asked == [None]  # every job, once

        def fresh() -> list[tuple[int, str, int, int]]:
            return [(j.id, j.state.value, j.priority, j.done_points) for j in listed()]

        with Store.open_home(home, clock=clock) as store:  # a worker stores a point
            worker = store.register_worker("cpu", 1, "h")
            claim = store.claim_unit(worker, lease_s=60, job_ids=[running])
            assert claim is not None
            store.write_points(claim.unit_id, worker, [PointRow(claim.todo[0], 1.0)])
        after = poller.poll()
        assert asked[-1] == NOW - snapshot_module.LATE_FINISH_S  # the unfinished and the lately finished
        assert [(j.id, j.state.value, j.priority, j.done_points) for j in after.jobs] == fresh()
        with Store.open_home(home, clock=clock) as store:  # another shell: retry, rm, submit
            store.retry(old[1])
            store.remove_jobs([old[2]])
            added = submit_spec(store, tiny_spec(name="added"), check=False)
        later = poller.poll()
        assert [j.id for j in later.jobs] == [old[0], old[1], running, added]
        assert [(j.id, j.state.value, j.priority, j.done_points) for j in later.jobs] == fresh()
        with Store.open_home(home, clock=clock) as store:  # `lstui priority` of the old failed job
            store.set_priority(old[0], 5)
        reads = len(asked)
        assert poller.poll().job(old[0]).priority == 0  # type: ignore[union-attr]  # (not read in between)
        poller.read_all_next()  # as after an action of the app's own
        with Store.open_home(home, clock=clock) as store:
            store.set_priority(old[0], 6)
        assert poller.poll().job(old[0]).priority == 6  # type: ignore[union-attr]
        assert asked[reads:] == [NOW - snapshot_module.LATE_FINISH_S, None]
        # changed elsewhere, read in part, then nothing moves: read whole once that is due
        with Store.open_home(home, clock=clock) as store:
            store.set_priority(old[0], 7)
        assert poller.poll().job(old[0]).priority == 6  # type: ignore[union-attr]
        assert poller.poll().job(old[0]).priority == 6  # type: ignore[union-attr]  # (the store unchanged)
        monkeypatch.setattr(snapshot_module, "ALL_JOBS_EVERY_S", 0.0)  # (half a minute later)
        assert poller.poll().job(old[0]).priority == 7  # type: ignore[union-attr]
        reads = poller.jobs_reads
        poller.poll()
        assert poller.jobs_reads == reads  # read whole: nothing more to read while nothing moves
        # changed elsewhere and read in part, then an action of the app's own that changes no
        # job (`e`): that job stayed stale for good, the half-minute read of all no longer due
        monkeypatch.setattr(snapshot_module, "ALL_JOBS_EVERY_S", 30.0)
        with Store.open_home(home, clock=clock) as store:
            store.set_priority(running, 3)  # (a job moving: the next poll reads in part)
        poller.poll()
        with Store.open_home(home, clock=clock) as store:
            store.set_priority(old[0], 8)
        assert poller.poll().job(old[0]).priority == 7  # type: ignore[union-attr]  # (read in part)
        poller.read_all_next()
        assert poller.poll().job(old[0]).priority == 8  # type: ignore[union-attr]
    finally:
        poller.close()
