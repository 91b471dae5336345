"""What the TUI shows, read from the store away from the event loop.

:class:`StorePoller` owns its own :class:`~lstui.store.Store` connection and is meant
to be called from one worker thread, about once a second. Each :meth:`StorePoller.poll`
returns a frozen :class:`Snapshot`: the jobs, the workers, the daemon, the devices and,
for the job being looked at, its preview data and its log. The preview arrays are
filled incrementally (:meth:`~lstui.store.Store.points_since`) and only when the job's
``done_points`` changed, so a 101×101 surface is not re-read every second. The jobs
are read again only when they changed (:meth:`~lstui.store.Store.jobs_version`; a
worker's heartbeat changes nothing): reading 9,500 jobs took 0.27 s, every second, with
nothing changing.

Nothing here imports Textual, torch or matplotlib.
"""

from __future__ import annotations

import math
import os
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from lstui.errors import LstuiError
from lstui.landscape.grid import parse_axis
from lstui.scheduler.daemon import (
    DaemonStatus,
    daemon_status,
    file_identity,
    listed_workers,
    refuse_upgrade_under_older_daemon,
)
from lstui.scheduler.devices import DeviceFacts, cpu_facts, gpu_facts
from lstui.spec import split_keys
from lstui.store import DB_NAME, FINISHED, Event, JobRow, JobState, PointRow, Store, WorkerRow

PROJECTION_FILE = "projection.h5"
MAX_EVENTS = 500
MAX_FILES = 200
WORKER_ALIVE_S = 60.0
"""A worker that beat this recently is listed."""
DEVICES_EVERY_S = 2.0
PREVIEW_CACHE = 6
ALL_JOBS_EVERY_S = 30.0
"""While the jobs change, every job is read again at least this often; in between, only
the unfinished ones and those finished lately (with 15,000 jobs the TUI read every one at
each second a job ran: 12 % of a core). A finished job's priority changed by another
process shows within this time."""
LATE_FINISH_S = 600.0
"""Jobs finished this long before the last read of every job are read again each time:
a cancelled job's last points come after its finish."""


def wal_index_identity(path: Path) -> tuple[int, int] | None:
    """The identity (see :func:`~lstui.scheduler.daemon.file_identity`) of the database's WAL index, the
    ``-shm`` file beside it, which SQLite keeps while a connection is open."""
    return file_identity(path.with_name(path.name + "-shm"))


def changed_in_place(path: Path, wal_index: tuple[int, int] | None) -> bool:
    """Whether the database file at ``path``, still the same file, no longer holds what
    a connection opened on it reads: the WAL index the connection opened (``wal_index``;
    None: none was) was deleted or replaced, as when the ``-wal``/``-shm`` files are
    removed and the file overwritten. Such a connection goes on reading the pages it
    cached and the deleted WAL, old jobs as if live, with no error.

    Only ``stat`` is used: opening and closing the database file in this process would
    drop the POSIX locks its SQLite connections hold on it (SQLite's "How To Corrupt",
    2.2), and another process would then delete the WAL files under them.
    """
    return wal_index is not None and wal_index_identity(path) != wal_index


def read_device_facts() -> list[DeviceFacts]:
    """Every visible GPU (NVML) and the CPU."""
    return [*gpu_facts(), cpu_facts()]


