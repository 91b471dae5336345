"""The main screen: the job table, the preview of the selected job, the devices."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Input

from lstui.store import JobRow
from lstui.tui.snapshot import Snapshot
from lstui.tui.widgets import DevicePanel, JobTable, KeyBar, Preview, StatusBar
from lstui.views import silent_jobs

if TYPE_CHECKING:
    from lstui.tui.app import LstuiApp


class MainScreen(Screen[None]):
    """Jobs on top; below, the selected job's preview and the device panel (which folds
    into the status line when the terminal is narrow)."""

    BINDINGS = [
        Binding("enter", "open_job", "Open"),
        # priority: run as the key arrives, before the keys typed after it are handed
        # to the focused widget (the table, whose bindings they would trigger)
        Binding("slash", "filter", "Filter", priority=True),
        Binding("escape", "clear_filter", "Clear"),
        # not in the key bar: a 17th key there took "t What" out of it at 80 columns
        # and a kept filter's "esc Clear" a third row; the help and the header say it
        Binding("s", "sort", "Sort", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="main")
        self.snapshot: Snapshot | None = None
        self.database: tuple[int, int] | None = None
        """The database file the table's rows were read from (see :attr:`Snapshot.database`)."""
        self.ready = False
        """Set once the widgets exist; snapshots before that wait for :meth:`on_mount`."""

    @property
    def lstui(self) -> LstuiApp:
        from lstui.tui.app import LstuiApp

        assert isinstance(self.app, LstuiApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        # not select_on_focus: "/" again refines the filter kept, it does not replace it
        yield Input(placeholder="filter: words in name, state or kind · enter keeps it · esc clears",
                    id="filter", compact=True, select_on_focus=False)
        yield JobTable(id="jobs")
        with Horizontal(id="lower"):
            yield Preview(id="preview")
            yield DevicePanel(id="devices")
        yield KeyBar()

    def on_mount(self) -> None:
        # Kept, not queried: a snapshot may arrive while the app is closing.
        self._table = self.query_one(JobTable)
        self._preview = self.query_one("#preview", Preview)
        self._status = self.query_one(StatusBar)
        self._devices = self.query_one(DevicePanel)
        self._filter = self.query_one("#filter", Input)
        self._filter.display = False
        self._table.focus()
        self.ready = True
        self.relayout(self.app.size.width)
        if self.lstui.snapshot is not None:
            self.apply_snapshot(self.lstui.snapshot)

    # -- snapshots -------------------------------------------------------------------

    @property
    def table(self) -> JobTable:
        return self._table

    @property
    def preview(self) -> Preview:
        return self._preview

    def selected_job(self) -> JobRow | None:
        table = self.table
        return table.job(table.selected_job_id())

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Show a snapshot: changed cells only, the preview only if its data changed."""
        self.snapshot = snapshot
        if not self.ready:
            return
        narrow = self.app.has_class("narrow")
        table = self.table
        if snapshot.database is not None and snapshot.database != self.database:
            if self.database is not None:  # another file: its job 1 is not the row's job 1
                table.forget_jobs()
                self.preview.forget()
            self.database = snapshot.database
        table.apply(snapshot.jobs, snapshot.taken, daemon_running=snapshot.daemon.running,
                    silent=silent_jobs(snapshot.jobs, snapshot.workers, snapshot.taken))
        self._status.show(snapshot, table.filter_text, devices=narrow)
        if not narrow:
            self._devices.show(snapshot)
        self._show_preview(snapshot)

    def _show_preview(self, snapshot: Snapshot) -> None:
        job = self.selected_job()
        preview = self.preview
        if job is None:
            if snapshot.error:
                why = f"The job store can't be read:\n\n{snapshot.error}"
            elif self.table.filter_text:
                why = "no job matches the filter"
            else:
                why = "no jobs yet — press n to queue one"
            preview.show_nothing(None, why)
            return
        if job.id != self.lstui.preview_job:
            self.lstui.want_preview(job.id)
        data = snapshot.preview
        if data is not None and data.job_id == job.id:
            preview.show(data, job, snapshot)
        elif preview.job_id != job.id:
            preview.show_nothing(job, "loading…")

    def relayout(self, width: int) -> None:
        self.table.relayout(width)
        if self.snapshot is not None:
            self.apply_snapshot(self.snapshot)

    # -- events ----------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#jobs")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is None:
            return
        job_id = int(key)
        self.lstui.want_preview(job_id)
        if self.snapshot is not None:
            self._show_preview(self.snapshot)

    @on(DataTable.RowSelected, "#jobs")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.lstui.open_job(int(event.row_key.value))

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)
        if self.snapshot is not None:
            self.apply_snapshot(self.snapshot)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self._filter.display = False
        self.table.focus()
        self.refresh_bindings()

    # -- actions ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``esc`` (and its footer key) only while there is a filter to clear; none of
        this screen's keys while a dialog or the form is over it (its key bar, still in
        sight, offered ``⏎ Open`` where enter answers the dialog)."""
        if self.app.screen is not self:
            return False
        if action == "clear_filter" and self.ready:
            return self._filter.display or bool(self._filter.value)
        return True

    def action_open_job(self) -> None:
        job = self.selected_job()
        if job is not None:
            self.lstui.open_job(job.id)

    def action_sort(self) -> None:
        """Sort the jobs by the next order: id → priority → state → progress → id. The
        cursor stays on its job; a notice says the order (and whether its column shows)."""
        self.table.next_order()
        self.lstui.say(self.table.order_note())

    def action_filter(self) -> None:
        box = self._filter
        if self.focused is box:  # the binding comes first: "/" is typed into the filter,
            box.post_message(events.Key("slash", "/"))  # after the keys typed before it
            return
        box.display = True
        box.cursor_position = len(box.value)
        # at once, not after the keys already queued (``box.focus()`` waits for them):
        # "/surface queued" typed ahead sent r, c and the space to the job table
        self.set_focus(box)

    def action_clear_filter(self) -> None:
        box = self._filter
        if box.display or box.value:
            box.value = ""
            box.display = False
            self.table.set_filter("")
            if self.snapshot is not None:
                self.apply_snapshot(self.snapshot)
        self.table.focus()
        self.refresh_bindings()
