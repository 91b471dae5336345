"""The job table: one row per job, updated cell by cell from snapshots."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

from lstui.store import JobRow, JobState
from lstui.tui.cells import (
    KIND_SHORT,
    POINTS_MAX,
    device_text,
    ellipsis,
    job_state_text,
    points_text,
    progress_text,
    short_duration,
)
from lstui.views import elapsed_s, eta_s, shown_device, state_name

COLUMNS = ("id", "name", "kind", "state", "progress", "points", "device", "elapsed", "eta", "prio")
WIDE = 120
"""From this width on every column shows, the priority too."""
NARROW_DROPS = ("device", "kind", "points", "elapsed")
"""Below :data:`WIDE`, the columns left out one by one while the name would get fewer
than :data:`MIN_NAME` cells: the least useful first (the job screen shows them all), the
state, the progress and the ETA last."""
LABELS = {
    "id": "ID", "name": "NAME", "kind": "KIND", "state": "STATE", "prio": "PRIO",
    "progress": "PROGRESS", "points": "POINTS", "device": "DEVICE", "elapsed": "ELAPSED", "eta": "ETA",
}
RIGHT = frozenset({"id", "prio", "points", "elapsed", "eta"})
MIN_NAME = 8
_CACHES = ("_cell_render_cache", "_row_render_cache", "_row_renderable_cache", "_line_cache")
"""DataTable's render caches (Textual 8) that :meth:`JobTable._update_row` trims."""
STATE_ORDER = (JobState.RUNNING, JobState.QUEUED, JobState.PAUSED, JobState.FAILED,
               JobState.CANCELLED, JobState.DONE)
"""The table's state order: the work going on, the work waiting, the work held, then
the jobs that need no more of it."""
_STATE_RANK = {state: rank for rank, state in enumerate(STATE_ORDER)}
REBUILD_ROW_COST = 64
"""About how many rows ``DataTable.remove_row`` renumbers (0.46 µs each here) in the time
a row takes to go into an emptied table: 13 µs with the cells it had, 70 µs with new ones."""


def rebuild_is_cheaper(gone: int, shown: int, visible: int) -> bool:
    """Whether taking ``gone`` of the ``shown`` rows away one by one costs more than
    putting the ``visible`` rows into an emptied table. Each ``DataTable.remove_row``
    renumbers every row left (Textual 8): a filter that hid thousands of rows one by
    one took seconds, growing with the square of the job count. Choosing the cheaper
    way keeps a change of the filter to about :data:`REBUILD_ROW_COST` renumberings a
    row shown, and a poll that hides a job or two to one ``remove_row`` each."""
    return gone > 0 and gone * shown > REBUILD_ROW_COST * visible


def no_match_note(filter_text: str, width: int) -> str:
    """The line an empty table shows when the filter hides every job, cut to ``width``
    cells (the filter's words are cut first)."""
    words = " ".join(filter_text.split())
    room = width - cell_len(" no job matches '' — esc clears")
    if room < 3:
        return ellipsis(f" no job matches '{words}'", width)
    return f" no job matches '{ellipsis(words, room)}' — esc clears"


SortKey = tuple[float, int]


@dataclass(frozen=True)
class JobOrder:
    """An order of the job table's rows (:data:`ORDERS`); ties go by id."""

    name: str
    """What it is called in the notice ("sorted by priority")."""
    column: str
    """The column whose header carries :attr:`arrow`."""
    arrow: str
    """The header's mark: ``▼`` the largest (or the first state) on top, ``▲`` the
    smallest; none in id order, the table's default."""
    how: str
    """How the rows go, said after the name ("highest first")."""
    key: Callable[[JobRow], SortKey]


def _by_id(job: JobRow) -> SortKey:
    return (0, job.id)


def _by_priority(job: JobRow) -> SortKey:
    return (-job.priority, job.id)


def _by_state(job: JobRow) -> SortKey:
    return (_STATE_RANK.get(job.state, len(_STATE_RANK)), job.id)


def _by_progress(job: JobRow) -> SortKey:
    return (job.progress, job.id)


