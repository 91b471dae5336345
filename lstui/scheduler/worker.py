"""A worker process: one per device, claiming work units from the store under a lease.

Run as ``python -m lstui.scheduler.worker --home H --device cuda:0``. It keeps the
evaluator of the job it works on across units and writes its points as it goes. A
background thread (:class:`LeaseKeeper`) keeps the lease of the unit in hand alive, so a
point or a job's preparation may take longer than a lease, and notices within
``WATCH_EVERY_S`` when the job is paused, cancelled or failed: the worker then stops after
the point in hand. On SIGTERM, or once the daemon that started it is gone, the worker
finishes the point in hand, stores what it computed and gives its unit back.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import faulthandler
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TypeVar

from lstui.errors import (
    DaemonError,
    DatabaseDamaged,
    DatabaseLocked,
    InvalidTransition,
    LstuiError,
    SpecError,
    StoreError,
    described,
    first_line,
)
from lstui.results.h5files import may_pass_later, no_space
from lstui.scheduler.allocator import keep_freed_memory
from lstui.scheduler.devices import RAY_DEVICES
from lstui.store import SCHEMA_VERSION, JobState, PointRow, Store, UnitClaim

log = logging.getLogger("lstui.worker")

FLUSH_EVERY_S = 1.0
"""Computed points are written to the store at least this often."""
IDLE_SLEEP_S = 0.5
"""How long an idle worker waits before it asks for work again."""
NO_SPACE_WAIT_S = 5.0
"""A worker that found no space to make a job ready waits 5 s, then 10, 20, … (at most
120) seconds before it tries again."""
NO_SPACE_WAIT_MAX_S = 120.0
WATCH_EVERY_S = 0.25
"""How often the lease keeper looks at the state of the job in hand."""
HEARTBEAT_EVERY_S = 5.0
"""How often the lease keeper tells the store the worker is alive."""
POINT_TIMEOUT_S = 900.0
"""How long a point may take on a GPU before its worker takes it for hung (a device, a
driver or a file system that stopped answering), at least: 20 times its slowest point so
far, if longer. ``$LSTUI_POINT_TIMEOUT_S`` sets it, and, set, applies to CPU workers too."""
POINT_TIMEOUT_ENV = "LSTUI_POINT_TIMEOUT_S"
SLOWEST_POINT_FACTOR = 20.0
EXIT_HUNG = 4
"""The exit status of a worker that ended for a hung point."""

_CLAIMABLE = frozenset({JobState.QUEUED, JobState.RUNNING})
T = TypeVar("T")


def seconds_from_env(name: str, default: float, what: str) -> float:
    """``$name`` as seconds above 0, or ``default`` when it is not set.

    Raises:
        DaemonError: the variable is not a number of seconds above 0.
    """
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise DaemonError(f"{name}={text!r}: give the seconds {what} before it is taken for hung, "
                          f"above 0 (default {default:g})")
    return value


def local_point_timeout_s(device: str) -> float | None:
    """How long a point on ``device`` may take before the worker takes it for hung, at
    least (:data:`POINT_TIMEOUT_S`); None: never (a CPU worker, unless
    ``$LSTUI_POINT_TIMEOUT_S`` is set: a big model's point on a CPU may take hours)."""
    seconds = seconds_from_env(POINT_TIMEOUT_ENV, POINT_TIMEOUT_S, "a point may take")
    if POINT_TIMEOUT_ENV in os.environ or device.startswith("cuda"):
        return seconds
    return None


@dataclass
class WorkerConfig:
    home: Path
    device: str = "cpu"
    lease_s: float = 30.0
    threads: int | None = None
    max_attempts: int = 3
    exit_when_idle: bool = False
    parent_pid: int | None = None


@dataclass
class WorkerStats:
    """Where a worker's time went: computing points or waiting on the store."""

    points: int = 0
    compute_s: float = 0.0
    store_s: float = 0.0  # the main thread's store calls (claims, writes, completions)
    keeper_s: float = 0.0  # the lease keeper's store calls (renewals, state checks)

    def describe(self) -> str:
        share = self.store_s / self.compute_s if self.compute_s else 0.0
        return (
            f"{self.points} points, {self.compute_s:.3f} s computing, {self.store_s:.4f} s in "
            f"store calls ({100 * share:.2f} % of compute), {self.keeper_s:.4f} s keeping leases"
        )


class LeaseKeeper:
    """Keeps the lease of the unit a worker holds, from a background thread.

    Every ``WATCH_EVERY_S`` it looks at the job's state (a read, which never waits on
    writers) and every ``lease_s / 3`` it renews the lease (a write). When the job is no
    longer queued or running, or the renewal fails (the lease was taken over), the unit
    counts as lost (:meth:`lost`) and the worker stops after the point in hand. It also
    sends the worker's heartbeats and, through ``on_tick``, lets the worker check that
    its parent is alive while a long point runs.

    Args:
        store: the worker's store (a :class:`Store` may be shared by threads).
        worker_id: the lease owner.
        lease_s: the lease length.
        on_tick: called on every round, in the keeper's thread.
    """

    def __init__(
        self,
        store: Store,
        worker_id: int,
        lease_s: float,
        *,
        on_tick: Callable[[], object] | None = None,
        stats: WorkerStats | None = None,
    ) -> None:
        self._store = store
        self._worker_id = worker_id
        self._lease_s = lease_s
        self._renew_every_s = max(0.05, lease_s / 3)
        self._on_tick = on_tick
        self._stats = stats if stats is not None else WorkerStats()
        self._lock = threading.Lock()
        self._claim: UnitClaim | None = None
        self._renewed = 0.0
        self._lost: int | None = None  # unit id
        self._job: int | None = None
        self._beat = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def hold(self, claim: UnitClaim | None) -> None:
        """Start keeping ``claim``'s lease (just granted), or none."""
        with self._lock:
            self._claim = claim
            self._renewed = time.monotonic()
            self._lost = None

    def lost(self, claim: UnitClaim) -> bool:
        """Whether the worker should stop working on ``claim`` (job stopped, lease lost)."""
        return self._lost == claim.unit_id

    def _run(self) -> None:
        said: str | None = None  # the last store error said: a full disk's, every 0.25 s, filled the log
        while not self._stop.wait(WATCH_EVERY_S):
            try:
                self._tick()
                said = None
            except DatabaseLocked as exc:  # waited out at the next round: one line, no traceback
                log.warning("lease keeper: %s; trying again", first_line(exc))
            except StoreError as exc:  # a full disk, say: one line while it lasts
                if first_line(exc) != said:
                    said = first_line(exc)
                    log.warning("lease keeper: %s; trying again", said)
            except Exception:  # a busy database must not end the keeper; try next round
                log.exception("lease keeper")

    def _tick(self) -> None:
        if self._on_tick is not None:
            self._on_tick()
        with self._lock:
            claim, renewed = self._claim, self._renewed
        now = time.monotonic()
        if claim is not None and self._lost != claim.unit_id:
            start = time.perf_counter()
            finished_by_it = False
            if now - renewed >= self._renew_every_s:
                ok = self._store.renew_lease(claim.unit_id, self._worker_id, self._lease_s)
                with self._lock:
                    if self._claim is claim:
                        self._renewed = now
            else:
                state = self._store.job_state(claim.job_id)
                ok = state in _CLAIMABLE
                finished_by_it = state is JobState.DONE  # its last unit, just completed
            self._stats.keeper_s += time.perf_counter() - start
            if not ok:
                with self._lock:
                    held = self._claim is claim  # not a unit its worker finished meanwhile
                    if held:
                        self._lost = claim.unit_id
                if held and not finished_by_it:
                    log.info("unit %d of job %d: lease lost or job stopped", claim.seq, claim.job_id)
        job = claim.job_id if claim is not None else None
        if now - self._beat >= HEARTBEAT_EVERY_S or job != self._job:
            self._store.heartbeat(self._worker_id, job)
            self._beat, self._job = now, job


def _results_not_allowed(exc: OSError, results_dir: Path) -> bool:
    """Whether ``exc`` is a write refused (EACCES, EPERM, EROFS) in the job's results
    folder or the folder of all results, where it is made: not a file of the person's
    (a checkpoint, a direction file) that cannot be read, which fails the job."""
    if not may_pass_later(exc) or no_space(exc) or not exc.filename:
        return False
    where = Path(os.fsdecode(exc.filename)).absolute()
    results = results_dir.absolute()
    return where in (results, results.parent) or results in where.parents


class ExecutorLost(BaseException):
    """What computes a worker's points (its Ray actor) is gone. Not an ``Exception``: it
    must not fail the job in hand, only end the worker, which gives its unit back."""


class DeviceFault(ExecutorLost):
    """An error left the worker's GPU unusable (an illegal address, a launch failure, an
    ECC error): every later job would fail on it too. The unit's try is counted (a
    kernel that fails the same way each time fails its job after the unit's tries), and
    the worker ends; the daemon starts a fresh process, with a fresh CUDA context."""


@dataclass
class Worker:
    config: WorkerConfig
    store: Store
    worker_id: int = 0
    stopping: bool = False
    stats: WorkerStats = field(default_factory=WorkerStats)
    keeper: LeaseKeeper | None = None
    _space_wait: float = 0.0  # how long the last "no space" made this worker wait
    _prepared: dict[tuple[int, str], Any] = field(default_factory=dict)
    """The job this worker is ready for, keyed by its id and its spec as it is now: a job
    retried with a mended checkpoint (new digests) is made ready again, not computed from
    the model read before."""
    _in_hand: tuple[UnitClaim, int, float, list[PointRow]] | None = None
    """The point being computed: its unit, index, start (monotonic) and the unit's points
    not yet written."""
    _slowest_s: float = 0.0
    _point_timeout_s: float | None = None

    def request_stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        self.stopping = True

    def _orphaned(self) -> bool:
        """True once asked to stop or the daemon that started this worker is gone."""
        parent = self.config.parent_pid
        if parent is not None and os.getppid() != parent:
            self.stopping = True
        return self.stopping

    def _idle(self, seconds: float) -> None:
        """Sleep, but wake within 50 ms when asked to stop (sleep resumes after a signal)."""
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.05)

    def _timed(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A store call, its time counted in :attr:`stats`.

        While the store cannot be written (a full disk, a database locked for longer than
        the busy timeout) the call is retried with a growing pause, so the points in hand
        are kept; a worker asked to stop gives up instead.
        """
        pause = 0.5
        while True:
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            except StoreError as exc:
                if self.stopping or isinstance(exc, DatabaseDamaged):  # (no wait mends a damaged page)
                    raise
                log.warning("store call %s failed (%s); retrying in %.1f s", call.__name__, exc, pause)
                self._idle(pause)
                pause = min(10.0, 2 * pause)
            finally:
                self.stats.store_s += time.perf_counter() - start

    def _watch(self) -> None:
        """The lease keeper's look at this worker: asked to stop, orphaned, hung."""
        self._orphaned()
        self._end_if_hung()

    def _end_if_hung(self) -> None:
        """End this worker when the point in hand has taken longer than its time: a hung
        device call never returns, and its job would read running for good. Called from
        the lease keeper's thread, while the main thread is stuck in the point: the
        unit's points so far are written, its try counted (a point that hangs each time
        fails its job after its tries), and the process exits; the daemon starts a fresh
        one, with a fresh device context."""
        in_hand, limit = self._in_hand, self._point_timeout_s
        if in_hand is None or limit is None:
            return
        claim, index, since, buffer = in_hand
        spent = time.monotonic() - since
        if spent <= max(limit, SLOWEST_POINT_FACTOR * self._slowest_s):
            return
        message = (f"point {index} took over {spent:.0f} s on {self.config.device} (hung?; "
                   f"{POINT_TIMEOUT_ENV} in the daemon's environment gives points longer); "
                   "its worker ended and a fresh one starts")
        log.error("job %d: %s", claim.job_id, message)
        try:
            if buffer:
                self.store.write_points(claim.unit_id, self.worker_id, list(buffer))
            self.store.add_event(claim.job_id, "warning", message)
            self.store.fail_unit(claim.unit_id, self.worker_id, message, max_attempts=self.config.max_attempts)
            self.store.add_event(None, "error", f"worker on {self.config.device} stopped: {message}")
        finally:  # its lease runs out if the store could not be told: the unit goes back then
            logging.shutdown()
            os._exit(EXIT_HUNG)

    def run(self) -> int:
        self._point_timeout_s = self._point_timeout()
        self.worker_id = self.store.register_worker(
            self.config.device, os.getpid(), socket.gethostname()
        )
        log.info("worker %d on %s (pid %d)", self.worker_id, self.config.device, os.getpid())
        self.keeper = LeaseKeeper(
            self.store,
            self.worker_id,
            self.config.lease_s,
            on_tick=self._watch,
            stats=self.stats,
        )
        self.keeper.start()
        try:
            while not self._orphaned():
                claim = self._timed(
                    self.store.claim_unit,
                    self.worker_id,
                    self.config.lease_s,
                    max_attempts=self.config.max_attempts,
                )
                if claim is None:
                    if self.config.exit_when_idle:
                        break
                    self._forget_prepared()  # nothing to do: the device is others' meanwhile
                    self._idle(IDLE_SLEEP_S)
                    continue
                self.keeper.hold(claim)
                try:
                    self.run_unit(claim)
                except (ExecutorLost, KeyboardInterrupt, SystemExit):
                    # this worker ends with the unit in hand, through no fault of the unit:
                    # it goes back now, uncounted (not when its lease runs out, counted),
                    # and its job to the queue if no other worker computes it
                    with contextlib.suppress(Exception):
                        self.store.release_unit(claim.unit_id, self.worker_id, leaving=True)
                    raise
                finally:
                    self.keeper.hold(None)
        finally:
            self.keeper.stop()
            log.info("worker %d: %s", self.worker_id, self.stats.describe())
            self.store.retire_worker(self.worker_id)
        return 0

    # -- one unit -------------------------------------------------------------------
    def _point_timeout(self) -> float | None:
        """How long a point may take here before this worker takes it for hung."""
        return local_point_timeout_s(self.config.device)

    def _note(self, job_id: int, message: str) -> None:
        """A warning about a job (e.g. a damaged file set aside), kept in its log."""
        log.warning("job %d: %s", job_id, message)
        self.store.add_event(job_id, "warning", message)

    def _prepare(self, claim: UnitClaim) -> Any:
        key = (claim.job_id, json.dumps(claim.spec, sort_keys=True))
        cached = self._prepared.get(key)
        if cached is not None:
            return cached
        self._forget_prepared()  # one job's evaluator at a time
        prepared = self._build(claim)
        self._prepared[key] = prepared
        self.store.add_event(
            claim.job_id, "info", f"worker {self.worker_id} ready on {self.config.device}"
        )
        return prepared

    def _build(self, claim: UnitClaim) -> Any:
        """The claim's job made ready on this worker's device (model, data, directions)."""
        from lstui.scheduler.compute import prepare_job
        from lstui.spec import JobSpec

        refuse_newer_spec(claim)
        spec = JobSpec.from_dict(claim.spec)
        return prepare_job(
            spec, Path(claim.results_dir), device=self.config.device,
            on_note=lambda message: self._note(claim.job_id, message),
        )

    def _free_device(self) -> None:
        _empty_cache()

    def _forget_prepared(self) -> None:
        """Drop the evaluator this worker holds (model, data, directions) and free the
        device memory it held."""
        if self._prepared:
            self._prepared.clear()
            self._free_device()

    def _short_of_memory(self, claim: UnitClaim, message: str) -> None:
        """Count a try of ``claim``'s unit for an out-of-memory (the job goes on, up to its
        tries), after letting go of the evaluator and freeing the device: a try again
        starts at the full batch, on a clean device. Called out of the except block,
        whose traceback held what was built."""
        self._prepared.clear()
        self._free_device()
        self._timed(self.store.fail_unit, claim.unit_id, self.worker_id, message,
                    max_attempts=self.config.max_attempts)

    def _fail_job(self, claim: UnitClaim, message: str, detail: str | None = None) -> None:
        newer = self._store_upgraded()
        if newer is not None:  # a spec this lstui cannot read (a new key) is no fault of the job
            log.error("the job store was upgraded to schema %d by a newer lstui (this worker's is %d): "
                      "job %d is left queued for it, not failed (%s); this worker ends",
                      newer, SCHEMA_VERSION, claim.job_id, message)
            raise SystemExit(0)  # the run loop gives the unit back, uncounted
        self._forget_prepared()
        try:
            self.store.fail_job(claim.job_id, message, detail)
        except InvalidTransition:
            # Another worker failed it first, or a person cancelled it meanwhile.
            log.info("job %d is already finished; not failing it again", claim.job_id)
            return
        log.error("job %d failed: %s", claim.job_id, message)

    def _store_upgraded(self) -> int | None:
        """The store's schema when a newer lstui has upgraded it under this worker."""
        with contextlib.suppress(StoreError):
            version = self.store.schema_version
            if version > SCHEMA_VERSION:
                return version
        return None

    def run_unit(self, claim: UnitClaim) -> None:
        if claim.kind == "figure":
            self._run_figure(claim)
            return
        if not claim.todo:  # taken over from a worker that stored every point
            self._timed(self.store.complete_unit, claim.unit_id, self.worker_id)
            return
        short_of_memory: str | None = None
        try:
            prepared = self._prepare(claim)
        except OSError as exc:
            not_allowed = _results_not_allowed(exc, Path(claim.results_dir))
            if not (no_space(exc) or not_allowed):
                self._fail_job(claim, described(exc), traceback.format_exc())
                return
            # a full disk passes, and a results folder made read-only (chattr +i) once a
            # person allows it again: the unit goes back untouched, and this worker waits
            self._space_wait = min(NO_SPACE_WAIT_MAX_S, 2 * self._space_wait or NO_SPACE_WAIT_S)
            self._timed(self.store.release_unit, claim.unit_id, self.worker_id)
            what = (f"its results folder cannot be written ({first_line(exc)}): allow it (chmod, chattr -i)"
                    if not_allowed else f"no space to make the job ready ({first_line(exc)})")
            with contextlib.suppress(StoreError):  # the store may be out of space too
                self._note(claim.job_id, f"{what}; trying again in {self._space_wait:.0f} s")
            self._idle(self._space_wait)
            return
        except LstuiError as exc:  # one line; what a person's code raised under it, whole, as detail
            # a factory's model built on the GPU: lstui's line about the out-of-memory under
            # it (said `from None`); not an error raised while one was handled (a fallback's)
            under = exc.__cause__ or exc.__context__
            if under is None or not _is_oom(under) or "out of memory" not in str(exc).lower():
                self._end_if_device_broken(claim, exc)  # (a model's first samples met the device's error)
                self._fail_job(claim, str(exc), traceback.format_exc() if exc.__cause__ is not None else None)
                return
            short_of_memory = str(exc)
        except Exception as exc:  # a bug or a broken user model: the job fails, not the worker
            if not _is_oom(exc):
                self._end_if_device_broken(claim, exc)
                self._fail_job(claim, described(exc), traceback.format_exc())
                return
            # the model or the data did not fit, beside what others hold on a shared GPU:
            # a try counted, as at a point, not the job's end (freed below, out of the
            # except block, whose traceback holds what was built)
            short_of_memory = first_line(exc)
        if short_of_memory is not None:
            self._short_of_memory(claim, f"out of memory making the job ready: {short_of_memory}")
            return
        self._space_wait = 0.0
        assert self.keeper is not None
        buffer: list[PointRow] = []
        last_flush = time.monotonic()
        for index in claim.todo:
            if self._orphaned():
                self._flush(claim, buffer)
                self._timed(self.store.release_unit, claim.unit_id, self.worker_id)
                return
            if self.keeper.lost(claim):
                # paused, cancelled, failed or taken over: keep what we computed, stop here
                self._flush(claim, buffer)
                return
            start = time.perf_counter()
            out_of_memory: str | None = None
            self._in_hand = (claim, index, time.monotonic(), buffer)
            try:
                try:
                    result = self._evaluate(prepared, index)
                finally:
                    self._in_hand = None
            except Exception as exc:
                self._flush(claim, buffer)
                if not _is_oom(exc):
                    self._end_if_device_broken(claim, exc)
                    self._fail_job(claim, described(exc), traceback.format_exc())
                    return
                out_of_memory = first_line(exc)
            if out_of_memory is not None:
                del prepared  # (and the except block's traceback, gone with it, held it too)
                self._short_of_memory(claim, f"out of memory at batch size 1: {out_of_memory}")
                return
            spent = time.perf_counter() - start
            self._slowest_s = max(self._slowest_s, spent)
            self.stats.compute_s += spent
            self.stats.points += 1
            buffer.append(
                PointRow(
                    index, result.train_loss, result.train_acc, result.test_loss, result.test_acc
                )
            )
            now = time.monotonic()
            if now - last_flush >= FLUSH_EVERY_S:
                self._flush(claim, buffer)
                last_flush = now
        self._flush(claim, buffer)
        if not self.keeper.lost(claim):
            # let go of it first: a keeper's tick that met it completed (a renewal refused,
            # the job done) would say "lease lost"; the lease holds for the moment this takes
            self.keeper.hold(None)
            self._timed(self.store.complete_unit, claim.unit_id, self.worker_id)

    def _end_if_device_broken(self, claim: UnitClaim, exc: BaseException) -> None:
        """Raise :class:`DeviceFault` when ``exc`` left this worker's GPU unusable, after
        counting the unit's try against it."""
        if not _device_broken(self.config.device):
            return
        self._prepared.clear()  # (its memory goes with the process)
        self._end_with(claim, f"the device {self.config.device} failed: {described(exc)}", exc)

    def _end_with(self, claim: UnitClaim, message: str, exc: BaseException) -> NoReturn:
        """End this worker for what broke under it: the unit's try counted against it
        (one that breaks it each time fails its job after its tries), :class:`DeviceFault`."""
        log.error("%s; this worker ends, the daemon starts a fresh one", message)
        self._timed(self.store.fail_unit, claim.unit_id, self.worker_id, message,
                    max_attempts=self.config.max_attempts)
        raise DeviceFault(message) from exc

    def _flush(self, claim: UnitClaim, buffer: list[PointRow]) -> None:
        if buffer:
            self._timed(self.store.write_points, claim.unit_id, self.worker_id, list(buffer))
            buffer.clear()

    def _evaluate(self, prepared: Any, index: int) -> Any:
        return evaluate_with_backoff(prepared, index)

    def _run_figure(self, claim: UnitClaim) -> None:
        from lstui.scheduler.compare import run_figure_job
        from lstui.spec import JobSpec

        try:
            spec = JobSpec.from_dict(claim.spec)
            paths = run_figure_job(spec, self.store, Path(claim.results_dir), claim.job_id)
        except LstuiError as exc:
            self._fail_job(claim, str(exc))
            return
        except Exception as exc:
            self._fail_job(claim, described(exc), traceback.format_exc())
            return
        # as every other store call of a worker: retried while the store is locked or full
        for path in paths:
            self._timed(self.store.add_event, claim.job_id, "info", f"wrote {path}")
        self._timed(self.store.write_points, claim.unit_id, self.worker_id, [PointRow(0, None, None, None, None)])
        self._timed(self.store.complete_unit, claim.unit_id, self.worker_id)


def evaluate_with_backoff(prepared: Any, index: int) -> Any:
    """Evaluate one point of a prepared job; on out-of-memory halve the batch and try
    again, down to one sample (the Evaluator does so itself; this catches what comes
    from outside its evaluation)."""
    while True:
        try:
            return prepared.evaluate(index)
        except Exception as exc:
            ev = prepared.evaluator
            if not _is_oom(exc) or ev.batch_size <= 1:
                raise
        ev.shrink_batch()  # outside the except block: its traceback holds the batch's tensors


def _is_oom(exc: BaseException) -> bool:
    from lstui.landscape.fold import is_out_of_memory

    return is_out_of_memory(exc)


def _device_broken(device: str) -> bool:
    """Whether this worker's GPU is left unusable by an error (see
    :func:`lstui.landscape.fold.device_broken`); never for the CPU or a Ray actor."""
    if not device.startswith("cuda"):
        return False
    from lstui.landscape.fold import device_broken

    return device_broken(device)


def _empty_cache() -> None:
    import gc

    import torch

    if torch.cuda.is_available():
        gc.collect()  # the folded model's modules sit in a reference cycle: free them first
        torch.cuda.empty_cache()


def refuse_newer_spec(claim: UnitClaim) -> None:
    """Raise a SpecError for a job whose spec has keys this lstui does not know: it was
    queued by a newer lstui than this worker's (an upgrade under a running daemon)."""
    from lstui.spec import JobSpec

    unknown = sorted(set(claim.spec) - {f.name for f in dataclasses.fields(JobSpec)})
    if unknown:
        raise SpecError(
            f"the job was queued by a newer lstui than this worker's (its spec has "
            f"{unknown[0]!r}): restart the daemon (lstui daemon stop; lstui daemon start), "
            f"then lstui retry {claim.job_id}"
        )


def _say_why(store: Store, device: str, exc: BaseException) -> None:
    """Why this worker stops, as one line of the daemon's own log in the store, where
    ``lstui daemon status`` finds it (daemon.log has the whole of it)."""
    try:
        store.add_event(None, "error", f"worker on {device} stopped: {first_line(exc) or type(exc).__name__}")
    except StoreError:
        log.warning("could not record why the worker stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lstui-worker")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--exit-when-idle", action="store_true")
    parser.add_argument("--parent", type=int, default=None, help="stop when this process is gone")
    parser.add_argument("--ray-address", default="auto", help="the Ray cluster of a ray device")
    args = parser.parse_args(argv)
    from lstui.scheduler.daemon import log_to_file_too, log_to_stderr

    log_to_stderr("worker")

    log_to_file_too(args.home, "worker")  # (a --foreground daemon's: their lines went to its terminal only)
    # a crash in native code (SIGSEGV in a CUDA library) leaves its Python stack in
    # daemon.log, not only the daemon's "was killed by signal 11"
    faulthandler.enable()
    config = WorkerConfig(
        args.home,
        args.device,
        args.lease,
        args.threads,
        exit_when_idle=args.exit_when_idle,
        parent_pid=args.parent,
    )
    # Handlers first: a SIGTERM that arrives while torch imports must not kill the
    # worker before it has a chance to retire cleanly.
    worker_box: list[Worker] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        if worker_box:
            worker_box[0].request_stop()
        else:
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    # a file-size limit (a full quota) must give an error to handle, not kill the process
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGINT, stop)
    # the hang-up of a terminal running `daemon start --foreground` (an SSH link dropped)
    # reaches its workers too: it killed them mid-point, which counted against the unit,
    # and three hang-ups failed a sound job
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # (`nohup lstui daemon start --foreground`)
        signal.signal(signal.SIGHUP, stop)
    from lstui.scheduler.daemon import refuse_upgrade_under_older_daemon

    # a worker of a daemon that an older lstui started, restarted after lstui was upgraded in
    # place, upgraded the store under that daemon (which then wrote into the wrong folders)
    guard = refuse_upgrade_under_older_daemon(args.home)
    if args.device in RAY_DEVICES:
        from lstui.scheduler.ray_executor import RayWorker

        with Store.open_home(args.home, before_upgrade=guard) as store:
            ray_worker = RayWorker(config, store, address=args.ray_address, gpu=args.device == "ray")
            worker_box.append(ray_worker)
            try:
                return ray_worker.run()
            except (ExecutorLost, LstuiError) as exc:  # no cluster, no free device, a lost actor
                log.error("%s", exc)
                _say_why(store, args.device, exc)
                return 1
    try:
        import torch
    except ImportError as exc:  # a memory limit (ulimit -v): said where `daemon status` looks
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.error("cannot load PyTorch: %s", why)
        with Store.open_home(args.home, before_upgrade=guard) as store:
            _say_why(store, args.device, LstuiError(
                f"cannot load PyTorch: {why} (under a memory limit, such as `ulimit -v`, where the daemon "
                "was started?)"))
        return 1

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cpu":
        keep_freed_memory()
    if args.device.startswith("cuda") and torch.device(args.device).index is not None:
        torch.cuda.set_device(torch.device(args.device))
    with Store.open_home(args.home, before_upgrade=guard) as store:
        worker = Worker(config, store)
        worker_box.append(worker)
        try:
            return worker.run()
        except DeviceFault as exc:  # the daemon restarts this worker: a fresh CUDA context
            _say_why(store, args.device, exc)
            return 1


if __name__ == "__main__":
    # main of the imported module, not of __main__: the classes it catches (ExecutorLost)
    # are then those that the modules it imports (ray_executor) raise
    from lstui.scheduler.worker import main as module_main

    exit_code = module_main()
    # Everything is stored and the store is closed: skip the interpreter's slow
    # teardown of torch so that stopping the daemon takes a moment, not seconds.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)
