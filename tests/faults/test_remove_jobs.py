"""``lstui rm``: finished jobs out of the store and their folders off the disk, through the
real CLI, a real daemon and a real home. A months-long store only grew (9,500 jobs, 517
MB of results), and a results folder deleted by hand was written again by the daemon."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from lstui.errors import InvalidTransition, JobNotFound
from lstui.scheduler.prune import remove_jobs, unremovable
from lstui.store import PointRow, Store
from tests.faults.support import Lab, wait_until

TINY_JOB = ("surface", "--model", "mlp", "--data", "digits", "--subset", "100", "--x", "-1:1:3")


def _done_jobs(lab: Lab, count: int) -> list[int]:
    ids = [lab.submit(*TINY_JOB) for _ in range(count)]
    for job_id in ids:
        lab.wait_job(job_id, ("done",))
    wait_until("their files", lambda: all((Path(lab.job(j)["results_dir"]) / ".lstui-finished").exists()
                                          for j in ids))
    wait_until("idle workers", lambda: not lab.query(
        "SELECT id FROM workers WHERE state = 'alive' AND current_job IS NOT NULL"))
    return ids


def test_rm_takes_finished_jobs_and_their_folders_and_the_daemon_leaves_them_gone(lab: Lab) -> None:
    lab.start_daemon("cpu:1", "--export", "png")
    first, second, third = _done_jobs(lab, 3)
    folders = {j: Path(lab.job(j)["results_dir"]) for j in (first, second, third)}
    out = lab.cli("rm", str(first), str(third)).stdout.strip()
    assert out.startswith(f"removed 2 jobs: {first}, {third}, ") and out.endswith(" MiB of files"), out
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
    time.sleep(6)
    (newest,) = _done_jobs(lab, 1)
    listed = lab.cli("rm", "--older-than", "5s").stdout.strip()
    assert listed == f"2 finished jobs older than 5s: {old}–{recent}; lstui rm --older-than 5s --yes removes them"
    assert len(lab.jobs()) == 3  # nothing removed yet
    folder = Path(lab.job(old)["results_dir"])
    out = lab.cli("rm", "--older-than", "5s", "--yes", "--keep-files").stdout.strip()
    assert out == f"removed 2 jobs: {old}–{recent} (their folders kept)"
    assert [j["id"] for j in lab.jobs()] == [newest] and folder.is_dir()
    assert lab.cli("rm", "--older-than", "1w").stdout.strip() == "no finished job is older than 1w"
    bad = lab.cli("rm", "--older-than", "soon", check=False)
    assert bad.returncode == 2 and "give a number and a unit, like 30d" in bad.stderr
    both = lab.cli("rm", "3", "--older-than", "1d", check=False)
    assert both.returncode == 2 and "not both, not neither" in both.stderr


def _finished(store: Store, home: Path, name: str, spec: dict[str, object], kind: str = "surface") -> int:
    """A finished one-point job whose results folder exists, with a file in it."""
    job_id = store.add_job(kind=kind, name=name, spec=spec, total_points=1, units=[[0]],
                           results_root=home / "results")
    worker = store.register_worker("cpu", 4242, "lab")
    claim = store.claim_unit(worker, lease_s=60, job_ids=[job_id])
    assert claim is not None
    store.write_points(claim.unit_id, worker, [PointRow(0, 1.0)])
    store.complete_unit(claim.unit_id, worker)
    store.heartbeat(worker, current_job=None)
    folder = store.get_job(job_id).results_dir
    folder.mkdir(parents=True)
    (folder / "directions.h5").write_bytes(b"x")
    return job_id


def test_rm_keeps_a_folder_another_job_reads_and_deletes_only_under_the_home(tmp_path: Path) -> None:
    """Only job_deps was asked: a job queued with --dir-file in a finished job's folder
    (reusing its directions) lost its direction file to `lstui rm` of that job."""
    home = tmp_path / "home"
    with Store.open_home(home) as store:
        first = _finished(store, home, "first", {"model": "mlp"})
        reused = str(store.get_job(first).results_dir / "directions.h5")
        second = _finished(store, home, "second", {"model": "mlp", "dir_file": reused})
        with pytest.raises(InvalidTransition, match=rf"job {second} reads .*directions.h5 from job {first}'s "
                                                    rf"folder: remove it too \(lstui rm {first} {second}\)"):
            remove_jobs(store, [first], home)
        assert Path(reused).exists() and len(store.list_jobs()) == 2
        assert unremovable(store, [first], home, keep_files=True, daemon_running=False) == {}
        # an id no job has is said first (it suggested `lstui rm 1 2 9999`)
        with pytest.raises(JobNotFound, match="job 9999 does not exist"):
            remove_jobs(store, [first, 9999], home)
        # two jobs read it: the command given names both, not one that is refused again
        third = _finished(store, home, "third", {"model": "mlp", "dir_file": reused})
        with pytest.raises(InvalidTransition, match=rf"job {second} \(and 1 more\) reads .* remove it too "
                                                    rf"\(lstui rm {first} {second} {third}\)"):
            remove_jobs(store, [first], home)
        store.remove_jobs([third])

        # a trajectory's plane folder goes with it; a folder outside the home never does
        plane = home / "trajectories" / "20261206-120000-traj"
        plane.mkdir(parents=True)
        (plane / "pca_directions.h5").write_bytes(b"x")
        trajectory = _finished(store, home, "traj", {"model": "mlp", "dir_file": str(plane / "pca_directions.h5")},
                               kind="trajectory")
        outside = tmp_path / "elsewhere" / "00009-linked"
        outside.mkdir(parents=True)
        linked = home / "results" / "00099-linked"
        linked.symlink_to(outside)
        stray = _finished(store, home, "stray", {"model": "mlp"})
        stray_folder = store.get_job(stray).results_dir
        shutil.rmtree(stray_folder)
        stray_folder.symlink_to(outside)  # its folder, a link out of the home
        removal = remove_jobs(store, [first, second, trajectory, stray], home)
        assert [j.id for j in removal.jobs] == [first, second, trajectory, stray]
        assert not Path(reused).exists() and not plane.exists()
        assert outside.is_dir() and stray_folder.is_symlink()  # the link's target is not the home's
        assert store.list_jobs() == []


def test_rm_waits_for_files_the_daemon_is_writing_but_not_for_a_folder_deleted_by_hand(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Store.open_home(home) as store:
        job = _finished(store, home, "fresh", {"model": "mlp"})  # finished now, no finish mark
        busy = unremovable(store, [job], home, keep_files=False, daemon_running=True)
        assert busy == {job: f"job {job}'s files are being written by the daemon; try again in a moment"}
        assert unremovable(store, [job], home, keep_files=False, daemon_running=False) == {}
        shutil.rmtree(store.get_job(job).results_dir)  # gone: nothing the daemon could be writing
        assert unremovable(store, [job], home, keep_files=False, daemon_running=True) == {}
        assert unremovable(store, [job], home, keep_files=False, daemon_running=True,
                           now=time.time() + 3600) == {}


def test_rm_of_a_folder_that_cannot_be_deleted_says_so_and_exits_1(tmp_path: Path) -> None:
    """`rm 48` of a read-only folder said "removed 1 job: 48, 0.6 MB of files", exit 0,
    with every file still on the disk."""
    import subprocess

    from tests.faults.support import cli_in_process

    home = tmp_path / "home"
    with Store.open_home(home) as store:
        job_id = _finished(store, home, "kept", {"model": "mlp"})
        folder = store.get_job(job_id).results_dir
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not allowed here (not root, or the file system has no such flag)")
    try:
        code, out, err = cli_in_process(["rm", str(job_id)], home)
    finally:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    assert code == 1, (out, err)
    assert out.strip() == f"removed 1 job: {job_id}, 0.0 MiB of files"  # nothing freed
    assert err.strip() == (f"lstui: error: {folder.resolve()} could not be deleted ([Errno 1] Operation not "
                           "permitted: 'directions.h5'); its job is out of the store, its files are still on "
                           "the disk: delete them by hand")
    assert (folder / "directions.h5").exists()
    with Store.open_home(home) as store:
        assert store.list_jobs(include_finished=True) == []


def test_rm_from_inside_the_folder_it_removes(lab: Lab) -> None:
    """Every job's spec says ``projection = "cos"``, which rm took for a file read: from
    inside job 2's folder, "job 1 reads …/00002-…/cos from job 2's folder", refused."""
    first, second = lab.submit(*TINY_JOB), lab.submit(*TINY_JOB)
    lab.cli("cancel", str(first), str(second))
    folder = Path(lab.job(second)["results_dir"])
    folder.mkdir(parents=True, exist_ok=True)
    removed = lab.cli("rm", str(second), cwd=folder, check=False)
    assert removed.returncode == 0 and removed.stdout.startswith(f"removed 1 job: {second}"), removed
    assert [j["id"] for j in lab.jobs()] == [first] and not folder.exists()


