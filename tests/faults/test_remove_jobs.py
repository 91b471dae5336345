"""``lstui rm``: finished jobs out of the store and their folders off the disk, through the
real CLI, a real daemon and a real home. A months-long store only grew (9,500 jobs, 517
MB of results), and a results folder deleted by hand was written again by the daemon."""

from __future__ import annotations

import time
from pathlib import Path

from tests.faults.support import Lab, wait_until

TINY_JOB = ("surface", "--model", "mlp", "--data", "digits", "--subset", "100", "--x", "-1:1:3")


def _done_jobs(lab: Lab, count: int) -> list[int]:
    ids = [lab.submit(*TINY_JOB) for _ in range(count)]
    for job_id in ids:
        lab.wait_job(job_id, ("done",))
    wait_until("their files", lambda: all((Path(lab.job(j)["results_dir"]) / ".lstui-finished").exists()
                                          for j in ids))
    return ids


def test_rm_takes_finished_jobs_and_their_folders_and_the_daemon_leaves_them_gone(lab: Lab) -> None:
    lab.start_daemon("cpu:1", "--export", "png")
    first, second, third = _done_jobs(lab, 3)
    folders = {j: Path(lab.job(j)["results_dir"]) for j in (first, second, third)}
    out = lab.cli("rm", str(first), str(third)).stdout.strip()
    assert out.startswith(f"removed 2 jobs: {first}, {third}, ") and out.endswith(" MB of files"), out
    assert [j["id"] for j in lab.jobs()] == [second]
    assert not folders[first].exists() and not folders[third].exists() and folders[second].is_dir()
    assert not lab.query("SELECT * FROM points WHERE job_id IN (?, ?)", (first, third))
    assert not lab.query("SELECT * FROM events WHERE job_id IN (?, ?)", (first, third))
    # a daemon started again writes nothing back, and the last id is not given again
    lab.stop_daemon()
    lab.start_daemon("cpu:1", "--export", "png")
    (fourth,) = _done_jobs(lab, 1)
    assert fourth == third + 1
    assert not folders[first].exists() and not folders[third].exists()
    shown = lab.cli("show", str(first), check=False)
    assert shown.returncode == 2 and shown.stderr.strip() == f"lstui: error: job {first} does not exist"


def test_rm_refuses_an_unfinished_job_in_one_line_and_removes_nothing(lab: Lab) -> None:
    queued = lab.submit(*TINY_JOB)
    other = lab.submit(*TINY_JOB)
    lab.cli("cancel", str(other))
    refused = lab.cli("rm", str(other), str(queued), check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (f"lstui: error: job {queued} is queued: only finished jobs are "
                                      f"removed (lstui cancel {queued} first)")
    assert [j["id"] for j in lab.jobs()] == [queued, other]  # all or none


def test_rm_older_than_lists_first_then_removes_with_yes_and_keep_files_keeps_folders(lab: Lab) -> None:
    lab.start_daemon("cpu:1", "--export", "")
    old, recent = _done_jobs(lab, 2)
    time.sleep(2.5)
    (newest,) = _done_jobs(lab, 1)
    listed = lab.cli("rm", "--older-than", "2s").stdout.strip()
    assert listed == f"2 finished jobs older than 2s: {old}–{recent}; lstui rm --older-than 2s --yes removes them"
    assert len(lab.jobs()) == 3  # nothing removed yet
    folder = Path(lab.job(old)["results_dir"])
    out = lab.cli("rm", "--older-than", "2s", "--yes", "--keep-files").stdout.strip()
    assert out == f"removed 2 jobs: {old}–{recent} (their folders kept)"
    assert [j["id"] for j in lab.jobs()] == [newest] and folder.is_dir()
    assert lab.cli("rm", "--older-than", "1w").stdout.strip() == "no finished job is older than 1w"
    bad = lab.cli("rm", "--older-than", "soon", check=False)
    assert bad.returncode == 2 and "give a number and a unit, like 30d" in bad.stderr
    both = lab.cli("rm", "3", "--older-than", "1d", check=False)
    assert both.returncode == 2 and "not both, not neither" in both.stderr
