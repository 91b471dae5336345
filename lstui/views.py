"""Plain-text views of jobs for the command line (``lstui ls``, ``show``, ``logs``).

Everything here reads rows the store returned; nothing computes a landscape.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstui.errors import BadInput, LstuiError
from lstui.spec import SURF_NAMES, JobSpec, shown_setting, split_keys
from lstui.store import FINISHED, Event, JobRow, JobState, Store, WorkerRow

if TYPE_CHECKING:
    import numpy as np


def elapsed_s(job: JobRow, now: float | None = None, *, daemon_running: bool = True) -> float | None:
    """Seconds the job has spent running, paused and queued time left out (None if
    it never ran). A stalled job's run stopped with its last point: its clock does not
    run on while nothing computes it."""
    if job.run_s is None and job.run_since is None:
        return None
    spent = job.run_s or 0.0
    if job.run_since is not None:
        end = now or time.time()
        if stalled(job, daemon_running=daemon_running):
            end = min(end, max(job.run_since, job.last_point or job.run_since))
        elif job.finished is not None and job.state is not JobState.RUNNING:
            # a run a store's upgrade began that an older daemon ended without a word: not
            # on for ever, it ended with the job
            end = min(end, max(job.run_since, job.finished))
        spent += max(0.0, end - job.run_since)
    return spent


STALLED = "stalled"
"""What a running job is called while no daemon runs on its home: the store still says
running (a daemon killed with SIGKILL cannot say otherwise), but nothing computes it
until a daemon starts again and takes its units back."""
STALLED_CODE = "ST"
"""Slurm's code for a job that holds its allocation while nothing executes it (STOPPED)."""


def stalled(job: JobRow, *, daemon_running: bool) -> bool:
    """Whether ``job`` is running in the store while no daemon runs to compute it."""
    return job.state is JobState.RUNNING and not daemon_running


def state_name(job: JobRow, *, daemon_running: bool = True) -> str:
    """The job's state as shown: its stored state, or :data:`STALLED`."""
    return STALLED if stalled(job, daemon_running=daemon_running) else job.state.value


def state_code(job: JobRow, *, daemon_running: bool = True) -> str:
    """The state's Slurm-style code as shown: its stored state's, or :data:`STALLED_CODE`."""
    return STALLED_CODE if stalled(job, daemon_running=daemon_running) else job.code


STALE_HEARTBEAT_S = 30.0
"""A worker silent this long (it beats every few seconds) is shown as such by
``lstui daemon status`` and the TUI's device panel: stopped (SIGSTOP), stuck on a locked
database or a hung device call, it computes nothing while its job still reads running."""


def silent_jobs(jobs: Sequence[JobRow], workers: Sequence[WorkerRow], now: float | None = None) -> dict[int, float]:
    """Running jobs whose every worker on them has been silent past :data:`STALE_HEARTBEAT_S`
    (stopped with SIGSTOP, with its daemon by a Ctrl-Z, or hung): job id → seconds since
    the latest heartbeat of them. Shown stalled, as with no daemon: they read running,
    their clock and ETA growing, while nothing computed them."""
    now = time.time() if now is None else now
    quiet: dict[int, float] = {}
    for w in workers:
        if w.current_job is not None and w.state != "retired":
            quiet[w.current_job] = min(quiet.get(w.current_job, float("inf")), now - w.heartbeat)
    return {j.id: quiet[j.id] for j in jobs
            if j.state is JobState.RUNNING and quiet.get(j.id, 0.0) > STALE_HEARTBEAT_S}


PACE_MIN_S = 10.0
"""A run's own rate is used once its window is this long; before, the whole running
time's average (a rate of the first second or two of a run is noise)."""


