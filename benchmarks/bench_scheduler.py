"""What the store and the scheduler add to each point, as a share of the compute.

A job of ``--points`` points whose model sleeps ``--point-s`` (0.1 s) in its forward
pass, on a one-batch data set, so that every point costs that much "compute" and nothing
else competes for the CPU, runs through a real daemon with two CPU workers. Each worker
times its own store calls (claims, point writes, completions) and its lease keeper's
(renewals, state checks) against the time spent evaluating points, and logs the totals
when it stops. The same evaluator is also timed directly, in this process, for the
baseline cost of a point.

Figures:

- ``overhead_share``: store and lease-keeping seconds over compute seconds, all workers
  (the target is under 2 %);
- ``wall_overhead_share``: the job's wall time (first claim to last completion) over the
  ideal ``points × direct point time / 2``, minus one; it also holds the workers' one-off
  preparation (model, data, directions) and the last unit's imbalance;
- ``compute_spread_s``: the most compute seconds one worker had less than another: how
  far apart their last units left them (it does not depend on the one-worker run, so it
  holds still on a machine whose load varies);
- ``two_over_one``: the job's wall time on two workers over its wall time on one (a
  second daemon, same job). The model's "compute" is a sleep, so the two workers do
  not compete for cores, as two GPUs' workers would not: the figure is what the
  scheduler's split of one surface gives (the speed issue's target: at most 0.55).
  ``--no-scaling`` skips that run.

With ``--job`` the job is a real one instead (the arguments of ``lstui submit surface``),
on the daemon's ``--two`` devices and then on its ``--one`` devices: on a machine with two
GPUs, ``--job "--model resnet56 --data cifar10:PATH --precision bf16 --x -1:1:21 --y
-1:1:21" --two 0,1 --one 0`` gives the speed issue's two-device figure the way lstui runs
it (one worker process per GPU, each preparing its own data and model, which is part of
the job's wall time). There is no direct loop then (nor ``ideal_s``).

Without two GPUs, cores can stand for devices: ``--two cpu:2 --two-cores 0,1 --one cpu:1
--one-cores 0`` runs the real job on two single-threaded workers over two cores, then on
one worker confined to one core (each daemon and its workers under that affinity; a CPU
worker takes one thread per core it may use). Cores of one socket share its memory
bandwidth and caches, which two GPUs do not, so this is a check of the split and of each
worker's preparation, not the GPU figure.

Run: ``python benchmarks/bench_scheduler.py [--points 200] [--point-s 0.1]``; the last
line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _help import DefaultsHelp  # benchmarks/ is sys.path[0] when run as a script

from lstui.scheduler.devices import parse_devices
from lstui.store import Event, JobRow, JobState, Store

BENCH_MODULE = '''
"""A model that costs POINT_S per forward pass, and a one-batch data set."""
import os
import time

import torch
from torch import nn

POINT_S = float(os.environ.get("LSTUI_BENCH_POINT_S", "0.1"))


class Sleepy(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        time.sleep(POINT_S)
        return self.fc(x)


def model():
    return Sleepy()


def data():
    g = torch.Generator().manual_seed(0)
    return (torch.randn(8, 4, generator=g), torch.arange(8) % 2), None
'''

STATS = re.compile(
    r"worker (\d+): (\d+) points, ([\d.]+) s computing, ([\d.]+) s in store calls "
    r"\([\d.]+ % of compute\), ([\d.]+) s keeping leases"
)


def grid_for(points: int) -> dict[str, str]:
    """A grid of about ``points`` points, 10 columns wide."""
    rows = max(1, round(points / 10))
    return {"x": "-1:1:10", "y": f"-1:1:{rows}"} if rows > 1 else {"x": "-1:1:10"}


def direct_point_s(spec: dict[str, str], env: dict[str, str], count: int = 10) -> float:
    """Seconds per point of the same evaluator called in a plain loop (another process)."""
    code = f"""