@dataclass(frozen=True)
class PreviewData:
    """The computed part of one job's surface, for the preview.

    ``arrays`` maps ``train_loss`` … to arrays of the grid's shape (``(ny, nx)`` or
    ``(nx,)``) with NaN where no point is stored yet; ``computed`` is True where a point
    is stored, so that NaN there is a value (the store keeps NaN as NULL: a diverged
    point, BatchNorm variances gone negative) and not a gap. They are never written to
    after the snapshot is made. ``version`` changes whenever the numbers do.
    """

    job_id: int
    kind: str
    name: str
    done_points: int
    total_points: int
    x: np.ndarray
    y: np.ndarray | None
    arrays: dict[str, np.ndarray]
    version: int
    path: tuple[np.ndarray, np.ndarray] | None = None
    note: str | None = None
    computed: np.ndarray | None = None
    loss_label: str = "loss"
    """What its loss is called: "MSE loss" for a job of ``--loss mse``, as its figures say."""

    @property
    def ndim(self) -> int:
        return 1 if self.y is None else 2

    def not_finite(self, key: str) -> np.ndarray:
        """Where a point of ``arrays[key]`` is stored but is NaN or ±inf."""
        values = self.arrays[key]
        if self.computed is None:
            return np.isinf(values)
        return self.computed & ~np.isfinite(values)

    def not_finite_count(self) -> int:
        """How many stored points have a NaN or infinite value in any array."""
        if not self.arrays:
            return 0
        bad = np.zeros(next(iter(self.arrays.values())).shape, dtype=bool)
        for key in self.arrays:
            bad |= self.not_finite(key)
        return int(bad.sum())

    @property
    def loss_key(self) -> str | None:
        """The array a 2D preview draws: the train loss, else the test loss."""
        for key in ("train_loss", "test_loss"):
            if key in self.arrays:
                return key
        return None


@dataclass(frozen=True)
class JobDetail:
    """What the job screen shows beyond the job row: its log and its files."""

    job_id: int
    events: tuple[Event, ...]
    files: tuple[tuple[str, int], ...]  # (path relative to the results folder, bytes)


@dataclass(frozen=True)
class Snapshot:
    """One consistent look at the store and the machine."""

    taken: float
    jobs: tuple[JobRow, ...]
    workers: tuple[WorkerRow, ...] = ()
    daemon: DaemonStatus = field(default_factory=lambda: DaemonStatus(False))
    devices: tuple[DeviceFacts, ...] = ()
    preview: PreviewData | None = None
    detail: JobDetail | None = None
    error: str | None = None
    database: tuple[int, int] | None = None
    """``(st_dev, st_ino)`` of the database file the jobs were read from (None: none
    was read). Actions check it, so that a key never acts on a job of another file."""
    notice: str | None = None
    """Said once: the database file was deleted or replaced since the last poll."""

    def job(self, job_id: int | None) -> JobRow | None:
        if job_id is None:
            return None
        for job in self.jobs:
            if job.id == job_id:
                return job
        return None

    def blockers(self, job: JobRow) -> tuple[int, ...]:
        """The jobs ``job`` waits on that are not done yet (it starts only after them)."""
        waits = []
        for dep_id in job.depends_on:
            dep = self.job(dep_id)
            if dep is not None and dep.state is not JobState.DONE:
                waits.append(dep_id)
        return tuple(waits)


@dataclass
class _PreviewState:
    data: PreviewData
    cursor: int = 0
    loaded: bool = False
    projection_mtime: float | None = None


@dataclass
class _DetailState:
    job_id: int
    events: deque[Event] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    cursor: int = 0


