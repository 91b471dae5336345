"""The lstui terminal app: the job queue, the devices and a live preview, with no mouse.

How it stays live without stalling: a thread worker (:meth:`LstuiApp._poll_store`) owns
its own store connection and reads a :class:`~lstui.tui.snapshot.Snapshot` about once a
second (at once when the selection changes), then posts it as a
:class:`SnapshotReady` message. The handler hands it to the screens, which update table
cells in place and repaint the preview only when its numbers changed. Every store
write (cancel, pause, submit, …) and every export runs in another thread worker; an
error a person caused becomes a one-line notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Input, Select
from textual.worker import Worker, get_current_worker

from lstui.errors import LstuiError
from lstui.scheduler.daemon import DaemonStatus, daemon_status, file_identity
from lstui.scheduler.devices import DeviceFacts
from lstui.spec import JobSpec
from lstui.store import (
    DB_NAME,
    DEFAULT_TIMEOUT_S,
    FINISHED,
    SCHEMA_VERSION,
    JobRow,
    JobState,
    Store,
    check_action,
    default_home,
)
from lstui.tui.cells import short_path
from lstui.tui.screens import ConfirmScreen, HelpScreen, JobScreen, MainScreen, NewJobScreen
from lstui.tui.snapshot import (
    Snapshot,
    StorePoller,
    changed_in_place,
    read_device_facts,
    wal_index_identity,
)
from lstui.tui.widgets import ACC_KEYS, LABELS, Preview, drawn_quantity, lift_toasts, start_refused

NARROW_BELOW = 81
SHORT_BELOW = 22
"""Below this many rows the preview and the log give up height (the main screen scrolled
as a whole at 18 rows, its scrollbar over the ETA column and the keys)."""
TINY_BELOW = (50, 12)
"""Below this many columns or rows (a small tmux pane) the key bar and the main screen's
preview give way to the job table: at 20×5 the keys took every row, no job in sight
(they work unseen; ``?`` lists them)."""
POLL_S = 1.0
EXPORT_FORMATS = ("png", "pdf")
SLOW_S = 1.0
"""An action still running after this long says so (see :meth:`LstuiApp.in_thread`)."""
WAITING_FOR_DATABASE = "waiting for the database (another process is writing to it)…"


class SnapshotReady(Message):
    """A new look at the store, read by the poller thread."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


# (action, title, help) for the command palette
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("new_job", "New job", "Queue a surface, an interpolation or a trajectory with a form (n)"),
    ("open_selected", "Open job", "Spec, timings, files and log of the selected job (enter)"),
    ("cancel_job", "Cancel job", "Cancel the selected job, after asking (c)"),
    ("pause_job", "Pause or resume job", "Pause a queued or running job, resume a paused one (p)"),
    ("retry_job", "Retry job", "Queue a failed or cancelled job again (r)"),
    ("remove_job", "Remove job", "Take a finished job out of the store, its results folder off the disk, after asking (x)"),
    ("priority(1)", "Raise priority", "Priority of the selected job + 1 (+)"),
    ("priority(-1)", "Lower priority", "Priority of the selected job − 1 (-)"),
    ("export_job", "Export figures", "PNG and PDF figures of the selected job (e)"),
    ("logs", "Show log", "The selected job's log (l)"),
    ("filter", "Filter jobs", "Show only jobs whose name, state or kind match (/)"),
    ("toggle_log_scale", "Toggle log scale", "Log or linear contour levels in the preview (g)"),
    ("cycle_quantity", "Next quantity",
     "What a 2D preview draws: train loss, test loss, train acc, test acc (t)"),
    ("start_daemon", "Start daemon", "Start the scheduler daemon on this home (d)"),
    ("help", "Help", "Keys and what the preview shows (?)"),
)

_UNDER_MODAL_OFF = frozenset(
    {"new_job", "cancel_job", "pause_job", "retry_job", "priority", "export_job", "logs",
     "toggle_log_scale", "cycle_quantity", "start_daemon", "help", "quit", "open_selected", "filter",
     "remove_job", "command_palette"}
)


