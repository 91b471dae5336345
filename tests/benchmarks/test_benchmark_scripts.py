"""The benchmark scripts, run as a person runs them (tiny sizes, on the CPU): they finish,
and their last line is the JSON object benchmarks/README.md describes. A GPU session has
minutes for them; an argument they no longer take must show up here first."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lstui.landscape.evaluator import TOLERANCE

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "script", ["bench_load", "bench_scheduler", "bench_surface", "bench_tui", "profile_point"]
)
def test_help_names_every_options_default(script: str) -> None:
    """``--help`` ends each option's help with ``(default: ...)``: its value, or in words
    what a default of None stands for; a flag (no value) has none to state."""
    done = subprocess.run([sys.executable, f"benchmarks/{script}.py", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "default: None" not in done.stdout
    options = done.stdout.split("\noptions:\n", 1)[1]
    entries = re.split(r"\n(?=  -)", options.strip("\n"))  # an option per entry, its help wrapped
    unstated = []
    for entry in entries:
        invocation = re.split(r"\s{2,}", entry.strip(), maxsplit=1)[0]  # "--jobs JOBS", "-h, --help"
        flag = all(" " not in name for name in invocation.split(", "))
        if not flag and "(default: " not in " ".join(entry.split()):
            unstated.append(invocation)
    assert len(entries) > 2 and not unstated, f"{script}: no (default: ...) for {unstated}"


def _last_json(*args: str) -> dict:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_bench_surface_times_every_mode_against_the_reference_loop() -> None:
    """With the reference's loader processes (one here), the Triton flags (which run
    nothing on the CPU) and each precision within its documented error."""
    out = _last_json("benchmarks/bench_surface.py", "--model", "cnn", "--images", "64", "--points", "2",
                     "--modes", "fp32,tf32+t,bf16+s", "--baseline-workers", "1")
    assert out["baseline_workers"] == 1 and out["device"].startswith("cpu") and out["timed_points"] == 2
    assert out["baseline_s_per_point"] > 0 and out["ratio"] > 0
    assert out["max_abs_loss_diff"] < 1e-5, "the reference loop and lstui's fp32 give the same losses"
    assert set(out["modes"]) == {"fp32", "tf32+t", "bf16+s"}
    for name, row in out["modes"].items():
        assert row["s_per_point"] > 0 and row["memory_mb"] > 0, name
        assert row["max_rel_loss_diff"] <= TOLERANCE[name.split("+")[0]], name
        assert row["triton_layers"] == 0, "no Triton on the CPU"


def test_profile_point_lists_where_a_point_goes() -> None:
    out = _last_json("benchmarks/profile_point.py", "--device", "cpu", "--model", "cnn", "--images", "64",
                     "--modes", "fp32,bf16+t", "--top", "3")
    assert set(out["modes"]) == {"fp32", "bf16+t"}
    fp32 = out["modes"]["fp32"]
    assert 0 < len(fp32["top"]) <= 3 and any("convolution" in row["name"] for row in fp32["top"])
    assert out["modes"]["bf16+t"]["triton"]["layers_on_triton"] == 0


def test_bench_scheduler_runs_a_real_job_on_two_worker_sets() -> None:
    """``--job`` (as gpu_check's scaling phase runs it on two GPUs): a real surface through
    a real daemon on ``--two``'s workers, then on ``--one``'s, and their wall-time ratio;
    with ``--two-cores``/``--one-cores`` (cores standing for devices) each daemon on those
    cores only."""
    cores = sorted(os.sched_getaffinity(0))[:2] if hasattr(os, "sched_getaffinity") else []
    pinned = ["--two-cores", ",".join(map(str, cores)), "--one-cores", str(cores[0])] if len(cores) == 2 else []
    out = _last_json("benchmarks/bench_scheduler.py", "--two", "cpu:2", "--one", "cpu:1", *pinned,
                     "--job", "--model cnn --data digits --subset 100 --x -1:1:6 --y -1:1:4")
    assert out["points"] == 24 and out["workers"] == 2 and out["devices"] == "cpu:2"
    assert out["wall_s"] > 0 and out["one_worker_wall_s"] > 0
    # the ratio of the unrounded walls; the walls are printed to 3 decimals, which alone
    # moves a ratio of 0.216 s / 0.139 s by 0.4 % (a loaded run failed on rel=1e-3)
    wall, one = out["wall_s"], out["one_worker_wall_s"]
    assert out["two_over_one"] == pytest.approx(wall / one, abs=0.0005 * (1 / one + wall / one**2) + 1e-4)
    assert 0 <= out["compute_spread_s"] < out["wall_s"]
    assert "ideal_s" not in out, "no direct loop for a real job"
    if pinned:
        assert out["cores"] == cores and out["one_cores"] == cores[:1]