def points_per_s(job: JobRow, now: float | None = None, *, daemon_running: bool = True) -> float | None:
    """Points per second as the job runs now: over the last minute or so of its current
    run (:data:`lstui.store.PACE_WINDOW_S`, from the run's first stored points: the time
    its workers took to get ready is left out), over its whole running time when that
    window is shorter than :data:`PACE_MIN_S` or the job does not run. None before its
    first point, and while it is stalled: nothing computes it, so a rate would be a guess."""
    if stalled(job, daemon_running=daemon_running) or job.done_points <= 0:
        return None
    if job.pace_since is not None and job.pace_done is not None:
        span = (now or time.time()) - job.pace_since
        if span >= PACE_MIN_S and job.done_points > job.pace_done:
            return (job.done_points - job.pace_done) / span
    spent = elapsed_s(job, now, daemon_running=daemon_running)
    if not spent:
        return None
    return job.done_points / spent


def eta_s(job: JobRow, now: float | None = None, *, daemon_running: bool = True) -> float | None:
    """Remaining seconds at the job's current rate (:func:`points_per_s`) while it runs
    (None if unknown, and while it is stalled)."""
    if job.state is not JobState.RUNNING:
        return None
    rate = points_per_s(job, now, daemon_running=daemon_running)
    if rate is None:
        return None
    return (job.total_points - job.done_points) / rate


def format_rate(rate: float | None) -> str:
    """Points per second as ``lstui run`` says them (``3.6 points/s``); under one a
    second, per minute (``12.5 points/min``); ``-`` when unknown."""
    if rate is None:
        return "-"
    return f"{rate:.1f} points/s" if rate >= 1.0 else f"{60.0 * rate:.1f} points/min"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 100 * 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"  # a year-old job read "(8757h09m ago)"


def job_summary(
    job: JobRow, *, daemon_running: bool = True, files_pending: bool | None = None
) -> dict[str, Any]:
    """The fields of ``lstui ls --json``. ``state`` and ``code`` are the stored ones
    (scripts compare them); ``stalled`` says that no daemon computes a running job;
    ``files_pending`` whether a daemon has still to write a finished job's surface file
    and figures (None while it has not finished: a job is done when its last point is
    stored, its files come after); ``error`` why a failed job failed (None otherwise);
    ``device`` where it runs or ran (None while it waits); ``created``, ``started`` and
    ``finished`` Unix times (None: not yet)."""
    return {
        "id": job.id,
        "name": job.name,
        "kind": job.kind,
        "state": job.state.value,
        "code": job.code,
        "priority": job.priority,
        "done": job.done_points,
        "total": job.total_points,
        "progress": round(job.progress, 4),
        "device": shown_device(job) or None,  # (null while it waits, as eta_s and error are)
        "elapsed_s": elapsed_s(job, daemon_running=daemon_running),
        "eta_s": eta_s(job, daemon_running=daemon_running),
        "points_per_s": points_per_s(job, daemon_running=daemon_running)
        if job.state is JobState.RUNNING and job.kind != "figure" else None,
        "stalled": stalled(job, daemon_running=daemon_running),
        "files_pending": files_pending if job.state in FINISHED else None,
        "error": job.error if job.state is JobState.FAILED else None,
        # (Unix times, as show --json's: a script sorting jobs by age read each job's show)
        "created": job.created,
        "started": job.started,
        "finished": job.finished,
    }


def shown_device(job: JobRow) -> str:
    """The device(s) a job runs on, or ran on once it finished; ``""`` while it waits
    (queued, paused): the store keeps where it last ran, which is not where it will."""
    return (job.device or "") if job.state is JobState.RUNNING or job.state in FINISHED else ""


def progress_bar(fraction: float, width: int = 10) -> str:
    filled = int(round(max(0.0, min(1.0, fraction)) * width))
    return "█" * filled + "░" * (width - filled)


_LS_COLUMNS = (  # key, header, width, right-aligned
    ("id", "ID", 5, True), ("code", "ST", 2, False), ("state", "STATE", 9, False),
    ("kind", "KIND", 10, False), ("prio", "PRIO", 4, True), ("progress", "PROGRESS", 10, False),
    ("points", "DONE/TOTAL", 11, True), ("device", "DEVICE", 10, False),
    ("elapsed", "ELAPSED", 7, True), ("eta", "ETA", 7, True),
)
_LS_DROPPED_FIRST = ("device", "prio", "progress", "code", "kind")
"""The columns a narrow terminal loses first, in order (the state says what the code
says; the counts say what the bar shows; a default name begins with the kind)."""
NAME_MIN = 8
NAME_WANTED = 24
"""Columns are dropped (:data:`_LS_DROPPED_FIRST`) until the name has this many cells: at
80 columns names were cut to 16 ("trajectory cnn…" three times over)."""


