"""Following jobs in the store with rich progress bars (``submit --wait``, ``demo``)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lstui.store import FINISHED, JobRow, JobState, Store


def follow_jobs(
    store: Store, ids: Sequence[int], *, console: Console | None = None, poll_s: float = 0.5,
    timeout_s: float | None = None,
) -> list[JobRow]:
    """Show one bar per job until every job is finished (or ``timeout_s`` passes)."""
    console = console or Console(stderr=True)
    start = time.monotonic()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[state]}"), TimeElapsedColumn(), console=console,
    ) as progress:
        tasks = {}
        for job_id in ids:
            job = store.get_job(job_id)
            label = f"{job.id:>4} {job.name}"
            tasks[job_id] = progress.add_task(label[:44].ljust(44), total=job.total_points, state=job.state.value)
        while True:
            jobs = [store.get_job(j) for j in ids]
            for job in jobs:
                progress.update(tasks[job.id], completed=job.done_points, state=job.state.value)
            if all(job.state in FINISHED for job in jobs):
                return jobs
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                return jobs
            time.sleep(poll_s)


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
    return f"{diverged_text(count, job.total_points)}; they are saved as they are and drawn as gaps"


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