class StorePoller:
    """Reads snapshots from the store in the home folder ``home``.

    Args:
        home: the lstui home (``lstui.db`` and ``results/``).
        clock: unix time; the snapshot's ``taken`` and the store's notion of "alive".
        device_facts: returns the devices to show (default: NVML GPUs and the CPU).
        devices_every_s: how often device facts are read again.
    """

    def __init__(
        self,
        home: Path,
        *,
        clock: Callable[[], float] = time.time,
        device_facts: Callable[[], Sequence[DeviceFacts]] = read_device_facts,
        devices_every_s: float = DEVICES_EVERY_S,
    ) -> None:
        self.home = Path(home)
        self.clock = clock
        self.store: Store | None = Store.open_home(self.home, clock=clock,
                                                   before_upgrade=refuse_upgrade_under_older_daemon(self.home))
        self.identity = file_identity(self.store.path)
        """The identity of the database file :attr:`store` reads (see :func:`~lstui.scheduler.daemon.file_identity`)."""
        self._wal_index = wal_index_identity(self.store.path)
        self._gone: Store | None = None
        """The connection to a database file since deleted, kept open to keep its inode."""
        self._unreadable = False
        """The last poll could not open the database file (damaged, not a database)."""
        self._device_facts = device_facts
        self._devices_every_s = devices_every_s
        self._devices: tuple[DeviceFacts, ...] = ()
        self._devices_read = -math.inf
        self._previews: OrderedDict[int, _PreviewState] = OrderedDict()
        self._detail: _DetailState | None = None
        self.points_reads = 0
        """How many times point rows were read (tests check that idle polls read none)."""
        self.jobs_reads = 0
        """How many times the jobs were read (tests check that idle polls read none)."""
        self._jobs_read: tuple[Store, object, tuple[JobRow, ...]] | None = None
        """The store the jobs were last read from, its marker just before, and the jobs."""
        self._partial = False
        """The jobs last handed out were read in part (:meth:`_jobs_since`)."""
        self._all_read: tuple[Store, float, float, dict[int, JobRow]] | None = None
        """The last read of every job: its store, when (monotonic, and the store's clock),
        and the jobs then finished (those read again only at the next such read)."""

    def close(self) -> None:
        for store in (self.store, self._gone):
            if store is not None:
                store.close()
        self.store = self._gone = None

    def _check_database(self) -> str | None:
        """Stop reading through :attr:`store` when the database file at the home's path
        is no longer the one it reads, or no longer holds what it reads, and open the
        file there now (none while there is no file). Returns what happened, in one
        line, or None when nothing did.

        Raises:
            LstuiError: the file there cannot be read (damaged, not a database); the
                next poll tries again.
        """
        path = self.home / DB_NAME
        now = file_identity(path)
        in_place = False
        if self.store is not None and now == self.identity:
            if not changed_in_place(path, self._wal_index):
                return None
            in_place = True
        replaced = self.store is not None
        if self.store is not None:
            if in_place:
                # Closed at once, before anyone restores a copy over the file: closing
                # it (as the last connection of the machine) writes the pages of the
                # deleted WAL back into the file, and an open one would lend its stale
                # WAL index to the next connection this process opens on the file.
                self.store.close()
                self.store = None
            else:
                # Kept open, never read, until another file is opened: while it is open its
                # inode cannot be given to the new file, whose identity would then be the
                # old one's and an action meant for the old file would pass the check.
                if self._gone is not None:
                    self._gone.close()
                self._gone, self.store = self.store, None
            self._previews.clear()  # job ids start again at 1 in another file
            self._detail = None
        if now is None:  # not created again here: lstui submit or the form will
            return None  # the snapshot's error says it, as long as it lasts
        unreadable, self._unreadable = self._unreadable, True
        self.store = Store.open_home(self.home, clock=self.clock,
                                      before_upgrade=refuse_upgrade_under_older_daemon(self.home))
        self._unreadable = False
        self.identity = file_identity(self.store.path)
        self._wal_index = wal_index_identity(self.store.path)
        if self._gone is not None:
            self._gone.close()
            self._gone = None
        if in_place:
            return f"the database {path} was changed under the app: showing what it holds now"
        if replaced:
            return f"the database {path} was replaced by another file: showing its jobs"
        if unreadable:
            return f"the database {path} can be read again: showing its jobs"
        return f"a new database {path}: showing its jobs"

    def poll(self, preview_job: int | None = None, detail_job: int | None = None) -> Snapshot:
        """Read everything the TUI shows now.

        Args:
            preview_job: the job whose surface the preview draws.
            detail_job: the job whose log and files the job screen lists.
        """
        now = self.clock()
        try:
            notice = self._check_database()
        except LstuiError as exc:  # damaged, not a database: as when the app starts on it
            return Snapshot(now, (), daemon=daemon_status(self.home), devices=self._devices, error=str(exc))
        store = self.store
        if store is None:
            # one line, in the status bar: the error says it all
            return Snapshot(now, (), daemon=daemon_status(self.home), devices=self._devices,
                            error=f"the database {self.home / DB_NAME} was deleted; waiting for a new one")
        try:
            jobs = self._jobs(store)
            workers = tuple(listed_workers(store, now, recent_s=WORKER_ALIVE_S))
        except LstuiError as exc:
            return Snapshot(now, (), error=str(exc), database=self.identity, notice=notice)
        daemon = daemon_status(self.home)
        if time.monotonic() - self._devices_read >= self._devices_every_s:
            self._devices = tuple(self._device_facts())
            self._devices_read = time.monotonic()
        by_id = {job.id: job for job in jobs}
        preview = self._preview(by_id.get(preview_job)) if preview_job is not None else None
        detail = self._job_detail(by_id.get(detail_job)) if detail_job is not None else None
        return Snapshot(now, jobs, workers, daemon, self._devices, preview, detail,
                        database=self.identity, notice=notice)

    def _jobs(self, store: Store) -> tuple[JobRow, ...]:
        """Every job, in id order: the tuple read last time when nothing was written to
        the database since (the same object, so the screens can tell at once).

        Only the jobs are kept: what depends on the time (elapsed, ETA, stalled, the
        workers alive) is worked out at each poll from the snapshot's time, the
        workers and the daemon, all read every time.

        The jobs' version is read before the jobs, so a write between the two is read
        again at the next poll; another database file is another :class:`Store` (see
        :meth:`_check_database`).
        """
        marker = store.jobs_version()
        last = self._jobs_read
        full = self._all_read
        # read since only in part: every job once more when that is due, though nothing moved
        # since (a finished job's priority changed elsewhere was among what was not read)
        due = self._partial and (full is None or time.monotonic() - full[1] >= ALL_JOBS_EVERY_S)
        if last is not None and last[0] is store and last[1] == marker and not due:
            return last[2]
        jobs = self._jobs_since(store)
        self.jobs_reads += 1
        self._jobs_read = (store, marker, jobs)
        return jobs

    def read_all_next(self) -> None:
        """Read every job at the next poll (after an action of the app's own: a failed
        job's priority is not among the jobs read in between). An action that changes no
        job (an export) reads them whole too: one changed elsewhere, read in part before
        it, stayed stale for good, as nothing else made a read of every job due."""
        self._all_read = None

    def _jobs_since(self, store: Store) -> tuple[JobRow, ...]:
        """Every job: between reads of all of them (:data:`ALL_JOBS_EVERY_S`), the
        unfinished ones and those finished since shortly before the last such read, with
        the rest as that read found them. A job retried since is among the unfinished; one
        removed or added since changes the store's ids, and every job is read again."""
        now = time.monotonic()
        full = self._all_read
        if full is not None and full[0] is store and now - full[1] < ALL_JOBS_EVERY_S:
            recent = store.list_jobs(finished_after=full[2] - LATE_FINISH_S)
            merged = {**full[3], **{job.id: job for job in recent}}
            if merged.keys() == store.job_ids():
                self._partial = True
                return tuple(merged[job_id] for job_id in sorted(merged))
        jobs = tuple(store.list_jobs())
        self._partial = False
        self._all_read = (store, now, self.clock(), {job.id: job for job in jobs if job.state in FINISHED})
        return jobs

    # -- preview ---------------------------------------------------------------------

    def _preview(self, job: JobRow | None) -> PreviewData | None:
        if job is None or self.store is None:
            return None
        state = self._previews.get(job.id)
        if state is None:
            state = _PreviewState(_empty_preview(job))
            self._previews[job.id] = state
            while len(self._previews) > PREVIEW_CACHE:
                self._previews.popitem(last=False)
        self._previews.move_to_end(job.id)
        data = state.data
        if data.note is None and (not state.loaded or data.done_points != job.done_points):
            rows, state.cursor = self.store.points_since(job.id, state.cursor)
            state.loaded = True
            self.points_reads += 1
            arrays, computed = data.arrays, data.computed
            if rows:
                arrays, computed = _with_points(arrays, computed, rows)
            state.data = _replace(data, arrays=arrays, computed=computed, done_points=job.done_points,
                                  version=data.version + (1 if rows else 0))
        if job.kind == "trajectory" and data.note is None:
            # the PCA plane (directions and projection) lives beside the job's direction file
            dir_file = job.spec.get("dir_file")
            plane_dir = Path(dir_file).parent if dir_file else Path(job.results_dir)
            path = _projection(plane_dir, state)
            if path is not state.data.path:
                state.data = _replace(state.data, path=path, version=state.data.version + 1)
        if state.data.name != job.name:
            state.data = _replace(state.data, name=job.name)
        return state.data

    # -- job screen -----------------------------------------------------------------

    def _job_detail(self, job: JobRow | None) -> JobDetail | None:
        if job is None or self.store is None:
            return None
        if self._detail is None or self._detail.job_id != job.id:
            self._detail = _DetailState(job.id)
        detail = self._detail
        new = self.store.events(job.id, after_id=detail.cursor)
        if new:
            detail.events.extend(new)
            detail.cursor = new[-1].id
        return JobDetail(job.id, tuple(detail.events), _list_files(Path(job.results_dir)))


