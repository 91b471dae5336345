"""Workers whose points are computed on a Ray cluster, when one machine is not enough.

``lstui daemon start --devices ray:N`` starts N workers as usual, on the daemon's machine;
each one places a Ray actor on one GPU of the cluster (``ray-cpu:N``: one CPU core) and
has it compute the points of the units it claims. The worker keeps everything else: it
claims units, holds their leases, writes the points to the store, logs and fails jobs,
exactly as a local worker does, so the store stays on one machine and SQLite is never
shared over a network.

The actor builds each job where it runs (:func:`~lstui.scheduler.compute.prepare_job`:
model, data on its device, directions), so the cluster's nodes must see the job's files
at the paths the job names: the checkpoints, the data folders and ``$LSTUI_HOME/results``
(a shared filesystem, as the reference's MPI scripts needed). A job's direction file is
made once by the first actor that prepares it and read by the others.

An actor that dies (its node lost) ends its worker process; the daemon restarts the
worker, which places a new actor, and gives the unit in hand back to the queue.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lstui.errors import DaemonError, first_line
from lstui.scheduler.devices import RAY_DEVICES
from lstui.scheduler.worker import (
    SLOWEST_POINT_FACTOR,
    ExecutorLost,
    Worker,
    evaluate_with_backoff,
    refuse_newer_spec,
    seconds_from_env,
)
from lstui.store import UnitClaim

log = logging.getLogger("lstui.ray")

PLACE_TIMEOUT_S = 120.0
"""How long a worker waits for the cluster to give its actor a GPU (or a core)."""
POINT_TIMEOUT_S = 900.0
"""How long a worker waits for its actor's next point before it takes the actor for hung
(a GPU or a file system that stopped answering), at least: 20 times its slowest point so
far, if longer. ``$LSTUI_RAY_POINT_TIMEOUT_S`` sets it, for jobs whose points take longer."""
POINT_TIMEOUT_ENV = "LSTUI_RAY_POINT_TIMEOUT_S"


def point_timeout_s() -> float:
    """:data:`POINT_TIMEOUT_S`, or ``$LSTUI_RAY_POINT_TIMEOUT_S`` (seconds > 0).

    Raises:
        DaemonError: the variable is not a number of seconds above 0.
    """
    return seconds_from_env(POINT_TIMEOUT_ENV, POINT_TIMEOUT_S, "a Ray actor may take for a point")


class ActorHung(Exception):
    """The actor computed no point within its time (:data:`POINT_TIMEOUT_S`)."""


class RemoteEvaluator:
    """The Ray actor: one job prepared at a time, evaluated point by point."""

    def __init__(self, threads: int | None) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.job_id: int | None = None
        self.prepared: Any = None

    def where(self) -> str:
        """``HOST/cuda:K`` or ``HOST/cpu``: where this actor computes (K: the GPU's index
        on that machine, as Ray gave it)."""
        import ray
        import torch

        node = socket.gethostname()
        if torch.cuda.is_available():
            return f"{node}/cuda:{','.join(str(g) for g in ray.get_gpu_ids())}"
        return f"{node}/cpu"

    def prepare(self, job_id: int, spec: dict[str, Any], results_dir: str) -> list[str]:
        """Build the job on this actor's device; returns the notes a person should see."""
        import torch

        from lstui.scheduler.compute import prepare_job
        from lstui.spec import JobSpec

        self.job_id, self.prepared = None, None  # one job's evaluator at a time
        if torch.cuda.is_available():
            import gc

            gc.collect()  # the last job's folded model sits in a reference cycle: freed first
            torch.cuda.empty_cache()
        device = "cuda" if torch.cuda.is_available() else "cpu"  # Ray narrows CUDA_VISIBLE_DEVICES to its GPU
        self.prepared = prepare_job(JobSpec.from_dict(spec), Path(results_dir), device=device)
        self.job_id = job_id
        return list(self.prepared.notes)

    def evaluate(self, job_id: int, index: int) -> Any:
        if job_id != self.job_id:
            raise RuntimeError(f"the actor holds job {self.job_id}, not job {job_id}")
        return evaluate_with_backoff(self.prepared, index)