def test_rm_compact_gives_the_database_space_back(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """`rm` of 13,769 of 15,000 jobs left lstui.db at 337 MB, 91 % of it free pages: new
    jobs reuse them, the disk never got them back. Said when it is much, and --compact
    (with the daemon stopped) gives it back."""
    from lstui.cli import COMPACT_NOTE_BYTES

    with Store.open_home(lab.home) as store:  # many points: a few MB of pages
        worker = store.register_worker("cpu", 1, "h")
        ids = []
        for _ in range(4):
            job = store.add_job(kind="surface", name="big", spec={"model": "mlp", "x": [-1.0, 1.0, 40_000]},
                                total_points=40_000, units=[list(range(40_000))],
                                results_root=lab.home / "results")
            claim = store.claim_unit(worker, lease_s=60, job_ids=[job])
            assert claim is not None
            store.write_points(claim.unit_id, worker, [PointRow(i, 1.0, 50.0) for i in claim.todo])
            assert store.complete_unit(claim.unit_id, worker)
            ids.append(job)
        before, _ = store.space()
    assert COMPACT_NOTE_BYTES > before  # (the note is for big stores: not said here)
    removed = lab.cli("rm", *map(str, ids[:2]))
    assert "--compact" not in removed.stderr, removed.stderr
    import lstui.cli
    from tests.faults.support import cli_in_process

    monkeypatch.setattr(lstui.cli, "COMPACT_NOTE_BYTES", 1)  # (as for a big store)
    code, _, err = cli_in_process(["rm", str(ids[2])], lab.home)
    assert code == 0 and "note: lstui.db keeps its " in err and "lstui rm --compact, with the daemon stopped" in err
    with Store.open_home(lab.home) as store:
        size, free = store.space()
    assert size == before and free > before / 2  # the file keeps its size
    lab.start_daemon("cpu:1")
    refused = lab.cli("rm", "--compact", check=False)
    assert refused.returncode == 1 and "stop the daemon first" in refused.stderr, refused
    lab.stop_daemon()
    done = lab.cli("rm", "--compact")
    assert done.stdout.startswith("compacted lstui.db: "), done.stdout
    with Store.open_home(lab.home) as store:
        size, free = store.space()
        assert size < before / 2 and free == 0
        assert [j.id for j in store.list_jobs()] == [ids[3]] and store.point_count(ids[3]) == 40_000
    nothing = lab.cli("rm", check=False)
    assert nothing.returncode == 2 and "not both, not neither" in nothing.stderr
    # --compact was dropped without a word: from --older-than's list and its suggested
    # command, when it selected nothing; --keep-files beside it alone meant nothing
    listed = lab.cli("rm", "--older-than", "0s", "--compact", "--keep-files").stdout
    assert listed.strip().endswith("lstui rm --older-than 0s --yes --keep-files --compact removes them"), listed
    none = lab.cli("rm", "--older-than", "30d", "--yes", "--compact").stdout.splitlines()
    assert none[0] == "no finished job is older than 30d" and none[1].startswith("compacted lstui.db: "), none
    alone = lab.cli("rm", "--compact", "--keep-files", check=False)
    assert alone.returncode == 2 and "--keep-files keeps the folders of the jobs removed" in alone.stderr, alone
    # a reader open on it (a TUI): the file keeps its size on the disk until it closes
    with Store.open_home(lab.home) as store:
        job = store.add_job(kind="surface", name="big", spec={"model": "mlp", "x": [-1.0, 1.0, 40_000]},
                            total_points=40_000, units=[list(range(40_000))], results_root=lab.home / "results")
        worker = store.register_worker("cpu", 1, "h")
        claim = store.claim_unit(worker, lease_s=60, job_ids=[job])
        assert claim is not None
        store.write_points(claim.unit_id, worker, [PointRow(i, 1.0, 50.0) for i in claim.todo])
        assert store.complete_unit(claim.unit_id, worker)
    lab.cli("rm", str(job))
    import sqlite3

    reader = sqlite3.connect(lab.home / "lstui.db")
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM jobs").fetchone()  # (a read held open, as a poll's)
        held = lab.cli("rm", "--compact").stdout
    finally:
        reader.close()
    assert held.strip().endswith("the file shrinks on the disk once the programs reading it (a TUI?) close it"), held


_CTRL_C_AT_FIRST_FOLDER = """
import os, shutil, signal

_rmtree = shutil.rmtree


def rmtree(path, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, the real signal, as the first folder goes
    return _rmtree(path, *args, **kwargs)


shutil.rmtree = rmtree
"""


def test_rm_interrupted_takes_every_folder_of_the_jobs_it_took(lab: Lab, tmp_path: Path) -> None:
    """Ctrl-C right after the jobs left the store left their other folders on the disk,
    where no command could reach them again (`rm 3`: "job 3 does not exist")."""
    import os
    import subprocess
    import sys

    ids = [lab.submit(*TINY_JOB) for _ in range(3)]
    lab.cli("cancel", *map(str, ids))
    folders = [Path(lab.job(j)["results_dir"]) for j in ids]
    for folder in folders:  # as the daemon leaves them
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "surface.h5").write_bytes(b"x" * 1000)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_CTRL_C_AT_FIRST_FOLDER)
    env = {**lab.env, "PYTHONPATH": f"{hook}{os.pathsep}{lab.env.get('PYTHONPATH', '')}"}
    from tests.lab import _default_hangup

    done = subprocess.run([sys.executable, "-m", "lstui.cli", "rm", *map(str, ids)], env=env,
                          capture_output=True, text=True, timeout=120, preexec_fn=_default_hangup)
    assert done.returncode == 130 and done.stderr.strip().splitlines()[-1] == "lstui: interrupted", done
    assert done.stdout.startswith(f"removed 3 jobs: {ids[0]}–{ids[2]}"), done  # (it said "interrupted" alone)
    assert lab.jobs() == []
    assert [f for f in folders if f.exists()] == []