def jobs_table(
    jobs: Sequence[JobRow], *, hidden_finished: int = 0, daemon_running: bool = True,
    width: int | None = None, silent: Mapping[int, float] | None = None,
) -> str:
    """One line per job, aligned, for terminals and scripts.

    ``hidden_finished``: how many finished jobs the caller left out; an empty table then
    says so rather than that there are no jobs at all. ``daemon_running`` False: running
    jobs are shown stalled, without an ETA (see :data:`STALLED`), as are those ``silent``
    names (:func:`silent_jobs`). ``width``: the
    terminal's; a narrower one loses DEVICE, PRIO, PROGRESS, ST and KIND in turn (until the
    name has :data:`NAME_WANTED` cells), and the name is cut in its middle with an
    ellipsis (None: every column, whole names).
    """
    if not jobs:
        if hidden_finished:
            return (f"no queued or running jobs; {hidden_finished} finished "
                    f"(lstui ls --all shows them)")
        return "no jobs (queue one with 'lstui submit')"
    now = time.time()
    silent = silent or {}

    def row(j: JobRow) -> dict[str, str]:
        computed = daemon_running and j.id not in silent
        return {
            "id": str(j.id),
            "code": state_code(j, daemon_running=computed),
            "state": state_name(j, daemon_running=computed),
            "kind": j.kind,
            "prio": str(j.priority),
            "progress": progress_bar(j.progress),
            "points": f"{j.done_points}/{j.total_points}",
            "device": shown_device(j) or "-",
            "elapsed": format_duration(elapsed_s(j, now, daemon_running=computed)),
            "eta": format_duration(eta_s(j, now, daemon_running=computed)),
        }

    rows = [(row(j), j.name) for j in jobs]
    # a column as wide as its longest number (a priority of -1000, 1000 h, 10⁶ points);
    # DEVICE, a list of devices, is cut instead
    columns = [
        (key, header, w if key == "device" or not right else max(w, *(len(r[key]) for r, _ in rows)), right)
        for key, header, w, right in _LS_COLUMNS
    ]

    def fixed() -> int:  # every column, their spaces, and the two before the name
        return sum(c[2] for c in columns) + len(columns) - 1 + 2

    if width is not None:
        for key in _LS_DROPPED_FIRST:
            if fixed() + NAME_WANTED <= width:
                break
            columns = [c for c in columns if c[0] != key]

    def line(cells: dict[str, str], name: str) -> str:
        # a cut column (DEVICE: cpu,ray:vm/cpu) ends in "…", not in what looks like a name
        parts = [f"{cells[k]:>{w}}" if right else f"{cut_cells(cells[k], w):<{w}}" for k, _, w, right in columns]
        if width is not None:
            name = _cut_middle(name, max(NAME_MIN, width - fixed()))
        return " ".join(parts) + "  " + name

    header = line({k: h for k, h, _, _ in columns}, "NAME")
    return "\n".join([header, *(line(cells, name) for cells, name in rows)])


def cut_cells(text: str, cells: int) -> str:
    """``text`` in at most ``cells`` terminal cells, ending in ``…`` when cut."""
    from rich.cells import cell_len, set_cell_size

    if cell_len(text) <= cells:
        return text
    return set_cell_size(text, cells - 1).rstrip() + "…"


def _cut_middle(text: str, cells: int) -> str:
    """``text`` in at most ``cells`` terminal cells, its middle left out (``…``) when cut:
    names lstui makes differ at their ends ("trajectory cnn model_12 on …'s plane", "demo:
    1D small-batch")."""
    from rich.cells import cell_len, set_cell_size

    if cell_len(text) <= cells:
        return text
    head = (cells - 1) * 2 // 5
    tail = cells - 1 - head
    end = text
    while cell_len(end) > tail:
        end = end[1:]
    return set_cell_size(text, head).rstrip() + "…" + end.lstrip()


