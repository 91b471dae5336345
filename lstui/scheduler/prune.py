"""``lstui rm``: finished jobs taken out of the store, and their folders off the disk.

The store grows with every job ever run (its rows, points and log lines) and so does
``results/`` (52 KB to 190 KB a job). Only finished jobs are removed, never one that a
job left in the store is drawn from, and only folders under the home: a results folder,
and a trajectory's PCA plane under ``trajectories/``.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lstui.errors import BadInput, InvalidTransition, first_line
from lstui.scheduler.shield import signals_held
from lstui.store import FINISHED, JobRow, Store, drawn_from

_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0, "": 86400.0}


def parse_age(text: str) -> float:
    """Seconds of ``30d``, ``12h``, ``90m``, ``2w`` (a bare number is days).

    Raises:
        BadInput: anything else.
    """
    match = _AGE.fullmatch(text.strip())
    if match is None:
        raise BadInput(f"--older-than {text!r}: give a number and a unit, like 30d, 12h, 90m or 2w (a bare "
                       "number is days)")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


@dataclass
class Removal:
    """What :func:`remove_jobs` did."""

    jobs: list[JobRow] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)
    freed_bytes: int = 0
    left: list[tuple[Path, str]] = field(default_factory=list)
    """Folders (or their files) that could not be deleted, with why (a read-only folder)."""


def finished_before(store: Store, cutoff: float) -> tuple[list[int], list[int]]:
    """The finished jobs that finished before unix time ``cutoff``, less those a job left
    in the store is drawn from (a comparison whose figures are newer than its curves).

    Returns:
        ``(removable, kept)``: job ids.
    """
    jobs = store.list_jobs(include_finished=True)
    old = {j.id for j in jobs if j.state in FINISHED and j.finished is not None and j.finished < cutoff}
    kept: set[int] = set()
    changed = True
    while changed:  # a job kept keeps what it is drawn from, and so on
        changed = False
        for job in jobs:
            if job.id in old and job.id not in kept:  # (old - kept made anew for each job: minutes on 15,000)
                continue
            for dep in job.depends_on:
                if dep in old and dep not in kept:
                    kept.add(dep)
                    changed = True
    return sorted(old - kept), sorted(kept)


WRITING_S = 120.0
"""A finished job whose files a running daemon has not marked written yet, and which
finished this recently, is taken to be in its hands (after that: a folder deleted by
hand, or one it could not write, is nothing to wait for)."""

_PATH_KEYS = ("dir_file", "checkpoint", "checkpoint_b", "target", "target_y")
"""The keys of a job's spec that name a file it reads (``checkpoints``: a list of them)."""


def unremovable(store: Store, job_ids: Sequence[int], home: Path, *, keep_files: bool,
                daemon_running: bool, now: float | None = None) -> dict[int, str]:
    """The jobs of ``job_ids`` that cannot go now, each with why, in one line: one a job
    left in the store is drawn from (a comparison's figures, as :meth:`Store.remove_jobs`
    refuses: the TUI asked first and refused after the yes), one whose files a running
    daemon is writing, or (unless ``keep_files``) one whose folder holds a file a job left
    in the store reads (a ``--dir-file`` reusing its directions)."""
    from lstui.scheduler.daemon import finish_marked

    now = time.time() if now is None else now
    wanted = set(job_ids)
    jobs = store.list_jobs(include_finished=True)
    by_id = {j.id: j for j in jobs}
    why: dict[int, str] = {}
    suspended: bool | None = None  # (asked once, when it matters)
    for job_id in job_ids:
        job = by_id.get(job_id)
        if (daemon_running and job is not None and job.state in FINISHED and job.kind != "figure"
                and job.done_points and not finish_marked(job) and Path(job.results_dir).is_dir()
                and job.finished is not None and now - job.finished < WRITING_S):
            if suspended is None:
                from lstui.scheduler.daemon import daemon_status

                suspended = daemon_status(home).suspended
            # (a daemon stopped with SIGSTOP writes nothing: "in a moment" was never)
            why[job_id] = (f"job {job_id}'s files wait for the daemon, which is suspended (Ctrl-Z or SIGSTOP): "
                           "continue it (lstui daemon status says how) or stop it (lstui daemon stop) first"
                           if suspended else
                           f"job {job_id}'s files are being written by the daemon; try again in a moment")
    drawn_by: dict[int, list[int]] = {}  # job → the jobs drawn from it (one pass: not one per job removed)
    for other in jobs:
        if other.id not in wanted:
            for dep in other.depends_on or ():
                drawn_by.setdefault(dep, []).append(other.id)
    drawn = {job_id: sorted(drawn_by.get(job_id, ())) for job_id in job_ids if job_id not in why}
    with_drawn = [*wanted, *(d for ds in drawn.values() for d in ds)]
    why.update({job_id: drawn_from(ds[0], job_id, with_drawn) for job_id, ds in drawn.items() if ds})
    if keep_files:
        return why
    home = home.resolve()
    owner = {folder: j for j in job_ids if j in by_id and j not in why for folder in _own_folders(by_id[j], home)}
    readers: dict[int, list[tuple[int, Path]]] = {}  # job → (a job left that reads its folder, what)
    for other in jobs:
        if other.id in wanted or not owner:
            continue
        for used in _paths_read(other):
            owners = {owner[f] for f in (used, *used.parents) if f in owner}  # (a lookup: not every folder)
            for job_id in sorted(owners):
                readers.setdefault(job_id, []).append((other.id, used))
    if readers:
        # the command that does what was asked: the ids given and every job reading their folders
        together = " ".join(str(j) for j in sorted(wanted | {r for rs in readers.values() for r, _ in rs}))
        for job_id, found in readers.items():
            other_id, used = found[0]
            more = f" (and {len({r for r, _ in found}) - 1} more)" if len({r for r, _ in found}) > 1 else ""
            why[job_id] = (f"job {other_id}{more} reads {used} from job {job_id}'s folder: remove it too "
                           f"(lstui rm {together}), or this one with --keep-files")
    return why


