"""What a walk through the command line met while operating a daemon: each is a real
CLI process on a real home with a real daemon."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

from tests.faults.support import Lab


def test_logs_follow_ends_after_the_lines_of_the_files_the_daemon_wrote(lab: Lab) -> None:
    """``logs -f`` stopped at "done", before the "wrote …png" lines a second later:
    whoever followed the log never saw where the figures went."""
    lab.cli("submit", "surface", "--model", "mlp", "--data", "digits", "--subset", "100",
            "--x", "-1:1:5")
    lab.start_daemon("cpu:1", "--export", "png")
    follow = lab.cli("logs", "1", "-f")
    lines = follow.stdout.splitlines()
    done = next(n for n, line in enumerate(lines) if line.endswith(" done"))
    wrote = [line for line in lines[done:] if "wrote " in line and line.endswith(".png")]
    assert wrote, follow.stdout
    assert lines == lab.cli("logs", "1").stdout.splitlines()  # nothing came after


def test_logs_follow_of_a_job_that_failed_as_it_started_ends_at_once_with_exit_1(lab: Lab) -> None:
    """It waited a minute for files that never come (a job that failed before its first
    point has none), then exited 0."""
    import time

    ckpt = lab.home.parent / "gone.pt"
    code = ("import torch; from lstui.models import build_model\n"
            f"torch.save(build_model('mlp', input_shape=(1, 8, 8)).state_dict(), {str(ckpt)!r})\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    job = lab.submit("surface", "--model", "mlp", "--checkpoint", str(ckpt), "--x", "-1:1:3")
    ckpt.unlink()  # gone before a worker reads it: the job fails as it starts
    lab.start_daemon("cpu:1", "--export", "")
    lab.wait_job(job, ("failed",))
    began = time.monotonic()
    follow = lab.cli("logs", str(job), "-f", check=False)
    assert follow.returncode == 1, follow.stderr
    assert time.monotonic() - began < 20, "not the minute it waited for files"
    assert follow.stdout.splitlines() == lab.cli("logs", str(job)).stdout.splitlines()
    # why, in `ls --json` too (a script listing failed jobs had to `show` each one)
    listed = {j["id"]: j for j in json.loads(lab.cli("ls", "--all", "--json").stdout)}
    assert "gone.pt" in listed[job]["error"], listed[job]


def test_a_negative_priority_needs_no_double_dash(lab: Lab) -> None:
    lab.cli("submit", "surface", "--model", "mlp", "--data", "digits", "--x", "-1:1:3")
    assert lab.cli("priority", "1", "-3").stdout.strip() == "job 1: priority -3"
    assert lab.job(1)["priority"] == -3
    bad = lab.cli("priority", "1", "--3", check=False)
    assert bad.returncode == 2 and "not a valid integer" in bad.stderr


def test_show_on_a_terminal_that_is_not_utf8_prints_no_traceback(lab: Lab) -> None:
    """``→`` in an interpolation's name, on a latin-1 terminal: no traceback, and every
    glyph the encoding lacks (the name's arrow, the bars, the plot's frame) is a plain
    stand-in; each was ``?``."""
    a = lab.home.parent / "a.pt"
    b = lab.home.parent / "b.pt"
    code = ("import torch; from lstui.models import build_model\n"
            f"torch.manual_seed(1); torch.save(build_model('mlp', input_shape=(1, 8, 8)).state_dict(), {str(a)!r})\n"
            f"torch.manual_seed(2); torch.save(build_model('mlp', input_shape=(1, 8, 8)).state_dict(), {str(b)!r})\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    lab.cli("submit", "interp", "--model", "mlp", "--checkpoint", str(a), "--checkpoint-b", str(b))
    env = {**os.environ, **lab.env, "PYTHONIOENCODING": "latin-1"}
    for argv in (["show", "1"], ["ls"], ["logs", "1"]):
        proc = subprocess.run([sys.executable, "-m", "lstui.cli", *argv], env=env, capture_output=True)
        assert proc.returncode == 0 and b"Traceback" not in proc.stderr, proc.stderr.decode("latin-1")
        assert b"interp a" in proc.stdout or argv == ["logs", "1"]
        assert b"?" not in proc.stdout, proc.stdout.decode("latin-1")
        assert b"interp a>b" in proc.stdout or argv == ["logs", "1"], proc.stdout.decode("latin-1")


def test_ls_fits_the_terminal_and_gives_scripts_whole_lines(lab: Lab) -> None:
    """``COLUMNS=60 lstui ls`` printed 108-character lines, which the terminal wrapped."""
    name = "a rather long name for a job that goes on and on"
    lab.cli("submit", "surface", "--model", "mlp", "--data", "digits", "--x", "-1:1:3", "--name", name)
    lab.cli("submit", "surface", "--model", "mlp", "--data", "digits", "--x", "-1:1:1001", "--y", "-1:1:1001",
            "--priority", "-1000")  # wider numbers than the columns' own widths
    env = {**os.environ, **lab.env}
    env.pop("COLUMNS", None)
    # columns go until the name has 24 cells (at 80 it was cut to 16: "trajectory cnn…" thrice);
    # it is cut in the middle, where names lstui makes are alike
    for columns, dropped in ((80, ["DEVICE", "PRIO", "PROGRESS"]), (60, ["DEVICE", "PRIO", "PROGRESS", "ST"]),
                             (54, ["DEVICE", "PRIO", "PROGRESS", "ST"])):
        out = subprocess.run([sys.executable, "-m", "lstui.cli", "ls"], env={**env, "COLUMNS": str(columns)},
                             capture_output=True, text=True, check=True).stdout
        lines = out.splitlines()
        assert max(len(line) for line in lines) <= columns, out
        assert not set(dropped) & set(lines[0].split()) and "…" in lines[1] and lines[1].endswith("nd on")
        assert lines[1].split()[0] == "1" and "0/3" in lines[1]
    for columns in (None, "", "abc", "0"):  # a pipe without $COLUMNS (a script's), or with an unusable one
        given = env if columns is None else {**env, "COLUMNS": columns}
        whole = subprocess.run([sys.executable, "-m", "lstui.cli", "ls"], env=given, capture_output=True, text=True,
                               check=True).stdout
        assert whole.splitlines()[1].endswith(name) and "DEVICE" in whole, (columns, whole)


def test_a_cut_device_column_ends_in_an_ellipsis_not_in_a_name() -> None:
    """A job moved from cpu:2 to Ray showed "cpu,ray:vm", a name that looks whole."""
    from pathlib import Path

    from lstui.store import JobRow, JobState
    from lstui.views import jobs_table

    job = JobRow(id=7, name="moved", kind="surface", spec={}, state=JobState.DONE, priority=0, created=0.0,
                 started=0.0, finished=1.0, attempts=1, error=None, results_dir=Path("/r"), total_points=625,
                 done_points=625, device="cpu,ray:vm/cpu", run_s=20.0)
    row = jobs_table([job]).splitlines()[1]
    assert "cpu,ray:v…" in row and "cpu,ray:vm " not in row


def test_a_job_waiting_again_shows_no_device_where_it_last_ran(lab: Lab) -> None:
    """A job a daemon stop sent back to the queue showed "cpu" as if it ran there."""
    import dataclasses
    import json

    from lstui.store import JobRow, JobState, Store
    from lstui.views import job_details, job_summary, jobs_table

    job_id = lab.submit("surface", "--x", "-1:1:3")
    with Store(lab.home / "lstui.db") as store:
        worker = store.register_worker("cuda:1", os.getpid(), "here")
        store.claim_unit(worker, lease_s=60, job_ids=[job_id])
        running = store.get_job(job_id)
        store.recover_workers([worker])  # its worker died: back to the queue
        waiting = store.get_job(job_id)
    assert running.state is JobState.RUNNING and waiting.state is JobState.QUEUED
    assert waiting.device == "cuda:1"  # the store keeps where it last ran
    assert "cuda:1" in jobs_table([running]) and "cuda:1" not in jobs_table([waiting])
    assert "device    cuda:1" in job_details(running) and "device    -" in job_details(waiting)
    assert job_summary(waiting)["device"] is None and json.dumps(job_summary(running))
    done: JobRow = dataclasses.replace(waiting, state=JobState.DONE)
    assert job_summary(done)["device"] == "cuda:1"  # a finished job: where it ran


def test_show_draws_the_quantity_asked_for_and_refuses_one_the_job_lacks(lab: Lab) -> None:
    """``show`` drew the train loss only: a surface's test loss or error could be seen
    in exported figures, never in the terminal."""
    lab.cli("submit", "surface", "--model", "mlp", "--data", "digits", "--subset", "100",
            "--x", "-1:1:5", "--y", "-1:1:5", "--split", "both")
    lab.cli("submit", "surface", "--model", "mlp", "--data", "digits", "--subset", "100",
            "--x", "-1:1:5", "--y", "-1:1:5")
    lab.start_daemon("cpu:1", "--export", "")
    lab.wait_job(1, ("done",))
    lab.wait_job(2, ("done",))
    titles = {}
    for name in ("train_loss", "test_loss", "train_err", "test_err"):
        out = lab.cli("show", "1", "--surf-name", name).stdout
        titles[name] = next(line.strip() for line in out.splitlines() if " — " in line and "surface" in line)
        assert "* min" in out, out
    label = {"train_loss": "train loss", "test_loss": "test loss",
             "train_err": "train error (%)", "test_err": "test error (%)"}
    assert all(titles[name].endswith(label[name]) for name in label), titles
    assert lab.cli("show", "1").stdout == lab.cli("show", "1", "--surf-name", "train_loss").stdout

    for extra in ((), ("--json",), ("--no-plot",)):  # refused whatever is shown
        lacking = lab.cli("show", "2", "--surf-name", "test_err", *extra, check=False)
        assert lacking.returncode == 2 and lacking.stdout == ""
        assert lacking.stderr.strip() == ("lstui: error: --surf-name test_err: job 2 computed no test split "
                                          "(its choices: train_loss, train_err)")


def test_show_of_a_failed_job_leaves_its_traceback_to_logs_debug_and_says_its_settings(lab: Lab) -> None:
    """``show`` printed the worker's 14-line traceback among the log's last lines, where
    ``logs`` hides it; and it named neither the subset, the seed, the precision nor the
    BatchNorm mode a figure was made with."""
    from lstui.store import Store

    job_id = lab.submit("surface", "--model", "mlp", "--subset", "300", "--seed", "5",
                        "--precision", "bf16", "--bn", "recompute", "--x", "-1:1:3")
    assert "(not there yet: made when it starts)" in lab.cli("show", str(job_id)).stdout  # queued
    with Store(lab.home / "lstui.db") as store:
        store.add_event(job_id, "error", "failed: the data batch is truncated")
        store.add_event(job_id, "debug", "Traceback (most recent call last):\n  File ...\nUnpicklingError")
        store.fail_job(job_id, "the data batch is truncated")
    shown = lab.cli("show", str(job_id)).stdout
    assert "Traceback" not in shown and "failed: the data batch is truncated" in shown
    assert f"(lstui logs {job_id} --debug shows the traceback)" in shown
    assert "(not there: no file of it)" in shown  # it named a folder that is not there
    assert "  settings  subset 300  seed 5  precision bf16  bn recompute  ignore biasbn" in shown, shown


def test_ls_lists_the_states_asked_for_and_the_newest_few(lab: Lab) -> None:
    """A store of 9,500 jobs had no way to list its failed ones but all 9,500 lines."""
    ids = [lab.submit("surface", "--model", "mlp", "--data", "digits", "--x", "-1:1:3") for _ in range(4)]
    lab.cli("cancel", str(ids[1]), str(ids[2]))

    def listed(*args: str) -> list[int]:
        return [job["id"] for job in json.loads(lab.cli("ls", "--json", *args).stdout)]

    assert listed("--state", "cancelled") == [ids[1], ids[2]]  # finished ones without --all
    assert listed("--state", "queued,cancelled", "--last", "2") == [ids[2], ids[3]]
    assert listed("--last", "1") == [ids[3]]
    assert lab.cli("ls", "--state", "failed").stdout.strip() == "no failed jobs"
    table = lab.cli("ls", "--state", "Cancelled").stdout.splitlines()
    assert len(table) == 3 and all("cancelled" in line for line in table[1:])
    bad = lab.cli("ls", "--state", "stopped", check=False)
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "lstui: error: --state 'stopped': give a comma list of queued, running, paused, done, failed, cancelled")


def test_show_says_dash_for_the_settings_an_interpolation_does_not_use(lab: Lab, tmp_path) -> None:
    """An interpolation moves along B − A unscaled, every tensor: `show` said "norm
    filter" and "ignore biasbn", the defaults it never used (`--norm` is refused for it)."""
    import torch

    from lstui.datasets import load_data
    from lstui.models import load_model

    data = load_data("digits")
    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        model = load_model("mlp", None, input_shape=data.input_shape, num_classes=data.num_classes)
        paths.append(tmp_path / f"m{seed}.pt")
        torch.save(model.state_dict(), paths[-1])
    job_id = lab.submit("interp", "--model", "mlp", "--checkpoint", str(paths[0]),
                        "--checkpoint-b", str(paths[1]), "--x", "0:1:3")
    shown = lab.cli("show", str(job_id)).stdout
    assert "norm -  dir-type states" in shown and "ignore -" in shown, shown
    surface = lab.submit("surface", "--model", "mlp", "--x", "-1:1:3")
    shown = lab.cli("show", str(surface)).stdout
    assert "norm filter  dir-type weights" in shown and "ignore biasbn" in shown, shown


def test_a_job_cancelled_in_its_last_unit_with_every_point_says_retry_finishes_it() -> None:
    """A cancel that landed in a job's last unit: the worker still stored its points, and
    `show` read "cancelled, 121/121" with no figures and no word of what to do."""
    from pathlib import Path

    from lstui.store import JobRow, JobState
    from lstui.views import job_details

    job = JobRow(id=75, name="late", kind="surface", spec={}, state=JobState.CANCELLED, priority=0, created=0.0,
                 started=0.0, finished=1.0, attempts=1, error=None, results_dir=Path("/r"), total_points=121,
                 done_points=121, device="cpu", run_s=20.0)
    note = "  note      every point was computed: lstui retry 75 marks it done and draws its figures"
    assert note in job_details(job).splitlines()
    assert note not in job_details(dataclasses.replace(job, done_points=113)).splitlines()
