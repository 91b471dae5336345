"""Queueing jobs: a validated JobSpec becomes a job row and its work units."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lstui.errors import BadInput, InvalidTransition, JobNotFound, SpecError
from lstui.scheduler.imports import add_import_path, with_import_path
from lstui.scheduler.preflight import changed_files, check_inputs, with_digests
from lstui.spec import MAX_UNIT_SIZE, JobSpec
from lstui.store import JobRow, JobState, Store
from lstui.store.states import check_action

DEFAULT_UNIT_SIZE = 16
TAPER = 4
"""Without an explicit unit size, a job's last units halve in size down to one point, this
many of each size, so that its workers (GPUs) finish together: with units of 16
throughout, the compute of two workers on a 121-point job ended 0.1 to 3.2 s apart
(0.2 s a point; `benchmarks/bench_scheduler.py`, ``compute_spread_s``), tapered 0.1 to
0.4 s."""


def results_root(store: Store) -> Path:
    """Where the results folders of a store's jobs live: ``HOME/results``."""
    return store.path.parent / "results"


@dataclass(frozen=True)
class Prepared:
    """A job ready to queue (:func:`prepare_spec`): its spec with the digests of the files
    its workers read, and its points cut into units."""

    spec: JobSpec
    units: list[list[int]]
    total: int


def prepare_spec(spec: JobSpec, *, unit_size: int | None = None, check: bool = True) -> Prepared:
    """``spec`` ready to queue, its points cut into coarse-to-fine units: of
    ``unit_size`` points each if given, else of :data:`DEFAULT_UNIT_SIZE` with the last
    ones smaller (:data:`TAPER`). The files are read here, not while a set of jobs is
    queued under the store's write lock (:meth:`~lstui.store.Store.together`).

    With ``check`` (the default) the job's data, checkpoints and direction file are read
    first (:func:`~lstui.scheduler.preflight.check_inputs`), so input a worker would
    refuse is refused here; pass False where they were checked already, for a set of
    jobs queued together."""
    taper = TAPER if unit_size is None else 0
    unit_size = DEFAULT_UNIT_SIZE if unit_size is None else unit_size
    if not 1 <= unit_size <= MAX_UNIT_SIZE:
        raise SpecError(f"--unit-size must be between 1 and {MAX_UNIT_SIZE}, got {unit_size}")
    spec.checked_size()
    spec = with_import_path(spec)
    add_import_path(spec.import_path)  # a module of the current folder, for the checks here
    if check:
        check_inputs([spec])
    spec = with_digests(spec)
    if spec.kind == "figure":
        return Prepared(spec, [[0]], 1)
    grid = spec.grid
    return Prepared(spec, grid.work_units(unit_size, taper=taper), grid.num_points)


def queue_prepared(store: Store, job: Prepared, *, depends_on: Sequence[int] = ()) -> int:
    """Queue a job :func:`prepare_spec` made ready; returns its id."""
    return store.add_job(
        kind=job.spec.kind,
        name=job.spec.default_name(),
        spec=job.spec.to_dict(),
        total_points=job.total,
        units=job.units,
        priority=job.spec.priority,
        depends_on=tuple(depends_on),
        results_root=results_root(store),
    )


def submit_spec(
    store: Store,
    spec: JobSpec,
    *,
    unit_size: int | None = None,
    depends_on: Sequence[int] = (),
    check: bool = True,
) -> int:
    """Queue ``spec`` (:func:`prepare_spec`, :func:`queue_prepared`); returns the job id."""
    return queue_prepared(store, prepare_spec(spec, unit_size=unit_size, check=check), depends_on=depends_on)


