"""A full disk while lstui writes its direction file, its surface file or its database.

The disk is made "full" with a file-size limit (``RLIMIT_FSIZE``): every write past the
limit fails with ``EFBIG`` (and SIGXFSZ is ignored), which SQLite and lstui treat like
``ENOSPC``. No mounting, no root. For the daemon, the limit is lowered on its running
processes (``prlimit``) half way through a job and raised again a few seconds later.
"""

from __future__ import annotations

import resource
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.support import (
    KILL_SPEC,
    SLOW_SPEC,
    Lab,
    assert_points_equal_surface,
    assert_points_once,
    file_size_limit,
    one_error_line,
    pid_alive,
    wait_until,
)

SMALL_FILE = 4096
"""Larger than spec.json, smaller than any direction or surface file of KILL_SPEC."""


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*.tmp"))


def test_full_disk_while_writing_the_direction_file_is_one_line_and_no_half_file(
    lab: Lab, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = lab.cli(
        "run", "surface", *KILL_SPEC, "--out", str(out), "--device", "cpu", "--no-figure",
        check=False, preexec_fn=file_size_limit(SMALL_FILE),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    line = one_error_line(proc.stderr)
    assert f"cannot write {out / 'directions.h5'}" in line and "File too large" in line
    assert not (out / "directions.h5").exists()
    assert not (out / "surface.h5").exists()
    assert _leftovers(out) == []


def test_full_disk_while_writing_the_surface_file_says_what_is_lost_and_a_rerun_finishes(
    lab: Lab, tmp_path: Path, reference_run: Path
) -> None:
    out = tmp_path / "out"
    args = (
        "run", "surface", *KILL_SPEC, "--dir-file", str(reference_run / "directions.h5"),
        "--out", str(out), "--device", "cpu", "--no-figure",
    )  # fmt: skip
    proc = lab.cli(*args, check=False, preexec_fn=file_size_limit(SMALL_FILE))
    assert proc.returncode == 1, proc.stderr
    line = one_error_line(proc.stderr)
    assert f"cannot write {out / 'surface.h5'}: File too large" in line
    assert "computed since are lost" in line  # no false "nothing is lost"
    assert not (out / "surface.h5").exists()
    assert _leftovers(out) == []

    lab.cli(*args)  # space again: the same command finishes the job
    from lstui.results import read_surface

    surface, reference = (
        read_surface(out / "surface.h5"),
        read_surface(reference_run / "surface.h5"),
    )
    for key, values in reference.arrays.items():
        assert (surface.arrays[key] != -1).all()
        assert surface.arrays[key] == pytest.approx(values, abs=1e-6)


def test_full_disk_while_drawing_a_figure_names_the_figure(lab: Lab, tmp_path: Path, reference_run: Path) -> None:
    """Every other full-disk line names its file; a figure's said only "cannot write: File
    too large" (matplotlib's write to the stream names none)."""
    out = tmp_path / "figs"
    proc = lab.cli("export", str(reference_run / "surface.h5"), "--format", "png", "--out", str(out),
                   check=False, preexec_fn=file_size_limit(SMALL_FILE))
    assert proc.returncode == 1, proc.stderr
    line = one_error_line(proc.stderr)
    assert line.startswith(f"lstui: error: cannot write {out}/") and ".png: File too large" in line, line
    assert _leftovers(out) == [] and not list(out.glob("*.png"))


def test_full_disk_refuses_a_submit_in_one_line_and_the_database_stays_whole(lab: Lab) -> None:
    first = lab.submit("surface", *KILL_SPEC)
    proc = lab.cli("submit", "surface", *KILL_SPEC, check=False, preexec_fn=file_size_limit(1))
    assert proc.returncode == 1
    line = one_error_line(proc.stderr)
    assert "cannot be written" in line and "nothing was changed" in line
    assert [j["id"] for j in lab.jobs()] == [first]
    db = sqlite3.connect(lab.home / "lstui.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


# -- the daemon: the disk fills up half way through a job, then space comes back -------


@dataclass
class FullDiskRun:
    lab: Lab
    job_id: int
    daemon_survived: bool
    points_before: int


def _set_file_limit(pids: list[int], limit: int) -> None:
    """Set the soft limit only: a lowered hard limit cannot be raised again here."""
    for pid in pids:
        try:
            _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, hard))
        except (ProcessLookupError, PermissionError):
            pass


@pytest.fixture(scope="module")
def full_disk_run(
    tmp_path_factory: pytest.TempPathFactory, fault_modules: Path
) -> Iterator[FullDiskRun]:
    lab = Lab(tmp_path_factory.mktemp("full") / "home", fault_modules)
    try:
        daemon = lab.start_daemon("cpu:1", "--export", "")
        job_id = lab.submit("surface", *SLOW_SPEC)
        wait_until("some points", lambda: lab.job(job_id)["done_points"] >= 6)
        before = lab.job(job_id)["done_points"]
        _set_file_limit(lab.lab_pids(), 1)  # the disk is full: no file may grow
        time.sleep(4)
        _set_file_limit(lab.lab_pids(), resource.RLIM_INFINITY)  # space again
        wait_until(
            "the job to finish or the daemon to exit",
            lambda: lab.job(job_id)["state"] == "done" or not pid_alive(daemon),
        )
        survived = pid_alive(daemon)
        if not survived:
            lab.start_daemon("cpu:1", "--export", "")  # what a person would do
        lab.wait_job(job_id)
        lab.wait_finished_files(job_id)
        yield FullDiskRun(lab, job_id, survived, before)
    finally:
        lab.teardown()


def test_after_a_full_disk_the_job_finishes_with_every_point_once(
    full_disk_run: FullDiskRun, reference_run: Path
) -> None:
    run = full_disk_run
    assert_points_once(run.lab, run.job_id)
    assert_points_equal_surface(run.lab, run.job_id, reference_run / "surface.h5")
    results = Path(run.lab.job(run.job_id)["results_dir"])
    from lstui.results import read_surface

    assert (read_surface(results / "surface.h5").arrays["train_loss"] != -1).all()
    assert _leftovers(results) == []
    db = sqlite3.connect(run.lab.home / "lstui.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def test_the_daemon_rides_out_a_full_disk(full_disk_run: FullDiskRun) -> None:
    assert full_disk_run.daemon_survived


@pytest.fixture
def full_home(tmp_path: Path) -> Iterator[Path]:
    """A home holding one queued job on a 2 MB tmpfs, then filled to the last byte (a
    real full file system: needs root and mount, else the test is skipped)."""
    import os
    import subprocess

    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        home = mount / "home"
        from lstui.store import Store
        from tests.store.support import add_job

        with Store.open_home(home) as store:
            add_job(store, tmp_path, points=4)
        fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            with pytest.raises(OSError):
                while True:
                    os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)
        yield home
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_file_system_reads_the_queue_and_refuses_writes_and_the_daemon_in_one_line(
    full_home: Path, lab: Lab
) -> None:
    """`ls`, `show` and `logs` failed on a full disk ("cannot be written (disk I/O error)":
    SQLite could not make the WAL's shared-memory file); `daemon start` said "(no log)"."""
    from tests.faults.support import cli_in_process

    for command in (["ls"], ["show", "1"], ["logs", "1"]):
        code, out, err = cli_in_process(command, full_home)
        assert code == 0, err
        assert "job" in out or "queued" in out
    code, _, err = cli_in_process(["cancel", "1"], full_home)
    assert code == 1
    assert "cannot be written: its file system is full" in one_error_line(err)
    code, _, err = cli_in_process(["daemon", "start", "--devices", "cpu:1"], full_home)
    assert code != 0
    line = one_error_line(err)
    assert "full" in line and "free some space" in line, line
