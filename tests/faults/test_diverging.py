"""NaN and infinite losses: the job completes, the points are kept as NaN (the store keeps
NULL) or inf, figures draw gaps, ``lstui run`` exits 3 with one warning line."""

from __future__ import annotations

import math
import stat
from pathlib import Path

import numpy as np

from lstui import plots
from lstui.results import read_surface
from tests.faults.conftest import FinishedLab
from tests.faults.support import DIVERGED_POINTS, DIVERGING_SPEC, Lab, cli_in_process


def _diverged(values: np.ndarray) -> int:
    return int(np.count_nonzero(~np.isfinite(values)))


def test_run_with_diverging_points_exits_3_with_one_warning_line(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = lab.cli(
        "run", "surface", *DIVERGING_SPEC, "--out", str(out), "--device", "cpu", check=False,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr and "lstui: error" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line.lower()]
    assert len(warnings) == 1, proc.stderr
    assert warnings[0].startswith(f"warning: {DIVERGED_POINTS} of 6 points")

    surface = read_surface(out / "surface.h5")
    loss = surface.arrays["train_loss"]
    assert (loss != -1).all()  # every point computed, diverged or not
    assert np.isnan(loss).sum() == 2 and np.isposinf(loss).sum() == 1
    # no prediction where the outputs are NaN; an infinite loss (a logit of -inf) keeps its accuracy
    assert np.array_equal(np.isnan(surface.arrays["train_acc"]), np.isnan(loss))

    figure = plots.plot_1d(surface.xcoordinates, {"train_loss": surface.values("train_loss")})
    drawn = figure.axes[0].lines[0].get_ydata()
    assert np.array_equal(np.isnan(drawn), ~np.isfinite(loss))  # a gap at each
    assert (out / "surface_1d.png").stat().st_size > 0
    for path in [out, *out.iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_the_daemon_completes_a_diverging_job_and_stores_nan_as_null(
    finished_lab: FinishedLab,
) -> None:
    lab = finished_lab.lab
    job = lab.job(finished_lab.diverging)
    assert job["state"] == "done" and job["done_points"] == 6
    rows = lab.query(
        "SELECT idx, train_loss, train_acc FROM points WHERE job_id = ? ORDER BY idx", (job["id"],)
    )
    losses = [r["train_loss"] for r in rows]
    assert sum(v is None for v in losses) == 2  # NaN: SQLite keeps NULL
    assert sum(v is not None and math.isinf(v) for v in losses) == 1
    assert [r["train_acc"] is None for r in rows] == [v is None for v in losses]  # NaN outputs: no accuracy

    results = Path(job["results_dir"])
    surface = read_surface(results / "surface.h5")
    assert _diverged(surface.arrays["train_loss"]) == DIVERGED_POINTS
    assert (surface.arrays["train_loss"] != -1).all()
    assert (results / "surface_1d.png").exists() and (results / "surface_1d.pdf").exists()

    code, out, err = cli_in_process(["show", str(job["id"])], lab.home)
    assert code == 0 and "Traceback" not in err, err
    assert "done" in out
    # said in its log, as `lstui run` says it (only the plot's footer told it)
    assert f"{DIVERGED_POINTS} of 6 points have NaN or infinite loss (diverged)" in out


def test_submit_wait_of_a_diverging_job_exits_3_as_run_does(finished_lab: FinishedLab) -> None:
    """It exited 0 with no word of the diverged points."""
    done = finished_lab.lab.cli("submit", "--wait", "surface", *DIVERGING_SPEC, "--name", "again", check=False)
    assert done.returncode == 3, done.stderr
    assert "lstui: warning: job " in done.stderr
    assert f"{DIVERGED_POINTS} of 6 points have NaN or infinite loss (diverged)" in done.stderr
