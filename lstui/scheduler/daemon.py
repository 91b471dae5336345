"""The scheduler daemon: one worker process per device, recovery, surface files, exports.

``lstui daemon start`` detaches a daemon (pid file and log under ``$LSTUI_HOME``). The
daemon holds an exclusive lock on ``daemon.lock`` for its whole life, which is what
"a daemon runs on this home" means; the pid file only says which process it is. Status
checks take a shared lock for an instant, so any number of them can run at once.

Each round (``poll_s``) the daemon restarts workers that exited, gives the units of dead
workers back to the queue, and hands file work to a writer thread: the surface file of
every job whose points changed (at most every ``write_every_s``), and, once a job
finishes, its final surface file and figures. A mark file in the job's results folder
records which finish was handled, so a daemon restarted after a crash exports what its
predecessor did not, and nothing twice.

A daemon that starts while another process holds the database's write lock waits it out,
retrying with a growing pause and a warning in its log each time, as a running daemon does
when a round fails; SIGTERM stops it while it waits.

A daemon whose database is deleted or replaced under it (its home removed, say) stops its
workers and exits at the next round: it would otherwise run on with an unlinked file that
no command can reach, and ``lstui daemon stop`` could no longer find it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import fcntl
import heapq
import json
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from lstui.errors import (
    DaemonError,
    DatabaseDamaged,
    DatabaseLocked,
    JobNotFound,
    LstuiError,
    StoreError,
    first_line,
)
from lstui.results.h5files import (
    may_pass_later,
    no_space,
    remove_stale_temporaries,
    write_private_bytes,
)
from lstui.scheduler.devices import RAY_DEVICES
from lstui.store import (
    DB_NAME,
    DEFAULT_TIMEOUT_S,
    FINISHED,
    FULL_BELOW,
    SCHEMA_VERSION,
    WORKER_DIED,
    JobRow,
    JobState,
    Store,
    WorkerRow,
    default_home,
    free_bytes,
)

log = logging.getLogger("lstui.daemon")

PID_FILE = "daemon.pid"
LOCK_FILE = "daemon.lock"
LOG_FILE = "daemon.log"
FINISH_MARK = ".lstui-finished"
"""In a job's results folder: the ``finished`` time of the finish whose files were written."""


def write_finish_mark(job: JobRow) -> None:
    """Mark ``job``'s results folder as holding every file of this finished run (see
    :func:`finish_marked`): the daemon's when it wrote them, ``lstui export``'s when it
    wrote them again into a folder deleted since (``show`` said "being written" of it
    for ever: the daemon had handled the job)."""
    results = Path(job.results_dir)
    if job.state in FINISHED and results.is_dir():
        with contextlib.suppress(OSError):
            write_private_bytes(results / FINISH_MARK, f"{job.finished!r}\n".encode())


def finish_marked(job: JobRow) -> bool:
    """Whether a daemon has written everything of this finished run of ``job`` (its
    surface file, its figures): its results folder holds the mark of this finish."""
    if job.state not in FINISHED:
        return False
    try:
        mark = (Path(job.results_dir) / FINISH_MARK).read_text().strip()
    except OSError:
        return False
    return mark == repr(job.finished)


RESTART_BACKOFF_S = 2.0
"""A worker that exited is restarted at once, then after 2, 4, … (at most 30) seconds."""
HEALTHY_RUN_S = 60.0
"""A worker that ran this long before it exited is restarted without growing backoff."""
RESULTS_RETRY_S = 10.0
"""A finished job whose files found no space (ENOSPC, EDQUOT, EFBIG) or no permission
(EACCES, EPERM, EROFS: its folder made read-only) is written again after 10 s, then 20,
40, … (at most 300) seconds."""
RESULTS_RETRY_MAX_S = 300.0
RETRY_WORDS = "the daemon tries again in"
"""How a job's log says its files wait for another try (``lstui show`` looks for it)."""
STOP_WAIT_S = 30.0
"""How long a stopping daemon waits for its workers to finish the point in hand."""
LEFT_JOB_WAIT_S = 30.0
"""How long a worker may go on computing a point of a job cancelled, paused or failed
meanwhile (it stops after the point in hand) before the daemon kills it and starts a
fresh one: a point stuck in a hung data loader or device call held its worker, and
every job queued behind it, until the daemon stopped."""
LEFT_JOB_LOOK_S = 2.0
"""How often the daemon looks for such workers."""
STOP_BUDGET_S = 45.0
"""How long after a stop began a stopping daemon stops starting the files of finished
jobs (figures take a second or more a job): with a backlog of hundreds, ``lstui daemon
stop`` gave up after 60 s and said the daemon had not stopped. The rest is left to the
next daemon."""
FINAL_WRITES_MIN_S = 5.0
"""The least time a stopping daemon gives those files, however long its workers took."""
STOP_LOCK_WAIT_S = 5.0
"""How long each of a stopping daemon's final writes waits for another process's hold
of the database (the next daemon does what is left undone)."""
LOCK_WAIT_S = 3.0
"""How long a starting daemon retries the lock (status checks hold it for an instant)."""
START_TRY_S = 1.0
"""How long each start-up try waits for a locked database: SQLite's wait cannot be cut
short by SIGTERM, so a starting daemon waits in short tries and checks between them."""
STORE_BACKOFF_MAX_S = 10.0
"""The longest pause between tries when the database is locked or cannot be written."""


@dataclass(frozen=True)
class DaemonStatus:
    running: bool
    pid: int | None = None
    devices: tuple[str, ...] = ()
    started: float | None = None
    schema: int | None = None
    """The job store schema the daemon's lstui knows (None: one from before it said, or
    its pid file unread)."""
    pid_file_read: bool = True
    """Whether the pid file was read (False: it is gone or damaged; pid from the lock)."""
    suspended: bool = False
    """Whether it is stopped (Ctrl-Z, SIGSTOP; :func:`process_stopped`): it writes no
    finished job's files and restarts no worker until continued."""


def _home(home: Path | None) -> Path:
    h = Path(home) if home is not None else default_home()
    h.mkdir(parents=True, exist_ok=True, mode=0o700)
    return h


@contextlib.contextmanager
def _try_lock(path: Path, kind: int = fcntl.LOCK_SH, wait_s: float = 0.0) -> Iterator[bool]:
    """Take ``path``'s lock, retrying for ``wait_s``; yields whether it was had."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        # A home this user cannot write (a read-only mount): a status check can still look.
        if kind != fcntl.LOCK_SH or exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            fd = -1  # a daemon holds the file it created: none has run here
    if fd < 0:
        yield True
        return
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, kind | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _daemon_lock(path: Path, wait_s: float = LOCK_WAIT_S) -> contextlib.AbstractContextManager[bool]:
    """The daemon's exclusive lock, retried for ``wait_s`` while status checks hold it."""
    return _try_lock(path, fcntl.LOCK_EX, wait_s)


