"""``s`` sorts the job table: id → priority → state → progress → id, ties by id, with
the filter, the cursor kept on its job, and jobs that change or appear put in their place."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from lstui.store import PointRow, Store
from lstui.tui import LstuiApp
from lstui.tui.screens import HelpScreen
from lstui.tui.widgets import JobTable
from lstui.tui.widgets._job_table import ORDERS
from tests.tui.support import NOW, drive_app, screen_text, wait_for

QUEUE = (("scan a", 1), ("scan b", 3), ("probe c", 1), ("probe d", 3),
         ("scan e", 0), ("probe f", 1), ("scan g", 3), ("probe h", 0))
"""Eight jobs of four points, named and prioritised for ties. :func:`_queue_home` makes
1 done, 3 running at 2/4, 7 running at 1/4, 8 cancelled at 2/4, 4 paused, 6 failed;
2 and 5 stay queued."""

BY_ID = [1, 2, 3, 4, 5, 6, 7, 8]
BY_PRIORITY = [2, 4, 7, 1, 3, 6, 5, 8]  # 3, 3, 3, 1, 1, 1, 0, 0
BY_STATE = [3, 7, 2, 5, 4, 6, 8, 1]  # running ×2, queued ×2, paused, failed, cancelled, done
BY_PROGRESS = [2, 4, 5, 6, 7, 3, 8, 1]  # 0 % ×4, 25 %, 50 % ×2, 100 %


def _compute(store: Store, worker: int, job_id: int, units: int, *, hold: bool = False) -> None:
    """Compute ``units`` units of ``job_id`` (with ``hold``, then claim one more and keep it)."""
    for _ in range(units):
        claim = store.claim_unit(worker, 3600, job_ids=[job_id])
        assert claim is not None
        store.write_points(claim.unit_id, worker, [PointRow(n, 1.0, 50.0) for n in claim.todo])
        assert store.complete_unit(claim.unit_id, worker)
    if hold:
        assert store.claim_unit(worker, 3600, job_ids=[job_id]) is not None


def _add(store: Store, home: Path, name: str, priority: int) -> int:
    """Queue a job of four one-point units, as ``lstui submit`` from another shell would."""
    return store.add_job(kind="surface", name=name, spec={"x": "-1:1:4", "split": "train"}, total_points=4,
                         units=[[0], [1], [2], [3]], priority=priority, results_root=home / "results")


def _queue_home(home: Path) -> tuple[Path, int]:
    """The jobs of :data:`QUEUE`; returns the home and the worker that computed them."""
    with Store.open_home(home, clock=lambda: NOW) as store:
        for name, priority in QUEUE:
            _add(store, home, name, priority)
        worker = store.register_worker("cpu", 1, "here")
        _compute(store, worker, 1, 4)
        _compute(store, worker, 3, 2, hold=True)
        _compute(store, worker, 7, 1, hold=True)
        _compute(store, worker, 8, 2)
        store.cancel(8)
        store.pause(4)
        store.fail_job(6, "out of memory")
    return home, worker


def _rows(table: JobTable) -> list[int]:
    """The jobs of the table's rows, top to bottom."""
    return [int(row.key.value or 0) for row in table.ordered_rows]


def _header(app: LstuiApp) -> str:
    return next(line for line in screen_text(app) if line.lstrip().startswith("ID "))


def _shown_header(app: LstuiApp) -> str:
    """The header, or "" while none is drawn (to wait on)."""
    return next((line for line in screen_text(app) if line.lstrip().startswith("ID ")), "")


async def _sort(pilot: object, app: LstuiApp, name: str) -> None:
    """Press ``s`` once and wait for the table to take the order ``name``."""

    assert isinstance(pilot, Pilot)
    await pilot.press("s")
    await wait_for(pilot, lambda: app.main.table.order.name == name, 5, f"the {name} order")
    await pilot.pause(0.1)


def test_the_orders_break_ties_by_id() -> None:
    """Priority highest first, the states from running to done, progress least done
    first; equal keys go by id."""
    from lstui.store import JobRow, JobState

    def job(job_id: int, priority: int, state: JobState, done: int) -> JobRow:
        return JobRow(id=job_id, name=f"j{job_id}", kind="surface", spec={}, state=state, priority=priority,
                      created=NOW, started=None, finished=None, attempts=0, error=None,
                      results_dir=Path("/nowhere"), total_points=4, done_points=done, device=None)

    jobs = [job(5, 2, JobState.DONE, 4), job(1, 0, JobState.QUEUED, 0), job(4, 2, JobState.RUNNING, 1),
            job(2, 2, JobState.QUEUED, 0), job(3, 0, JobState.CANCELLED, 1), job(6, 9, JobState.FAILED, 2),
            job(7, 0, JobState.PAUSED, 0)]
    by = {order.name: [j.id for j in sorted(jobs, key=order.key)] for order in ORDERS}
    assert by == {
        "id": [1, 2, 3, 4, 5, 6, 7],
        "priority": [6, 2, 4, 5, 1, 3, 7],
        "state": [4, 1, 2, 7, 6, 3, 5],
        "progress": [1, 2, 7, 3, 4, 6, 5],
    }


