"""Load: a thousand queued jobs, a 201×201 surface, and a daemon working for a while.

1. A home is filled through the Store API: ``--jobs`` (1,000) small queued jobs and one
   ``--grid``² (201×201 = 40,401 points) surface job whose points a helper thread
   writes unit by unit, as a worker would (claim, write points, complete).
2. ``lstui ls`` (a subprocess, as a person runs it) lists them: the median wall time of
   5 runs (the target is under 1 s), with ``--json`` too.
3. The TUI's refresh: :meth:`lstui.tui.snapshot.StorePoller.poll` with the big job's
   preview, the first poll (every point read), idle polls (nothing new) and a poll after
   one new unit of points; also ``Store.list_jobs`` + ``views.jobs_table`` alone.
4. The daemon's memory: a daemon with ``--workers`` CPU workers works through
   ``--soak-jobs`` small jobs (each prepared, computed, its surface written and its
   figures exported as PNG and PDF); the resident memory (``VmRSS`` in
   ``/proc/<pid>/status``) of the daemon and of its workers is sampled every second.
   Figures: first, last, max and the least-squares slope in MB per minute, over the
   samples after the first ``--warmup-s`` seconds.

Run: ``python benchmarks/bench_load.py [--jobs 1000] [--grid 201] [--soak-jobs 60]``;
the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _help import DefaultsHelp  # benchmarks/ is sys.path[0] when run as a script

from lstui.landscape.grid import parse_axis
from lstui.scheduler.submit import submit_spec
from lstui.spec import JobSpec
from lstui.store import PointRow, Store


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["LSTUI_HOME"] = str(home)
    env["COLUMNS"] = "160"
    return env


def _lstui() -> list[str]:
    script = shutil.which("lstui")
    return [script] if script else [sys.executable, "-m", "lstui.cli"]


# -- 1. filling the store ----------------------------------------------------------------


def _write_surface_points(
    path: Path, job_id: int, grid_n: int, stop_after: int | None
) -> dict[str, float]:
    """A helper thread's work: claim the big job's units and write a paraboloid's points."""
    xs = np.linspace(-1, 1, grid_n)
    written = units = 0
    start = time.perf_counter()
    with Store(path) as store:
        worker = store.register_worker("bench", os.getpid(), "bench-host")
        while stop_after is None or units < stop_after:
            claim = store.claim_unit(worker, 60.0, job_ids=[job_id])
            if claim is None:
                break
            rows = []
            for idx in claim.todo:
                i, j = divmod(idx, grid_n)
                loss = float(xs[j] ** 2 + 0.5 * xs[i] ** 2)
                rows.append(PointRow(idx, loss, 100.0 - 10 * loss))
            written += store.write_points(claim.unit_id, worker, rows)
            store.complete_unit(claim.unit_id, worker)
            units += 1
        store.retire_worker(worker)
    seconds = time.perf_counter() - start
    return {"points": written, "units": units, "seconds": seconds}


def fill(home: Path, jobs: int, grid_n: int, leave_units: int) -> tuple[int, dict[str, float]]:
    """Queue ``jobs`` small jobs and the big one; a helper thread writes the big job's
    points but for its last ``leave_units`` units (written later, under the TUI's eyes)."""
    small = JobSpec(model="mlp", data="digits", subset="150", x=parse_axis("-1:1:11")).validated()
    axis = parse_axis(f"-1:1:{grid_n}")
    big = JobSpec(model="mlp", data="digits", subset="150", x=axis, y=axis, name="big surface",
                  priority=10).validated()  # fmt: skip
    start = time.perf_counter()
    with Store.open_home(home) as store:
        for n in range(jobs):
            submit_spec(store, dataclasses.replace(small, name=f"queued {n}"))
        big_id = submit_spec(store, big)
        units = len(store.units(big_id))
        path = store.path
    queued_s = time.perf_counter() - start
    result: dict[str, float] = {}
    helper = threading.Thread(
        target=lambda: result.update(
            _write_surface_points(path, big_id, grid_n, max(0, units - leave_units))
        ),
        name="point-writer",
    )
    helper.start()
    helper.join()
    result["queue_s"] = queued_s
    return big_id, result