@dataclass
class RayWorker(Worker):
    """A worker whose points a Ray actor computes (see the module's text)."""

    address: str = "auto"
    gpu: bool = True
    _actor: Any = None
    _actor_timeout_s: float = POINT_TIMEOUT_S

    def run(self) -> int:
        self._actor_timeout_s = point_timeout_s()
        ray = connect(self.address)
        try:
            self._place()
            return super().run()
        finally:
            if self._actor is not None:
                ray.kill(self._actor)
            ray.shutdown()

    def _place(self) -> None:
        import ray

        if self.gpu:
            decorate = ray.remote(max_restarts=0, num_gpus=1)
        else:
            decorate = ray.remote(max_restarts=0, num_cpus=1)
        self._actor = decorate(RemoteEvaluator).remote(None if self.gpu else 1)
        what = "GPU" if self.gpu else "CPU core"
        try:
            where = ray.get(self._actor.where.remote(), timeout=PLACE_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            raise DaemonError(
                f"the Ray cluster at {self.address} gave this worker no {what} within "
                f"{PLACE_TIMEOUT_S:.0f} s (all taken, or none there)"
            ) from None
        self.config.device = f"ray:{where}"
        log.info("Ray actor on %s", where)

    def _remote(self, ref: Any, timeout_s: float | None = None) -> Any:
        """The actor's answer; its exception as the original one, so that a job's bad
        input fails the job in one line as on a local worker. No answer in ``timeout_s``:
        :class:`ActorHung`, the actor killed."""
        import ray

        try:
            return ray.get(ref, timeout=timeout_s)
        except ray.exceptions.GetTimeoutError:
            ray.kill(self._actor)
            raise ActorHung(f"the Ray actor on {self.config.device} computed no point in "
                            f"{timeout_s:.0f} s (hung?; {POINT_TIMEOUT_ENV} gives points longer); "
                            "it was stopped") from None
        except ray.exceptions.RayActorError as exc:
            raise ExecutorLost(f"the Ray actor on {self.config.device} is gone: {first_line(exc)}") from None
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, Exception):
                raise cause from None
            raise

    def _build(self, claim: UnitClaim) -> Any:
        """The job made ready on the actor; what stands for it here is its id."""
        refuse_newer_spec(claim)  # (the actor runs this lstui's code too, or an older one)
        ref = self._actor.prepare.remote(claim.job_id, claim.spec, str(claim.results_dir))
        for note in self._remote(ref):
            self._note(claim.job_id, note)
        return claim.job_id

    def _free_device(self) -> None:
        """Nothing here: the actor frees its device when it prepares the next job."""

    def _evaluate(self, prepared: Any, index: int) -> Any:
        timeout_s = max(self._actor_timeout_s, SLOWEST_POINT_FACTOR * self._slowest_s)
        return self._remote(self._actor.evaluate.remote(prepared, index), timeout_s)

    def _point_timeout(self) -> float | None:
        """None: the actor's point is waited for with its own time (:meth:`_evaluate`)."""
        return None

    def _end_if_device_broken(self, claim: UnitClaim, exc: BaseException) -> None:
        """A hung actor ends this worker as a broken GPU ends a local one: the unit's try
        counted (a point that hangs each time fails its job after its tries), the daemon
        starts a fresh worker, which places a fresh actor."""
        if isinstance(exc, ActorHung):
            self._prepared.clear()
            self._end_with(claim, str(exc), exc)