def test_s_cycles_id_priority_state_progress_and_back_marking_the_column(tmp_path: Path) -> None:
    """Each ``s`` puts the rows in the next order, marks its column's header and says
    the order in a notice; the fourth brings back id order, unmarked."""
    home, _ = _queue_home(tmp_path / "home")

    async def steps(pilot: Pilot[None], app: LstuiApp) -> None:
        table = app.main.table
        assert _rows(table) == BY_ID
        for name, rows, mark, note in (
            ("priority", BY_PRIORITY, "PRIO▼", "sorted by priority, highest first"),
            ("state", BY_STATE, "STATE▼", "sorted by state: running, queued"),
            ("progress", BY_PROGRESS, "PROGRESS▲", "sorted by progress, least done first"),
            ("id", BY_ID, "ID", "sorted by id, oldest first"),
        ):
            await _sort(pilot, app, name)
            assert _rows(table) == rows, name
            header = _header(app)
            assert mark in header.split(), header
            assert header.count("▼") + header.count("▲") == (name != "id"), header
            await wait_for(pilot, lambda n=note: n in "\n".join(screen_text(app)), 5, f"the notice {note!r}")  # type: ignore[misc]

    drive_app(home, steps, size=(160, 48), notifications=True)


def test_at_80_columns_the_hidden_priority_still_orders_and_the_name_header_says_so(tmp_path: Path) -> None:
    """PRIO shows from 120 columns: below, the priority order still applies, NAME's
    header carries its mark and the notice says the column is hidden."""
    home, _ = _queue_home(tmp_path / "home")

    async def steps(pilot: Pilot[None], app: LstuiApp) -> None:
        table = app.main.table
        assert "prio" not in table.layout_spec.columns
        await _sort(pilot, app, "priority")
        assert _rows(table) == BY_PRIORITY
        assert "NAME ·PRIO▼" in _header(app)
        await wait_for(pilot, lambda: "hidden below 120" in "\n".join(screen_text(app)), 5, "the notice")
        await pilot.resize_terminal(160, 48)
        await wait_for(pilot, lambda: "prio" in table.layout_spec.columns, 5, "the wide layout")
        await wait_for(pilot, lambda: "PRIO▼" in _shown_header(app).split() and "·PRIO" not in _shown_header(app), 5,
                       "PRIO's own header marked")
        header = _header(app)
        assert "PRIO▼" in header.split() and "·PRIO" not in header, header
        assert _rows(table) == BY_PRIORITY

    drive_app(home, steps, notifications=True)


def test_the_cursor_stays_on_its_job_through_every_order(tmp_path: Path) -> None:
    home, _ = _queue_home(tmp_path / "home")

    async def steps(pilot: Pilot[None], app: LstuiApp) -> None:
        table = app.main.table
        assert table.selected_job_id() == 3, "the first running job"
        await pilot.press("down", "down", "down")
        assert table.selected_job_id() == 6
        for name, rows in (("priority", BY_PRIORITY), ("state", BY_STATE), ("progress", BY_PROGRESS),
                           ("id", BY_ID)):
            await _sort(pilot, app, name)
            assert table.selected_job_id() == 6, name
            assert table.cursor_row == rows.index(6), name
            assert app.main.preview.job_id == 6
        await _sort(pilot, app, "priority")
        await pilot.press("down")
        assert table.selected_job_id() == 5, "the arrows go through the rows in their order"

    drive_app(home, steps)


def test_the_filter_shows_its_rows_in_the_chosen_order(tmp_path: Path) -> None:
    """A filter that hides most rows rebuilds the table (see ``rebuild_is_cheaper``),
    one that hides a few takes them away; either way the rows left keep the order, and
    so do those that come back when it is cleared."""
    home = tmp_path / "home"
    with Store.open_home(home, clock=lambda: NOW) as store:
        for i in range(1, 61):
            _add(store, home, f"{'keep' if i % 6 == 0 else 'drop'} {i}", i % 4)
    by_priority = sorted(range(1, 61), key=lambda i: (-(i % 4), i))

    async def steps(pilot: Pilot[None], app: LstuiApp) -> None:
        table = app.main.table
        await _sort(pilot, app, "priority")
        assert _rows(table) == by_priority
        rebuilds = table.rebuilds
        await pilot.press("slash", *"keep", "enter")
        await wait_for(pilot, lambda: table.filter_text == "keep" and table.row_count == 10, 5, "keep")
        assert table.rebuilds > rebuilds, "most rows hidden: rebuilt"
        assert _rows(table) == [i for i in by_priority if i % 6 == 0]
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == 60, 5, "the filter cleared")
        assert _rows(table) == by_priority
        await pilot.press("slash", *"drop", "enter")
        await wait_for(pilot, lambda: table.filter_text == "drop" and table.row_count == 50, 5, "drop")
        assert _rows(table) == [i for i in by_priority if i % 6]
        await _sort(pilot, app, "state")
        assert _rows(table) == [i for i in range(1, 61) if i % 6], "all queued: by id"
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == 60, 5, "the filter cleared")
        assert _rows(table) == list(range(1, 61))

    drive_app(home, steps)


