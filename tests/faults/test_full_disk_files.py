"""A full disk at the two moments a job writes big files: when a worker makes it ready
(its direction file) and when the daemon draws its figures. Both pass once there is
space again, so neither may end the job's story: the job is not failed, and figures not
drawn are not marked as drawn.

The disk is made "full" for one process with a file-size limit, as in test_disk_full.
"""

from __future__ import annotations

import resource
from pathlib import Path

from tests.faults.support import TINY, Lab, assert_points_once, wait_until

BIG_SPEC = ("--model", "fault_models:big", *TINY, "--x", "-1:1:3")


def _set_file_limit(pids: list[int], limit: int) -> None:
    for pid in pids:
        _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, hard))


def test_a_full_disk_while_a_worker_makes_a_job_ready_is_waited_out(lab: Lab) -> None:
    lab.start_daemon("cpu:1", "--export", "")
    workers = wait_until("a worker", lambda: [w["pid"] for w in lab.live_workers()])
    _set_file_limit(workers, 2_000_000)  # the database fits, the 8 MB direction file does not
    job_id = lab.submit("surface", *BIG_SPEC)
    wait_until("the worker to find no space",
               lambda: any("no space to make the job ready" in m for m in lab.events(job_id)))
    assert lab.job(job_id)["state"] in ("queued", "running"), lab.job(job_id)
    _set_file_limit(workers, resource.RLIM_INFINITY)
    lab.wait_job(job_id)
    assert_points_once(lab, job_id)


def test_figures_that_found_no_space_are_drawn_once_there_is_space(lab: Lab) -> None:
    daemon = lab.start_daemon("cpu:1", "--export", "png")
    job_id = lab.submit("surface", "--model", "mlp", *TINY, "--x", "-1:1:3", "--y", "-1:1:3")
    _set_file_limit([daemon], 20_000)  # its log and a small surface file fit, a PNG does not
    lab.wait_job(job_id)
    log = lab.home / "daemon.log"
    wait_until("the daemon to find no space for the figures",
               lambda: f"job {job_id}: no space for its results" in log.read_text(errors="replace"))
    results = Path(lab.job(job_id)["results_dir"])
    assert not (results / ".lstui-finished").exists()  # not marked as written: tried again
    _set_file_limit([daemon], resource.RLIM_INFINITY)
    lab.wait_finished_files(job_id)
    assert (results / "surface_train_loss_2dcontour.png").stat().st_size > 1000


def _chattr(flag: str, folder: Path) -> bool:
    import subprocess

    try:
        return subprocess.run(["chattr", flag, str(folder)], capture_output=True).returncode == 0
    except OSError:
        return False


def test_files_a_read_only_folder_refused_are_written_once_it_is_writable_again(lab: Lab) -> None:
    """A results folder made read-only (here immutable: chmod does not stop root) while the
    job ran: the job was done, its surface.h5 held 38 of 121 points, nothing tried again,
    and `show` said its files were "being written by the daemon" for good."""
    import pytest

    from tests.faults.support import SLOW_SPEC

    lab.start_daemon("cpu:1", "--export", "png")
    job_id = lab.submit("surface", *SLOW_SPEC)
    results = Path(lab.job(job_id)["results_dir"])
    wait_until("the job's directions", lambda: (results / "directions.h5").exists())
    if not _chattr("+i", results):
        pytest.skip("chattr +i is not allowed here (not root, or the file system has no such flag)")
    try:
        lab.wait_job(job_id)
        wait_until("the daemon to find its folder read-only",
                   lambda: any("could not write its results" in m and "tries again in" in m
                               for m in lab.events(job_id)))
        shown = lab.cli("show", str(job_id)).stdout
        assert "(files not written: the daemon tries again; the log below says why)" in shown, shown
        assert not (results / ".lstui-finished").exists()
    finally:
        _chattr("-i", results)
    lab.wait_finished_files(job_id)
    assert (results / "surface_train_loss_2dcontour.png").stat().st_size > 1000
    assert_points_once(lab, job_id)
    from lstui.results import read_surface

    assert read_surface(results / "surface.h5").computed("train_loss").all()  # every point, not 38 of 121
    assert "files being written" not in lab.cli("show", str(job_id)).stdout


def test_a_read_only_results_folder_at_a_jobs_start_is_waited_out(lab: Lab) -> None:
    """`chattr +i $LSTUI_HOME/results`: the job failed at once with "PermissionError:
    [Errno 1] Operation not permitted: …/results/00001-…", where one made read-only while
    it ran waits; it waits too now, its log saying what to allow."""
    import pytest

    results_root = lab.home / "results"
    results_root.mkdir(parents=True, exist_ok=True)
    if not _chattr("+i", results_root):
        pytest.skip("chattr +i is not allowed here (not root, or the file system has no such flag)")
    try:
        lab.start_daemon("cpu:1", "--export", "")
        job_id = lab.submit("surface", "--model", "mlp", *TINY, "--x", "-1:1:3")
        wait_until("the worker to find the folder read-only",
                   lambda: any("its results folder cannot be written" in m and "allow it (chmod, chattr -i)" in m
                               and "trying again in" in m for m in lab.events(job_id)))
        assert lab.job(job_id)["state"] in ("queued", "running"), lab.job(job_id)
    finally:
        _chattr("-i", results_root)
    lab.wait_job(job_id)
    assert_points_once(lab, job_id)