class LstuiApp(App[None]):
    """The lstui TUI.

    Args:
        home: the lstui home (``lstui.db``, ``results/``); default ``$LSTUI_HOME`` or
            ``~/.local/share/lstui``.
        clock: unix time used for elapsed times and ETAs (tests pass a fixed one).
        poll_s: seconds between two reads of the store.
        device_facts: the devices to show (default: NVML GPUs and the CPU).
        daemon_devices: the ``--devices`` the ``d`` key starts a daemon with.
        write_timeout_s: how long a write (cancel, pause, submit, …) waits for another
            process's write lock before it fails with a notice; the app says at once
            that it waits.
    """

    CSS_PATH = "app.tcss"
    TITLE = "lstui"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("n", "new_job", "New"),
        Binding("c", "cancel_job", "Cancel"),
        Binding("p", "pause_job", "Pause"),
        Binding("r", "retry_job", "Retry"),
        # not in the key bar (full at 80 columns): the help and the palette list it
        Binding("x", "remove_job", "Remove", show=False),
        Binding("plus", "priority(1)", "Prio+"),
        Binding("minus", "priority(-1)", "Prio-"),
        Binding("e", "export_job", "Export"),
        Binding("l", "logs", "Log"),
        Binding("g", "toggle_log_scale", "Scale"),
        Binding("t", "cycle_quantity", "What"),
        Binding("d", "start_daemon", "Daemon"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        # a TUI over SSH: ctrl+c quits, as q does (Textual only said "press ctrl+q"),
        # also from a text field, where Textual would copy, and from a dialog or the form,
        # where q is off (its own action: "quit" is off under them)
        Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        home: Path | None = None,
        *,
        clock: Callable[[], float] = time.time,
        poll_s: float = POLL_S,
        device_facts: Callable[[], Sequence[DeviceFacts]] = read_device_facts,
        daemon_devices: str | None = None,
        write_timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        super().__init__()
        self.home = Path(home).expanduser() if home is not None else default_home()
        self.clock = clock
        self.poll_s = poll_s
        self.device_facts = device_facts
        self.daemon_devices = daemon_devices
        self.write_timeout_s = write_timeout_s
        self.terminated = False  # ended by SIGTERM or SIGHUP
        self.leave_asked = threading.Event()  # set by SIGTERM/SIGHUP: the watch starts its grace
        self.left = threading.Event()  # set once the app has left: the watch ends
        self.leave_code = 0  # 128 + the signal, if the watch must end the process
        self.watch_leave = False  # run_app's: a process that ends when the app leaves
        self.signal_handlers_before: dict[int, Any] = {}  # put back once the app has left
        self.snapshot: Snapshot | None = None
        self.preview_job: int | None = None
        self.detail_job: int | None = None
        self.form_values: dict[str, str] = {}
        """The new-job form's values when it last queued a job: it opens with them."""
        self.main = MainScreen()
        self.refreshes = 0
        """Snapshots applied so far."""
        self.last_refresh_s = 0.0
        """Seconds the last snapshot took to apply on the event loop."""
        self.notices: deque[tuple[str, str]] = deque(maxlen=50)
        """The latest notifications as ``(severity, message)``."""
        self._wake = threading.Event()
        self._acted = threading.Event()  # an action of this app changed jobs: the poller reads them all
        self._pending = threading.Event()
        self._store: Store | None = None
        self._store_identity: tuple[int, int] | None = None
        self._store_wal_index: tuple[int, int] | None = None
        self._store_lock = threading.Lock()

    # -- screens ---------------------------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Show a notification and remember it in :attr:`notices`. Markup as in Textual,
        whose own messages use it ("Press [b]q[/b] to quit"); ours go through
        :meth:`say`."""
        self.notices.append((severity, str(message)))
        with contextlib.suppress(Exception):  # (no screen yet, or one going): where Textual puts it
            for screen in self.screen_stack:  # the form's toast stays up on the list it closes to
                lift_toasts(screen, self.main)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def say(self, message: str, *, severity: SeverityLevel = "information", timeout: float | None = None) -> None:
        """Notify one of lstui's messages: plain text, never markup, since they quote
        paths, errors and job names that may hold ``[brackets]``."""
        self.notify(message, severity=severity, timeout=timeout, markup=False)

    def get_default_screen(self) -> Screen[None]:
        return self.main

    def on_mount(self) -> None:
        self.follow_size(self.size.width, self.size.height)
        self._poll_store()
        # `kill` or an SSH connection dropped: leave as `q` does, giving the terminal back
        # (a KeyboardInterrupt raised inside the event loop left it in the app's modes).
        # A plain handler, not the loop's: it runs even while the main thread waits on a
        # write to a terminal that is gone, which the loop's would wait behind forever.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(ValueError, OSError):  # not the main thread (tests)
                before = signal.signal(signum, lambda signum, frame: self._terminated(loop, signum))
                self.signal_handlers_before.setdefault(signum, before)
        if self.signal_handlers_before and self.watch_leave:  # started here, not in the handler (its locks)
            threading.Thread(target=self._watch_leave, name="leave-watch", daemon=True).start()

    async def on_event(self, event: events.Event) -> None:
        """Run the binding of a key that a text field or a choice does not type (tab,
        backspace, enter, esc…) in its place among the keys typed around it.

        Textual runs such a binding only once the key has bubbled back up from the
        focused field, behind the keys typed after it: ``/``, backspace and ``abc``
        sent at once left ``ab`` (the backspace ran last), and in the form a tab with
        text 50 ms behind it put the text in the field before while the app was busy
        applying a snapshot (the tab moved the focus only afterwards). Here the field
        first handles the keys already handed to it, then the binding runs at once;
        the keys after it go to the field it leaves focused.
        """
        if (isinstance(event, events.Key) and not getattr(event, "is_forwarded", True)
                and not event.is_printable):
            focused = self.focused
            if (isinstance(focused, (Input, Select)) and _knows_internals(self, focused)
                    and self._screen_stack and getattr(self.screen, "maximized", None) is None):
                self.app_focus = True
                await _handled_so_far(focused)
                if await self._check_bindings(event.key, priority=True) or await self._check_bindings(event.key):
                    return
        await super().on_event(event)

    def put_back_signal_handlers(self) -> None:
        """The SIGTERM and SIGHUP handlers as they were before the app (once it has left)."""
        for signum, before in self.signal_handlers_before.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, before if before is not None else signal.SIG_DFL)
        self.signal_handlers_before.clear()

    def _terminated(self, loop: asyncio.AbstractEventLoop, signum: int) -> None:
        """Leave as ``q`` does; and if that has not ended the process after
        :data:`LEAVE_GRACE_S` (its terminal gone, the output thread dead on a write to it
        and the app waiting on that thread), :meth:`_watch_leave` ends it anyway. Only
        flags and an event here: a thread started in a signal handler takes threading's
        own locks, which the interrupted main thread may hold."""
        self.terminated = True
        if not self.leave_asked.is_set():
            self.leave_code = 128 + signum
            self.leave_asked.set()
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self.exit)

    def _watch_leave(self) -> None:
        """Once asked to leave by a signal, end the process with ``128 + signum`` unless
        the app has left within :data:`LEAVE_GRACE_S`."""
        self.leave_asked.wait()
        if not self.left.wait(LEAVE_GRACE_S):
            os._exit(self.leave_code)

    def on_resize(self, event: events.Resize) -> None:
        self.follow_size(event.size.width, event.size.height)
        if self.main.ready:
            self.main.relayout(event.size.width)

    def follow_size(self, width: int, height: int) -> None:
        """Give the app the class "narrow" below :data:`NARROW_BELOW` columns, "short"
        below :data:`SHORT_BELOW` rows and "tiny" below :data:`TINY_BELOW`, and restyle
        every screen of the stack for them.

        Textual restyles only the screens on top (down to the first opaque one) when
        the app's classes change: the main screen, under the job screen during a
        resize, came back in the layout of the old width (the device panel squeezing
        the preview to 8 columns at 80, the status line without its daemon line).
        """
        narrow, short = width < NARROW_BELOW, height < SHORT_BELOW
        tiny = width < TINY_BELOW[0] or height < TINY_BELOW[1]
        if (narrow, short, tiny) == (self.has_class("narrow"), self.has_class("short"), self.has_class("tiny")):
            return
        self.set_class(narrow, "narrow")
        self.set_class(short, "short")
        self.set_class(tiny, "tiny")
        for screen in self.screen_stack:
            screen.update_node_styles(animate=False)

    def on_unmount(self) -> None:
        self.put_back_signal_handlers()
        self._wake.set()
        if self.actions_running():
            return  # an export still holds the store; it goes with the process
        with self._store_lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def want_preview(self, job_id: int | None) -> None:
        """Ask the poller for this job's preview now."""
        if job_id != self.preview_job:
            self.preview_job = job_id
            self._wake.set()

    def open_job(self, job_id: int, *, log: bool = False) -> None:
        """Push the job screen of ``job_id`` (scrolled to its log with ``log``)."""
        self.detail_job = job_id
        self.want_preview(job_id)
        self._wake.set()

        def closed(_: None) -> None:
            self.detail_job = None
            self.want_preview(self.main.table.selected_job_id())

        self.push_screen(JobScreen(job_id, log=log, database=self.shown_database()), closed)

    def current_job(self) -> JobRow | None:
        """The job the actions apply to: the job screen's, or the selected row's."""
        screen = self.screen
        if isinstance(screen, JobScreen):
            if self.snapshot is None or not screen.shows(self.snapshot):
                return None  # its job was read from a database file that is gone
            return self.snapshot.job(screen.job_id)
        if isinstance(screen, MainScreen):
            return screen.selected_job()
        return None

    async def action_interrupt(self) -> None:
        """ctrl+c: quit from any screen, as ``q`` does from the main one."""
        await self.action_quit()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _UNDER_MODAL_OFF and isinstance(self.screen, ModalScreen):
            return False
        if isinstance(self.screen, JobScreen):  # a figure job's screen: no plot keys
            return self.screen.check_action(action, parameters)
        return True

    # -- the poller --------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="poll", name="store poller")
    def _poll_store(self) -> None:
        worker = get_current_worker()
        poller: StorePoller | None = None
        try:
            while not worker.is_cancelled:
                self._wake.clear()
                # Its stale WAL index would be lent to the poller's new connection. Not
                # waited for: an action opening the store may wait out a write lock.
                if self._store_lock.acquire(blocking=False):
                    try:
                        self._drop_changed_store()
                    finally:
                        self._store_lock.release()
                try:
                    if poller is None:
                        poller = StorePoller(self.home, clock=self.clock, device_facts=self.device_facts)
                        upgraded = poller.store.upgraded_from if poller.store is not None else None
                        if upgraded is not None:  # said as `lstui ls` says it
                            copy = poller.store.upgrade_copy if poller.store is not None else None
                            kept = f" (kept as it was in {copy.name})" if copy is not None else ""
                            self.call_from_thread(self.say, f"upgraded the job store from schema {upgraded} to "
                                                  f"{SCHEMA_VERSION}: an older lstui can no longer open it{kept}",
                                                  timeout=20)
                    if self._acted.is_set():  # (a failed job's new priority: not half a minute later)
                        self._acted.clear()
                        poller.read_all_next()
                    snapshot = poller.poll(self.preview_job, self.detail_job)
                except (LstuiError, OSError, sqlite3.Error) as exc:  # locked, too new, unwritable: say so, retry
                    # the daemon as it is: "daemon stopped (d starts it)" was said of one that ran, whose
                    # store this lstui leaves alone (an older lstui's), and d then said it runs
                    snapshot = Snapshot(self.clock(), (), daemon=_daemon_or_none(self.home), error=str(exc))
                if worker.is_cancelled:
                    break
                self._pending.set()
                self.post_message(SnapshotReady(snapshot))
                deadline = time.monotonic() + self.poll_s
                # Wait out the interval, but wake for a new selection or a finished
                # action, and never queue a second snapshot behind an unapplied one.
                while not worker.is_cancelled:
                    left = deadline - time.monotonic()
                    if (left <= 0 or self._wake.is_set()) and not self._pending.is_set():
                        break
                    self._wake.wait(min(0.1, max(left, 0.01)))
        finally:
            if poller is not None:
                poller.close()

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        start = time.perf_counter()
        snapshot = message.snapshot
        new_error = snapshot.error and (self.snapshot is None or self.snapshot.error != snapshot.error)
        self.snapshot = snapshot
        if snapshot.notice:
            self.say(snapshot.notice, severity="warning", timeout=8)
        self.main.apply_snapshot(snapshot)
        for screen in self.screen_stack:
            if isinstance(screen, JobScreen):
                screen.apply_snapshot(snapshot)
        self.refreshes += 1
        self.last_refresh_s = time.perf_counter() - start
        self._pending.clear()
        if new_error:
            self.say(str(snapshot.error), severity="error")

    # -- store writes, in threads ------------------------------------------------------

    def shown_database(self) -> tuple[int, int] | None:
        """The identity of the database file the jobs on screen were read from."""
        return self.snapshot.database if self.snapshot is not None else None

    def _action_store(self, database: tuple[int, int] | None = None) -> Store:
        """The connection store writes go through, on the database file at the home's
        path now: a connection to a file since deleted or replaced is dropped first.

        Args:
            database: the identity of the file the job acted on was read from (see
                :func:`~lstui.scheduler.daemon.file_identity`). When the file at the
                path is another one, nothing is done: job 1 there is another job.
        """
        path = self.home / DB_NAME
        with self._store_lock:
            self._drop_changed_store()
            if self._store is not None and self._store.read_only:
                # opened read-only (a full disk, an unwritable home): opened again, so that
                # a write works once space or permission is back, not only after a restart
                self._store.close()
                self._store = None
            if database is not None and file_identity(path) != database:
                raise LstuiError(f"not done: the database {path} was deleted or replaced since the jobs "
                                 "on screen were read from it; look at the list again")
            if self._store is None:
                from lstui.scheduler.daemon import refuse_upgrade_under_older_daemon

                self._store = Store.open_home(self.home, timeout_s=self.write_timeout_s,
                                              before_upgrade=refuse_upgrade_under_older_daemon(self.home))
                self._store_identity = file_identity(self._store.path)
                self._store_wal_index = wal_index_identity(self._store.path)
            if database is not None and self._store_identity != database:
                raise LstuiError(f"not done: the database {path} was replaced while the action started")
            return self._store

    def _drop_changed_store(self) -> None:
        """Close the action connection when the file at the home's path is not the one
        it writes, or was changed in place (see
        :func:`~lstui.tui.snapshot.changed_in_place`). Called with :attr:`_store_lock` held."""
        if self._store is None:
            return
        path = self.home / DB_NAME
        if file_identity(path) != self._store_identity or changed_in_place(path, self._store_wal_index):
            self._store.close()
            self._store = None

    def in_thread(self, name: str, fn: Callable[[Store], str | None], *,
                  slow: str | None = WAITING_FOR_DATABASE, database: tuple[int, int] | None = None) -> None:
        """Run ``fn(store)`` in a thread worker; notify what it returns, or its error.

        ``slow``: said when the work takes longer than :data:`SLOW_S` (a store write
        waits up to half a minute for another process's write lock, and the app
        would otherwise say nothing all that time). ``database``: the identity of the
        database file the job was read from; on another file ``fn`` is not run.
        """

        def run() -> None:
            try:
                message = fn(self._action_store(database))
            except (LstuiError, OSError) as exc:
                self.call_from_thread(self.say, str(exc), severity="error", timeout=8)
            else:
                if message:
                    self.call_from_thread(self.say, message)
            finally:
                self._acted.set()
                self._wake.set()

        worker = self.run_worker(run, name=name, group="actions", thread=True)
        if slow is not None:
            self.say_if_slow(worker, f"{name}: {slow}")

    def say_if_slow(self, worker: Worker[Any], message: str) -> None:
        """Say ``message`` if ``worker`` still runs :data:`SLOW_S` from now."""

        def check() -> None:
            if not worker.is_finished:
                self.say(message)

        self.set_timer(SLOW_S, check)

    def actions_running(self) -> bool:
        """Whether a store write or an export is still in progress."""
        return any(w.group == "actions" and not w.is_finished for w in self.workers)

    def _need_job(self) -> JobRow | None:
        job = self.current_job()
        if job is None:
            screen = self.screen
            if isinstance(screen, JobScreen) and self.snapshot is not None and screen.shows(self.snapshot):
                # its job removed meanwhile (lstui rm): as its title says
                self.say(f"job {screen.job_id} no longer exists — esc: back", severity="warning")
            else:
                self.say("no job selected", severity="warning")
        return job

    # -- actions -----------------------------------------------------------------------

    def action_new_job(self) -> None:
        def closed(job_id: int | None) -> None:
            if job_id is not None:  # once the form is gone: a table under it does not scroll
                self.main.table.select_when_shown(job_id)

        self.push_screen(NewJobScreen(self.queue_spec, self.form_values, plan=self.queue_trajectory,
                                      twins=self.twins_note), closed)

    def queue_trajectory(self, values: dict[str, str], stopped: Callable[[], bool]) -> tuple[int, str, str]:
        """Queue the trajectory of the form's ``values`` with ``lstui submit trajectory``
        in a process of its own (it checks the files and computes the PCA plane first,
        into this home's ``trajectories/``), killed when ``stopped()`` says so (the app
        quit). Called in the form's thread; see :data:`~lstui.tui.screens._new_job.Plan`."""
        import re
        import subprocess
        import sys

        argv = [sys.executable, "-m", "lstui.cli", "--home", str(self.home), "submit", "trajectory",
                f"--checkpoints={values['checkpoints'].strip()}"]
        for key in ("model", "data", "x", "y", "dir_type", "split", "precision", "subset", "name", "priority"):
            if values.get(key, "").strip():  # --name=--wait: a name, not the flag
                argv.append(f"--{key.replace('_', '-')}={values[key].strip()}")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            while True:
                try:
                    out, err = proc.communicate(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    if stopped():
                        raise LstuiError("not queued: the TUI closed while the trajectory was planned") from None
        finally:
            if proc.poll() is None:  # SIGTERM first: `lstui` removes a plane it had begun
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        lines = [line.strip() for line in err.splitlines() if line.strip()]
        if proc.returncode != 0:
            errors = [line.removeprefix("lstui: error: ") for line in lines if line.startswith("lstui: error: ")]
            raise LstuiError(errors[-1] if errors else (lines[-1] if lines else f"exit status {proc.returncode}"))
        notes = [line.removeprefix("note: ") for line in lines
                 if line.startswith("note: ") and "no daemon is running" not in line]
        # the plane's file is listed on the job's screen: a toast says its variance shares
        notes = [re.sub(r"^its PCA plane: .* \((1st PC [^)]*)\); another run's path goes on it with --dir-file$",
                        r"its PCA plane: \1", note) for note in notes]
        # the form's fields are x and y, not the command line's flags
        notes = [note.replace("without --x/--y the grid covers it", "with x and y left empty the grid covers it")
                 for note in notes]
        try:
            job_id = int(out.split()[-1])
        except (IndexError, ValueError):  # (exit 0 yet no id: a bug, said in one line, not a traceback)
            raise LstuiError(f"lstui submit trajectory printed no job id: {out.strip()!r}") from None
        try:  # its name, as a surface's toast names its job ("queued job 7: a trajectory" did not)
            name = self._action_store().get_job(job_id).name
        except LstuiError:  # queued all the same: the database busy, or the job removed at once
            name = "a trajectory"
        return job_id, name, "\n".join(notes)

    def queue_spec(self, spec: JobSpec) -> int:
        """Queue ``spec``, whose files the form checked; returns its id. Called in the
        form's thread, which keeps the form open until this returns: an error (the
        database locked by another process) leaves every typed value in place."""
        from lstui.scheduler.submit import submit_spec

        try:
            return submit_spec(self._action_store(), spec, check=False)
        finally:
            self._wake.set()

    def twins_note(self, job_id: int) -> str | None:
        """What the form says of a job it queued that earlier jobs compute, as `lstui submit` does."""
        from lstui.scheduler.submit import same_settings_notes

        return same_settings_notes(self._action_store(), [job_id], "c cancels it").get(job_id)

    def action_open_selected(self) -> None:
        job = self._need_job()
        if job is not None and not isinstance(self.screen, JobScreen):
            self.open_job(job.id)

    def action_cancel_job(self) -> None:
        job = self._need_job()
        if job is None:
            return
        job_id, database = job.id, self.shown_database()
        try:
            check_action(job.state, "cancel", job_id=job_id)  # no question about a done job
        except LstuiError as exc:
            self.say(str(exc), severity="error", timeout=8)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.in_thread("cancel", lambda s: _lifecycle(s, "cancel", job_id), database=database)

        self.push_screen(
            ConfirmScreen(f"Cancel job {job_id} “{job.name}”?\nIts computed points are kept; r retries it."),
            answered,
        )

    def action_remove_job(self) -> None:
        """``lstui rm`` of the selected job, after asking: a finished job out of the store,
        its results folder off the disk."""
        job = self._need_job()
        if job is None:
            return
        if job.state not in FINISHED:
            self.say(f"job {job.id} is {job.state.value}; only a finished job is removed (cancel it first)",
                     severity="error", timeout=8)
            return
        job_id, database = job.id, self.shown_database()
        running = bool(self.snapshot and self.snapshot.daemon.running)

        def remove(store: Store) -> str:
            from lstui.scheduler.prune import remove_jobs

            removal = remove_jobs(store, [job_id], self.home, daemon_running=running)
            if removal.left:
                folder, why = removal.left[0]
                raise LstuiError(f"job {job_id} is out of the store, but {folder} could not be deleted "
                                 f"({why}): delete it by hand")
            return f"removed job {job_id}" + (f", {removal.freed_bytes / 2**20:.1f} MiB of files"
                                              if removal.folders else "")

        def answered(yes: bool | None) -> None:
            if yes:
                screen = self.screen
                if isinstance(screen, JobScreen) and screen.job_id == job_id:
                    screen.dismiss(None)  # back to the list: the job's screen would show it gone
                self.in_thread("remove", remove, database=database)

        def ask() -> None:
            self.push_screen(
                ConfirmScreen(f"Remove job {job_id} “{job.name}”?\nIts points, its log and its results folder "
                              "are deleted, for good."),
                answered,
            )

        def check(store: Store) -> None:
            """What `lstui rm` would refuse, said before the question, not after its yes
            (a job another job reads, one whose files the daemon is writing)."""
            from lstui.scheduler.prune import unremovable

            why = unremovable(store, [job_id], self.home, keep_files=False, daemon_running=running)
            if why:
                raise LstuiError(next(iter(why.values())))
            self.call_from_thread(ask)

        self.in_thread("remove", check, database=database)

    def action_pause_job(self) -> None:
        job = self._need_job()
        if job is not None:
            verb = "resume" if job.state is JobState.PAUSED else "pause"
            job_id = job.id
            self.in_thread(verb, lambda s: _lifecycle(s, verb, job_id), database=self.shown_database())

    def action_retry_job(self) -> None:
        job = self._need_job()
        if job is not None:
            job_id = job.id

            def retry(store: Store) -> str:
                from lstui.scheduler.submit import retry_jobs

                retry_jobs(store, [job_id])  # reads its files first, as at submit
                return f"job {job_id}: {store.get_job(job_id).state.value}"

            self.in_thread("retry", retry, slow="reading the job's files (or waiting for the database)…",
                           database=self.shown_database())

    def action_priority(self, delta: int) -> None:
        job = self._need_job()
        if job is None:
            return
        job_id = job.id

        def change(store: Store) -> str:
            value = store.get_job(job_id).priority + delta
            store.set_priority(job_id, value)
            return f"job {job_id}: priority {value}"

        self.in_thread("priority", change, database=self.shown_database())

    def action_export_job(self) -> None:
        job = self._need_job()
        if job is None:
            return
        job_id = job.id

        def export(store: Store) -> str:
            from lstui.scheduler.exporting import check_exportable, export_job

            fresh = store.get_job(job_id)
            check_exportable(fresh)
            notes: list[str] = []  # (a trajectory's path not drawn, its plane skewed: in its log too)
            paths = export_job(store, fresh, formats=EXPORT_FORMATS, on_note=notes.append)
            return f"job {job_id}: {len(paths)} figures in {short_path(fresh.results_dir)}" + _names(
                p.name for p in paths
            ) + "".join(f"\nnote: {n}" for n in notes)

        self.say(f"exporting the figures of job {job_id}…")
        self.in_thread("export", export, slow=None, database=self.shown_database())

    def action_logs(self) -> None:
        job = self._need_job()
        if job is not None:
            self.open_job(job.id, log=True)

    def action_filter(self) -> None:
        if self.screen is not self.main:
            self.pop_screen()
        self.main.action_filter()

    def previews(self) -> list[Preview]:
        """The main screen's preview, then those of the job screens open: the ones
        ``g`` and ``t`` change together. The main one holds the choices; a job screen's
        starts with them."""
        out = [self.main.preview]
        for screen in self.screen_stack:
            if isinstance(screen, JobScreen):
                out += screen.query(Preview)
        return out

    def action_toggle_log_scale(self) -> None:
        log = self.main.preview.toggle_log()
        for preview in self.previews()[1:]:
            if preview.log_scale != log:
                preview.toggle_log()
        if log and self.shown_preview().drawn in ACC_KEYS:
            self.say("log scale on for the losses; an accuracy stays linear")

    def shown_preview(self) -> Preview:
        """The preview on screen: the job screen's, else the main screen's."""
        screen = self.screen
        return screen.preview if isinstance(screen, JobScreen) else self.main.preview

    def action_cycle_quantity(self) -> None:
        """``t``: every 2D preview draws the quantity after the one drawn (train loss,
        test loss, train acc %, test acc %, those the job has), until ``t`` again; a
        job without it draws its first. 1D previews draw them all already."""
        preview = self.shown_preview()
        data = preview.shown_data
        if data is None or data.note:
            self.say("t picks what a 2D preview draws: no surface is shown")
            return
        if data.ndim != 2:
            self.say("a 1D preview draws every quantity already")
            return
        quantity = preview.next_quantity()
        if quantity is None:
            only = drawn_quantity(data, preview.quantity)
            self.say(f"this job has {LABELS.get(only, only)} only")
            return
        for each in self.previews():
            each.set_quantity(quantity)
        if preview.drawn is None:  # no point yet: the note stays
            self.say(f"the preview will draw {LABELS.get(quantity, quantity)}")

    def action_start_daemon(self) -> None:
        refused = start_refused(self.snapshot.daemon if self.snapshot else None)
        if refused:
            self.say(refused)
            return
        devices = self.daemon_devices

        def start(_: Store) -> str:
            from collections import Counter

            from lstui.scheduler.daemon import start_daemon

            pid = start_daemon(self.home, devices)
            # which workers, as the daemon wrote them (`d` starts the default: every GPU,
            # else one CPU worker); asking here would import torch into the TUI
            started = daemon_status(self.home).devices
            workers = ", ".join(name if n == 1 else f"{n} × {name}" for name, n in Counter(started).items())
            return (f"daemon started (pid {pid}){': ' + workers if workers else ''}; others with "
                    "lstui daemon start --devices 0,2 / cpu:4")

        self.say("starting the daemon…")
        self.in_thread("daemon", start, slow=None)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # -- command palette ---------------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        # not Textual's "Keys" panel: `?` is the help, and the panel squeezed the key bar's
        # labels ("c Canc") and closed neither with esc nor with `?`; nor its "Maximize",
        # which showed the job table at its height in a screen of hatching
        yield from (c for c in super().get_system_commands(screen) if c.title not in ("Keys", "Maximize"))
        for action, title, help_text in COMMANDS:
            yield SystemCommand(title, help_text, _runner(self, action))


def _daemon_or_none(home: Path) -> DaemonStatus:
    """The home's daemon, or none running when that cannot be told (a home it cannot read)."""
    try:
        return daemon_status(home)
    except OSError:
        return DaemonStatus(False)


def _knows_internals(app: App[None], widget: Widget) -> bool:
    """Whether this Textual has the internals :meth:`LstuiApp.on_event` reads (those of
    Textual 8; a later one without them gets Textual's own key order, not an error)."""
    return (callable(getattr(app, "_check_bindings", None)) and hasattr(app, "_screen_stack")
            and hasattr(widget, "_message_queue") and hasattr(widget, "_pending_message"))


async def _handled_so_far(widget: Widget, limit_s: float = 1.0) -> None:
    """Wait (at most ``limit_s``) until ``widget`` and the widgets above it, up to its
    screen, have taken the messages sent to them off their queues: the keys handed to
    the field and what they made it say (``Input.Changed``), which a key bubbling up
    from the field found handled before it. (Taken is as good as handled here: an
    ``Input`` inserts a key's text before its handler first awaits.)"""
    chain = [node for node in widget.ancestors_with_self if isinstance(node, Widget)]
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and any(
            not node._message_queue.empty() or node._pending_message is not None for node in chain):
        await asyncio.sleep(0.002)


def _runner(app: LstuiApp, action: str) -> Callable[[], object]:
    async def run() -> None:
        await app.run_action(action)

    return run


def _lifecycle(store: Store, verb: str, job_id: int) -> str:
    getattr(store, verb)(job_id)
    return f"job {job_id}: {store.get_job(job_id).state.value}"


def _names(names: Iterable[str], limit: int = 3) -> str:
    items = list(names)
    if not items:
        return ""
    shown = ", ".join(items[:limit])
    more = len(items) - limit
    return ": " + shown + (f" and {more} more" if more > 0 else "")


LEAVE_GRACE_S = 10.0
"""How long the app may take to leave after SIGTERM or SIGHUP before the process ends
without it (a normal leave took up to 7 s on a loaded 2-core machine)."""


def run_app(home: Path | None = None) -> int:
    """Open the TUI on ``home`` (default ``$LSTUI_HOME`` or ``~/.local/share/lstui``).

    Returns:
        The app's exit status: 0, or 1 when it ended on an error (Textual has printed
        its traceback): the shell saw 0 after a crash.

    Raises:
        KeyboardInterrupt: it was ended by SIGTERM or SIGHUP (once the terminal is back).
    """
    if sys.stdout is not None and sys.stdout.isatty():
        # Textual sizes the screen with shutil.get_terminal_size, which takes $COLUMNS and
        # $LINES first: exported by a shell (for wide `ps`), they held the app at their
        # size in a corner of the window, and it never followed a resize
        for name in ("COLUMNS", "LINES"):
            os.environ.pop(name, None)
    app = LstuiApp(home)
    app.watch_leave = True
    app.run()
    app.left.set()
    app.put_back_signal_handlers()
    if app.terminated:
        raise KeyboardInterrupt
    return app.return_code or 0