def _replace(data: PreviewData, **changes: object) -> PreviewData:
    return replace(data, **changes)  # type: ignore[arg-type]


def _empty_preview(job: JobRow) -> PreviewData:
    spec = job.spec
    if job.kind == "figure":
        return PreviewData(job.id, job.kind, job.name, 0, job.total_points, np.zeros(0), None, {},
                           0, note="a figure job draws files, not a surface")
    try:
        x = parse_axis(str(spec["x"]), "--x").coordinates
        y = parse_axis(str(spec["y"]), "--y").coordinates if spec.get("y") else None
    except (KeyError, LstuiError) as exc:
        return PreviewData(job.id, job.kind, job.name, 0, job.total_points, np.zeros(0), None, {},
                           0, note=f"no grid to draw: {exc}")
    shape = (len(x),) if y is None else (len(y), len(x))
    keys = split_keys(spec.get("split"))
    arrays = {key: np.full(shape, np.nan) for key in keys}
    return PreviewData(job.id, job.kind, job.name, 0, job.total_points, x, y, arrays, 0,
                       computed=np.zeros(shape, dtype=bool),
                       loss_label="MSE loss" if spec.get("loss") == "mse" else "loss")


_COLUMNS = ("train_loss", "train_acc", "test_loss", "test_acc")


