"""``lstui run``: compute a job in this process with a rich progress bar."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from lstui.scheduler.compute import (
    SPEC_FILE,
    SURFACE_FILE,
    assemble_surface,
    existing_points,
    prepare_job,
)
from lstui.spec import JobSpec

WRITE_EVERY_S = 2.0
EXIT_DIVERGED = 3


def run_foreground(
    spec: JobSpec,
    out: Path,
    *,
    device: str = "auto",
    figure: bool = True,
    console: Console | None = None,
) -> int:
    """Compute every missing point of ``spec`` into ``out``; returns the exit code."""
    console = console or Console(stderr=True)
    out = Path(out)
    done = existing_points(spec, out)
    prepared = prepare_job(spec, out, device=device)
    os.makedirs(out, mode=0o700, exist_ok=True)
    (out / SPEC_FILE).write_text(json.dumps(spec.to_dict(), indent=2) + "\n")
    grid = prepared.grid
    todo = [k for k in grid.coarse_to_fine() if k not in done]
    surface_path = out / SURFACE_FILE
    points: dict[int, dict[str, float | None]] = dict(done)  # type: ignore[arg-type]
    console.print(
        f"[bold]{spec.kind}[/] {spec.model} on {spec.data}: grid {grid.describe()} "
        f"({grid.num_points} points, {len(done)} already computed) on {prepared.evaluator.device}"
    )

    def write() -> None:
        surface = assemble_surface(spec, prepared.dir_file, points.items())
        from lstui.results import write_surface

        write_surface(surface_path, surface)

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
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("points", total=grid.num_points, completed=len(done), rate="-")
            for n, index in enumerate(todo, start=1):
                result = prepared.evaluate(index)
                points[index] = result.as_dict()
                rate = n / max(time.monotonic() - start, 1e-9)
                progress.update(task, advance=1, rate=f"{rate:.1f}")
                if time.monotonic() - last_write >= WRITE_EVERY_S:
                    write()
                    last_write = time.monotonic()
    finally:
        write()
    console.print(f"wrote {surface_path} and {prepared.dir_file}")
    if figure:
        from lstui.scheduler.exporting import export_surface

        for path in export_surface(surface_path, out, formats=("png",), title=spec.default_name()):
            console.print(f"wrote {path}")
    bad = [k for k, v in points.items() if any(x is not None and not math.isfinite(x) for x in v.values())]
    if bad:
        console.print(
            f"[yellow]warning:[/] {len(bad)} of {grid.num_points} points have NaN or infinite loss "
            "(diverged); they are saved as NaN and drawn as gaps"
        )
        return EXIT_DIVERGED
    return 0