ORDERS = (
    JobOrder("id", "id", "", "oldest first", _by_id),
    JobOrder("priority", "prio", "▼", "highest first", _by_priority),
    JobOrder("state", "state", "▼", ", ".join(state.value for state in STATE_ORDER), _by_state),
    # Least done first: what is furthest from finished (stuck at a few per cent, not
    # started) comes to the top, finished jobs sink to the bottom as in the state order,
    # and just above them the jobs about to finish (``end`` goes there).
    JobOrder("progress", "progress", "▲", "least done first", _by_progress),
)
"""The orders ``s`` goes through, the first one the default."""


@dataclass(frozen=True)
class TableLayout:
    """The columns shown with their widths (each includes one cell of gap), and the
    progress bar's length."""

    widths: tuple[tuple[str, int], ...]
    bar: int
    short_kind: bool

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.widths)

    def width(self, column: str) -> int:
        return dict(self.widths)[column]


def table_layout(width: int, id_digits: int = 1) -> TableLayout:
    """Column widths for a table ``width`` cells wide (one column kept for the scrollbar),
    its ids up to ``id_digits`` digits long (they are never cut: job 14,960 read "1496",
    another job's id).

    Below :data:`WIDE` columns the priority is left out, and below about 74 the columns
    of :data:`NARROW_DROPS` one after another (the job screen shows them all). The
    points column fits the longest text :func:`~lstui.tui.cells.points_text` writes and
    a cell of gap, so it never runs into the progress bar's percentage; the priority
    column fits ``PRIO▼`` with its gap (the ETA's longest text, ``23h59m``, keeps one).
    """
    if width >= WIDE:
        fixed = {"id": max(6, id_digits + 1), "kind": 11, "state": 10, "progress": 17, "points": POINTS_MAX + 1,
                 "device": 12, "elapsed": 8, "eta": 7, "prio": 6}
        bar, short = 10, False
    else:
        fixed = {"id": 4, "kind": 8, "state": 10, "progress": 11, "points": POINTS_MAX + 1,
                 "device": 8, "elapsed": 7, "eta": 6}
        bar, short = 5, True
        fixed["id"] = max(fixed["id"], id_digits + 1)
        for column in NARROW_DROPS:
            if width - 1 - sum(fixed.values()) >= MIN_NAME:
                break
            del fixed[column]
            if column == "device":  # "ELAPSED" fills 7 cells; DEVICE's blank kept it off POINTS
                fixed["elapsed"] += 1
    name = max(MIN_NAME, width - 1 - sum(fixed.values()))
    widths = tuple((c, name if c == "name" else fixed[c]) for c in COLUMNS if c == "name" or c in fixed)
    return TableLayout(widths, bar, short)


def _where_work_is(jobs: Sequence[JobRow]) -> int:
    """The job the cursor starts on: the first running job, else the first queued one,
    else the last job (``jobs`` is not empty)."""
    for state in (JobState.RUNNING, JobState.QUEUED):
        first = next((job.id for job in jobs if job.state is state), None)
        if first is not None:
            return first
    return jobs[-1].id


def _time_dependent(job: JobRow) -> bool:
    """Whether the row's times move on their own: only a running job's do."""
    return job.state is JobState.RUNNING


def _row_key(job: JobRow, daemon_running: bool) -> tuple[object, ...]:
    """What the row shows of a job, apart from the time (cheaper to compare than the row)."""
    return (job.name, job.kind, job.state, job.priority, job.done_points, job.total_points,
            job.device, job.started, job.finished, job.run_s, daemon_running)