def _with_points(arrays: dict[str, np.ndarray], computed: np.ndarray | None,
                 rows: Sequence[PointRow]) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """New arrays and mask of stored points holding ``rows`` too (the old ones may be
    in a snapshot being drawn)."""
    # One float array of (idx, train_loss, …); numpy turns None into NaN.
    table = np.array([(r.idx, r.train_loss, r.train_acc, r.test_loss, r.test_acc) for r in rows],
                     dtype=np.float64)
    idx = table[:, 0].astype(np.int64)
    out = {}
    for key, old in arrays.items():
        new = old.copy()
        inside = (idx >= 0) & (idx < new.size)
        new.flat[idx[inside]] = table[inside, 1 + _COLUMNS.index(key)]
        out[key] = new
    if computed is not None:
        computed = computed.copy()
        computed.flat[idx[(idx >= 0) & (idx < computed.size)]] = True
    return out, computed


def _projection(plane_dir: Path, state: _PreviewState) -> tuple[np.ndarray, np.ndarray] | None:
    """The trajectory's path on the surface's plane, if its projection file exists."""
    path = plane_dir / PROJECTION_FILE
    try:
        mtime = path.stat().st_mtime
    except OSError:
        state.projection_mtime = None
        return None
    if mtime == state.projection_mtime:
        return state.data.path
    state.projection_mtime = mtime
    try:
        from lstui.results import read_projection

        xs, ys = read_projection(path)
        return np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    except Exception:  # a half-written or foreign file: draw no path, try again later
        state.projection_mtime = None
        return None


def _list_files(results_dir: Path) -> tuple[tuple[str, int], ...]:
    out: list[tuple[str, int]] = []
    try:
        for root, dirs, files in os.walk(results_dir):
            # hidden ones are temporary (".surface….png.tmp" while a figure is written)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(f for f in files if not f.startswith(".")):
                full = Path(root) / name
                try:
                    size = full.stat().st_size
                except OSError:
                    continue
                out.append((str(full.relative_to(results_dir)), size))
                if len(out) >= MAX_FILES:
                    return tuple(out)
    except OSError:
        pass
    return tuple(out)
