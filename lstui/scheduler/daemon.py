"""The scheduler daemon: one worker process per device, recovery, surface files, exports.

``lstui daemon start`` detaches a daemon (pid file and log under ``$LSTUI_HOME``). The
daemon holds an exclusive lock on ``daemon.lock`` for its whole life, which is what
"a daemon runs on this home" means; the pid file only says which process it is.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from lstui.errors import DaemonError
from lstui.store import FINISHED, JobState, Store, default_home

log = logging.getLogger("lstui.daemon")

PID_FILE = "daemon.pid"
LOCK_FILE = "daemon.lock"
LOG_FILE = "daemon.log"
HEARTBEAT_S = 10.0
RESTART_BACKOFF_S = 2.0


@dataclass(frozen=True)
class DaemonStatus:
    running: bool
    pid: int | None = None
    devices: tuple[str, ...] = ()
    started: float | None = None


def _home(home: Path | None) -> Path:
    h = Path(home) if home is not None else default_home()
    h.mkdir(parents=True, exist_ok=True, mode=0o700)
    return h


@contextlib.contextmanager
def _try_lock(path: Path) -> Iterator[bool]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def daemon_status(home: Path | None = None) -> DaemonStatus:
    """Whether a daemon holds this home's lock, and what its pid file says."""
    h = _home(home)
    with _try_lock(h / LOCK_FILE) as free:
        if free:
            return DaemonStatus(False)
    try:
        info = json.loads((h / PID_FILE).read_text())
        return DaemonStatus(True, int(info["pid"]), tuple(info.get("devices", ())), info.get("started"))
    except (OSError, ValueError, KeyError):
        return DaemonStatus(True)


def start_daemon(
    home: Path | None = None,
    devices: str | None = None,
    *,
    extra_args: list[str] | None = None,
    wait_s: float = 30.0,
) -> int:
    """Start a detached daemon on ``home``; returns its pid once it holds the lock."""
    h = _home(home)
    status = daemon_status(h)
    if status.running:
        raise DaemonError(f"a daemon already runs on {h} (pid {status.pid}); stop it first")
    from lstui.scheduler.devices import parse_devices

    parse_devices(devices)  # bad --devices fails here, with one line, before detaching
    args = [sys.executable, "-m", "lstui.scheduler.daemon", "--home", str(h)]
    if devices:
        args += ["--devices", devices]
    args += extra_args or []
    log_path = h / LOG_FILE
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, start_new_session=True, close_fds=True
        )
    finally:
        os.close(fd)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["(no log)"]
            raise DaemonError(f"the daemon exited at start: {tail[0]} (log: {log_path})")
        status = daemon_status(h)
        if status.running and status.pid == proc.pid:
            return proc.pid
        time.sleep(0.1)
    raise DaemonError(f"the daemon did not start within {wait_s:.0f} s (log: {log_path})")


