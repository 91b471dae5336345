"""Following jobs in the store with rich progress bars (``submit --wait``, ``demo``)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.cells import cell_len
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lstui.errors import DaemonError
from lstui.store import FINISHED, JobRow, JobState, Store
from lstui.views import cut_cells

FOLLOW_FILES_S = 60.0
"""How long ``--wait`` and ``lstui logs -f`` wait, once their jobs finished, for the
daemon to write the jobs' files (a 51×51 surface's figures take a few seconds):
``submit --wait && cp results/*.pdf …`` found some of the figures."""
DAEMON_GONE_S = 9.0
"""How long after the last look that found it running a daemon seen while following may
be gone before the following stops: within 10 s of its end."""
DAEMON_LOOK_S = 2.0
"""How often the following looks whether a daemon runs (its pid file and lock)."""


class DaemonWatch:
    """Whether the daemon of ``home`` runs, looked at every :data:`DAEMON_LOOK_S` (its pid
    file and lock); :meth:`gone` once a daemon seen while following has been gone for
    :data:`DAEMON_GONE_S` since the last look that found it running (killed, stopped)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.running = True
        self.seen = False  # a daemon ran while following
        self._looked = -math.inf
        self._alive_at = 0.0
        self._gone_since: float | None = None

    def look(self, now: float) -> bool:
        """Whether it runs, looked at again when :data:`DAEMON_LOOK_S` has gone by."""
        from lstui.scheduler.daemon import daemon_status

        if now - self._looked >= DAEMON_LOOK_S:
            self._looked, self.running = now, daemon_status(self.home).running
            if self.running:
                self.seen, self._alive_at, self._gone_since = True, now, None
            elif self._gone_since is None:  # counted from when it was last seen: "within 10 s" of its end
                self._gone_since = self._alive_at if self.seen else now
        return self.running

    def gone(self, now: float) -> bool:
        return self.seen and self._gone_since is not None and now - self._gone_since >= DAEMON_GONE_S


def follow_jobs(
    store: Store, ids: Sequence[int], *, console: Console | None = None, poll_s: float = 0.5,
    timeout_s: float | None = None, home: Path | None = None, interrupted: Callable[[], bool] | None = None,
) -> list[JobRow]:
    """Show one bar per job until every job is finished (or ``timeout_s`` passes).

    With ``home``, whether its daemon runs is looked at as well: with none, a running job
    reads "stalled (no daemon)" and a queued one "queued (no daemon)"; and once a daemon
    seen while following has been gone for :data:`DAEMON_GONE_S` (killed, stopped), the
    following ends with a :class:`DaemonError` naming the jobs left, not a bar that waits
    for ever. With no daemon from the start it waits: one may be started. Once every job
    finished, it waits up to :data:`FOLLOW_FILES_S` for the daemon running to write their
    files (surface file, figures), as ``lstui logs -f`` does.

    ``interrupted``: polled at each round; True ends the following with a
    KeyboardInterrupt raised here, between rounds (a Ctrl-C caught by a handler that
    sets a flag, not raised wherever the main thread happens to be: inside the progress
    display's lock it hung the process).
    """
    from lstui.scheduler.daemon import daemon_status

    console = console or Console(stderr=True)
    start = time.monotonic()
    watch = DaemonWatch(home) if home is not None else None
    running = True
    files_by = 0.0  # once every job finished: how long their files may still take
    # below 100 columns a shorter name and bar: at 80 the counts and the state were cut
    # ("121/1… writing files", "4… stalled (no daemon)")
    width, bar = (44, 40) if console.width >= 100 else (28, 10)
    with Progress(
        TextColumn("{task.description}"), BarColumn(bar_width=bar), MofNCompleteColumn(),
        TextColumn("{task.fields[state]}"), TimeElapsedColumn(), console=console,
    ) as progress:
        tasks = {}
        for job_id in ids:
            job = store.get_job(job_id)
            label = cut_cells(f"{job.id:>4} {job.name}", width)
            tasks[job_id] = progress.add_task(label + " " * (width - cell_len(label)), total=job.total_points,
                                              state=job.state.value)
        while True:
            now = time.monotonic()
            if watch is not None:
                running = watch.look(now)
            jobs = [store.get_job(j) for j in ids]
            # a daemon stopped with SIGSTOP writes none: "writing files" sat there for good
            waiting = ("files wait: daemon suspended" if home is not None and any(map(files_to_come, jobs))
                       and daemon_status(home).suspended else "writing files")
            for job in jobs:
                shown = waiting if files_to_come(job) else _state_shown(job, running)
                progress.update(tasks[job.id], completed=job.done_points, state=shown)
            if all(job.state in FINISHED for job in jobs):
                files_by = files_by or now + FOLLOW_FILES_S
                if (not any(map(files_to_come, jobs)) or now > files_by
                        or (home is not None and not daemon_status(home).running)):
                    return jobs
            if watch is not None and watch.gone(now):
                left = [job for job in jobs if job.state not in FINISHED]
                raise DaemonError(
                    "the daemon stopped while --wait followed "
                    + ", ".join(f"job {job.id} ({job.done_points}/{job.total_points} points)" for job in left)
                    + ": lstui daemon start goes on with "
                    + ("it" if len(left) == 1 else "them")
                )
            if timeout_s is not None and now - start > timeout_s:
                return jobs
            time.sleep(poll_s)
            if interrupted is not None and interrupted():
                raise KeyboardInterrupt


def files_to_come(job: JobRow) -> bool:
    """Whether a finished job's surface file and figures are still to be written by a
    daemon (False while it has not finished). A job finished with no point (cancelled
    while queued, failed before its first point) and a comparison's figure job (it draws
    its figures as it runs) have none to wait for."""
    from lstui.scheduler.daemon import finish_marked

    if job.state not in FINISHED or job.kind == "figure" or not job.done_points:
        return False
    return not finish_marked(job)


def _state_shown(job: JobRow, daemon_running: bool) -> str:
    if daemon_running or job.state not in (JobState.RUNNING, JobState.QUEUED):
        return job.state.value
    return "stalled (no daemon)" if job.state is JobState.RUNNING else "queued (no daemon)"


EXIT_DIVERGED = 3
"""Every job done, some of their points diverged (NaN or infinite loss): as `lstui run`."""


def diverged_points(store: Store, job: JobRow) -> int:
    """How many of the job's stored points have a NaN or infinite loss on a split it
    evaluates (a figure job has none)."""
    if job.kind == "figure":
        return 0
    splits = ("train", "test") if job.spec.get("split") == "both" else (str(job.spec.get("split", "train")),)
    return store.diverged_count(job.id, splits)


def diverged_text(count: int, total: int) -> str:
    """"3 of 9 points have …" (one "has"), as every command that finds diverged points says it."""
    return f"{count} of {total} points {'has' if count == 1 else 'have'} NaN or infinite loss (diverged)"


def diverged_note(job: JobRow, count: int) -> str:
    note = f"{diverged_text(count, job.total_points)}; they are saved as they are and drawn as gaps"
    spec = job.spec
    # does the direction move BatchNorm's statistics? --ignore biasbn zeroes them (1-dim) in
    # random and PCA directions; B − A, a target's and another file's directions move them
    moved = (job.kind == "interp" or spec.get("ignore") != "biasbn" or bool(spec.get("target"))
             or bool(spec.get("target_y")) or (job.kind != "trajectory" and bool(spec.get("dir_file"))))
    if spec.get("dir_type") == "states" and moved:  # an interpolation's default: "diverged" misled there
        where = ("past an interpolation's ends" if job.kind == "interp"
                 else "far along a direction that moves the statistics")
        note += (f"; with --dir-type states a BatchNorm running variance may have turned negative there "
                 f"({where}), which makes a point NaN too")
    return note


def report_failures(jobs: Sequence[JobRow], console: Console, store: Store | None = None) -> int:
    """Print one line per job that did not finish as done; 1 if any. With ``store``, one
    warning per done job some of whose points diverged, and :data:`EXIT_DIVERGED` (3)
    when that is all (as ``lstui run`` says it); else 0."""
    bad = [job for job in jobs if job.state is not JobState.DONE]
    for job in bad:
        reason = f": {job.error}" if job.error else ""
        # one line however narrow the terminal (a log reader greps for it)
        console.print(
            f"lstui: error: job {job.id} ({job.name}) {job.state.value}{reason}",
            markup=False, soft_wrap=True,
        )
    diverged = 0
    for job in jobs:
        count = diverged_points(store, job) if store is not None and job.state is JobState.DONE else 0
        if count:
            diverged += 1
            console.print(f"lstui: warning: job {job.id} ({job.name}): {diverged_note(job, count)}",
                          markup=False, soft_wrap=True)
    return 1 if bad else EXIT_DIVERGED if diverged else 0
