"""What the TUI costs the event loop per refresh, and the CPU it uses when idle.

A store holds 200 jobs; one of them, a 101×101 surface, fills while a background thread
writes its points (coarse-to-fine units, as a worker would). The app runs headless
(``App.run_test``) with that job selected, and every snapshot is timed:

- ``refresh_ms``: the time the ``SnapshotReady`` handler spends on the event loop
  (table cells, status, devices, preview bookkeeping) plus the time the preview takes to
  paint the surface anew when its numbers changed; the median and the worst, at 80×24
  and at 160×48 (the targets: under 50 ms);
- ``loop_cpu_ms_per_refresh``: all the CPU time of the event loop's thread while the
  surface fills (the table and every other widget drawn too), per refresh;
- ``idle_cpu_share``: the process's CPU time over about 10 s once the writer has stopped,
  divided by the wall time (poller thread included; the target: under 5 % of a core).

Run: ``python benchmarks/bench_tui.py [--jobs 200] [--idle-s 10]``; the last line printed
is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _help import DefaultsHelp  # benchmarks/ is sys.path[0] when run as a script

from lstui.landscape.grid import parse_axis
from lstui.scheduler.devices import DeviceFacts
from lstui.scheduler.submit import submit_spec
from lstui.spec import JobSpec
from lstui.store import PointRow, Store
from lstui.tui import LstuiApp
from lstui.tui.widgets import SurfaceView

DEVICES = (
    DeviceFacts("cuda:0", "NVIDIA H100 80GB HBM3", 87.0, 31 * 2**30, 80 * 2**30, 61.0),
    DeviceFacts("cpu", "CPU", 12.0, 9 * 2**30, 62 * 2**30, None),
)


def loss_at(x: float, y: float) -> float:
    return 0.25 + 2.0 * (x - 0.2) ** 2 + 1.2 * (y + 0.1) ** 2 + 0.15 * math.sin(4 * x) * math.cos(3 * y)


def make_store(home: Path, n_jobs: int) -> tuple[int, JobSpec]:
    """``n_jobs`` jobs: the big one to fill, the rest small ones in several states."""
    with Store.open_home(home) as store:
        worker = store.register_worker("cuda:0", 1, "bench")
        for n in range(n_jobs - 1):
            small = JobSpec(model="mlp", data="digits", x=parse_axis("-1:1:5"), y=parse_axis("-1:1:5"),
                            name=f"small job {n}").validated()
            job_id = submit_spec(store, small, unit_size=25)
            if n % 4 == 0:
                claim = store.claim_unit(worker, 3600, job_ids=[job_id])
                assert claim is not None
                store.write_points(claim.unit_id, worker, [PointRow(i, 1.0, 50.0) for i in claim.todo])
                store.complete_unit(claim.unit_id, worker)
            elif n % 4 == 1:
                store.pause(job_id)
            elif n % 4 == 2:
                store.cancel(job_id)
        big = JobSpec(model="resnet56", data="digits", x=parse_axis("-1:1:101"), y=parse_axis("-1:1:101"),
                      name="resnet56 101x101").validated()
        # one for each size measured: at 400 points a second the first is written whole
        # (10,201 points) before the second size's run began, which then saw none arrive
        big_ids = [submit_spec(store, dataclasses.replace(big, name=f"resnet56 101x101 ({n})"), unit_size=64)
                   for n in (1, 2)]
    return big_ids, big


class Writer:
    """A process that writes the big job's points, a unit at a time, about ``rate`` a
    second (as a worker would: from another process, so it holds no lock of ours)."""

    def __init__(self, home: Path, job_id: int, spec: JobSpec, rate: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.stop = ctx.Event()
        self._points = ctx.Value("i", 0)
        self._proc = ctx.Process(target=_write_points, args=(home, job_id, spec.to_dict(), rate,
                                                             self.stop, self._points), daemon=True)

    @property
    def points(self) -> int:
        return int(self._points.value)

    def start(self) -> None:
        self._proc.start()

    def finish(self) -> None:
        self.stop.set()
        self._proc.join(30)


def _write_points(home: Path, job_id: int, spec_dict: dict, rate: float, stop, points) -> None:  # type: ignore[no-untyped-def]
    spec = JobSpec.from_dict(spec_dict)
    grid = spec.grid
    with Store.open_home(home) as store:
        worker = store.register_worker("cuda:0", 2, "bench")
        while not stop.is_set():
            claim = store.claim_unit(worker, 3600, job_ids=[job_id])
            if claim is None:
                return
            for start in range(0, len(claim.todo), 16):
                rows = []
                for i in claim.todo[start:start + 16]:
                    x, y = grid.coordinates_of(i)
                    loss = loss_at(x, y)
                    rows.append(PointRow(i, loss, 100 * math.exp(-loss)))
                store.write_points(claim.unit_id, worker, rows)
                with points.get_lock():
                    points.value += len(rows)
                if stop.wait(len(rows) / rate):
                    return
            store.complete_unit(claim.unit_id, worker)


def _timed_paint(view: SurfaceView, paints: list[float]) -> None:
    original = view.paint

    def paint(*args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            paints.append(time.perf_counter() - start)

    view.paint = paint  # type: ignore[method-assign]


async def measure(home: Path, big_id: int, size: tuple[int, int], seconds: float, poll_s: float,
                  writer: Writer | None) -> dict[str, float]:
    app = LstuiApp(home, poll_s=poll_s, device_facts=lambda: list(DEVICES))
    handler: list[float] = []
    paints: list[float] = []
    async with app.run_test(size=size) as pilot:
        while app.refreshes < 1 or not app.main.ready:
            await pilot.pause(0.05)
        table = app.main.table
        for _ in range(400):
            if table.selected_job_id() == big_id:
                break
            await pilot.press("down")
        view = app.main.preview.query_one(SurfaceView)
        _timed_paint(view, paints)
        seen = app.refreshes
        start_points = writer.points if writer else 0
        deadline = time.monotonic() + seconds
        loop_cpu0 = time.thread_time()  # this coroutine runs on the event loop's thread
        while time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            if app.refreshes != seen:
                seen = app.refreshes
                handler.append(app.last_refresh_s)
        loop_cpu = time.thread_time() - loop_cpu0
        return {
            "refreshes": len(handler),
            "loop_cpu_ms_per_refresh": round(1000 * loop_cpu / max(1, len(handler)), 3),
            "points_written": (writer.points - start_points) if writer else 0,
            **_stats("handler_ms", handler),
            "paints": len(paints),
            **_stats("paint_ms", paints),
        }


def _stats(name: str, seconds: list[float]) -> dict[str, float]:
    ms = sorted(1000 * s for s in seconds) or [math.nan]
    return {
        f"{name}_median": round(statistics.median(ms), 3),
        f"{name}_p95": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 3),
        f"{name}_max": round(ms[-1], 3),
    }


async def measure_idle(home: Path, big_id: int, size: tuple[int, int], idle_s: float) -> dict[str, float]:
    """CPU share of the whole process while nothing changes, at the default poll rate."""
    app = LstuiApp(home, device_facts=lambda: list(DEVICES))
    async with app.run_test(size=size) as pilot:
        while app.refreshes < 1 or not app.main.ready:
            await pilot.pause(0.05)
        for _ in range(400):
            if app.main.table.selected_job_id() == big_id:
                break
            await pilot.press("down")
        await pilot.pause(2.0)
        refreshes = app.refreshes
        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.sleep(idle_s)
        share = (time.process_time() - cpu0) / (time.monotonic() - wall0)
        return {"idle_cpu_share": share, "idle_refreshes": app.refreshes - refreshes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=DefaultsHelp)
    parser.add_argument("--jobs", type=int, default=200, help="jobs in the store")
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds of filling measured per size")
    parser.add_argument("--idle-s", type=float, default=10.0, help="seconds of idling measured")
    parser.add_argument("--rate", type=float, default=400.0, help="points written per second")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        big_ids, big = make_store(home, args.jobs)
        runs = {}
        for big_id, (width, height) in zip(big_ids, ((80, 24), (160, 48)), strict=True):
            writer = Writer(home, big_id, big, args.rate)
            writer.start()
            # poll_s 0.25: four times the default rate, for more samples of a filling surface
            runs[f"{width}x{height}"] = asyncio.run(measure(home, big_id, (width, height), args.seconds, 0.25, writer))
            writer.finish()
        idle_run = asyncio.run(measure_idle(home, big_ids[-1], (160, 48), args.idle_s))
        for name, run in runs.items():
            print(
                f"{name}: {run['refreshes']} refreshes while {run['points_written']} points arrived "
                f"(event loop CPU, everything drawn: {run['loop_cpu_ms_per_refresh']:.1f} ms a refresh); "
                f"handler median {run['handler_ms_median']:.2f} ms, p95 {run['handler_ms_p95']:.2f}, "
                f"max {run['handler_ms_max']:.2f}; surface painted {run['paints']} times, median "
                f"{run['paint_ms_median']:.2f} ms, p95 {run['paint_ms_p95']:.2f}, max {run['paint_ms_max']:.2f}"
            )
        typical = max(r["handler_ms_median"] + r["paint_ms_median"] for r in runs.values())
        p95 = max(r["handler_ms_p95"] + r["paint_ms_p95"] for r in runs.values())
        worst = max(r["handler_ms_max"] + r["paint_ms_max"] for r in runs.values())
        loop = max(r["loop_cpu_ms_per_refresh"] for r in runs.values())
        idle = idle_run["idle_cpu_share"]
        print(f"event loop CPU a refresh, every widget drawn: {loop:.1f} ms at worst size (target < 50 ms)")
        print(f"refresh (handler + paint): median {typical:.2f} ms, p95 {p95:.2f} ms, "
              f"worst {worst:.2f} ms (target < 50 ms)")
        print(f"idle: {100 * idle:.2f} % of a core over {args.idle_s:.0f} s with {args.jobs} jobs, "
              f"{idle_run['idle_refreshes']} refreshes at the default 1 s poll (target < 5 %)")
        result = {
            "jobs": args.jobs,
            "surface": "101x101",
            "refresh_ms_median": round(typical, 3),
            "refresh_ms_p95": round(p95, 3),
            "refresh_ms_worst": round(worst, 3),
            "loop_cpu_ms_per_refresh": round(loop, 3),
            "idle_cpu_share": round(idle, 4),
            "runs": runs,
            "idle": idle_run,
        }
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