def daemon_status(home: Path | None = None) -> DaemonStatus:
    """Whether a daemon holds this home's lock, what its pid file says, and whether it is
    stopped (:attr:`DaemonStatus.suspended`). A home without a lock file (or none at all)
    has no daemon: nothing is made there."""
    status = _daemon_status(home)
    if status.running and process_stopped(status.pid):
        return dataclasses.replace(status, suspended=True)
    return status


def _daemon_status(home: Path | None) -> DaemonStatus:
    h = Path(home) if home is not None else default_home()
    if not (h / LOCK_FILE).exists():
        return DaemonStatus(False)
    with _try_lock(h / LOCK_FILE) as free:
        if free:
            return DaemonStatus(False)
    try:
        info = json.loads((h / PID_FILE).read_text())
        schema = info.get("schema")
        return DaemonStatus(
            True, int(info["pid"]), tuple(info.get("devices", ())), info.get("started"),
            schema if isinstance(schema, int) else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        # its pid file moved or damaged: the lock's holder, as the kernel lists it
        # (`daemon stop` said only that the pid file was unreadable, and could not stop it)
        return DaemonStatus(True, _lock_holder(h / LOCK_FILE), pid_file_read=False)


def refuse_upgrade_under_older_daemon(home: Path | None) -> Callable[[int], None]:
    """A store's ``before_upgrade`` for ``home``: raises while a daemon started by an lstui
    from before pid files named their schema runs there. Its code cannot follow the
    upgrade: it took schema 6's results folders, relative to the home, as relative to the
    folder it was started from, and wrote a job's files there."""

    h = Path(home) if home is not None else default_home()

    def check(version: int) -> None:
        status = daemon_status(h)
        if status.running and status.pid_file_read and status.schema is None:
            raise StoreError(
                f"the job store {h / DB_NAME} is of an older lstui (schema {version}) and its daemon "
                f"(pid {status.pid}) was started by that lstui, which cannot go on in the store this one "
                "upgrades: stop it first (lstui daemon stop), then run this again; nothing was changed")

    return check


def file_identity(path: Path | int) -> tuple[int, int] | None:
    """A file's ``(st_dev, st_ino)``, by path or open fd; None when it is not there (or
    cannot be stat'ed). It tells the daemon that its database or lock file was deleted or
    replaced by another file (:meth:`Daemon._check_home`), the TUI that the store it reads
    was, and :func:`log_to_file_too` whether stderr is ``daemon.log`` already."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _lock_holder(path: Path) -> int | None:
    """The pid of the process holding ``path``'s exclusive lock, from /proc/locks; None
    where that cannot be told (no /proc, another machine's lock on a shared disk)."""
    try:
        st = path.stat()
        listed = Path("/proc/locks").read_text()
    except OSError:
        return None
    where = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in listed.splitlines():
        fields = line.split()
        if "->" not in fields and len(fields) > 5 and fields[3] == "WRITE" and fields[5] == where:
            with contextlib.suppress(ValueError):
                return int(fields[4])
    return None


class LogFormatter(logging.Formatter):
    """``daemon.log``'s lines, ``2026-12-07 23:22:30,123+0000 daemon[PID] INFO …``: the time
    with its UTC offset. A daemon restarted in another zone (``TZ``) wrote lines hours
    back from the last with nothing to say so, and ``daemon status`` showed a lock
    warning's time in the daemon's zone as if in the reader's."""

    def __init__(self, who: str) -> None:
        super().__init__(f"%(asctime)s {who}[{os.getpid()}] %(levelname)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's)
        return super().formatTime(record, datefmt) + time.strftime("%z", self.converter(record.created))


def log_to_stderr(who: str) -> None:
    """Log INFO and above to stderr (``daemon.log`` for a detached daemon and its workers)
    in :class:`LogFormatter`'s lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(LogFormatter(who))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def _local_time(stamp: str) -> str:
    """A ``daemon.log`` line's time in this process's zone; as written (without its
    milliseconds) when it has no offset (a line of an older lstui)."""
    from datetime import datetime

    try:
        return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f%z").astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return stamp.split(",")[0]


def locked_in_log(home: Path, pid: int | None) -> str | None:
    """The daemon's last "database is locked" warning, from the end of its log (written
    in :func:`main`'s format): a daemon waiting for another process's lock cannot write it
    in the store (`daemon status` said only "0 of 1 workers running")."""
    try:
        with (home / LOG_FILE).open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 8192))
            tail = log.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    mark = f"daemon[{pid}] WARNING " if pid is not None else " WARNING "
    for line in reversed(tail[-20:]):  # its last lines: a lock met long ago is not why now
        if mark in line and "the database is locked" in line:
            when, _, said = line.partition(mark)
            return f"warning: {said.strip()} (at {_local_time(when.strip())})"
    return None


def refuse_if_running(home: Path | None) -> None:
    """Raise :class:`DaemonError` when a daemon runs on ``home`` already."""
    h = _home(home)
    status = daemon_status(h)
    if status.running:
        who = f" (pid {status.pid})" if status.pid else ""
        raise DaemonError(f"a daemon already runs on {h}{who}; stop it first")


def start_daemon(
    home: Path | None = None,
    devices: str | None = None,
    *,
    extra_args: list[str] | None = None,
    wait_s: float = 30.0,
) -> int:
    """Start a detached daemon on ``home``; returns its pid once it holds the lock."""
    h = _home(home)
    refuse_if_running(h)
    if devices is not None:
        from lstui.scheduler.devices import parse_devices

        parse_devices(devices)  # bad --devices fails here, with one line, before detaching
    args = [sys.executable, "-m", "lstui.scheduler.daemon", "--home", str(h)]
    if devices:
        args += ["--devices", devices]
    args += extra_args or []
    log_path = h / LOG_FILE
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    before = os.fstat(fd).st_size  # what this daemon says comes after: not an old run's last line
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(fd)
    try:
        return _wait_started(proc, h, log_path, before, wait_s)
    except BaseException:  # Ctrl-C, a hang-up: a daemon half started is not left running unsaid
        _stop_unstarted(proc)
        raise


def _stop_unstarted(proc: subprocess.Popen[bytes]) -> None:
    """Stop a daemon whose start was interrupted (it ran on, detached, computing the
    queue, while the command said "interrupted"): SIGTERM, which it takes as a stop once
    its handlers are set and dies of before, then SIGKILL to its group past a while."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(OSError):
        proc.terminate()
    try:
        proc.wait(timeout=STOP_UNSTARTED_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)  # (it leads its session: its workers too)
        proc.wait()


STOP_UNSTARTED_S = 30.0
"""How long a daemon whose start was interrupted has to stop before it is killed."""


def _wait_started(proc: subprocess.Popen[bytes], h: Path, log_path: Path, before: int, wait_s: float) -> int:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            with open(log_path, "rb") as f:
                f.seek(before)
                lines = f.read().decode(errors="replace").strip().splitlines()
            tail = lines[-1].removeprefix("lstui: error: ") if lines else "(no log)"
            if not lines:  # nothing written: the disk may be full
                free = free_bytes(h)
                if free is not None and free < FULL_BELOW:
                    tail = f"its home's file system is full ({free // 2**10} KiB free under {h}); free some space"
            raise DaemonError(f"the daemon exited at start: {tail} (log: {log_path})")
        status = daemon_status(h)
        if status.running and status.pid == proc.pid:
            return proc.pid
        time.sleep(0.1)
    raise DaemonError(f"the daemon did not start within {wait_s:.0f} s (log: {log_path})")


def process_stopped(pid: int | None) -> bool:
    """Whether process ``pid`` is stopped (Ctrl-Z on `daemon start --foreground`, SIGSTOP):
    it runs nothing, and reads no signal but SIGCONT and SIGKILL, until continued."""
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rpartition(")")[2].split()
    return bool(fields) and fields[0] in ("T", "t")


def stop_daemon(home: Path | None = None, timeout_s: float = 60.0) -> int | None:
    """Ask the daemon to stop (SIGTERM) and wait for it; returns its pid, None if none ran."""
    h = Path(home) if home is not None else default_home()
    status = daemon_status(h)
    if not status.running:
        return None
    if status.pid is None:
        raise DaemonError(f"a daemon holds {h / LOCK_FILE} but its pid file is unreadable and no "
                          f"process here holds the lock (another machine's?); `fuser -v {h / LOCK_FILE}` "
                          "on the machine that runs it names it: stop it with kill PID")
    with contextlib.suppress(ProcessLookupError):
        os.kill(status.pid, signal.SIGTERM)
    if process_stopped(status.pid):  # Ctrl-Z'd: it would not see the SIGTERM (60 s, then "did not stop")
        with contextlib.suppress(OSError):  # its workers, stopped with it (one process group), then it
            os.killpg(os.getpgid(status.pid), signal.SIGCONT)
        with contextlib.suppress(ProcessLookupError):
            os.kill(status.pid, signal.SIGCONT)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not daemon_status(h).running:
            return status.pid
        time.sleep(0.1)
    raise DaemonError(f"the daemon (pid {status.pid}) did not stop within {timeout_s:.0f} s; it may be "
                      "waiting for a worker's point or for the database (another process holding it), "
                      "and stops once it has it")


@dataclass
class WorkerSlot:
    device: str
    threads: int | None
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = 0.0
    started_wall: float = 0.0  # (unix time) the same moment: its worker row's is later
    killed: bool = False  # its process was killed on purpose (its job stopped, its point hung)


FULL_LOOK_S = 300.0
"""How often the daemon reads every job for files to write; in between, the unfinished
jobs and those finished in the last :data:`LATE_POINTS_S` or so (9,500 jobs read at each
point stored took half a core of a 2-core machine)."""
LATE_POINTS_S = 600.0
"""How long after its finish a job's files are still looked after between full reads:
its workers' last points (the one in hand at a cancel) come after the finish."""
BACKLOG_IN_FLIGHT = 2
"""At most this many jobs' file work in the writer's hands while jobs that finished long
ago wait for theirs (folders deleted by hand, a home's database copied): they go a few
at a time, newest first, so that a job finishing now is not queued behind thousands (a
copied 15,000-job store's new 3×3 job still had no figures 80 s after it finished)."""


@dataclass
class Daemon:
    """The daemon's main loop (run it with :meth:`run`)."""

    home: Path
    devices: list[str]
    lease_s: float = 30.0
    poll_s: float = 0.5
    write_every_s: float = 3.0
    export_formats: tuple[str, ...] = ("png", "pdf")
    max_gpu_share: float = 0.5
    ray_address: str = "auto"
    stopping: bool = False
    slots: list[WorkerSlot] = field(default_factory=list)
    _written: dict[int, int] = field(default_factory=dict)  # job → done_points in its file
    _last_write: dict[int, float] = field(default_factory=dict)
    _handled: dict[int, float | None] = field(default_factory=dict)  # job → finish handled
    _pending: dict[int, Future[None]] = field(default_factory=dict)
    _retry_at: dict[int, float] = field(default_factory=dict)  # job → when to write its files again
    _seen_marker: int | None = None  # the jobs' version as the last look at them found it
    _full_look_at: float = -math.inf  # (monotonic) when the last look read every job
    _full_look_wall: float = 0.0  # (unix time) the same moment
    _full_look_marker: int | None = None  # the jobs' version then
    _look_again: bool = False  # a job's files wait for a later round, whatever the store does
    _retry_wait: dict[int, float] = field(default_factory=dict)
    _writer: ThreadPoolExecutor | None = None
    _db_identity: tuple[int, int] | None = None  # (device, inode) of the database opened
    _lock_identity: tuple[int, int] | None = None  # (device, inode) of the lock file held
    _pid_info: dict[str, object] = field(default_factory=dict)  # what its pid file says
    _lock_fds: list[int] = field(default_factory=list)  # lock files made again, held (_check_lock)
    _backlog: list[tuple[float, int]] = field(default_factory=list)  # heap of (−finished, job): see BACKLOG_IN_FLIGHT
    _backlogged: set[int] = field(default_factory=set)  # the jobs in it
    orphaned: str | None = None  # why the daemon's database is no longer its home's
    failed: bool = False  # it stopped on a damaged database
    _pages_checked: bool = False  # the store's pages checked at start (Store.check_pages)
    stop_reason: str | None = None  # the signal that stopped it (SIGTERM: lstui daemon stop)
    left_job_wait_s: float = LEFT_JOB_WAIT_S
    _left_since: dict[int, float] = field(default_factory=dict)  # worker → (monotonic) its job stopped
    _left_look: float = -math.inf
    continued: bool = False  # SIGCONT came: it was stopped (see continue_workers)
    _exits: dict[int, str] = field(default_factory=dict)  # pid → how its worker process ended
    _before: set[int] = field(default_factory=set)  # workers of the daemon before, seen at start: their units uncounted

    def request_stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        # said in the log when the loop sees it (a signal handler must not log: its lock)
        if self.stop_reason is None:
            self.stop_reason = signal.Signals(signum).name if signum else "asked to"
        self.stopping = True

    def run(self) -> int:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _daemon_lock(self.home / LOCK_FILE) as mine:
            if not mine:
                status = daemon_status(self.home)
                who = f" (pid {status.pid})" if status.pid else ""
                raise DaemonError(f"a daemon already runs on {self.home}{who}; stop it first")
            self._lock_identity = file_identity(self.home / LOCK_FILE)
            # before the pid file, which `lstui daemon start` takes for a started daemon:
            # a damaged store is refused there, not after "daemon started" was said
            self._check_pages_first()
            pid_path = self.home / PID_FILE
            self._pid_info = {"pid": os.getpid(), "devices": self.devices, "started": time.time(),
                              "schema": SCHEMA_VERSION}
            try:
                self._write_pid_file()
            except OSError as exc:  # a full disk, a home made immutable: one line, not a traceback
                raise DaemonError(f"cannot write {pid_path} ({exc.strerror or exc}); the home must be "
                                  "writable, with some space free") from exc
            try:
                store = self._open_store()
                if store is None:  # stopped while the database was locked
                    return 0
                with store:
                    return self._loop(store)
            finally:
                _remove_own_pid_file(pid_path)

    def _write_pid_file(self) -> None:
        """``daemon.pid``: what the daemon runs on, since when, for which schema."""
        pid_path = self.home / PID_FILE
        tmp = pid_path.with_name(f".{PID_FILE}.{os.getpid()}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(self._pid_info))
            os.replace(tmp, pid_path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise

    def _check_pid_file(self) -> None:
        """Write the pid file again when it was deleted (with the lock file, by a cleaner
        of old files): `daemon status` called it "unreadable", and what the daemon runs on
        unknown."""
        if (self.home / PID_FILE).exists():
            return
        try:
            self._write_pid_file()
        except OSError as exc:  # a full disk: the next round tries again
            log.warning("its pid file is gone and cannot be written again (%s)", exc.strerror or exc)
            return
        log.warning("its pid file %s was deleted: written again", self.home / PID_FILE)

    def _open_store(self) -> Store | None:
        """Open the store and start up (:meth:`_start_up`), waiting out a locked database.

        Returns:
            The store, waiting :data:`~lstui.store.DEFAULT_TIMEOUT_S` for locks
            again; None if the daemon was asked to stop first.
        """
        backoff = 0.0
        while not self.stopping:
            store = None
            try:
                store = Store.open_home(self.home, timeout_s=START_TRY_S)
                self._start_up(store)
            except DatabaseLocked as exc:
                if store is not None:
                    store.close()
                backoff = min(STORE_BACKOFF_MAX_S, max(0.5, 2 * backoff))
                log.warning("the database is locked (%s); retrying in %.1f s", exc, backoff)
                self._pause(backoff)
                continue
            except BaseException:
                if store is not None:
                    store.close()
                raise
            store.set_timeout(DEFAULT_TIMEOUT_S)
            return store
        return None

    def _check_pages_first(self) -> None:
        """Every page of the store checked (:meth:`Store.check_pages`) before the daemon
        says it runs; a store locked now is checked at :meth:`_start_up` instead."""
        try:
            with Store.open_home(self.home, timeout_s=START_TRY_S) as store:
                store.check_pages()
        except DatabaseLocked:
            return
        self._pages_checked = True

    def _start_up(self, store: Store) -> None:
        """What the daemon does once before its rounds; repeatable, should it fail half way."""
        if not self._pages_checked:
            store.check_pages()  # a damaged file refused before anything is written to it
            self._pages_checked = True
        self._check_home(store)
        self._make_slots(store)
        store.add_event(
            None, "info", f"daemon pid {os.getpid()} started on {', '.join(self.devices)}"
        )
        self._load_marks(store)
        self._recover(store, startup=True)
        from lstui.scheduler.trajectory import plane_dirs_in_use, remove_unqueued_planes

        for folder in remove_unqueued_planes(self.home, lambda: plane_dirs_in_use(store)):
            log.info("removed %s: a trajectory's plane whose submit was killed before it queued the job", folder)

    def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if asked to stop (sleep resumes after signals)."""
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.05)

    def _check_lock(self) -> None:
        """Hold the home's lock file again when it was deleted (a tidy person, a cleaner
        of old files: it is empty and never changes): a second daemon started on the home,
        and `daemon status` said none ran. Stop when another daemon took it meanwhile."""
        path = self.home / LOCK_FILE
        if file_identity(path) == self._lock_identity:
            return
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:  # a full disk: the next round tries again
            log.warning("its lock file %s is gone and cannot be made again (%s)", path, exc.strerror or exc)
            return
        deadline = time.monotonic() + LOCK_WAIT_S  # (a status check holds it a moment)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                os.close(fd)
                other = daemon_status(self.home).pid
                self.orphaned = (f"its lock file {path} was deleted, and another daemon"
                                 f"{f' (pid {other})' if other else ''} started on this home meanwhile")
                log.error("stopping: %s", self.orphaned)
                self.stopping = True
                return
        self._lock_fds.append(fd)  # held until the daemon ends
        self._lock_identity = file_identity(path)
        log.warning("its lock file %s was deleted: made again and held, so that no second daemon starts "
                    "on this home", path)

    def _check_home(self, store: Store) -> None:
        """Stop when the database file at the home's path is no longer the one opened;
        else hold the lock file again if it was deleted (:meth:`_check_lock`)."""
        identity = file_identity(store.path)
        if identity is None:
            self.orphaned = f"its database {store.path} was deleted"
        else:
            if self._db_identity is None:
                self._db_identity = identity
            elif identity != self._db_identity:
                self.orphaned = f"its database {store.path} was replaced by another file"
        if self.orphaned:
            log.error("stopping: %s", self.orphaned)
            self.stopping = True
            return
        self._check_lock()  # (after: a daemon whose home was deleted makes no lock in the new one)
        if not self.stopping:
            self._check_pid_file()

    def _check_schema(self, store: Store) -> None:
        """Stop when a newer lstui has upgraded the store: this one's workers would fail
        the jobs it queues (their specs' new keys), and its writes may not fit. Nothing
        more is written, as for a home gone: the newer daemon recovers the units."""
        with contextlib.suppress(StoreError):
            version = store.schema_version
            if version > SCHEMA_VERSION:
                self.orphaned = (f"the job store was upgraded to schema {version} by a newer lstui (this "
                                 f"daemon's is {SCHEMA_VERSION}): start the daemon again with it")
                log.error("stopping: %s", self.orphaned)
                self.stopping = True

    # -- workers --------------------------------------------------------------------
    def _make_slots(self, store: Store) -> None:
        from lstui.scheduler.devices import busy_by_others, gpu_facts, usable_cpus

        self.slots = []
        gpus = [d for d in self.devices if d.startswith("cuda")]
        facts = {f.key: f for f in gpu_facts(frozenset({os.getpid()}))} if gpus else {}
        n_cpu = sum(1 for d in self.devices if d == "cpu")
        # the cores the daemon may use (under `taskset -c 0-7`: 8), shared by its CPU workers
        threads = max(1, usable_cpus() // n_cpu) if n_cpu else None
        for device in self.devices:
            fact = facts.get(device)
            if fact is not None and busy_by_others(fact, self.max_gpu_share):
                store.add_event(
                    None,
                    "warning",
                    f"{device} ({fact.name}) is left alone: other processes use more than "
                    f"{self.max_gpu_share:.0%} of its memory",
                )
                continue
            self.slots.append(WorkerSlot(device, threads if device == "cpu" else None))
        if not self.slots:
            raise DaemonError("no device is free for workers")

    def _start(self, slot: WorkerSlot) -> None:
        args = [
            sys.executable, "-m", "lstui.scheduler.worker", "--home", str(self.home),
            "--device", slot.device, "--lease", str(self.lease_s), "--parent", str(os.getpid()),
        ]  # fmt: skip
        if slot.threads:
            args += ["--threads", str(slot.threads)]
        if slot.device in RAY_DEVICES:
            args += ["--ray-address", self.ray_address]
        slot.started_wall = time.time()
        slot.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        slot.started_at = time.monotonic()
        slot.killed = False
        log.info("started worker pid %d on %s", slot.proc.pid, slot.device)

    def _tend_workers(self, store: Store) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.proc is not None and slot.killed and slot.proc.poll() is not None:
                slot.proc = None  # killed on purpose, said then: replaced at once, no backoff
            if slot.proc is not None and slot.proc.poll() is not None:
                code = slot.proc.returncode
                how = f"was killed by signal {-code}" if code < 0 else f"exited with {code}"
                self._exits[slot.proc.pid] = how  # for its units' log: how their worker died
                while len(self._exits) > 64:  # (one that died before it registered has no row)
                    del self._exits[next(iter(self._exits))]
                log.warning("worker pid %d on %s %s", slot.proc.pid, slot.device, how)
                if now - slot.started_at >= HEALTHY_RUN_S:
                    slot.restarts = 0
                slot.restarts += 1
                slot.next_start = now + min(30.0, RESTART_BACKOFF_S * (slot.restarts - 1))
                store.add_event(
                    None,
                    "warning",
                    f"worker pid {slot.proc.pid} on {slot.device} {how}; restarting it"
                    + (f" in {slot.next_start - now:.0f} s" if slot.next_start > now else ""),
                )
                slot.proc = None
            if slot.proc is None and now >= slot.next_start and not self.stopping:
                self._start(slot)

    def continue_workers(self) -> None:
        """After the daemon was stopped and continued (SIGCONT): continue its workers that
        are still stopped. Ctrl-Z of `daemon start --foreground` stops them with it, and
        `kill -CONT` of the daemon's pid (what `daemon status` says) continued it alone:
        they stayed stopped until killed past their leases, their units given back."""
        self.continued = False
        for slot in self.slots:
            if slot.proc is not None and slot.proc.poll() is None and process_stopped(slot.proc.pid):
                with contextlib.suppress(OSError):
                    slot.proc.send_signal(signal.SIGCONT)
                log.warning("its worker (pid %d) was stopped with it: continued", slot.proc.pid)

    def _free_workers_of_stopped_jobs(self, store: Store) -> None:
        """Kill a worker still computing a point of a job cancelled, paused or failed
        :attr:`left_job_wait_s` ago, or one stopped (SIGSTOP) and silent past its lease
        and that wait (:meth:`_tend_workers` starts a fresh one); its units go back
        uncounted."""
        now = time.monotonic()
        if now - self._left_look < LEFT_JOB_LOOK_S:
            return
        self._left_look = now
        by_pid = {s.proc.pid: s for s in self.slots
                  if s.proc is not None and not s.killed and s.proc.poll() is None}
        host = socket.gethostname()
        still: dict[int, float] = {}
        for w in store.workers():
            slot = by_pid.get(w.pid)
            # this daemon's worker: its host, and registered after the slot's process began
            # (not a killed daemon's row whose pid was reused)
            if (slot is None or slot.proc is None or w.state == "retired"
                    or w.host != host or w.started < slot.started_wall - 1.0):
                continue
            silent_s = time.time() - w.heartbeat
            stopped = silent_s > self.lease_s + SILENT_STOPPED_AFTER_S + self.left_job_wait_s and process_stopped(w.pid)
            # silent and not stopped: its lease keeper's thread never runs (a call that holds
            # the interpreter's lock and never returns), so its own hung-point limit never
            # comes; it held its device for good, the queue waiting
            wedged = not stopped and silent_s > self.lease_s + self.left_job_wait_s + _silent_limit_s(slot.device)
            if stopped or wedged:
                # stopped (SIGSTOP, a debugger) or wedged: its lease expired and its unit went
                # back, but no fresh worker took its place: its job read running, the queue waited
                slot.proc.kill()
                slot.killed = True
                how = "was stopped (SIGSTOP?)" if stopped else "hung (its heartbeat stopped, its process did not)"
                why = f"worker {w.id} on {w.device} {how}, silent for {silent_s:.0f} s, and was killed; a fresh one starts"
                store.release_stopped_worker(  # a stop is not the unit's fault; a hang is its try
                    w.id, why, requeued=f"queued again: its worker {'was stopped' if stopped else 'hung'}",
                    counted=wedged)
                log.warning("%s", why)
                store.add_event(None, "warning", why)  # the daemon's troubles (`daemon status`)
                if w.current_job is not None:
                    store.add_event(w.current_job, "warning", why)
                continue
            if w.current_job is None:
                continue
            try:
                state = store.job_state(w.current_job)
            except JobNotFound:
                continue
            if state not in (JobState.CANCELLED, JobState.PAUSED, JobState.FAILED):
                continue
            since = still[w.id] = self._left_since.get(w.id, now)
            if now - since < self.left_job_wait_s:
                continue
            slot.proc.kill()
            slot.killed = True  # reaped by _tend_workers (a process in a hung kernel call may take a while)
            del still[w.id]
            why = (f"worker {w.id} on {w.device} was still computing a point of job {w.current_job}, "
                   f"{state.value} {now - since:.0f} s before, and was killed; a fresh one starts")
            store.release_stopped_worker(w.id, why, requeued=None)  # its job stopped: nothing to queue
            log.warning("%s", why)
            store.add_event(None, "warning", why)
        self._left_since = still

    def _recover(self, store: Store, *, startup: bool = False) -> None:
        """Give back the units of dead workers and of expired leases.

        A worker on this host is dead when its process is gone; one elsewhere loses its
        units when its lease expires. Only the dead are named, so a worker that registers
        while the daemon looks never loses the unit it just claimed. The units of the workers
        of a daemon before this one (``startup`` sees them) go back uncounted.
        """
        host = socket.gethostname()
        workers = store.workers()
        dead = [
            w for w in workers if w.state != "retired" and w.host == host and not _pid_alive(w.pid)
        ]
        if startup:
            # the workers of a daemon before this one, which ended without stopping (killed
            # with them, the machine restarted): when they are gone (one may still be ending,
            # a zombie for a while), their units go back uncounted, nothing in them failed;
            # three such crashes in one unit failed a sound job "crashing the worker"
            self._before = {w.id for w in workers if w.state != "retired" and w.host == host}
            store.recover_workers([])
        gone_before = [w for w in dead if w.id in self._before]
        for w in gone_before:
            self._before.discard(w.id)
            store.release_stopped_worker(
                w.id, f"worker {w.id} (pid {w.pid}) ended with a daemon that ended without stopping "
                "(killed, or the machine restarted); not counted against the unit",
                requeued="requeued: no worker holds it")
            log.info("worker %d (pid %d on %s) ended with the daemon before; its units are back",
                     w.id, w.pid, w.device)
        dead = [w for w in dead if w not in gone_before]
        for w in dead:  # each with how it ended, if this daemon saw its process end
            how = self._exits.pop(w.pid, None)
            store.recover_workers([w.id], why=f"its worker died: it {how}" if how else WORKER_DIED)
        for w in dead:
            store.retire_worker(w.id)
            log.info("worker %d (pid %d on %s) is gone; its units are back", w.id, w.pid, w.device)
        store.requeue_expired()

    # -- files ----------------------------------------------------------------------
    def _write_results(self, store: Store, *, wait: bool = False, until: float | None = None) -> int:
        """Queue the file work each job needs now (``wait``: do it in this thread).

        ``until`` (monotonic time): finished jobs whose files are not begun by then are
        left for a later look (the next daemon's). Returns how many were left.
        """
        now = time.monotonic()
        left = 0
        for job_id in [j for j, f in self._pending.items() if f.done()]:
            del self._pending[job_id]
        if not wait:
            self._feed_backlog(store)
        # an idle daemon does not read every job it ever ran twice a second: only when the
        # jobs changed, a write waits (its 3 s, its space), or the writer has work in hand
        marker = store.jobs_version()
        # nor, while jobs run, every job it ever ran at each point stored: the unfinished
        # ones and those finished lately (a cancelled job's last point comes after its
        # finish), and every job again once FULL_LOOK_S has passed and they changed
        full = wait or bool(self._retry_at) or (
            marker != self._full_look_marker and now - self._full_look_at >= FULL_LOOK_S)
        if (not full and marker == self._seen_marker and not self._pending and not self._look_again
                and not any(now >= t for t in self._retry_at.values())):
            return 0
        self._seen_marker, self._look_again = marker, False
        if full:
            self._full_look_at, self._full_look_wall, self._full_look_marker = now, time.time(), marker
            jobs = store.list_jobs(include_finished=True)
            self._forget_removed({j.id for j in jobs})
        else:
            jobs = store.list_jobs(include_finished=True, finished_after=self._full_look_wall - LATE_POINTS_S)
        for job in jobs:
            if job.kind == "figure":
                continue
            if job.id in self._pending:
                # its earlier write is in hand: looked at again once that is done, though
                # nothing else changes (a job that finished meanwhile waits for its files)
                self._look_again = True
                continue
            if job.state in FINISHED:
                if job.id in self._handled and self._handled[job.id] == job.finished:
                    if job.done_points and self._written.get(job.id, job.done_points) != job.done_points:
                        # points its workers stored after the cancel (the one in hand, flushed)
                        self._written[job.id] = job.done_points
                        self._submit(job, self._write_surface, store, job, wait=wait)
                    continue
                if now < self._retry_at.get(job.id, 0.0):
                    continue  # its files failed for want of space: tried again later
                if job.state is not JobState.DONE:
                    for dep in store.fail_dependants(job.id):
                        log.info("job %d failed: dependency %d is %s", dep, job.id, job.state.value)
                if until is not None and time.monotonic() >= until:
                    left += 1
                    continue
                if (not wait and self._writer is not None and job.finished is not None
                        and time.time() - job.finished > LATE_POINTS_S):
                    if job.id not in self._backlogged:  # long finished: after the jobs finishing now
                        self._backlogged.add(job.id)
                        heapq.heappush(self._backlog, (-job.finished, job.id))
                    continue
                self._handled[job.id] = job.finished
                self._submit(job, self._finish_job, store, job, wait=wait)
            elif job.done_points and self._written.get(job.id) != job.done_points:
                if not (wait or now - self._last_write.get(job.id, -1e9) >= self.write_every_s):
                    self._look_again = True  # its new points are written in a moment
                    continue
                self._written[job.id] = job.done_points
                self._last_write[job.id] = now
                self._submit(job, self._write_surface, store, job, wait=wait)
        return left

    def _forget_removed(self, present: set[int]) -> None:
        """Drop what is kept about jobs no longer in the store (``lstui rm``): a job
        waiting to retry its files kept every look a full read, for good."""
        for kept in (self._retry_at, self._retry_wait, self._handled, self._written, self._last_write):
            for job_id in [j for j in kept if j not in present]:
                del kept[job_id]

    def _feed_backlog(self, store: Store) -> None:
        """Give the writer the file work of jobs that finished long ago, newest first,
        while it holds less than :data:`BACKLOG_IN_FLIGHT`."""
        while self._backlog and len(self._pending) < BACKLOG_IN_FLIGHT:
            _, job_id = heapq.heappop(self._backlog)
            self._backlogged.discard(job_id)
            try:
                job = store.get_job(job_id)
            except JobNotFound:  # removed meanwhile
                continue
            if job.state in FINISHED and self._handled.get(job.id) != job.finished and job.id not in self._pending:
                self._handled[job.id] = job.finished
                self._submit(job, self._finish_job, store, job, wait=False)
        if self._backlog:
            self._look_again = True  # (fed again at the next round, though nothing changes)

    def _submit(self, job: JobRow, fn, *args, wait: bool) -> None:  # type: ignore[no-untyped-def]
        if wait or self._writer is None:
            fn(*args)
        else:
            self._pending[job.id] = self._writer.submit(fn, *args)

    def _write_surface(self, store: Store, job: JobRow) -> None:
        from lstui.scheduler.exporting import write_job_surface

        if _removed(store, job):
            return
        try:
            write_job_surface(store, job)
        except Exception as exc:  # a broken job must not stop the others' files
            log.exception("job %d: writing its surface file failed", job.id)
            self._written.pop(job.id, None)
            self._look_again = True
            with contextlib.suppress(Exception):
                store.add_event(job.id, "warning", f"could not write the surface file: {exc}")

    def _finish_job(self, store: Store, job: JobRow) -> None:
        """A finished job's final surface file, its figures (when done) and its mark."""
        from lstui.scheduler.exporting import export_job, write_job_surface

        if _removed(store, job):
            return
        results = Path(job.results_dir)
        remove_stale_temporaries(results)  # of a daemon killed while it wrote them
        try:
            if job.done_points:
                write_job_surface(store, job)
            if job.state is JobState.DONE and self.export_formats:
                export_job(store, job, formats=self.export_formats)
        except OSError as exc:
            if not may_pass_later(exc):
                self._results_failed(store, job, exc)
            else:  # no mark: written again once there is space (or leave), however long that takes
                wait = min(RESULTS_RETRY_MAX_S, 2 * self._retry_wait.get(job.id, RESULTS_RETRY_S / 2))
                self._retry_wait[job.id] = wait
                self._retry_at[job.id] = time.monotonic() + wait
                self._handled.pop(job.id, None)
                what = "no space for its results" if no_space(exc) else "could not write its results"
                log.warning("job %d: %s (%s); trying again in %.0f s", job.id, what, first_line(exc), wait)
                with contextlib.suppress(Exception):
                    store.add_event(job.id, "warning", f"{what} ({first_line(exc)}); "
                                                       f"{RETRY_WORDS} {wait:.0f} s")
                return
        except Exception as exc:
            self._results_failed(store, job, exc)
        self._retry_at.pop(job.id, None)
        self._retry_wait.pop(job.id, None)
        self._check_directions(store, job)
        self._note_diverged(store, job)
        write_finish_mark(job)
        self._written[job.id] = job.done_points

    @staticmethod
    def _note_diverged(store: Store, job: JobRow) -> None:
        """Say in a done job's log how many of its points diverged (NaN or infinite
        loss), as ``lstui run`` says it: ``show`` and ``logs`` tell it, not only a plot."""
        from lstui.scheduler.follow import diverged_note, diverged_points

        if job.state is not JobState.DONE:
            return
        try:
            count = diverged_points(store, job)
            if count:
                store.add_event(job.id, "warning", diverged_note(job, count))
        except Exception:  # (a locked store, say) the job is done all the same; its log lacks the line
            log.warning("job %d: its diverged points could not be counted or noted", job.id, exc_info=True)

    @staticmethod
    def _check_directions(store: Store, job: JobRow) -> None:
        """Say so in the job's log when the direction file its surface file names is gone
        or damaged (its folder deleted while it ran): the points are whole, but the
        directions cannot be reused, nor the surface recomputed from its file."""
        from lstui.results.h5files import read_direction_attrs
        from lstui.scheduler.exporting import job_dir_file
        from lstui.spec import JobSpec

        if job.kind not in ("surface", "interp") or not job.done_points:
            return
        try:
            path = job_dir_file(JobSpec.from_dict(job.spec, check_files=False), Path(job.results_dir))
        except LstuiError:
            return
        try:
            read_direction_attrs(path)
        except (LstuiError, OSError) as exc:
            why = "is gone" if not path.exists() else f"cannot be read ({first_line(exc)})"
            with contextlib.suppress(Exception):
                store.add_event(job.id, "warning", f"its direction file {path} {why} (its folder deleted, or the "
                                "file changed, since it was written?): the points are all kept, but its directions "
                                "cannot be reused")

    @staticmethod
    def _results_failed(store: Store, job: JobRow, exc: BaseException) -> None:
        log.exception("job %d: writing its results failed", job.id)
        with contextlib.suppress(Exception):
            store.add_event(job.id, "error", f"could not write its results: {first_line(exc)}")

    def _load_marks(self, store: Store) -> None:
        """Finished jobs whose files an earlier daemon wrote need nothing more."""
        for job in store.list_jobs():
            if finish_marked(job):
                self._handled[job.id] = job.finished
                self._written[job.id] = job.done_points

    def _loop(self, store: Store) -> int:
        for slot in self.slots:
            self._start(slot)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lstui-writer")
        try:
            backoff = 0.0
            while not self.stopping:
                if self.continued:
                    self.continue_workers()
                self._check_home(store)
                self._check_schema(store)
                if self.stopping:
                    break
                try:
                    self._tend_workers(store)
                    self._recover(store)
                    self._free_workers_of_stopped_jobs(store)
                    backoff = 0.0
                except DatabaseDamaged as exc:  # no wait mends it: the daemon stops, saying why
                    log.error("%s; the daemon stops", exc)
                    self.stopping = True
                    self.failed = True
                    break
                except StoreError as exc:  # a full disk or a locked database: wait, retry
                    backoff = min(STORE_BACKOFF_MAX_S, max(0.5, 2 * backoff))
                    log.warning("the store cannot be written (%s); retrying in %.1f s", exc, backoff)
                try:
                    self._write_results(store)
                except Exception:  # a failing file must not stop the daemon
                    log.exception("writing results failed")
                self._pause(self.poll_s + backoff)
        finally:
            self._shutdown(store)
        return 1 if self.orphaned or self.failed else 0

    def _shutdown(self, store: Store, timeout_s: float = STOP_WAIT_S) -> None:
        began = time.monotonic()
        why = self.orphaned or self.stop_reason or ("its database is damaged" if self.failed else "an error")
        log.info("stopping (%s): its workers finish the point in hand", why)
        for slot in self.slots:
            if slot.proc is not None and slot.proc.poll() is None:
                slot.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        killed: dict[int, str] = {}  # pid → device
        for slot in self.slots:
            if slot.proc is None:
                continue
            try:
                slot.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                slot.proc.kill()
                slot.proc.wait()
                killed[slot.proc.pid] = slot.device
        if self._writer is not None:
            self._writer.shutdown(wait=True, cancel_futures=True)
            self._writer = None
        for job_id, future in self._pending.items():
            if future.cancelled():  # never written: the final writes below do it
                self._handled.pop(job_id, None)
                self._written.pop(job_id, None)
        self._pending.clear()
        if self.orphaned:  # nothing to write: the files would land in a home that is gone
            return
        # another process holding the database: each final write waited 30 s for it, and
        # `lstui daemon stop` gave up at a minute on a daemon that stopped at ninety
        store.set_timeout(min(store.timeout_s, STOP_LOCK_WAIT_S))
        try:
            self._release_killed(store, killed, timeout_s)
            self._recover(store)
            store.recover_workers([])  # jobs no worker holds now wait as queued, not running
            # within lstui daemon stop's minute, counted from the stop, however long the
            # workers took; a few seconds at least, for the files of the jobs just finished
            until = max(began + STOP_BUDGET_S, time.monotonic() + FINAL_WRITES_MIN_S)
            left = self._write_results(store, wait=True, until=until)
            if left:
                said = (f"stopping: the figures of {left} finished job{'s' if left > 1 else ''} are "
                        "left to the next daemon (lstui daemon start writes them)")
                log.info("%s", said)
                store.add_event(None, "info", said)
        except DatabaseLocked as exc:  # the next daemon takes the units back and writes the files
            log.warning("stopping without the final writes: %s; the next daemon does them", first_line(exc))
        except Exception:
            log.exception("final recovery and writes failed")
        try:
            store.add_event(None, "info", f"daemon pid {os.getpid()} stopped")
        except LstuiError as exc:
            log.warning("the stop is not in the job's store: %s", first_line(exc))
        log.info("stopped after %.1f s", time.monotonic() - began)


    def _release_killed(self, store: Store, killed: dict[int, str], waited_s: float) -> None:
        """The units of workers stopped mid-point go back uncounted: the point in hand
        is computed again by the next daemon, and the job does not fail for it."""
        if not killed:
            return
        host = socket.gethostname()
        for worker in store.workers():
            if worker.host == host and worker.pid in killed and worker.state != "retired":
                why = (f"the daemon stopped and worker {worker.id} on {worker.device} did not "
                       f"stop within {waited_s:.0f} s (a long point); its point is computed again")
                n = store.release_stopped_worker(worker.id, why)
                said = (f"worker {worker.id} on {worker.device} did not stop within {waited_s:.0f} s "
                        f"and was killed; {n} unit(s) back, not counted as failed")
                log.warning("%s", said)
                store.add_event(None, "warning", said)


def _removed(store: Store, job: JobRow) -> bool:
    """Whether ``job`` left the store (``lstui rm``) since it was read: its files are not
    written, which would bring back the folder just deleted."""
    try:
        store.get_job(job.id)
    except JobNotFound:
        return True
    return False


def _remove_own_pid_file(pid_path: Path) -> None:
    """Remove the pid file if it is this process's (a later daemon's is left alone)."""
    try:
        if json.loads(pid_path.read_text()).get("pid") == os.getpid():
            pid_path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


SILENT_STOPPED_AFTER_S = 10.0
"""Beyond its lease and ``--kill-after``, how long a stopped worker (its process in state
T) may be silent before the daemon kills it: two missed heartbeats (one every 5 s)."""


def _silent_limit_s(device: str) -> float:
    """Beyond its lease and ``--kill-after``, how long a worker that is not stopped may be
    silent before the daemon takes it for hung: as long as a point may take on its device
    (``$LSTUI_POINT_TIMEOUT_S``, 900 s by default, on a CPU too: silence is not a long
    point, whose heartbeats go on)."""
    from lstui.scheduler.worker import POINT_TIMEOUT_S, local_point_timeout_s

    return local_point_timeout_s(device) or POINT_TIMEOUT_S


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


WORKER_SILENT_S = 3600.0
"""A silent worker (stopped, stuck on a hung device call) is listed this long while its
process exists on this machine: its job reads running while it computes nothing."""


def listed_workers(store: Store, now: float, recent_s: float) -> list[WorkerRow]:
    """The workers to show: those that beat within ``recent_s``, and silent ones (for up
    to :data:`WORKER_SILENT_S`) whose process exists on this machine (one stopped with
    SIGSTOP does; a killed daemon's, gone, does not)."""
    return [w for w in store.workers(alive_within_s=WORKER_SILENT_S)
            if now - w.heartbeat <= recent_s or _process_exists(w)]


def _process_exists(worker: WorkerRow) -> bool:
    """Whether ``worker``'s process runs on this machine (one of another host cannot be
    looked at: no)."""
    return worker.host == socket.gethostname() and _pid_alive(worker.pid)


def parse_export_formats(text: str) -> tuple[str, ...]:
    """``--export`` checked; the usual ``png,pdf`` without importing the plotting code."""
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    if set(formats) <= {"png", "pdf"}:
        return formats
    from lstui.errors import BadInput
    from lstui.scheduler.exporting import parse_formats

    try:
        return parse_formats(formats)
    except BadInput as exc:
        raise BadInput(str(exc).replace("--format", "--export", 1)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lstui-daemon")
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--devices", default=None)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument(
        "--max-gpu-share", type=float, default=0.5,
        help="leave alone a GPU whose memory other processes use more than this share of",
    )
    parser.add_argument(
        "--export", default="png,pdf", help="formats exported when a job finishes ('' for none)"
    )
    parser.add_argument("--ray-address", default="auto", help="the Ray cluster of ray devices")
    parser.add_argument("--kill-after", type=float, default=LEFT_JOB_WAIT_S,
                        help="kill a worker still on a point of a job stopped this many seconds ago")
    args = parser.parse_args(argv)
    log_to_stderr("daemon")
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    from lstui.scheduler.devices import parse_devices

    try:
        home = _home(args.home)
        log_to_file_too(home)
        formats = parse_export_formats(args.export)
        daemon = Daemon(
            home, parse_devices(args.devices), lease_s=args.lease, export_formats=formats,
            max_gpu_share=args.max_gpu_share, ray_address=args.ray_address, left_job_wait_s=args.kill_after,
        )
        signal.signal(signal.SIGTERM, daemon.request_stop)
        # a file-size limit (a full quota) must give an error to handle, not kill the process
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        signal.signal(signal.SIGINT, daemon.request_stop)
        signal.signal(signal.SIGCONT, lambda _signum, _frame: setattr(daemon, "continued", True))
        if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # (under nohup it runs on)
            signal.signal(signal.SIGHUP, daemon.request_stop)  # --foreground over SSH, dropped
        return daemon.run()
    except LstuiError as exc:  # bad flags, another daemon, a locked or too new database …
        print(f"lstui: error: {exc}", file=sys.stderr)
        return 1


def log_to_file_too(home: Path, who: str = "daemon") -> None:
    """A daemon in a terminal (``--foreground``), and its workers, log to ``daemon.log``
    too: one hung up with its SSH link left no line saying why it stopped, nor what it
    did. (A detached daemon's stderr, and its workers', is that file already.)"""
    path = home / LOG_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:
        return  # (an unwritable home: said at once by what follows)
    try:
        same = file_identity(2) == file_identity(fd)
    finally:
        os.close(fd)
    if not same:
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(LogFormatter(who))
        logging.getLogger().addHandler(handler)


if __name__ == "__main__":
    exit_code = main()
    # The lock is released and the store closed: skip the slow teardown of the modules
    # (torch, matplotlib) the writer thread imported.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)