def same_settings(store: Store, job_ids: Sequence[int]) -> dict[int, list[JobRow]]:
    """For each of jobs ``job_ids``, the earlier jobs, queued, running, paused or done, that
    compute what it computes (every setting that changes the numbers equal, its files'
    contents too): a sweep script run again queued each of its jobs twice without a word.
    The store is read once for each kind, however many jobs a job file queued."""
    from lstui.scheduler.compute import compute_keys

    new = [store.get_job(job_id) for job_id in job_ids]
    live = (JobState.QUEUED, JobState.RUNNING, JobState.PAUSED, JobState.DONE)
    found: dict[int, list[JobRow]] = {job.id: [] for job in new}
    for kind in dict.fromkeys(job.kind for job in new):
        if kind in ("figure", "trajectory"):  # (a trajectory's plane is its own each time)
            continue
        keyed = [(other, compute_keys(other.spec)) for other in store.list_jobs(kind=kind) if other.state in live]
        for job in new:
            if job.kind == kind:
                wanted = compute_keys(job.spec)
                found[job.id] = [other for other, keys in keyed if other.id < job.id and keys == wanted]
    return found


def same_settings_notes(store: Store, job_ids: Sequence[int], take_back: str) -> dict[int, str]:
    """What is said of each of jobs ``job_ids`` whose numbers earlier jobs compute
    (:func:`same_settings`), by `lstui submit` and the TUI's form alike; ``take_back``:
    how to take one back there (``lstui cancel {id}``, ``c cancels it``)."""
    notes = {}
    for job_id, twins in same_settings(store, job_ids).items():
        if not twins:
            continue
        several = len(twins) > 1
        # the newest three: a file queued a third time names its last run, not its first
        listed = ("… " if len(twins) > 3 else "") + ", ".join(f"{t.id} ({t.state.value})" for t in twins[-3:])
        notes[job_id] = (f"job{'s' if several else ''} {listed} compute{'' if several else 's'} the same numbers "
                         f"as job {job_id}: it computes them again ({take_back.format(id=job_id)})")
    return notes


def retry_jobs(store: Store, job_ids: Sequence[int]) -> None:
    """Queue failed or cancelled jobs again, once their files pass the submit check.

    A job failed on its checkpoint fails the same way when retried unless the file was
    mended, so each job's spec is checked as :func:`submit_spec` checks it. All are
    checked before the first is retried: either all are queued again or none is.
    """
    listed = ", ".join(str(j) for j in dict.fromkeys(job_ids))
    try:
        jobs = [store.get_job(job_id) for job_id in job_ids]
    except JobNotFound as exc:
        if len(set(job_ids)) == 1:
            raise
        raise JobNotFound(f"none of jobs {listed} was retried: {exc}") from None

    def not_retried(job_id: int) -> str:  # several: that none was, not only this one
        return (f"job {job_id} was not retried" if len(jobs) == 1
                else f"none of jobs {listed} was retried; job {job_id}")

    for job in jobs:
        try:
            check_action(job.state, "retry", job_id=job.id)
        except InvalidTransition as exc:
            if len(jobs) == 1:
                raise
            raise InvalidTransition(f"none of jobs {listed} was retried: {exc}") from None

    for job in jobs:  # a job waiting on a job that will not run would wait for ever
        for dep in job.depends_on:
            state = store.get_job(dep).state
            if dep not in job_ids and state in (JobState.FAILED, JobState.CANCELLED):
                raise InvalidTransition(
                    f"{not_retried(job.id)}: it waits on job {dep}, which is "
                    f"{state.value}; retry both: lstui retry {dep} {job.id}"
                )
    specs = {}
    for job in jobs:
        try:
            spec = JobSpec.from_dict(job.spec)
            check_inputs([spec])  # the files must still be there
        except BadInput as exc:
            raise type(exc)(f"{not_retried(job.id)}: {exc}") from None
        changed = changed_files(spec)
        if changed and spec.kind == "trajectory":
            raise BadInput(
                f"{not_retried(job.id)}: {changed[0]!r} changed after it was queued, and "
                "its PCA plane and path are of the old checkpoints; queue the trajectory again"
            )
        if changed and job.done_points:
            raise BadInput(
                f"{not_retried(job.id)}: {changed[0]!r} changed after it was queued, "
                f"and its {job.done_points} "
                f"{'point is' if job.done_points == 1 else 'points are'} of the old file; "
                "queue a new job"
            )
        # a file mended before any point was stored: the job goes on with what it holds now
        specs[job.id] = with_digests(spec).to_dict() if changed else None
    for job_id in sorted(job_ids):  # a job's dependencies (older jobs) first
        store.retry(job_id, spec=specs[job_id])