def connect(address: str) -> Any:
    """``ray`` connected to the cluster at ``address`` (``auto``: ``RAY_ADDRESS``, or the
    cluster ``ray start`` runs on this machine); one clear error when that fails."""
    # Ray's C++ handler prints a stack dump for every SIGTERM, which is how the daemon
    # stops a worker: daemon.log would read like a crash at each stop. Ray reads the
    # setting when it is imported, so it is set before.
    os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
    try:
        import ray
    except ImportError:
        raise DaemonError(
            "Ray devices need Ray in lstui's environment: pip install 'ray>=2.9' "
            "(the version the cluster runs)"
        ) from None
    if ray.is_initialized():
        return ray
    _reachable(address)
    try:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        # Ray's own advice names its flags (`--address`), not lstui's: its first sentence only
        first = (first_line(exc) or type(exc).__name__).split(". ")[0].rstrip(".")
        helps = ("install it in lstui's environment, or give the head's HOST:PORT" if "ray[client]" in first
                 else "start one with 'ray start --head' or give its address")
        raise DaemonError(f"no Ray cluster at --ray-address {address} ({first}); {helps}") from None
    return ray


def _reachable(address: str, timeout_s: float = 5.0) -> None:
    """A ``HOST:PORT`` nobody answers on is refused at once (Ray itself would retry for
    minutes, deaf to Ctrl-C); ``auto`` is the ``RAY_ADDRESS`` it names, if any, checked
    likewise; ``ray://`` addresses, and ``auto`` without it, are left to Ray."""
    where = f"--ray-address {address}"
    if address == "auto":
        named = os.environ.get("RAY_ADDRESS", "").strip()
        if not named or named == "auto":
            return
        address, where = named, f"RAY_ADDRESS={named} (--ray-address auto)"
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s) as conn:
            if os.environ.get("RAY_USE_TLS", "0").lower() in ("0", "false", ""):
                conn.sendall(_HTTP2_PREFACE)
                answer = _read_some(conn, 9)
            else:
                answer = None  # a TLS cluster's handshake is Ray's to make
    except OSError as exc:
        raise DaemonError(
            f"no Ray cluster at {where} ({exc.strerror or exc}); start one "
            "with 'ray start --head' or give its address"
        ) from None
    if answer is not None and not (len(answer) == 9 and answer[3] == _HTTP2_SETTINGS):
        # something else listens there (Ray would try for minutes, printing C++ warnings)
        raise DaemonError(
            f"{where} answers, but not as a Ray cluster's head (no gRPC); "
            "give the port 'ray start --head' printed (6379 by default)"
        )


_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
"""What an HTTP/2 (gRPC) client sends first: the preface and an empty SETTINGS frame. A
Ray head's GCS answers with its own SETTINGS frame (the frame type, byte 3, is 4)."""
_HTTP2_SETTINGS = 4


def _read_some(conn: socket.socket, size: int) -> bytes:
    """Up to ``size`` bytes, fewer when the peer closes; b"" when it says nothing in time."""
    data = b""
    try:
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    return data


def check_cluster(devices: list[str], address: str) -> None:
    """Before a daemon starts Ray workers: Ray is there, and so is a cluster with the
    GPUs (or cores) asked for. Raises :class:`DaemonError` in one line."""
    wanted = {kind: devices.count(kind) for kind in RAY_DEVICES if kind in devices}
    if not wanted:
        return
    point_timeout_s()  # a bad $LSTUI_RAY_POINT_TIMEOUT_S said now, not by each worker
    ray = connect(address)
    try:
        total = ray.cluster_resources()
    finally:
        ray.shutdown()
    for kind, count in wanted.items():
        resource = "GPU" if kind == "ray" else "CPU"
        have = int(total.get(resource, 0))
        if have < count:
            cores = int(total.get("CPU", 0))
            hint = f" (its {cores} CPU cores: --devices ray-cpu:N)" if kind == "ray" and cores else ""
            raise DaemonError(
                f"--devices {kind}:{count}: the Ray cluster at {address} has {have} {resource}s{hint}"
            )