import tempfile, time
from pathlib import Path
from lstui.scheduler.compute import prepare_job
from lstui.spec import JobSpec
spec = JobSpec.from_dict({spec!r})
prepared = prepare_job(spec, Path(tempfile.mkdtemp()), device="cpu")
prepared.evaluate(0)
start = time.perf_counter()
for i in range({count}):
    prepared.evaluate(i)
print((time.perf_counter() - start) / {count})
"""
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.split()[-1])


def lstui(env: dict[str, str], *args: str, cores: set[int] | None = None) -> str:
    """``lstui ARGS``; ``cores``: the only cores it (and a daemon it starts) may run on."""
    proc = subprocess.run(
        [sys.executable, "-m", "lstui.cli", *args], env=env, capture_output=True, text=True,
        preexec_fn=None if cores is None else lambda: os.sched_setaffinity(0, cores),
    )
    if proc.returncode != 0:
        raise SystemExit(f"lstui {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def run_job(env: dict[str, str], home: Path, devices: str, spec_args: list[str],
            timeout_s: float, cores: set[int] | None = None) -> tuple[JobRow, list[Event]]:
    """Start a daemon on ``home`` with ``devices`` (on ``cores`` only, if given), run one
    job through it, stop it."""
    env = {**env, "LSTUI_HOME": str(home)}
    workers = len(parse_devices(devices))
    lstui(env, "daemon", "start", "--devices", devices, "--export", "", cores=cores)
    daemon_pid = int(json.loads((home / "daemon.pid").read_text())["pid"])
    try:
        with Store.open_home(home) as store:
            deadline = time.monotonic() + 120
            while len(store.workers(alive_within_s=60)) < workers:
                if time.monotonic() > deadline:
                    raise SystemExit("the workers did not start")
                time.sleep(0.2)
            job_id = int(lstui(env, "submit", "surface", *spec_args).split()[-1])
            deadline = time.monotonic() + timeout_s
            while (job := store.get_job(job_id)).state is not JobState.DONE:
                if job.state.finished or time.monotonic() > deadline:
                    raise SystemExit(f"job {job_id} is {job.state.value}: {job.error}")
                time.sleep(0.2)
            events = store.events(job_id)
        lstui(env, "daemon", "stop")
    except BaseException:
        try:
            os.killpg(daemon_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        raise
    return job, events


def cores_list(text: str) -> set[int]:
    """``0,1`` → {0, 1}: cores for ``os.sched_setaffinity``."""
    try:
        cores = {int(part) for part in text.split(",")}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected core numbers such as 0,1, not {text!r}") from None
    if not cores <= os.sched_getaffinity(0):
        raise argparse.ArgumentTypeError(f"cores {text} are not all among this process's {sorted(os.sched_getaffinity(0))}")
    return cores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=DefaultsHelp)
    parser.add_argument("--points", type=int, default=200, help="points of the surface")
    parser.add_argument("--point-s", type=float, default=0.1, help="seconds a point takes")
    parser.add_argument("--timeout-s", type=float, default=600.0, help="seconds after which a run is given up")
    parser.add_argument("--no-scaling", action="store_true", help="skip the one-worker run")
    parser.add_argument("--job", default=None,
                        help="a real job instead of the sleeping one: `lstui submit surface` arguments "
                        "(default: the sleeping job of --points and --point-s)")
    parser.add_argument("--two", default="cpu:2", help="the daemon's --devices for the main run")
    parser.add_argument("--one", default="cpu:1", help="its --devices for the scaling run")
    parser.add_argument("--two-cores", type=cores_list, default=None,
                        help="the cores the main run's daemon and workers may use, e.g. 0,1 "
                        "(default: any of this process's)")
    parser.add_argument("--one-cores", type=cores_list, default=None,
                        help="the cores the scaling run's may use, e.g. 0 (default: any of this process's)")
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lstui-bench-"))
    try:
        return run(options, root)
    finally:  # the homes, stores and daemon logs of both runs
        shutil.rmtree(root, ignore_errors=True)


def run(options: argparse.Namespace, root: Path) -> int:
    home, modules = root / "home", root / "modules"
    modules.mkdir()
    (modules / "bench_lab.py").write_text(BENCH_MODULE)
    env = dict(os.environ)
    env.update(
        LSTUI_HOME=str(home),
        LSTUI_BENCH_POINT_S=str(options.point_s),
        PYTHONPATH=os.pathsep.join(filter(None, [str(modules), env.get("PYTHONPATH")])),
    )
    t_direct: float | None = None
    if options.job:
        spec_args = shlex.split(options.job)
    else:
        spec = {"model": "bench_lab:model", "data": "bench_lab:data", **grid_for(options.points)}
        spec_args = [a for key, value in spec.items() for a in (f"--{key}", value)]
        t_direct = direct_point_s(spec, env)
        print(f"direct loop: {t_direct * 1000:.2f} ms per point")

    job, events = run_job(env, home, options.two, spec_args, options.timeout_s, options.two_cores)
    job_id = job.id
    stats = [
        tuple(map(float, m.groups())) for m in STATS.finditer((home / "daemon.log").read_text())
    ]
    points = int(sum(s[1] for s in stats))
    compute_s = sum(s[2] for s in stats)
    store_s = sum(s[3] for s in stats)
    keeper_s = sum(s[4] for s in stats)
    assert job.started is not None and job.finished is not None
    wall_s = job.finished - job.started
    ready = [e.ts for e in events if " ready on " in e.message]
    prepare_s = (max(ready) - job.started) if ready else 0.0
    overhead = (store_s + keeper_s) / compute_s
    result: dict[str, object] = {
        "overhead_share": round(overhead, 5),
        "points": job.total_points,
        "s_per_point": round(compute_s / points, 5),
        "store_ms_per_point": round(1000 * store_s / points, 4),
        "keeper_ms_per_point": round(1000 * keeper_s / points, 4),
        "devices": options.two,
        **({"cores": sorted(options.two_cores)} if options.two_cores else {}),
        "workers": len(stats),
        "wall_s": round(wall_s, 3),
        "prepare_s": round(prepare_s, 3),
        # how far apart the workers' compute ended: the last units' imbalance (0 with one)
        "compute_spread_s": round(max(s[2] for s in stats) - min(s[2] for s in stats), 3),
    }
    ideal = ""
    if t_direct is not None:
        ideal_s = job.total_points * t_direct / len(stats)
        result |= {"direct_s_per_point": round(t_direct, 5), "ideal_s": round(ideal_s, 3),
                   "wall_overhead_share": round(wall_s / ideal_s - 1, 4)}
        ideal = f"ideal {ideal_s:.2f} s; "
    print(
        f"job {job_id}: {job.total_points} points on {len(stats)} workers ({options.two}) in {wall_s:.2f} s "
        f"({ideal}the slower worker was ready {prepare_s:.2f} s after the start)"
    )
    for worker_id, n, comp, st, keep in stats:
        print(
            f"worker {int(worker_id)}: {int(n)} points, {comp:.2f} s compute, "
            f"{1000 * st:.1f} ms store calls, {1000 * keep:.1f} ms lease keeping"
        )
    print(f"store and lease keeping: {100 * overhead:.3f} % of compute (target < 2 %)"
          + (f"; wall over ideal: {100 * result['wall_overhead_share']:.1f} %" if t_direct is not None else ""))
    if not options.no_scaling:
        # the same job on one worker: what the second one buys (the target: <= 0.55)
        one, _ = run_job(env, root / "home-1", options.one, spec_args, options.timeout_s, options.one_cores)
        assert one.started is not None and one.finished is not None
        one_s = one.finished - one.started
        result["one_worker_wall_s"] = round(one_s, 3)
        if options.one_cores:
            result["one_cores"] = sorted(options.one_cores)
        result["two_over_one"] = round(wall_s / one_s, 4)
        print(f"the same job on {options.one}: {one_s:.2f} s; {options.two} take {wall_s / one_s:.3f} of that "
              "(target <= 0.55)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
