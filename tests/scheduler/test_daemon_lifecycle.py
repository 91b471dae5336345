"""One real daemon with two CPU workers, and what people do to its jobs.

The daemon is shared by the tests of this module (starting one costs each worker a
torch import); every test queues its own jobs and waits for them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lstui.scheduler.daemon import finish_marked
from lstui.store import JobState, Store
from tests.scheduler.support import (
    SLOW_SPEC,
    Lab,
    assert_same_surface,
    surface_arrays,
    wait_until,
)

pytestmark = pytest.mark.timeout(240)  # a hung daemon must not hang the suite

REPO = Path(__file__).resolve().parents[2]
SLOWER_8X8 = ("--model", "lab_models:slower", "--x", "-1:1:8", "--y", "-1:1:8", "--subset", "200")
"""64 points of about 0.1 s each: about 3 s on two workers."""
TINY = ("--model", "mlp", "--x", "-1:1:5", "--subset", "200")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, lab_modules: Path) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("shared") / "home", lab_modules)
    try:
        lab.start_daemon("cpu:2")  # its workers import torch while the first test sets up
        yield lab
    finally:
        lab.teardown()


def _stored(lab: Lab, job_id: int) -> list[dict]:
    return lab.query("SELECT idx, created, worker FROM points WHERE job_id = ?", (job_id,))


def _busy_with(lab: Lab, job_id: int) -> bool:
    return any(w["current_job"] == job_id for w in lab.workers() if w["state"] == "alive")


def _assert_complete_once(lab: Lab, job_id: int) -> None:
    job = lab.job(job_id)
    rows = lab.query(
        "SELECT count(*) AS n, count(DISTINCT idx) AS d FROM points WHERE job_id = ?", (job_id,)
    )[0]
    assert rows["n"] == rows["d"] == job.total_points == job.done_points
    assert {u["state"] for u in lab.units(job_id)} == {"done"}


def test_two_cpu_workers_share_one_surface_equal_to_lstui_run(
    shared: Lab, reference_surface: Path
) -> None:
    workers = shared.wait_workers(2)
    status = shared.cli("daemon", "status").stdout.splitlines()
    assert status[0].endswith(" on cpu ×2") and len(status) == 3, status
    job_id = shared.submit("surface", *SLOW_SPEC)
    job = shared.wait_exported(job_id)

    _assert_complete_once(shared, job_id)
    writers = shared.query(
        "SELECT worker, count(*) AS n FROM points WHERE job_id = ? GROUP BY worker", (job_id,)
    )
    assert {r["worker"] for r in writers} == {w["id"] for w in workers}
    assert_same_surface(Path(job.results_dir) / "surface.h5", reference_surface)


def test_fifty_submits_at_once_while_the_daemon_runs(shared: Lab) -> None:
    before = {j["id"] for j in shared.query("SELECT id FROM jobs")}
    # jobs that fail at their first point: the workers claim and fail them while the
    # submits run (more writers), without leaving figures to draw
    burst = ("--model", "lab_models:boom", "--x", "-1:1:5", "--subset", "200")
    procs = [
        shared.popen("submit", "surface", *burst, "--priority", "-10", "--name", f"burst {n}")
        for n in range(50)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]

    assert [code for code, _, _ in results] == [0] * 50, [err for _, _, err in results]
    assert not any("locked" in err.lower() or "Traceback" in err for _, _, err in results)
    ids = {int(out.split()[-1]) for _, out, _ in results}
    rows = shared.query("SELECT id, name, total_points FROM jobs")
    new = {r["id"]: r for r in rows if r["id"] not in before}
    assert set(new) == ids and len(ids) == 50
    assert sorted(r["name"] for r in new.values()) == sorted(f"burst {n}" for n in range(50))
    assert {r["total_points"] for r in new.values()} == {5}
    for job_id in ids:
        shared.wait_job(job_id, (JobState.FAILED,))


def test_cancel_stops_a_running_job_within_seconds_and_retry_keeps_its_points(
    shared: Lab,
) -> None:
    job_id = shared.submit("surface", *SLOWER_8X8)
    wait_until("10 stored points", lambda: shared.job(job_id).done_points >= 10)
    out = shared.cli("cancel", str(job_id)).stdout
    cancelled_at = time.time()
    assert out.strip() == f"job {job_id}: cancelled"

    wait_until("the workers to leave the job", lambda: not _busy_with(shared, job_id), 5)
    kept = _stored(shared, job_id)
    time.sleep(1.0)
    assert _stored(shared, job_id) == kept  # no new points
    # what was in flight when the cancel landed is stored within a point's time or so
    assert max(p["created"] for p in kept) < cancelled_at + 1.0
    job = shared.job(job_id)
    assert job.state is JobState.CANCELLED and 10 <= job.done_points < 64
    assert not [u for u in shared.units(job_id) if u["state"] == "leased"]

    assert shared.cli("retry", str(job_id)).stdout.strip() == f"job {job_id}: queued"
    shared.wait_job(job_id)
    _assert_complete_once(shared, job_id)
    again = {p["idx"]: p["created"] for p in _stored(shared, job_id)}
    assert all(again[p["idx"]] == p["created"] for p in kept)  # not recomputed


def test_pause_keeps_the_points_and_resume_finishes(shared: Lab) -> None:
    job_id = shared.submit("surface", *SLOWER_8X8)
    wait_until("10 stored points", lambda: shared.job(job_id).done_points >= 10)
    assert shared.cli("pause", str(job_id)).stdout.strip() == f"job {job_id}: paused"
    wait_until("the workers to leave the job", lambda: not _busy_with(shared, job_id), 5)
    kept = _stored(shared, job_id)
    time.sleep(1.0)
    assert _stored(shared, job_id) == kept
    assert shared.job(job_id).state is JobState.PAUSED
    assert not [u for u in shared.units(job_id) if u["state"] == "leased"]

    resumed_at = time.time()
    assert shared.cli("resume", str(job_id)).stdout.strip() == f"job {job_id}: queued"
    shared.wait_job(job_id)
    _assert_complete_once(shared, job_id)
    points = _stored(shared, job_id)
    assert len([p for p in points if p["created"] < resumed_at]) == len(kept)


def test_failing_model_fails_its_job_with_the_message_and_the_next_job_runs(
    shared: Lab,
) -> None:
    failing = shared.cli(
        "submit", "--wait", "surface", "--model", "lab_models:boom", "--x", "-1:1:40",
        "--subset", "200", check=False,
    )  # fmt: skip
    assert failing.returncode == 1
    job_id = int(failing.stdout.split()[-1])
    assert "boom: this model refuses to run" in failing.stderr
    assert "Traceback" not in failing.stderr
    job = shared.job(job_id)
    assert job.state is JobState.FAILED
    # a factory's model is tried on two samples before the first point: said as one line
    assert job.error == (
        "model 'lab_models:boom' cannot take the data's inputs of shape 1×8×8: "
        "RuntimeError: boom: this model refuses to run"
    )
    assert f"error     {job.error}" in shared.cli("show", str(job_id), "--no-plot").stdout
    assert f"failed: {job.error}" in shared.cli("logs", str(job_id)).stdout
    assert not [u for u in shared.units(job_id) if u["state"] == "leased"]

    following = shared.cli("submit", "--wait", "surface", *TINY)
    next_id = int(following.stdout.split()[-1])
    assert "5/5" in following.stderr  # the progress bar, completed
    assert shared.job(next_id).state is JobState.DONE
    # it ends once the files are written too: `submit --wait && cp results/*.pdf` found
    # the surface file and a contour figure, the rest a few seconds later
    folder = shared.job(next_id).results_dir
    assert (folder / "surface.h5").is_file() and sorted(folder.glob("*.pdf")), sorted(folder.iterdir())
    assert finish_marked(shared.job(next_id))


def test_ls_and_show_speak_json(shared: Lab) -> None:
    job_id = shared.submit("surface", *TINY, "--name", "json please")
    shared.wait_job(job_id)
    listed = json.loads(shared.cli("ls", "--all", "--json").stdout)
    (row,) = [r for r in listed if r["id"] == job_id]
    assert {"id", "name", "kind", "state", "priority", "done", "total", "device"} <= set(row)
    assert (row["name"], row["kind"], row["state"]) == ("json please", "surface", "done")
    assert (row["done"], row["total"], row["priority"], row["device"]) == (5, 5, 0, "cpu")
    assert job_id not in [r["id"] for r in json.loads(shared.cli("ls", "--json").stdout)]
    # its times, as show's: a script sorting jobs by age asked show of each
    assert row["created"] <= row["started"] <= row["finished"] <= time.time()

    shown = json.loads(shared.cli("show", "--json", str(job_id)).stdout)
    assert (shown["created"], shown["started"], shown["finished"]) == (row["created"], row["started"], row["finished"])
    assert shown["results_dir"] == str(shared.job(job_id).results_dir)
    assert shown["surface_file"] == str(Path(shown["results_dir"]) / "surface.h5")


def test_daemon_status_speaks_json(shared: Lab, lab: Lab) -> None:
    """`daemon status --json`: the daemon, its workers and what they compute, for scripts
    that read the text; exit 3 when none runs."""
    wait_until("two workers", lambda: len(json.loads(shared.cli("daemon", "status", "--json").stdout)["workers"]) == 2)
    said = json.loads(shared.cli("daemon", "status", "--json").stdout)
    assert said["running"] is True and said["suspended"] is False
    assert said["pid"] == shared.daemon_pid() and said["devices"] == ["cpu", "cpu"]
    assert sorted(w["pid"] for w in said["workers"]) == sorted(w["pid"] for w in shared.live_workers())
    assert all(w["device"] == "cpu" and w["silent_s"] < 30 for w in said["workers"])
    assert time.time() - 3600 < said["started"] <= time.time()

    none = lab.cli("daemon", "status", "--json", check=False)  # (a home never used: no store made)
    assert none.returncode == 3 and json.loads(none.stdout)["running"] is False, none
    assert not (lab.home / "lstui.db").exists()  # (its stalled jobs: test_signals' killed daemon)


def test_priority_changes_which_job_is_claimed_next(shared: Lab) -> None:
    # 1,024 points of 0.1 s in 256 units: busy for a while however loaded the machine is
    # (64 points were done before the third CLI call on a busy one, and all 256 of a 16×16
    # grid handed out before the priority changed on one busier still); cancelled after
    blocker = shared.submit("--unit-size", "4", "surface", *SLOWER_8X8[:2], "--x", "-1:1:32",
                            "--y", "-1:1:32", "--subset", "200")
    first = shared.submit("surface", *TINY, "--name", "queued first")
    second = shared.submit("surface", *TINY, "--name", "queued second")
    assert shared.cli("priority", str(second), "5").stdout.strip() == f"job {second}: priority 5"
    # the test means something only if the blocker still had units to hand out
    assert any(u["state"] == "pending" for u in shared.units(blocker))
    shared.cli("cancel", str(blocker))

    for job_id in (first, second):
        shared.wait_job(job_id)
    assert shared.job(second).started < shared.job(first).started
    assert shared.job(second).priority == 5


def test_surface_file_is_written_while_running_and_figures_on_finish(shared: Lab) -> None:
    job_id = shared.submit("surface", *SLOWER_8X8)
    path = Path(shared.job(job_id).results_dir) / "surface.h5"

    def partial_file() -> dict | None:
        if not path.exists():
            return None
        return surface_arrays(path)

    arrays = wait_until("a surface file while the job runs", partial_file)
    assert shared.job(job_id).state is not JobState.DONE
    loss = arrays["train_loss"]
    assert loss.shape == (8, 8)
    assert (loss == -1).any() and (loss != -1).any()

    job = shared.wait_exported(job_id)
    final = surface_arrays(path)["train_loss"]
    assert not (final == -1).any() and np.isfinite(final).all()
    with Store.open_home(shared.home) as store:
        stored = {p.idx: p.train_loss for p in store.points(job_id)}
    assert np.allclose(final.ravel(), [stored[i] for i in range(64)])
    for kind in ("2dcontour", "2dcontourf", "2dheat", "3dsurface"):
        for ext in ("png", "pdf"):
            figure = Path(job.results_dir) / f"surface_train_loss_{kind}.{ext}"
            assert figure.stat().st_size > 1000, figure

    # an export asked for later is in the job's log as the daemon's are
    out = Path(job.results_dir) / "again"
    printed = shared.cli("export", str(job_id), "--format", "svg", "--out", str(out)).stdout.split()
    with Store.open_home(shared.home) as store:
        wrote = [e.message for e in store.events(job_id) if e.message.startswith("wrote ")]
    assert f"wrote {Path(job.results_dir) / 'surface_train_loss_2dcontour.png'}" in wrote
    assert len(printed) == 4 and [f"wrote {p}" for p in printed] == wrote[-4:]


def test_digits_demo_job_file_runs_to_done(shared: Lab) -> None:
    out = shared.cli("submit", str(REPO / "jobs" / "digits_demo.toml")).stdout.split()
    ids = [int(t) for t in out]
    assert len(ids) == 2
    jobs = [shared.wait_job(job_id) for job_id in ids]
    assert [(j.name, j.total_points) for j in jobs] == [
        ("digits mlp 2d", 81),
        ("digits cnn 1d", 21),
    ]
    assert len(shared.units(ids[1])) == 3  # unit_size = 7, given: units of 7 exactly


# -- bad input: one clear line, a non-zero exit, the store untouched ---------------------
BAD_TOML = "name = 'oops\nmodel = mlp\n"
UNKNOWN_KEY = "model = 'mlp'\nx = '-1:1:5'\ncolour = 'red'\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("submit", "{tmp}/bad.toml"), "is not valid TOML"),
        (("submit", "{tmp}/unknown.toml"), "unknown key 'colour'"),
        (("submit", "{tmp}/missing.toml"), "does not exist"),
        (("submit", "surface", "--model", "mlp", "--x", "1:-1:5"), "--x"),
        (("show", "999"), "job 999 does not exist"),
        (("logs", "999"), "job 999 does not exist"),
        (("cancel", "999"), "job 999 does not exist"),
        (("retry", "999"), "job 999 does not exist"),
        (("priority", "999", "3"), "job 999 does not exist"),
        (("show", "abc"), "expected a whole number from 1 to"),
        (("daemon", "start", "--devices", "cpu:2"), "a daemon already runs"),
        (("daemon", "start", "--foreground", "--devices", "cpu:1"), "a daemon already runs"),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(v),
)
def test_bad_input_gives_one_line_and_leaves_the_store_alone(
    shared: Lab, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    (tmp_path / "bad.toml").write_text(BAD_TOML)
    (tmp_path / "unknown.toml").write_text(UNKNOWN_KEY)
    args = tuple(a.format(tmp=tmp_path) for a in args)

    def rows() -> dict:
        tables = shared.snapshot()
        tables.pop("workers", None)  # heartbeats tick on their own
        return tables

    shared.wait_quiet()
    before = rows()
    proc = shared.cli(*args, check=False)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("lstui: error: ") and message in lines[0], lines[0]
    assert rows() == before


@pytest.mark.parametrize("devices", ["cpu:zero", "cpu:0", "cpux"])
def test_bad_devices_start_no_daemon(lab: Lab, devices: str) -> None:
    proc = lab.cli("daemon", "start", "--devices", devices, check=False)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert (
        line.startswith(f"lstui: error: --devices {devices!r}: expected") or "not visible" in line
    )
    assert lab.cli("daemon", "status", check=False).returncode == 3
    assert not (lab.home / "daemon.pid").exists()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs two cores and CPU affinity")
def test_cpu_workers_share_the_cores_the_daemon_may_use(lab: Lab) -> None:
    """A daemon started under ``taskset -c CORE`` gives its CPU worker one thread, not one
    per core of the machine (the worker's threads would contend for that one core)."""
    core = min(os.sched_getaffinity(0))
    lab.start_daemon("cpu:1", preexec_fn=lambda: os.sched_setaffinity(0, {core}))
    (worker,) = lab.wait_workers(1)
    argv = Path(f"/proc/{worker['pid']}/cmdline").read_bytes().decode().split("\0")
    assert argv[argv.index("--threads") + 1] == "1", argv
    assert os.sched_getaffinity(worker["pid"]) == {core}


def test_a_jobs_last_units_are_smaller_unless_a_unit_size_is_given(lab: Lab) -> None:
    """Queued with the default unit size, a 121-point surface ends in units of 8, 4, 2
    and 1 points (its workers then finish within about a point of each other); with
    ``--unit-size 16`` its units are 16 points each, the left-over last."""
    spec = ("surface", "--model", "mlp", "--x", "-1:1:11", "--y", "-1:1:11", "--subset", "50")

    def sizes(job_id: int) -> list[int]:
        return [len(json.loads(u["indices"])) for u in lab.units(job_id)]

    assert sizes(lab.submit(*spec)) == [16, 16, 16, 13, 8, 8, 8, 8, 4, 4, 4, 4, 2, 2, 2, 2, 1, 1, 1, 1]
    assert sizes(lab.submit("--unit-size", "16", *spec)) == [16] * 7 + [9]
    refused = lab.cli("submit", "--unit-size", "0", *spec, check=False)
    (line,) = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and "--unit-size must be between 1 and" in line