def stop_daemon(home: Path | None = None, timeout_s: float = 60.0) -> int | None:
    """Ask the daemon to stop (SIGTERM) and wait for it; returns its pid, None if none ran."""
    h = _home(home)
    status = daemon_status(h)
    if not status.running:
        return None
    if status.pid is None:
        raise DaemonError(f"a daemon holds {h / LOCK_FILE} but its pid file is unreadable")
    with contextlib.suppress(ProcessLookupError):
        os.kill(status.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not daemon_status(h).running:
            return status.pid
        time.sleep(0.1)
    raise DaemonError(f"the daemon (pid {status.pid}) did not stop within {timeout_s:.0f} s")


@dataclass
class WorkerSlot:
    device: str
    threads: int | None
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0


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
    stopping: bool = False
    slots: list[WorkerSlot] = field(default_factory=list)
    _written: dict[int, int] = field(default_factory=dict)
    _last_write: dict[int, float] = field(default_factory=dict)

    def request_stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        self.stopping = True

    def run(self) -> int:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _try_lock(self.home / LOCK_FILE) as mine:
            if not mine:
                status = daemon_status(self.home)
                raise DaemonError(f"a daemon already runs on {self.home} (pid {status.pid})")
            pid_path = self.home / PID_FILE
            info = {"pid": os.getpid(), "devices": self.devices, "started": time.time()}
            pid_path.write_text(json.dumps(info))
            os.chmod(pid_path, 0o600)
            try:
                with Store.open_home(self.home) as store:
                    return self._loop(store)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    pid_path.unlink()

    # -- workers --------------------------------------------------------------------
    def _make_slots(self, store: Store) -> None:
        from lstui.scheduler.devices import busy_by_others, gpu_facts

        facts = {f.key: f for f in gpu_facts(frozenset({os.getpid()}))}
        n_cpu = sum(1 for d in self.devices if d == "cpu")
        threads = max(1, (os.cpu_count() or 1) // n_cpu) if n_cpu else None
        for device in self.devices:
            fact = facts.get(device)
            if fact is not None and busy_by_others(fact, self.max_gpu_share):
                store.add_event(
                    None, "warning",
                    f"{device} ({fact.name}) is left alone: other processes use more than "
                    f"{self.max_gpu_share:.0%} of its memory",
                )
                continue
            self.slots.append(WorkerSlot(device, threads if device == "cpu" else None))
        if not self.slots:
            raise DaemonError("no device is free for workers")

    def _start(self, slot: WorkerSlot) -> None:
        args = [sys.executable, "-m", "lstui.scheduler.worker", "--home", str(self.home),
                "--device", slot.device, "--lease", str(self.lease_s), "--parent", str(os.getpid())]
        if slot.threads:
            args += ["--threads", str(slot.threads)]
        slot.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        log.info("started worker pid %d on %s", slot.proc.pid, slot.device)

    def _tend_workers(self, store: Store) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.proc is not None and slot.proc.poll() is not None:
                code = slot.proc.returncode
                log.warning("worker pid %d on %s exited with %s", slot.proc.pid, slot.device, code)
                store.add_event(None, "warning", f"worker on {slot.device} exited ({code}); restarting")
                slot.proc = None
                slot.restarts += 1
                slot.next_start = now + min(30.0, RESTART_BACKOFF_S * slot.restarts)
            if slot.proc is None and now >= slot.next_start and not self.stopping:
                self._start(slot)

    def _recover(self, store: Store) -> None:
        """Give back the units of dead workers (ours: by pid; elsewhere: by heartbeat)."""
        host = socket.gethostname()
        alive = []
        for w in store.workers():
            if w.state == "retired":
                continue
            if w.host == host:
                if _pid_alive(w.pid):
                    alive.append(w.id)
            elif w.heartbeat is not None and time.time() - w.heartbeat < 3 * self.lease_s:
                alive.append(w.id)
        store.recover_orphans(alive)
        store.requeue_expired()

    # -- files ----------------------------------------------------------------------
    def _write_results(self, store: Store) -> None:
        from lstui.scheduler.exporting import export_job, write_job_surface

        now = time.monotonic()
        for job in store.list_jobs(include_finished=True):
            if job.kind == "figure":
                continue
            if job.state is JobState.DONE and self._written.get(job.id) == -1:
                continue
            changed = self._written.get(job.id) != job.done_points
            if job.state is JobState.RUNNING and changed and now - self._last_write.get(job.id, 0.0) >= self.write_every_s:
                write_job_surface(store, job)
                self._written[job.id] = job.done_points
                self._last_write[job.id] = now
            elif job.state in FINISHED and self._written.get(job.id) != -1:
                if job.done_points:
                    write_job_surface(store, job)
                if job.state is JobState.DONE:
                    for path in export_job(store, job, formats=self.export_formats):
                        store.add_event(job.id, "info", f"wrote {path}")
                else:
                    for dep in store.fail_dependants(job.id):
                        log.info("job %d failed: dependency %d is %s", dep, job.id, job.state.value)
                self._written[job.id] = -1

    def _loop(self, store: Store) -> int:
        self._make_slots(store)
        store.add_event(None, "info", f"daemon pid {os.getpid()} started on {', '.join(self.devices)}")
        for slot in self.slots:
            self._start(slot)
        # Finished jobs whose files were written by an earlier daemon need nothing more.
        for job in store.list_jobs():
            if job.state in FINISHED and (Path(job.results_dir) / "surface.h5").exists():
                self._written[job.id] = -1
        try:
            while not self.stopping:
                self._tend_workers(store)
                self._recover(store)
                try:
                    self._write_results(store)
                except Exception:  # a failing export must not stop the daemon
                    log.exception("writing results failed")
                time.sleep(self.poll_s)
        finally:
            self._shutdown(store)
        return 0

    def _shutdown(self, store: Store, timeout_s: float = 30.0) -> None:
        for slot in self.slots:
            if slot.proc is not None and slot.proc.poll() is None:
                slot.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for slot in self.slots:
            if slot.proc is None:
                continue
            try:
                slot.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                slot.proc.kill()
                slot.proc.wait()
        with contextlib.suppress(Exception):
            self._recover(store)
            self._write_results(store)
        store.add_event(None, "info", f"daemon pid {os.getpid()} stopped")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lstui-daemon")
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--devices", default=None)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--export", default="png,pdf", help="formats exported when a job finishes ('' for none)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s daemon[{os.getpid()}] %(levelname)s %(message)s"
    )
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    from lstui.scheduler.devices import parse_devices

    home = _home(args.home)
    formats = tuple(f for f in args.export.split(",") if f)
    daemon = Daemon(home, parse_devices(args.devices), lease_s=args.lease, export_formats=formats)
    signal.signal(signal.SIGTERM, daemon.request_stop)
    signal.signal(signal.SIGINT, daemon.request_stop)
    try:
        return daemon.run()
    except DaemonError as exc:
        log.error("%s", exc)
        print(f"lstui: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