def format_time(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def format_event(event: Event) -> str:
    return f"{format_time(event.ts)} {event.level:<7} {event.message}"


def job_details(
    job: JobRow, events: Sequence[Event] = (), *, daemon_running: bool = True,
    files_pending: bool | None = None, daemon_suspended: bool = False, silent_s: float | None = None,
) -> str:
    """``lstui show``'s lines; ``daemon_running`` False: a running job is shown stalled, as
    it is when its workers have been silent ``silent_s`` (:func:`silent_jobs`).
    ``files_pending`` True: a finished job's files are said to be on their way (or to
    wait, ``daemon_suspended``, for a daemon stopped with SIGSTOP).
    ``events``: its log, of which the last five lines that are not debug are shown."""
    spec = job.spec
    computed = daemon_running and silent_s is None
    state = f"{state_name(job, daemon_running=computed)} ({state_code(job, daemon_running=computed)})"
    if stalled(job, daemon_running=daemon_running):
        state += ": no daemon runs on this home (lstui daemon start)"
    elif stalled(job, daemon_running=computed):
        state += (f": its worker has been silent {format_duration(silent_s)} (stopped, as by Ctrl-Z or "
                  "SIGSTOP, or hung; lstui daemon status)")
    lines = [
        f"job {job.id}: {job.name}",
        f"  kind      {job.kind}",
        f"  state     {state}   priority {job.priority}",
        f"  progress  {job.done_points}/{job.total_points} points ({100 * job.progress:.1f} %)"
        if job.kind != "figure" else  # it draws the figures of the jobs it waits on: no points
        f"  progress  {'figures drawn' if job.state is JobState.DONE else 'figures not drawn yet'}",
        f"  device    {shown_device(job) or '-'}",
        f"  created   {format_time(job.created)}   started {format_time(job.started)}   finished {format_time(job.finished)}",
        f"  elapsed   {format_duration(elapsed_s(job, daemon_running=computed))}   "
        f"ETA {format_duration(eta_s(job, daemon_running=computed))}"
        + (f"   {format_rate(rate)}" if (rate := points_per_s(job, daemon_running=computed)) is not None
           and job.state is JobState.RUNNING and job.kind != "figure" else ""),
        f"  model     {spec.get('model')}  checkpoint {spec.get('checkpoint') or '-'}",
        f"  data      {spec.get('data')}  split {spec.get('split')}  loss {spec.get('loss')}",
        f"  grid      x {spec.get('x')}  y {spec.get('y') or '-'}  norm {shown_setting(spec, 'norm')}  dir-type {spec.get('dir_type')}",
        # what else decides the numbers: a figure is read with these beside it
        f"  settings  subset {spec.get('subset') or 'all'}  seed {_setting(spec, 'seed')}  "
        f"precision {_setting(spec, 'precision')}  bn {_setting(spec, 'bn')}  ignore {shown_setting(spec, 'ignore')}",
        f"  results   {job.results_dir}{_files_note(job, files_pending, daemon_running, events, daemon_suspended)}",
    ]
    # the other ends and given directions, which decide the numbers as the centre does
    # (an interpolation's B was in --json only; the TUI's job screen names it)
    ends = [(label, spec.get(key)) for key, label in (("checkpoint_b", "ckpt B"), ("target", "target"),
                                                     ("target_y", "target y")) if spec.get(key)]
    if job.kind == "surface" and spec.get("dir_file"):
        ends.append(("dir file", spec.get("dir_file")))
    stored = spec.get("figure")
    figure: Mapping[str, Any] = stored if isinstance(stored, Mapping) else {}
    if job.kind == "figure" and figure.get("checkpoints"):  # the model line names A alone
        labels = list(figure.get("labels") or []) + [""] * len(figure["checkpoints"])
        ends += [("compares" if n == 0 else "", f"{label}: {path}" if label else path)
                 for n, (label, path) in enumerate(zip(labels, figure["checkpoints"], strict=False))]
    at = next(n for n, line in enumerate(lines) if line.startswith("  model ")) + 1
    lines[at:at] = [f"  {label:<9} {value}" for label, value in ends]
    if job.kind == "trajectory" and spec.get("dir_file"):  # another run's --dir-file takes it
        lines.append(f"  plane     {spec.get('dir_file')}")
    if job.kind == "figure":  # it draws what the jobs it waits on computed: no grid of its own
        del lines[-3:-1]
    if job.depends_on:
        lines.append(f"  waits on  {', '.join(str(d) for d in job.depends_on)}")
    if job.error:
        lines.append(f"  error     {job.error}")
    if job.state is JobState.CANCELLED and job.kind != "figure" and job.total_points \
            and job.done_points == job.total_points:
        # cancelled in its last unit, whose points the worker still stored: 100 %, no figures
        lines.append(f"  note      every point was computed: lstui retry {job.id} marks it done and draws "
                     "its figures")
    shown = [e for e in events if e.level != "debug"][-5:]  # a traceback is `logs --debug`'s
    if shown:
        lines.append("  log (last lines):")
        lines += [f"    {format_event(e)}" for e in shown]
    if any(e.level == "debug" for e in events) and job.state is JobState.FAILED:
        lines.append(f"  (lstui logs {job.id} --debug shows the traceback)")
    return "\n".join(lines)


def _setting(spec: Mapping[str, Any], key: str) -> object:
    """A setting of a stored spec, or its default where an older lstui stored none."""
    return spec.get(key, JobSpec.__dataclass_fields__[key].default)


def _is_dir(path: Path) -> bool:
    """Whether ``path`` is a folder; one that cannot be looked at counts as there."""
    try:
        return path.is_dir()
    except OSError:
        return True


def _files_note(job: JobRow, files_pending: bool | None, daemon_running: bool,
                events: Sequence[Event] = (), daemon_suspended: bool = False) -> str:
    if job.state in FINISHED and not _is_dir(Path(job.results_dir)):
        if files_pending:  # points computed, their folder deleted since: no daemon writes it again
            return f"   (not there: deleted since; lstui export {job.id} writes its files again)"
        return "   (not there: no file of it)"  # failed or cancelled before its first point
    if job.state is JobState.QUEUED and job.started is None and not _is_dir(Path(job.results_dir)):
        return "   (not there yet: made when it starts)"
    if job.state not in FINISHED or not files_pending:
        return ""
    if not daemon_running:
        return "   (files not written yet: lstui daemon start writes them)"
    if daemon_suspended:  # ("being written" by a daemon stopped with SIGSTOP: never)
        return "   (files not written yet: the daemon is suspended; lstui daemon status says how to continue it)"
    from lstui.scheduler.daemon import RETRY_WORDS

    last = next((e for e in reversed(events) if e.level != "debug"), None)
    if last is not None and RETRY_WORDS in last.message:
        # a write that failed for want of space or permission: not "being written"
        return "   (files not written: the daemon tries again; the log below says why)"
    return "   (files being written by the daemon)"


def id_ranges(ids: Sequence[int]) -> str:
    """``1–3, 5``: job ids as ranges."""
    parts: list[str] = []
    start = prev = ids[0]
    for i in [*ids[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if i is not None:
            start = prev = i
    return ", ".join(parts)


def rows_text(rows: Sequence[Mapping[str, object]]) -> str:
    """Rows of numbers (a comparison's sharpness table) aligned for a terminal.

    The columns are the keys in first-seen order; reals have four significant digits, as
    in the exported table figure. The CSV and JSON files keep every digit.
    """
    from lstui.plots.cells import table_cells

    columns, cells = table_cells(rows)
    widths = [max([len(c)] + [len(r[k]) for r in cells]) for k, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        # the first column (names) to the left, numbers to the right
        padded = (v.ljust(w) if k == 0 else v.rjust(w) for k, (v, w) in enumerate(zip(values, widths, strict=True)))
        return "  ".join(padded).rstrip()

    return "\n".join([line(columns), *(line(r) for r in cells)])


def check_surf_name(job: JobRow, surf_name: str) -> None:
    """Refuse, before anything is printed, a ``--surf-name`` the job does not compute
    (``test_loss`` of a train-split job) or a job with no surface (a comparison's figures).

    Raises:
        BadInput: in one line.
    """
    if job.kind == "figure":
        raise BadInput(f"--surf-name {surf_name}: job {job.id} draws a comparison's figures; it has no surface")
    computed = split_keys(job.spec.get("split"))
    stored = surf_name.replace("_err", "_acc")
    if stored not in computed:
        choices = [name for name in SURF_NAMES if name.replace("_err", "_acc") in computed]
        # named as asked: "holds no test_acc" of a --surf-name test_err read as a typo
        split = surf_name.split("_", 1)[0]
        raise BadInput(f"--surf-name {surf_name}: job {job.id} computed no {split} split "
                       f"(its choices: {', '.join(choices)})")


def terminal_plot(store: Store, job: JobRow, *, width: int = 80, height: int = 20, color: bool | None = None,
                  surf_name: str | None = None) -> str:
    """The job's result so far as a plotext picture (2D heatmap with bands, 1D lines, a
    trajectory's path). Colours by default only on a terminal, not ``TERM=dumb``, and without ``NO_COLOR``:
    click drops them from a pipe, where the bands would all be the same ``█``.

    ``surf_name``: what a 2D heatmap draws, as ``export --surf-name`` names it
    (``test_loss``, ``train_err`` = 100 − accuracy …); default the train loss, or the
    test loss of a test-only job. A 1D plot draws every curve.

    Raises:
        BadInput: a ``surf_name`` that is not known or that the job does not compute.
    """
    import os
    import sys

    from lstui import plots
    from lstui.scheduler.exporting import job_surface, loss_name, surface_values

    if color is None:  # (TERM=dumb: Emacs' shell, which showed the escapes; Rich's test)
        color = ("NO_COLOR" not in os.environ and sys.stdout is not None and sys.stdout.isatty()
                 and os.environ.get("TERM", "").strip().lower() not in ("dumb", "unknown"))
    from lstui.plots.palette import terminal_has_256_colours

    eight_bit = color and terminal_has_256_colours(dict(os.environ))
    surface = job_surface(store, job)
    key = "train_loss" if "train_loss" in surface.arrays else "test_loss"
    pending = ~surface.computed(key)  # told apart from diverged points on the last line
    values, label = (None, "") if surface.ycoordinates is None else surface_values(
        surface, surf_name or key, f"job {job.id}")
    try:
        if surface.ycoordinates is None or values is None:
            curves = {k: surface.values(k) for k in surface.arrays}
            return plots.terminal_lines(
                surface.xcoordinates, curves, width=width, height=height, title=job.name,
                color=color, pending=pending, loss_label=loss_name(surface),
            )
        return plots.terminal_heatmap(
            surface.xcoordinates, surface.ycoordinates, values,
            width=width, height=height, title=f"{job.name} — {label}", color=color,
            path=_trajectory_path(job) if job.kind == "trajectory" else None, pending=pending,
            eight_bit=eight_bit,
        )
    except OverflowError:  # plotext, on a span of 1e-320 (queued before such grids were refused)
        spans = [f"{a[0]:.3g} to {a[-1]:.3g}" for a in (surface.xcoordinates, surface.ycoordinates) if a is not None]
        return f"(no terminal plot: its grid spans too little to draw: {', '.join(spans)})"


def _trajectory_path(job: JobRow) -> tuple[np.ndarray, np.ndarray] | None:
    """A trajectory job's path for its plot; None, drawing none, if its file is unreadable."""
    from lstui.scheduler.trajectory import trajectory_path

    try:
        return trajectory_path(JobSpec.from_dict(job.spec, check_files=False))
    except (LstuiError, OSError):
        return None
