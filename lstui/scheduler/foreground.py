"""``lstui run``: compute a job in this process with a rich progress bar."""

from __future__ import annotations

import errno
import json
import math
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from lstui.errors import LstuiError, described
from lstui.results.h5files import make_private_dirs, remove_stale_temporaries, write_private_bytes
from lstui.scheduler.allocator import keep_freed_memory
from lstui.scheduler.compute import (
    SPEC_FILE,
    SURFACE_FILE,
    assemble_surface,
    existing_points,
    prepare_job,
)
from lstui.scheduler.follow import diverged_text
from lstui.scheduler.imports import with_import_path
from lstui.scheduler.preflight import with_digests
from lstui.spec import JobSpec

WRITE_EVERY_S = 2.0
EXIT_DIVERGED = 3
_DISK_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


class SurfaceNotSaved(LstuiError):
    """The surface file cannot be written (a full disk): says what is kept and what is lost."""


class PointFailed(LstuiError):
    """Evaluating a point raised (the person's model, most often): the run stops there,
    keeping the points computed before."""


def run_foreground(
    spec: JobSpec,
    out: Path,
    *,
    device: str = "auto",
    figure: bool = True,
    console: Console | None = None,
) -> int:
    """Compute every missing point of ``spec`` into ``out``; returns the exit code.

    Exit codes: 0 when every point is finite, :data:`EXIT_DIVERGED` (3) when some
    diverged (NaN or infinite loss; saved as they are and drawn as gaps).

    Raises:
        SurfaceNotSaved: the surface file could not be written; the run stops there.
    """
    console = console or Console(stderr=True)

    def warn(text: str) -> None:
        console.print(f"[yellow]warning:[/] {escape(text)}", soft_wrap=True, highlight=False)

    out = Path(out).absolute()  # the surface file names its direction file: not relative to here
    spec = with_digests(with_import_path(spec))  # a rerun after a checkpoint changed is refused
    done = existing_points(spec, out, on_note=warn)
    prepared = prepare_job(spec, out, device=device, on_note=warn)
    if prepared.evaluator.device.type == "cpu":
        keep_freed_memory()  # as a CPU worker does
    make_private_dirs(out)
    remove_stale_temporaries(out)  # of a run killed while it wrote
    write_private_bytes(out / SPEC_FILE, (json.dumps(spec.to_dict(), indent=2) + "\n").encode())
    grid = prepared.grid
    todo = [k for k in grid.coarse_to_fine() if k not in done]
    surface_path = out / SURFACE_FILE
    points: dict[int, dict[str, float | None]] = dict(done)  # type: ignore[arg-type]
    saved = len(done)
    console.print(
        f"[bold]{spec.kind}[/] {spec.model} on {spec.data}: grid {grid.describe()} "
        f"({grid.num_points} points, {len(done)} already computed) on {prepared.evaluator.device}",
        soft_wrap=True,  # one line in a log, however narrow (a grep finds it whole)
    )

    def write() -> None:
        nonlocal saved
        from lstui.results import write_surface

        surface = assemble_surface(spec, prepared.dir_file, points.items())
        try:
            write_surface(surface_path, surface)
        except OSError as exc:
            if exc.errno not in _DISK_FULL:
                raise
            raise SurfaceNotSaved(
                f"cannot write {surface_path}: {exc.strerror}; it keeps the {saved} points "
                f"saved before, the {len(points) - saved} computed since are lost "
                "(free some space and run the same command again to go on)"
            ) from None
        saved = len(points)

    last_write = time.monotonic()
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} pts/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    start = time.monotonic()
    failed_write = interrupted = False
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("points", total=grid.num_points, completed=len(done), rate="-")
            for n, index in enumerate(todo, start=1):
                try:
                    result = prepared.evaluate(index)
                except (LstuiError, MemoryError):
                    raise
                except Exception as exc:  # the person's model failed on a point: one line, as a worker says it
                    x, y = grid.coordinates_of(index)
                    raise PointFailed(f"point {index} (x {x:g}, y {y:g}) failed: {described(exc)}") from exc
                points[index] = result.as_dict()
                rate = n / max(time.monotonic() - start, 1e-9)
                progress.update(task, advance=1, rate=f"{rate:.1f}")
                if time.monotonic() - last_write >= WRITE_EVERY_S:
                    try:
                        write()
                    except SurfaceNotSaved:
                        failed_write = True
                        raise
                    last_write = time.monotonic()
    except KeyboardInterrupt:  # (Ctrl-C, SIGTERM, a hang-up)
        interrupted = True
        raise
    finally:
        if not failed_write and (len(points) > len(done) or surface_path.exists()):
            write()  # what was computed (an interrupted run goes on from it); nothing: no file
            if interrupted:  # it said only "interrupted": the person did not know it goes on
                console.print(f"kept {len(points)} of {grid.num_points} points in {surface_path}: the same "
                              "command goes on from them", soft_wrap=True, highlight=False, markup=False)
    computed = len(points) - len(done)
    if computed:
        spent = time.monotonic() - start
        console.print(f"{computed} points in {spent:.1f} s ({spent / computed:.4f} s/point)", soft_wrap=True)
    if spec.dir_file:  # the person's --dir-file (or a trajectory's PCA), read, not written
        wrote = f"wrote {surface_path} (directions from {prepared.dir_file})"
    else:
        wrote = f"wrote {surface_path} and {prepared.dir_file}"
    console.print(wrote, soft_wrap=True, highlight=False, markup=False)  # paths to copy: never wrapped
    used = prepared.evaluator.device
    if used.type == "cuda":
        import torch

        peak = torch.cuda.max_memory_allocated(used) / 2**30
        console.print(f"peak GPU memory {peak:.2f} GiB on {torch.cuda.get_device_name(used)}")
    if figure:
        from lstui.scheduler.exporting import export_figures

        # the daemon's figures (a trajectory's path too), as PNG only
        for path in export_figures(spec, surface_path, out, formats=("png",), title=spec.default_name()):
            console.print(f"wrote {path}", soft_wrap=True, highlight=False, markup=False)
    bad = [k for k, v in points.items() if any(x is not None and not math.isfinite(x) for x in v.values())]
    if bad:
        warn(
            f"{diverged_text(len(bad), grid.num_points)}; they are saved as they are (NaN or inf) and drawn as gaps"
        )
        return EXIT_DIVERGED
    return 0