def _paths_read(job: JobRow) -> list[Path]:
    """The files ``job``'s spec names, resolved (those it would read to run again)."""
    named = [job.spec.get(key) for key in _PATH_KEYS]
    checkpoints = job.spec.get("checkpoints")
    if isinstance(checkpoints, list | tuple):
        named += list(checkpoints)
    out = []
    for value in named:
        if isinstance(value, str) and value:
            try:
                out.append(Path(value).expanduser().resolve())
            except OSError:
                continue
    return out


def remove_jobs(
    store: Store, job_ids: Sequence[int], home: Path, *, keep_files: bool = False, daemon_running: bool = False
) -> Removal:
    """Take finished jobs out of the store (all or none, see :meth:`Store.remove_jobs`),
    then delete their folders under ``home`` unless ``keep_files``.

    Raises:
        JobNotFound: an id no job has.
        InvalidTransition: a job :func:`unremovable` names (the first), or one the store
            refuses.
    """
    for job_id in job_ids:  # an id no job has is said first: `rm 4 9999` suggested `rm 4 30 9999`
        store.get_job(job_id)
    why = unremovable(store, job_ids, home, keep_files=keep_files, daemon_running=daemon_running)
    if why:
        raise InvalidTransition(next(iter(why.values())))
    # Ctrl-C between the jobs leaving the store and their folders going left folders that
    # no command could reach again: both happen, then the signal is delivered
    with signals_held():
        removal = Removal(store.remove_jobs(job_ids))
        if keep_files:
            return removal
        home = home.resolve()
        for job in removal.jobs:
            for folder in _own_folders(job, home):
                before = _size(folder)
                errors = _remove_tree(folder)
                if folder.exists():  # said, not counted as freed: its files are still on the disk
                    removal.left.append((folder, errors[0] if errors else "it is still there"))
                    removal.freed_bytes += before - _size(folder)
                else:
                    removal.freed_bytes += before
                removal.folders.append(folder)
        return removal


def _remove_tree(folder: Path) -> list[str]:
    """Delete ``folder`` as far as it can be; why each part could not be, in one line each."""
    errors: list[str] = []
    if sys.version_info >= (3, 12):
        shutil.rmtree(folder, onexc=lambda _fn, _path, exc: errors.append(first_line(exc)))
    else:
        shutil.rmtree(folder, onerror=lambda _fn, _path, info: errors.append(first_line(info[1])))
    return errors


def _own_folders(job: JobRow, home: Path) -> list[Path]:
    """The job's folders that lie under ``home``: its results folder and, for a
    trajectory, its PCA plane's folder under ``home/trajectories``."""
    candidates = [(Path(job.results_dir), home / "results")]
    dir_file = job.spec.get("dir_file") if job.kind == "trajectory" else None
    if isinstance(dir_file, str) and dir_file:
        candidates.append((Path(dir_file).parent, home / "trajectories"))
    out = []
    for folder, root in candidates:
        try:
            folder = folder.resolve()
        except OSError:
            continue
        if folder.parent == root.resolve() and folder.is_dir():
            out.append(folder)
    return out


def _size(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:
            continue
    return total