def test_a_job_whose_priority_state_or_progress_changes_moves_to_its_place(tmp_path: Path) -> None:
    """Written from another shell (``lstui priority 5 7``, ``lstui pause 2``, a worker's
    points); polls that change nothing sort nothing, nor does a change that leaves
    every row in its place."""
    home, worker = _queue_home(tmp_path / "home")

    async def polls(pilot: object, app: LstuiApp, count: int = 3) -> None:
        seen = app.refreshes
        await wait_for(pilot, lambda: app.refreshes >= seen + count, 10, f"{count} polls")  # type: ignore[arg-type]

    async def steps(pilot: Pilot[None], app: LstuiApp) -> None:
        table = app.main.table
        await _sort(pilot, app, "priority")
        sorts = table.sorts
        await polls(pilot, app)
        assert table.sorts == sorts, "idle polls sort nothing"
        with Store.open_home(home, clock=lambda: NOW) as store:
            store.set_priority(5, 7)
        await wait_for(pilot, lambda: _rows(table)[0] == 5, 5, "job 5 on top")
        assert _rows(table) == [5, 2, 4, 7, 1, 3, 6, 8]
        sorts = table.sorts
        with Store.open_home(home, clock=lambda: NOW) as store:
            _compute(store, worker, 7, 1)  # 2/4 now: its priority, and place, stay
        await wait_for(pilot, lambda: table.job(7) is not None and table.job(7).done_points == 2, 5,  # type: ignore[union-attr]
                       "job 7's points")
        await polls(pilot, app)
        assert table.sorts == sorts and _rows(table) == [5, 2, 4, 7, 1, 3, 6, 8]
        await _sort(pilot, app, "state")
        assert _rows(table) == [3, 7, 2, 5, 4, 6, 8, 1]
        with Store.open_home(home, clock=lambda: NOW) as store:
            store.pause(2)
        await wait_for(pilot, lambda: _rows(table) == [3, 7, 5, 2, 4, 6, 8, 1], 5, "job 2 among the paused")
        await _sort(pilot, app, "progress")
        assert _rows(table) == [2, 4, 5, 6, 3, 7, 8, 1], "7 at 50 % now, as 3 and 8"
        with Store.open_home(home, clock=lambda: NOW) as store:
            _compute(store, worker, 3, 1)  # its held unit is still pending: a fourth
        await wait_for(pilot, lambda: _rows(table) == [2, 4, 5, 6, 7, 8, 3, 1], 5, "job 3 at 75 %")

    drive_app(home, steps)


def test_a_new_job_lands_in_its_place(tmp_path: Path) -> None:
    """A job queued from another shell appears where the order puts it, filter or not."""
    home, _ = _queue_home(tmp_path / "home")

    async def steps(pilot: Pilot[None], app: LstuiApp) -> None:
        table = app.main.table
        await _sort(pilot, app, "priority")
        with Store.open_home(home, clock=lambda: NOW) as store:
            _add(store, home, "scan i", 2)
        await wait_for(pilot, lambda: table.row_count == 9, 5, "job 9")
        assert _rows(table) == [2, 4, 7, 9, 1, 3, 6, 5, 8]
        assert table.selected_job_id() == 3, "the cursor stays on its job"
        await pilot.press("slash", *"scan", "enter")
        await wait_for(pilot, lambda: table.filter_text == "scan" and table.row_count == 5, 5, "scan")
        assert _rows(table) == [2, 7, 9, 1, 5]
        with Store.open_home(home, clock=lambda: NOW) as store:
            _add(store, home, "scan j", 3)
            _add(store, home, "probe k", 9)
        await wait_for(pilot, lambda: table.row_count == 6, 5, "job 10")
        assert _rows(table) == [2, 7, 10, 9, 1, 5]
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == 11, 5, "every job")
        assert _rows(table) == [11, 2, 4, 7, 10, 9, 1, 3, 6, 5, 8]

    drive_app(home, steps)


def test_the_help_lists_s(tmp_path: Path) -> None:
    home, _ = _queue_home(tmp_path / "home")

    async def steps(pilot: Pilot[None], app: LstuiApp) -> None:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), 5, "the help")
        await wait_for(pilot, lambda: any(line.strip("│ ").startswith("s ")
                                          and "sort jobs: id → priority → state → progress" in line
                                          for line in screen_text(app)), 5, "s in the help")

    drive_app(home, steps)
