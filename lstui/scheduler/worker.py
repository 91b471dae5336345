"""A worker process: one per device, claiming work units from the store under a lease.

Run as ``python -m lstui.scheduler.worker --home H --device cuda:0``. It keeps the
evaluator of the job it works on across units, writes its points as it goes, renews
its lease, and on SIGTERM finishes the point in hand and gives its unit back.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from lstui.errors import LstuiError
from lstui.store import PointRow, Store, UnitClaim

log = logging.getLogger("lstui.worker")

FLUSH_EVERY_S = 1.0
IDLE_SLEEP_S = 0.5


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
class Worker:
    config: WorkerConfig
    store: Store
    worker_id: int = 0
    stopping: bool = False
    _prepared: dict[int, object] = field(default_factory=dict)

    def request_stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        self.stopping = True

    def _orphaned(self) -> bool:
        """True once the daemon that started this worker is gone (then the worker stops)."""
        parent = self.config.parent_pid
        if parent is not None and os.getppid() != parent:
            self.stopping = True
        return self.stopping

    def run(self) -> int:
        self.worker_id = self.store.register_worker(self.config.device, os.getpid(), socket.gethostname())
        log.info("worker %d on %s (pid %d)", self.worker_id, self.config.device, os.getpid())
        try:
            while not self._orphaned():
                claim = self.store.claim_unit(
                    self.worker_id, self.config.lease_s, max_attempts=self.config.max_attempts
                )
                if claim is None:
                    self.store.heartbeat(self.worker_id)
                    if self.config.exit_when_idle:
                        break
                    time.sleep(IDLE_SLEEP_S)
                    continue
                self.store.heartbeat(self.worker_id, claim.job_id)
                self.run_unit(claim)
        finally:
            self.store.retire_worker(self.worker_id)
        return 0

    # -- one unit -------------------------------------------------------------------
    def _prepare(self, claim: UnitClaim):  # type: ignore[no-untyped-def]
        from lstui.scheduler.compute import prepare_job
        from lstui.spec import JobSpec

        cached = self._prepared.get(claim.job_id)
        if cached is not None:
            return cached
        self._prepared.clear()  # one job's evaluator at a time: free the device memory
        spec = JobSpec.from_dict(claim.spec)
        prepared = prepare_job(spec, Path(claim.results_dir), device=self.config.device)
        self._prepared[claim.job_id] = prepared
        self.store.add_event(
            claim.job_id, "info", f"worker {self.worker_id} ready on {self.config.device}"
        )
        return prepared

    def _fail_job(self, claim: UnitClaim, message: str, detail: str | None = None) -> None:
        log.error("job %d failed: %s", claim.job_id, message)
        if detail:
            self.store.add_event(claim.job_id, "debug", detail)
        self.store.fail_job(claim.job_id, message)
        self._prepared.pop(claim.job_id, None)

    def run_unit(self, claim: UnitClaim) -> None:
        if claim.kind == "figure":
            self._run_figure(claim)
            return
        try:
            prepared = self._prepare(claim)
        except LstuiError as exc:
            self._fail_job(claim, str(exc))
            return
        except Exception as exc:  # a bug or a broken user model: the job fails, not the worker
            self._fail_job(claim, f"{type(exc).__name__}: {exc}", traceback.format_exc())
            return
        buffer: list[PointRow] = []
        last_flush = last_renew = time.monotonic()
        for index in claim.todo:
            if self._orphaned():
                self._flush(claim, buffer)
                self.store.release_unit(claim.unit_id, self.worker_id)
                return
            try:
                result = self._evaluate(prepared, index)
            except Exception as exc:
                self._flush(claim, buffer)
                if _is_oom(exc):
                    self.store.fail_unit(
                        claim.unit_id, self.worker_id, f"out of memory at batch size 1: {exc}",
                        max_attempts=self.config.max_attempts,
                    )
                    return
                self._fail_job(claim, f"{type(exc).__name__}: {exc}", traceback.format_exc())
                return
            buffer.append(PointRow(index, result.train_loss, result.train_acc, result.test_loss, result.test_acc))
            now = time.monotonic()
            if now - last_flush >= FLUSH_EVERY_S:
                self._flush(claim, buffer)
                last_flush = now
            if now - last_renew >= min(1.0, self.config.lease_s / 3):
                last_renew = now
                if not self.store.renew_lease(claim.unit_id, self.worker_id, self.config.lease_s):
                    # cancelled, paused or taken over: keep what we computed, stop here
                    self._flush(claim, buffer)
                    return
                self.store.heartbeat(self.worker_id, claim.job_id)
        self._flush(claim, buffer)
        self.store.complete_unit(claim.unit_id, self.worker_id)

    def _flush(self, claim: UnitClaim, buffer: list[PointRow]) -> None:
        if buffer:
            self.store.write_points(claim.unit_id, self.worker_id, list(buffer))
            buffer.clear()

    def _evaluate(self, prepared, index: int):  # type: ignore[no-untyped-def]
        """Evaluate one point; on CUDA out-of-memory halve the batch and try again."""
        while True:
            try:
                return prepared.evaluate(index)
            except Exception as exc:
                ev = prepared.evaluator
                if not _is_oom(exc) or ev.batch_size <= 1:
                    raise
                ev.batch_size = max(1, ev.batch_size // 2)
                _empty_cache()
                log.warning("out of memory; batch size now %d", ev.batch_size)

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
            self._fail_job(claim, f"{type(exc).__name__}: {exc}", traceback.format_exc())
            return
        for path in paths:
            self.store.add_event(claim.job_id, "info", f"wrote {path}")
        self.store.write_points(claim.unit_id, self.worker_id, [PointRow(0, None, None, None, None)])
        self.store.complete_unit(claim.unit_id, self.worker_id)


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _empty_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lstui-worker")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--exit-when-idle", action="store_true")
    parser.add_argument("--parent", type=int, default=None, help="stop when this process is gone")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s worker[{os.getpid()}] %(levelname)s %(message)s"
    )
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        torch.cuda.set_device(torch.device(args.device))
    config = WorkerConfig(
        args.home, args.device, args.lease, args.threads,
        exit_when_idle=args.exit_when_idle, parent_pid=args.parent,
    )
    with Store.open_home(args.home) as store:
        worker = Worker(config, store)
        signal.signal(signal.SIGTERM, worker.request_stop)
        signal.signal(signal.SIGINT, worker.request_stop)
        return worker.run()


if __name__ == "__main__":
    sys.exit(main())