class JobTable(DataTable[Text]):
    """Jobs with their state, progress, device and times.

    :meth:`apply` takes the jobs of a snapshot and touches only the cells whose text
    changed; rows are added and removed only when jobs appear or disappear (or the
    filter changes). When the filter hides many rows at once, the table is emptied and
    filled again instead (see :func:`rebuild_is_cheaper`), the cursor kept on its job.
    When the filter hides every job, the table says so in its first line.

    The rows go in the table's :attr:`order` (id order until :meth:`next_order`), the
    sorted column's header marked. A poll sorts the rows again only when a job that
    appeared or changed is no longer between its neighbours (:meth:`_in_order`): an
    idle poll sorts nothing, and a running job whose progress moves checks two rows.

    The cursor starts on the first running job (else the first queued one, else the
    last job) and, until the person moves it, moves to each job that starts running.
    Once they move it (a key, a click), it stays on their row.
    ``home``/``end`` (and ``ctrl+home``/``ctrl+end``) go to the first and last rows.
    """

    BINDINGS = [
        Binding("enter", "select_cursor", "Open"),
        # DataTable binds home/end to scrolling sideways: nothing, with a row cursor
        Binding("home,ctrl+home", "scroll_top", "First", show=False),
        Binding("end,ctrl+end", "scroll_bottom", "Last", show=False),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """None of the table's keys while a dialog or the form is over its screen: its
        key bar still offered "⏎ Open", where enter answers the dialog."""
        return self.app.screen is self.screen

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", cell_padding=0)
        self.layout_spec = table_layout(80)
        self._width = 80
        self._id_digits = 1
        self.filter_text = ""
        self._jobs: dict[int, JobRow] = {}
        self._shown: dict[int, dict[str, str]] = {}
        self._row_keys: dict[int, tuple[object, ...]] = {}
        self._last: tuple[Sequence[JobRow], float, bool] = ((), 0.0, True)
        self._silent: frozenset[int] = frozenset()
        """Running jobs whose workers are silent (:func:`~lstui.views.silent_jobs`): shown stalled."""
        self._placed_cursor = False
        self.follows = True
        """Whether the cursor follows the work (see the class); False once the person moved it."""
        self._running_jobs: set[int] = set()
        """The jobs that were running at the last :meth:`apply`."""
        self._want_cursor: int | None = None
        self._cursor_job: int | None = None
        """The job the cursor was on at the end of the last :meth:`apply` that left rows:
        a filter that hid every row and is then taken back finds the cursor there again."""
        self._filter_changed = False
        """Whether the filter changed since the last :meth:`apply`: a cursor whose job it
        hides goes to the first row, not to wherever the rows taken away left it."""
        self._hidden: dict[int, tuple[list[Text], dict[str, str]]] = {}
        """The cells and their texts of the rows the filter hides, shown again as they
        are when it lets them through and their jobs did not change."""
        self.cells_updated = 0
        """Cells rewritten so far (the benchmark and tests read it)."""
        self.rebuilds = 0
        """How many times :meth:`apply` emptied the table and filled it again (tests read it)."""
        self.order = ORDERS[0]
        """The order of the rows (see :data:`ORDERS`)."""
        self._placed: dict[int, SortKey] = {}
        """The sort key of each row's job, as it was when the row was put in its place."""
        self.sorts = 0
        """How many times the rows were sorted again (tests read it)."""

    def on_mount(self) -> None:
        for column, width in self.layout_spec.widths:
            self.add_column(self._label(column), width=width, key=column)

    def _label(self, column: str) -> Text:
        """The header of ``column``: its name, marked when the rows are sorted by it;
        the name's header carries the mark of a sorted column this width leaves out
        (the priority's, below :data:`WIDE`), where it fits."""
        order = self.order
        label = LABELS[column] + (order.arrow if order.column == column else "")
        if column == "name" and order.arrow and order.column not in self.layout_spec.columns:
            marked = f"{label} ·{LABELS[order.column]}{order.arrow}"
            if cell_len(marked) < self.layout_spec.width("name") - 1:
                label = marked
        return Text(label, justify="right") if column in RIGHT else Text(" " + label)

    def _relabel(self) -> None:
        """Give each column the header :meth:`_label` writes now (the table draws it
        at its next sort or change of size)."""
        for column in self.ordered_columns:
            column.label = self._label(str(column.key.value))

    # -- reading ---------------------------------------------------------------------

    def selected_job_id(self) -> int | None:
        """The job under the cursor, or None when the table is empty."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return int(key.value) if key.value is not None else None

    def job(self, job_id: int | None) -> JobRow | None:
        return None if job_id is None else self._jobs.get(job_id)

    def _computed(self, job: JobRow, daemon_running: bool) -> bool:
        """Whether something computes ``job`` if it runs: a daemon, and workers heard from."""
        return daemon_running and job.id not in self._silent

    def matches(self, job: JobRow, daemon_running: bool = True) -> bool:
        """Whether the filter lets ``job`` show: every word is in its id, name, state
        (the stored one or the one shown) or kind."""
        words = self.filter_text.lower().split()
        if not words:
            return True
        shown = state_name(job, daemon_running=daemon_running)
        hay = f"{job.id} {job.name} {job.state.value} {shown} {job.kind}".lower()
        return all(w in hay for w in words)

    # -- writing ---------------------------------------------------------------------

    def select_when_shown(self, job_id: int) -> None:
        """Put the cursor on ``job_id`` as soon as it has a row (a job just queued)."""
        self._want_cursor = job_id
        if job_id in self._shown:
            self._place_cursor(None, [self._jobs[job_id]], self._running_jobs)

    def next_order(self) -> JobOrder:
        """Sort the rows by the order after the current one in :data:`ORDERS` (after
        the last: the first); returns it."""
        order = ORDERS[(ORDERS.index(self.order) + 1) % len(ORDERS)]
        self.set_order(order)
        return order

    def set_order(self, order: JobOrder) -> None:
        """Sort the rows by ``order`` and mark its column; the cursor stays on its job."""
        selected = self.selected_job_id()
        self.order = order
        self._placed = {job_id: order.key(self._jobs[job_id]) for job_id in self._shown}
        self._relabel()
        self._sort_rows()  # also when the rows are in order already: it redraws the header
        if selected is not None:
            self._place_cursor(selected, [self._jobs[selected]], self._running_jobs)

    def order_note(self) -> str:
        """What the notice says of the rows' order: which it is, how the rows go, and
        where its column is not shown at this width, that the order applies all the same."""
        order = self.order
        note = f"sorted by {order.name}" + (": " if order.column == "state" else ", ") + order.how
        if order.column not in self.layout_spec.columns:
            note += f" (the {LABELS[order.column]} column is hidden below {WIDE} columns)"
        return note

    def _sort_rows(self) -> None:
        """Put every row in its place in :attr:`order`, by the keys of :attr:`_placed`."""
        placed = self._placed
        self.sort("id", key=lambda cell: placed[int(cell.plain)])
        self.sorts += 1

    def _in_order(self, jobs: Iterable[int]) -> bool:
        """Whether the rows are still in order, given that only those of ``jobs`` may
        have left their places (they are new, or their sort keys changed): the rows
        were in order, so each of those between its neighbours is enough."""
        rows = self.ordered_rows
        placed = self._placed
        last = len(rows) - 1
        for job_id in jobs:
            index = self.get_row_index(str(job_id))
            key = placed[job_id]
            if index > 0 and placed[int(rows[index - 1].key.value or 0)] > key:
                return False
            if index < last and placed[int(rows[index + 1].key.value or 0)] < key:
                return False
        return True

    def forget_jobs(self) -> None:
        """Take every row away (they are another database's jobs); the next
        :meth:`apply` builds the table again and places the cursor as at startup."""
        self.clear()
        self._jobs = {}
        self._shown = {}
        self._row_keys = {}
        self._last = ((), self._last[1], self._last[2])
        self._placed_cursor = False
        self.follows = True
        self._running_jobs = set()
        self._want_cursor = None
        self._cursor_job = None
        self._hidden = {}
        self._placed = {}

    def set_filter(self, text: str) -> None:
        """Show only the jobs ``text`` matches (see :meth:`matches`). The cursor stays
        on its job if that still shows, else it goes to the first row."""
        self.filter_text = text
        self._filter_changed = True
        jobs, now, daemon_running = self._last
        self.apply(jobs, now, daemon_running=daemon_running)

    def relayout(self, width: int) -> None:
        """Fit the columns to ``width`` cells; cells are redrawn at their new widths."""
        self._width = width
        spec = table_layout(width, self._id_digits)
        if spec == self.layout_spec:
            return
        self.layout_spec = spec
        self._set_columns(spec)
        for column, w in spec.widths:
            self.columns[ColumnKey(column)].width = w
        self._relabel()  # a sorted column this width leaves out marks the name's header
        self._shown = {job_id: {} for job_id in self._shown}
        self._hidden = {}
        jobs, now, daemon_running = self._last
        self.apply(jobs, now, daemon_running=daemon_running, force_dimensions=True)

    def _set_columns(self, spec: TableLayout) -> None:
        """Make the columns those of ``spec``, in its order; the rows stay (new cells
        are blank until :meth:`apply` fills them). DataTable adds columns only at the
        end, so the ones after the first difference are taken off and put back."""
        current = [str(column.key.value) for column in self.ordered_columns]
        wanted = list(spec.columns)
        same = 0
        while same < min(len(current), len(wanted)) and current[same] == wanted[same]:
            same += 1
        for column in current[same:]:
            self.remove_column(ColumnKey(column))
        for column in wanted[same:]:
            self.add_column(self._label(column), width=spec.width(column), key=column, default=Text(""))

    def apply(self, jobs: Sequence[JobRow], now: float, *, daemon_running: bool = True,
              force_dimensions: bool = False, silent: Collection[int] | None = None) -> None:
        """Show ``jobs`` (in id order) as of unix time ``now``, their rows in the
        table's :attr:`order`; with ``daemon_running`` False, running jobs are shown
        stalled (no daemon computes them), as are those ``silent`` names (None: those
        of the last call)."""
        self._last = (jobs, now, daemon_running)
        if silent is not None:
            self._silent = frozenset(silent)
        digits = len(str(max(job.id for job in jobs))) if jobs else 1
        if digits != self._id_digits:  # ids one digit longer (job 1000, 10000): a wider ID column
            self._id_digits = digits
            if table_layout(self._width, digits) != self.layout_spec:
                self.relayout(self._width)  # (which shows the jobs)
                return
        selected = self.selected_job_id()
        if selected is None and not self.row_count:
            selected = self._cursor_job
        was_empty = not self.row_count
        layout = self.layout_spec
        visible = [job for job in jobs if self.matches(job, self._computed(job, daemon_running))]
        wanted = {job.id for job in visible}
        gone = [j for j in self._shown if j not in wanted]
        for job_id in gone:
            self._hidden[job_id] = (self.get_row(str(job_id)), self._shown[job_id])
        order_key = self.order.key
        if rebuild_is_cheaper(len(gone), len(self._shown), len(visible)):
            self._rebuild(visible if self.order is ORDERS[0] else sorted(visible, key=order_key),
                          now, daemon_running)
        else:
            for job_id in gone:
                self.remove_row(str(job_id))
                del self._shown[job_id]
                self._placed.pop(job_id, None)
        moved: list[int] = []  # the rows added, and those whose sort key changed
        for job in visible:
            shown = self._shown.get(job.id)
            computed = self._computed(job, daemon_running)
            row_key = _row_key(job, computed)
            if shown and self._row_keys.get(job.id) == row_key and not _time_dependent(job):
                continue
            if shown is None:
                cells, keys = self._new_row(job, row_key, now, computed)
                self.add_row(*cells, key=str(job.id))
            else:
                self._row_keys[job.id] = row_key
                keys = self._keys(job, now, layout, computed)
                changed = {column: self._cell(column, job, keys[column], layout, computed)
                           for column in layout.columns if shown.get(column) != keys[column]}
                if changed:
                    self._update_row(str(job.id), changed)
                    self.cells_updated += len(changed)
            self._shown[job.id] = keys
            sort_key = order_key(job)
            if self._placed.get(job.id) != sort_key:
                self._placed[job.id] = sort_key
                moved.append(job.id)
        self._jobs = {job.id: job for job in jobs}
        if not self.filter_text.strip():
            self._hidden.clear()
        if moved and not self._in_order(moved):
            self._sort_rows()
        if force_dimensions and self.row_count:
            first = next(iter(self._shown))
            self.update_cell(str(first), "id", self.get_cell(str(first), "id"), update_width=True)
        self._place_cursor(selected, visible, {job.id for job in jobs if job.state is JobState.RUNNING})
        if self.row_count:
            self._cursor_job = self.selected_job_id()
        if was_empty or not self.row_count:
            self.refresh()  # the note of an empty table comes, goes or quotes another filter

    def _new_row(self, job: JobRow, row_key: tuple[object, ...], now: float,
                 daemon_running: bool) -> tuple[list[Text], dict[str, str]]:
        """The cells of a row for ``job`` and their texts: those its row had when the
        filter hid it, if they show it as it is now, else new ones."""
        hidden = self._hidden.pop(job.id, None)
        if hidden is not None and self._row_keys.get(job.id) == row_key and not _time_dependent(job):
            return hidden
        layout = self.layout_spec
        self._row_keys[job.id] = row_key
        keys = self._keys(job, now, layout, daemon_running)
        self.cells_updated += len(layout.columns)
        return [self._cell(c, job, keys[c], layout, daemon_running) for c in layout.columns], keys

    def _rebuild(self, visible: Sequence[JobRow], now: float, daemon_running: bool) -> None:
        """Empty the table and add a row for each of the ``visible`` jobs, in their
        order (the table's), with the cells its row has or had (:meth:`apply` then
        updates those that changed).

        ``DataTable.remove_row`` renumbers every row after the one it takes away: hiding
        4,000 rows one by one took 4.7 s, 8,500 rows 38 s. Clearing and adding them
        back costs the same for each row, however many there are.
        """
        self.rebuilds += 1
        rows: list[tuple[int, list[Text], dict[str, str]]] = []
        for job in visible:
            keys = self._shown.get(job.id)
            if keys is not None:
                rows.append((job.id, self.get_row(str(job.id)), keys))
            else:
                computed = self._computed(job, daemon_running)
                rows.append((job.id, *self._new_row(job, _row_key(job, computed), now, computed)))
        self.clear()
        self._shown = {}
        order_key = self.order.key
        self._placed = {job.id: order_key(job) for job in visible}
        for job_id, cells, keys in rows:
            self.add_row(*cells, key=str(job_id))
            self._shown[job_id] = keys

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Only the table's size, not the widths of new cells: every column here has a
        fixed width and every row one line, so measuring each cell of each new row
        (Textual's way: about 85 µs a row, most of the time 4,000 rows took to show)
        would change nothing."""
        super()._update_dimensions(())

    def render_line(self, y: int) -> Strip:
        """Row lines as DataTable draws them; in an empty table whose filter hides
        every job, the line under the header says so."""
        if y == 1 and self.show_header and not self.row_count and self.filter_text.strip():
            width = self.size.width
            note = Text(no_match_note(self.filter_text, width), style="dim")
            strip = Strip(note.render(self.app.console), note.cell_len)
            return strip.adjust_cell_length(width, self.rich_style).apply_style(self.rich_style)
        return super().render_line(y)

    def _update_row(self, row: str, cells: dict[str, Text]) -> None:
        """Put new ``cells`` in ``row`` and redraw that row alone.

        ``DataTable.update_cell`` bumps one counter that is part of every render cache
        key, so one changed cell re-renders every visible cell (about 45 ms at 160×48).
        Here only the row's cache entries are dropped and only its region is repainted.
        The widths stay as they are (cell texts are cut to the column widths).
        """
        row_key = RowKey(row)
        caches = [c for c in (getattr(self, name, None) for name in _CACHES) if isinstance(c, LRUCache)]
        index = self._row_locations.get(row_key)
        if index is None or len(caches) != len(_CACHES):  # another Textual: the slow way
            for column, value in cells.items():
                self.update_cell(row, column, value)
            return
        data = self._data[row_key]
        for column, value in cells.items():
            data[ColumnKey(column)] = value
        cell_cache, row_cache, renderables, line_cache = caches
        for cache in (cell_cache, row_cache):
            for key in [k for k in cache.keys() if k[0] == row_key]:
                cache.discard(key)
        for key in [k for k in renderables.keys() if k[1] == index]:
            renderables.discard(key)
        line_cache.clear()  # keyed by screen line; the other rows come back from the row cache
        self.refresh_row(index)

    def _place_cursor(self, selected: int | None, visible: Sequence[JobRow], running: set[int]) -> None:
        """Put the cursor where it belongs after an :meth:`apply` (``running``: the ids
        of every running job, shown or filtered out)."""
        started = [j.id for j in visible if j.id in running and j.id not in self._running_jobs]
        self._running_jobs = running
        filter_changed, self._filter_changed = self._filter_changed, False
        if not visible:
            return
        if self._want_cursor is not None and self._want_cursor in self._shown:
            target = self._want_cursor  # the job the person just queued: their choice
            self._want_cursor = None
            self._placed_cursor = True
            self.follows = False
        elif not self._placed_cursor:
            self._placed_cursor = True
            target = _where_work_is(visible)
        elif self.follows and started:
            target = started[0]
        elif selected is not None and selected in self._shown:
            target = selected
        elif filter_changed:
            # the filter hid the selected job: the first match (the first row), not the
            # row number the cursor had, cut to the rows left (the last match)
            first = self.ordered_rows[0].key.value if self.row_count else None
            target = int(first) if first is not None else visible[0].id
        else:
            return
        index = self.get_row_index(RowKey(str(target)))
        if index != self.cursor_row:
            self.move_cursor(row=index, animate=False)
            # At startup the table's height is not known yet (it fits its rows up to a
            # share of the screen): scrolling now scrolled too little.
            self.call_after_refresh(self.scroll_to_cursor)

    # -- the person moves the cursor: it stops following the work -------------------------

    def _moved(self) -> None:
        self.follows = False
        self._want_cursor = None

    def action_cursor_up(self) -> None:
        self._moved()
        super().action_cursor_up()

    def action_cursor_down(self) -> None:
        self._moved()
        super().action_cursor_down()

    def action_page_up(self) -> None:
        self._moved()
        super().action_page_up()

    def action_page_down(self) -> None:
        self._moved()
        super().action_page_down()

    def action_scroll_top(self) -> None:
        self._moved()
        super().action_scroll_top()

    def action_scroll_bottom(self) -> None:
        self._moved()
        super().action_scroll_bottom()

    def on_click(self) -> None:
        self._moved()

    def scroll_to_cursor(self) -> None:
        """Scroll the selected row into view, as laid out now."""
        if self.row_count and self.is_mounted:
            self._scroll_cursor_into_view(animate=False)

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        """A smaller table keeps its selected row in view.

        Hooked here, not on the Resize event: back from a question, the table shrinks to
        make room for the key bar again, and Textual sends no Resize for that; scrolling
        on a timer instead left the row out of view when the timer ran first."""
        changed = super()._size_updated(size, virtual_size, container_size, layout)
        if changed:
            self.call_after_refresh(self.scroll_to_cursor)
        return changed

    @staticmethod
    def _keys(job: JobRow, now: float, layout: TableLayout, daemon_running: bool = True) -> dict[str, str]:
        """The text of each cell (the progress cell's: what it is drawn from)."""
        kind = KIND_SHORT.get(job.kind, job.kind) if layout.short_kind else job.kind
        state = state_name(job, daemon_running=daemon_running)
        widths = dict(layout.widths)
        return {
            "id": str(job.id),
            "name": ellipsis(job.name, widths["name"] - 1),
            "kind": kind,
            "state": state,
            "progress": f"{state}|{job.done_points}|{job.total_points}|{layout.bar}",
            "points": points_text(job),
            "device": ellipsis(device_text(shown_device(job)), widths.get("device", 0) - 1),
            # "<1m" only while the time runs: a paused job's 11 s are 11 s
            "elapsed": short_duration(elapsed_s(job, now, daemon_running=daemon_running),
                                      live=job.state is JobState.RUNNING and daemon_running),
            "eta": short_duration(eta_s(job, now, daemon_running=daemon_running), live=True),
            "prio": str(job.priority),
        }

    def _cell(self, column: str, job: JobRow, key: str, layout: TableLayout, daemon_running: bool = True) -> Text:
        colour = not self.app.no_color
        if column == "state":
            text = Text(" ")
            text.append_text(job_state_text(job, daemon_running, colour))
            return text
        if column == "progress":
            text = Text(" ")
            text.append_text(progress_text(job, layout.bar, colour))
            return text
        if column in RIGHT:
            return Text(key, justify="right")
        return Text(" " + key)