# -- 2. lstui ls -------------------------------------------------------------------------


def time_ls(home: Path, runs: int = 5, *extra: str) -> dict[str, float]:
    times = []
    lines = 0
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run([*_lstui(), "ls", *extra], env=_env(home), capture_output=True,
                              text=True, check=True)  # fmt: skip
        times.append(time.perf_counter() - start)
        lines = len(proc.stdout.splitlines())
    return {"median_s": statistics.median(times), "min_s": min(times), "lines": lines}


def time_python_startup(runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# -- 3. the TUI's refresh ----------------------------------------------------------------


def time_refresh(home: Path, big_id: int, grid_n: int, polls: int = 10) -> dict[str, float]:
    from lstui.tui.snapshot import StorePoller
    from lstui.views import jobs_table

    poller = StorePoller(home, device_facts=lambda: [])
    try:
        start = time.perf_counter()
        first = poller.poll(preview_job=big_id, detail_job=big_id)
        first_s = time.perf_counter() - start
        assert first.preview is not None
        shown = int(np.count_nonzero(np.isfinite(first.preview.arrays["train_loss"])))
        idle = []
        for _ in range(polls):
            start = time.perf_counter()
            poller.poll(preview_job=big_id, detail_job=big_id)
            idle.append(time.perf_counter() - start)
        # new points arrive (the last 10 units): the next poll reads only those
        _write_surface_points(poller.store.path, big_id, grid_n, None)
        start = time.perf_counter()
        after = poller.poll(preview_job=big_id, detail_job=big_id)
        new_s = time.perf_counter() - start
        assert after.preview is not None
        table = []
        with Store.open_home(home) as store:
            for _ in range(polls):
                start = time.perf_counter()
                jobs_table(store.list_jobs())
                table.append(time.perf_counter() - start)
    finally:
        poller.close()
    return {
        "first_poll_s": first_s,
        "first_poll_points": shown,
        "idle_poll_median_s": statistics.median(idle),
        "poll_after_new_points_s": new_s,
        "list_jobs_and_table_median_s": statistics.median(table),
    }


# -- 4. the daemon's memory --------------------------------------------------------------


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    if len(samples) < 3:
        return 0.0
    t = np.array([s[0] for s in samples])
    m = np.array([s[1] for s in samples])
    return float(np.polyfit(t, m, 1)[0] * 60)


def soak(home: Path, n_jobs: int, workers: int, max_s: float, warmup_s: float) -> dict[str, object]:
    env = _env(home)
    subprocess.run([*_lstui(), "daemon", "start", "--devices", f"cpu:{workers}"], env=env,
                   check=True, capture_output=True)  # fmt: skip
    info = json.loads((home / "daemon.pid").read_text())
    daemon = int(info["pid"])
    with Store.open_home(home) as store:
        for n in range(n_jobs):
            spec = JobSpec(model="mlp", data="digits", subset="150", x=parse_axis("-1:1:5"),
                           seed=n, name=f"soak {n}").validated()  # fmt: skip
            submit_spec(store, spec)
    samples: list[tuple[float, float]] = []
    worker_samples: list[tuple[float, float]] = []
    start = time.monotonic()
    done = 0
    try:
        with Store.open_home(home) as store:
            while time.monotonic() - start < max_s:
                now = time.monotonic() - start
                rss = _rss_mb(daemon)
                if rss is None:
                    raise RuntimeError("the daemon exited during the soak")
                samples.append((now, rss))
                for w in store.workers(alive_within_s=60):
                    wrss = _rss_mb(w.pid)
                    if wrss is not None:
                        worker_samples.append((now, wrss))
                jobs = store.list_jobs()
                done = sum(1 for j in jobs if j.state.value == "done")
                finished = all((Path(j.results_dir) / ".lstui-finished").exists() for j in jobs)
                if done == len(jobs) and finished:
                    break
                time.sleep(1.0)
    finally:
        subprocess.run([*_lstui(), "daemon", "stop"], env=env, capture_output=True)
    elapsed = time.monotonic() - start
    steady = [s for s in samples if s[0] >= warmup_s] or samples
    mem = [m for _, m in samples]
    wmem = [m for _, m in worker_samples]
    return {
        "jobs": n_jobs,
        "jobs_done": done,
        "seconds": elapsed,
        "jobs_per_min": 60 * done / elapsed if elapsed else 0.0,
        "daemon_rss_first_mb": mem[0],
        "daemon_rss_last_mb": mem[-1],
        "daemon_rss_max_mb": max(mem),
        "daemon_rss_slope_mb_per_min": _slope_mb_per_min(steady),
        "worker_rss_max_mb": max(wmem) if wmem else None,
        "worker_rss_last_mb": wmem[-1] if wmem else None,
        "samples": len(samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=DefaultsHelp)
    parser.add_argument("--jobs", type=int, default=1000, help="queued jobs")
    parser.add_argument("--grid", type=int, default=201, help="points per axis of the big surface")
    parser.add_argument(
        "--soak-jobs", type=int, default=60, help="small jobs the daemon works through"
    )
    parser.add_argument("--workers", type=int, default=1, help="CPU workers of the soak daemon")
    parser.add_argument("--soak-max-s", type=float, default=600.0, help="seconds after which the soak is given up")
    parser.add_argument("--warmup-s", type=float, default=20.0,
                        help="the soak's first seconds, left out of the RSS slope")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="lstui-bench-load-"))
    try:
        home = root / "home"
        big_id, filled = fill(home, args.jobs, args.grid, leave_units=10)
        print(f"queued {args.jobs} jobs + a {args.grid}x{args.grid} job in {filled['queue_s']:.2f} s; "
              f"a helper thread wrote {filled['points']:.0f} points in {filled['units']:.0f} units "
              f"in {filled['seconds']:.2f} s ({filled['points'] / filled['seconds']:.0f} points/s)")  # fmt: skip
        python_s = time_python_startup()
        ls = time_ls(home)
        ls_json = time_ls(home, 5, "--json")
        print(f"lstui ls: median {ls['median_s']:.3f} s over 5 runs ({ls['lines']} lines; "
              f"python -c pass alone takes {python_s:.3f} s); ls --json: {ls_json['median_s']:.3f} s")  # fmt: skip
        refresh = time_refresh(home, big_id, args.grid)
        print(f"TUI refresh (StorePoller.poll, {args.jobs + 1} jobs, preview of the big job): "
              f"first {refresh['first_poll_s']:.3f} s ({refresh['first_poll_points']} points), "
              f"idle {1000 * refresh['idle_poll_median_s']:.1f} ms, after new points "
              f"{1000 * refresh['poll_after_new_points_s']:.1f} ms; list_jobs + jobs_table "
              f"{1000 * refresh['list_jobs_and_table_median_s']:.1f} ms")  # fmt: skip
        memory = soak(root / "soak", args.soak_jobs, args.workers, args.soak_max_s, args.warmup_s)
        print(f"daemon soak: {memory['jobs_done']}/{memory['jobs']} jobs in {memory['seconds']:.0f} s; "
              f"daemon RSS first {memory['daemon_rss_first_mb']:.1f} MB, last "
              f"{memory['daemon_rss_last_mb']:.1f} MB, max {memory['daemon_rss_max_mb']:.1f} MB, "
              f"slope {memory['daemon_rss_slope_mb_per_min']:+.2f} MB/min after {args.warmup_s:.0f} s; "
              f"worker RSS max {memory['worker_rss_max_mb']} MB")  # fmt: skip
        summary = {
            "queued_jobs": args.jobs,
            "grid": f"{args.grid}x{args.grid}",
            "points_written_per_s": filled["points"] / filled["seconds"],
            "ls_median_s": ls["median_s"],
            "ls_json_median_s": ls_json["median_s"],
            "ls_under_1s": ls["median_s"] < 1.0,
            "python_startup_s": python_s,
            **{f"tui_{k}": v for k, v in refresh.items()},
            **{f"soak_{k}": v for k, v in memory.items()},
        }
        print(json.dumps(summary, sort_keys=True))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
