"""The scheduler's parts in one process, on a real SQLite file: leases kept by the
worker's keeper thread, the daemon's lock, recovery of dead workers, finish marks."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from lstui.errors import BadInput
from lstui.landscape.grid import parse_axis
from lstui.scheduler.daemon import (
    FINISH_MARK,
    LOCK_FILE,
    Daemon,
    _daemon_lock,
    _try_lock,
    daemon_status,
)
from lstui.scheduler.devices import parse_devices
from lstui.scheduler.submit import submit_spec
from lstui.scheduler.worker import LeaseKeeper, Worker, WorkerConfig
from lstui.spec import JobSpec
from lstui.store import JobState, PointRow, Store
from tests.scheduler.support import wait_until


@pytest.fixture
def store(tmp_path: Path):
    with Store.open_home(tmp_path / "home") as s:
        yield s


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _two_unit_job(store: Store, tmp_path: Path) -> int:
    return store.add_job(
        kind="surface", name="j", spec={}, total_points=2, units=[[0], [1]],
        results_root=tmp_path / "results",
    )  # fmt: skip


def test_lease_keeper_holds_a_unit_longer_than_its_lease_and_sees_a_cancel(
    store: Store, tmp_path: Path
) -> None:
    job_id = _two_unit_job(store, tmp_path)
    mine = store.register_worker("cpu", os.getpid(), "here")
    other = store.register_worker("cpu", os.getpid(), "here")
    claim = store.claim_unit(mine, lease_s=0.6)
    assert claim is not None
    keeper = LeaseKeeper(store, mine, 0.6)
    keeper.start()
    try:
        keeper.hold(claim)
        time.sleep(1.5)  # a point that takes more than two leases
        taken = store.claim_unit(other, lease_s=60)
        assert taken is not None and taken.unit_id != claim.unit_id
        assert store.claim_unit(other, lease_s=60) is None
        assert not keeper.lost(claim)

        store.cancel(job_id)
        wait_until("the keeper to see the cancel", lambda: keeper.lost(claim), 1.0, 0.02)
    finally:
        keeper.stop()
    assert {w.id: w.current_job for w in store.workers()}[mine] == job_id


def test_the_keeper_says_lease_lost_for_a_stopped_job_not_for_the_unit_its_worker_finished(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = _two_unit_job(store, tmp_path)
    mine = store.register_worker("cpu", os.getpid(), "here")
    keeper = LeaseKeeper(store, mine, 60.0)  # ticked by hand below, not started
    caplog.set_level("INFO", logger="lstui")
    first = store.claim_unit(mine, lease_s=60)
    assert first is not None
    keeper.hold(first)
    store.write_points(first.unit_id, mine, [PointRow(0, 1.0)])
    assert store.complete_unit(first.unit_id, mine)
    last = store.claim_unit(mine, lease_s=60)
    assert last is not None
    keeper.hold(last)
    store.write_points(last.unit_id, mine, [PointRow(1, 1.0)])
    assert store.complete_unit(last.unit_id, mine)  # the job is done; the worker lets go next
    keeper._tick()
    assert store.get_job(job_id).state is JobState.DONE
    assert "lease lost" not in caplog.text

    other = _two_unit_job(store, tmp_path)
    claim = store.claim_unit(mine, lease_s=60)
    assert claim is not None and claim.job_id == other
    keeper.hold(claim)
    store.cancel(other)
    keeper._tick()
    assert keeper.lost(claim) and "lease lost or job stopped" in caplog.text


def test_a_worker_failing_a_job_that_is_already_finished_carries_on(
    store: Store, tmp_path: Path
) -> None:
    job_id = _two_unit_job(store, tmp_path)
    worker = Worker(WorkerConfig(tmp_path / "home"), store)
    worker.worker_id = store.register_worker("cpu", os.getpid(), "here")
    claim = store.claim_unit(worker.worker_id, lease_s=60)
    assert claim is not None
    worker._fail_job(claim, "the other worker's error", "Traceback: first")
    worker._fail_job(claim, "RuntimeError: the same error, second", "Traceback: second")
    job = store.get_job(job_id)
    assert job.state is JobState.FAILED and job.error == "the other worker's error"
    # one traceback in the log, the first's: `logs --debug` showed the second's after the failure
    assert [e.message for e in store.events(job_id) if e.level == "debug"] == ["Traceback: first"]


def test_status_checks_never_keep_a_daemon_from_starting(tmp_path: Path) -> None:
    lock = tmp_path / LOCK_FILE
    holding = threading.Event()

    def probe() -> None:
        with _try_lock(lock) as free:
            assert free
            holding.set()
            time.sleep(0.5)

    thread = threading.Thread(target=probe)
    thread.start()
    holding.wait(5)
    assert not daemon_status(tmp_path).running  # two status checks at once: both see none
    with _daemon_lock(lock) as mine:  # waits for the probe instead of failing
        assert mine
        assert daemon_status(tmp_path).running
        with _daemon_lock(lock, wait_s=0.2) as second:
            assert not second
    thread.join()


def test_recovery_gives_back_only_the_units_of_dead_workers(store: Store, tmp_path: Path) -> None:
    job_id = store.add_job(
        kind="surface", name="j", spec={}, total_points=3, units=[[0], [1], [2]],
        results_root=tmp_path / "results",
    )  # fmt: skip
    import socket

    host = socket.gethostname()
    dead = store.register_worker("cpu", _dead_pid(), host)
    alive = store.register_worker("cpu", os.getpid(), host)
    remote = store.register_worker("cpu", _dead_pid(), "another-host")
    lost = store.claim_unit(dead, lease_s=60)
    kept = store.claim_unit(alive, lease_s=60)
    far = store.claim_unit(remote, lease_s=60)
    assert lost and kept and far

    Daemon(tmp_path / "home", ["cpu"])._recover(store)
    units = {u.id: u for u in store.units(job_id)}
    assert units[lost.unit_id].state == "pending"
    assert units[kept.unit_id].state == "leased"
    assert units[far.unit_id].state == "leased"  # its lease decides, not our pid table
    states = {w.id: w.state for w in store.workers()}
    assert states == {dead: "retired", alive: "alive", remote: "alive"}


def _work(store: Store, job_id: int, units: int | None = None) -> None:
    """Compute ``units`` units of a job (all by default) as a worker would."""
    worker = store.register_worker("cpu", os.getpid(), "here")
    done = 0
    while units is None or done < units:
        claim = store.claim_unit(worker, lease_s=60, job_ids=[job_id])
        if claim is None:
            break
        store.write_points(claim.unit_id, worker, [PointRow(i, float(i), 1.0) for i in claim.todo])
        assert store.complete_unit(claim.unit_id, worker)
        done += 1


def test_every_finish_is_written_once_even_across_restarts_and_retries(
    store: Store, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    spec = JobSpec(model="mlp", x=parse_axis("-1:1:3")).validated()
    job_id = submit_spec(store, spec, unit_size=2)
    _work(store, job_id, units=1)
    store.cancel(job_id)
    cancelled = store.get_job(job_id)
    surface = Path(cancelled.results_dir) / "surface.h5"
    mark = Path(cancelled.results_dir) / FINISH_MARK

    daemon = Daemon(home, ["cpu"], export_formats=())
    daemon._write_results(store, wait=True)
    assert surface.exists() and mark.read_text().strip() == repr(cancelled.finished)
    surface.unlink()
    restarted = Daemon(home, ["cpu"], export_formats=())
    restarted._load_marks(store)
    restarted._write_results(store, wait=True)
    assert not surface.exists()  # handled by its predecessor: nothing written twice

    # retried, it finishes before the daemon ever sees it running: written all the same
    store.retry(job_id)
    _work(store, job_id)
    done = store.get_job(job_id)
    assert done.state is JobState.DONE and done.finished != cancelled.finished
    restarted._write_results(store, wait=True)
    assert surface.exists() and mark.read_text().strip() == repr(done.finished)


@pytest.mark.parametrize(
    ("text", "devices"),
    [("cpu", ["cpu"]), ("cpu:3", ["cpu"] * 3), ("CPU:2", ["cpu"] * 2)],
)
def test_parse_devices_reads_cpu_counts(text: str, devices: list[str]) -> None:
    assert parse_devices(text) == devices


@pytest.mark.parametrize("text", ["cpux", "cpu:0", "cpu:-1", "cpu:two", "0,0", "7", "a,b", "", " "])
def test_parse_devices_rejects_nonsense_in_one_line(text: str) -> None:
    with pytest.raises(BadInput, match="--devices"):
        parse_devices(text)


@pytest.mark.parametrize("text", ["ray:1,cpu:1", "cpu:2,0", "ray-cpu:1,ray:1", "0,cpu:2", "1,ray:2"])
def test_parse_devices_says_kinds_are_not_mixed(text: str) -> None:
    """`ray:1,cpu:1` said "expected ray:N with N a whole number from 1 to 256"; `0,cpu:2`,
    on a machine without a GPU, "no GPU is visible here"."""
    with pytest.raises(BadInput, match="one kind of device at a time"):
        parse_devices(text)


@pytest.mark.parametrize(("text", "said"), [("cpu:1,cpu:1", "cpu:N is N workers (cpu:2 for two): name it once"),
                                            ("cpu:1,", "expected cpu:N with N a whole number")])
def test_parse_devices_says_what_is_wrong_with_one_kind_named_twice(text: str, said: str) -> None:
    """Both were said to mix kinds of device."""
    with pytest.raises(BadInput, match=re.escape(said)):
        parse_devices(text)


def test_a_gpu_used_by_others_beyond_the_share_is_left_alone() -> None:
    from lstui.scheduler.devices import DeviceFacts, busy_by_others

    gib = 2**30
    gpu = DeviceFacts("cuda:0", "H200", 10.0, 90 * gib, 140 * gib, 40.0, other_memory=80 * gib)
    assert busy_by_others(gpu, 0.5)  # 57 % used by other processes
    assert not busy_by_others(gpu, 0.6)
    assert not busy_by_others(DeviceFacts("cpu", "CPU"), 0.0)  # no facts: never refused


def test_daemon_takes_the_gpu_share_from_its_command_line(tmp_path: Path) -> None:
    from lstui.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--home", str(tmp_path), "daemon", "start", "--max-gpu-share", "1.5"])
    assert exit_info.value.code == 2


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_the_cpu_device_names_the_cores_this_process_may_use() -> None:
    # a real child process confined to one core, as `taskset -c N` would
    core = min(os.sched_getaffinity(0))
    code = "from lstui.scheduler.devices import cpu_facts; print(cpu_facts().name)"
    confined = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {core}),
    ).stdout.strip()
    machine = os.cpu_count()
    expected = "CPU (1 core)" if machine == 1 else f"CPU (1 of {machine} cores)"
    assert confined == expected


def test_a_job_failed_by_a_many_line_error_keeps_one_line_and_the_whole_in_its_events(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyTorch's and Ray's errors run to many lines; a job's error is a line of the TUI
    and of ``lstui ls``, so it is the first line, and the traceback is kept as a debug event."""
    folder = tmp_path / "mods"
    folder.mkdir()
    (folder / "many_lines.py").write_text(
        "def data():\n    raise RuntimeError('no data today\\n  line two of the detail\\n  line three')\n"
    )
    monkeypatch.syspath_prepend(str(folder))
    spec = JobSpec(model="mlp", data="many_lines:data", x=parse_axis("-1:1:3")).validated()
    job_id = submit_spec(store, spec)
    worker = Worker(WorkerConfig(tmp_path / "home"), store)
    worker.worker_id = store.register_worker("cpu", os.getpid(), "here")
    claim = store.claim_unit(worker.worker_id, lease_s=60)
    assert claim is not None
    worker.run_unit(claim)
    job = store.get_job(job_id)
    assert job.state is JobState.FAILED
    assert job.error is not None and "\n" not in job.error
    assert job.error.endswith("RuntimeError: no data today"), job.error
    debug = [e.message for e in store.events(job_id) if e.level == "debug"]
    assert any("line three" in m for m in debug), debug


def _mlp_checkpoint(path: Path, seed: int) -> None:
    from lstui.models import build_model

    torch.manual_seed(seed)
    torch.save(build_model("mlp", input_shape=(1, 8, 8)).state_dict(), path)


def test_a_job_retried_with_a_mended_checkpoint_is_computed_from_the_new_file(
    store: Store, tmp_path: Path
) -> None:
    """The worker kept the job made ready from the old file (cancelled while it got
    ready, the file replaced, retried), keyed by job id alone: the new spec's digests
    said the new file, the points were the old one's."""
    from lstui.scheduler.submit import retry_jobs

    ck, new = tmp_path / "ck.pt", tmp_path / "new.pt"
    _mlp_checkpoint(ck, 1)
    _mlp_checkpoint(new, 2)
    spec = JobSpec(model="mlp", data="digits", subset=100, checkpoint=str(ck), x=parse_axis("-1:1:3"))
    job_id = submit_spec(store, spec.validated(), unit_size=3)
    worker = Worker(WorkerConfig(tmp_path / "home"), store)
    worker.worker_id = store.register_worker("cpu", os.getpid(), "here")
    worker.keeper = LeaseKeeper(store, worker.worker_id, 60.0)
    claim = store.claim_unit(worker.worker_id, lease_s=60)
    assert claim is not None
    worker._prepare(claim)  # ready on the old file ...
    store.cancel(job_id)  # ... when it was cancelled
    ck.write_bytes(new.read_bytes())  # the file mended, then the job retried
    retry_jobs(store, [job_id])
    claim = store.claim_unit(worker.worker_id, lease_s=60)
    assert claim is not None and claim.job_id == job_id
    worker.keeper.hold(claim)
    worker.run_unit(claim)
    got = {p.idx: p.train_loss for p in store.points(job_id)}

    fresh_id = submit_spec(store, dataclasses.replace(spec, checkpoint=str(new), name="fresh").validated(), unit_size=3)
    fresh = Worker(WorkerConfig(tmp_path / "home"), store)
    fresh.worker_id = store.register_worker("cpu", os.getpid(), "here")
    fresh.keeper = LeaseKeeper(store, fresh.worker_id, 60.0)
    claim = store.claim_unit(fresh.worker_id, lease_s=60)
    assert claim is not None and claim.job_id == fresh_id
    fresh.keeper.hold(claim)
    fresh.run_unit(claim)
    want = {p.idx: p.train_loss for p in store.points(fresh_id)}
    assert got == want and len(got) == 3


def test_a_job_waiting_on_a_failed_or_cancelled_one_is_retried_only_with_it(
    store: Store, tmp_path: Path
) -> None:
    """Retried alone, it sat queued for ever: its dependency would never be done."""
    from lstui.errors import InvalidTransition
    from lstui.scheduler.submit import retry_jobs

    spec = JobSpec(model="mlp", data="digits", x=parse_axis("-1:1:3")).validated()
    parent = submit_spec(store, spec)
    child = submit_spec(store, spec, depends_on=[parent])
    store.cancel(parent)
    assert store.fail_dependants(parent) == [child]
    with pytest.raises(InvalidTransition, match=f"waits on job {parent}, which is cancelled; "
                                                f"retry both: lstui retry {parent} {child}"):
        retry_jobs(store, [child])
    with pytest.raises(InvalidTransition, match=f"waits on job {parent}"):
        store.retry(child)
    assert store.get_job(child).state is JobState.FAILED
    retry_jobs(store, [child, parent])  # together, in either order
    assert store.get_job(parent).state is JobState.QUEUED
    assert store.get_job(child).state is JobState.QUEUED


def test_more_cpu_workers_than_cores_get_a_note() -> None:
    """`daemon start --devices cpu:100` on 2 cores started 100 workers (600 MB each) without a word."""
    import os

    from lstui.scheduler.devices import crowded_cpu_note

    cores = len(os.sched_getaffinity(0))
    assert crowded_cpu_note(parse_devices(f"cpu:{cores}")) is None
    assert crowded_cpu_note(parse_devices(f"cpu:{cores + 1}")) == (
        f"note: cpu:{cores + 1} starts {cores + 1} workers on {cores} core{'s' if cores > 1 else ''}: they share "
        "those cores, each holding its own torch (about 600 MB of memory)")


@pytest.mark.parametrize(("kind", "spec", "where"), [
    ("interp", {"dir_type": "states", "ignore": "biasbn"}, "past an interpolation's ends"),
    ("surface", {"dir_type": "states", "ignore": "none"}, "far along a direction that moves the statistics"),
    ("trajectory", {"dir_type": "states", "ignore": "none", "dir_file": "p.h5"}, "far along"),
    ("surface", {"dir_type": "states", "ignore": "biasbn", "target": "b.pt"}, "far along"),
    ("surface", {"dir_type": "states", "ignore": "biasbn"}, None),
    ("trajectory", {"dir_type": "states", "ignore": "biasbn", "dir_file": "p.h5"}, None),
    ("surface", {"dir_type": "weights", "ignore": "none"}, None),
])
def test_a_diverged_note_blames_batchnorm_only_where_the_direction_moves_its_statistics(
    kind: str, spec: dict, where: str | None
) -> None:
    """A trajectory's note said "(past an interpolation's ends)"; and --ignore biasbn
    zeroes the statistics in random and PCA directions, so they cannot turn negative."""
    from lstui.scheduler.follow import diverged_note

    job = store_row(kind, spec)
    note = diverged_note(job, 2)
    assert note.startswith("2 of 9 points have NaN or infinite loss (diverged)")
    if where is None:
        assert "BatchNorm" not in note, note
    else:
        assert f"running variance may have turned negative there ({where}" in note, note


def store_row(kind: str, spec: dict):  # type: ignore[no-untyped-def]
    from lstui.store._rows import JobRow

    return JobRow(id=1, name="j", kind=kind, spec=spec, state=JobState.DONE, priority=0, created=0.0,
                  started=0.0, finished=1.0, attempts=1, error=None, results_dir=Path("r"),
                  total_points=9, done_points=9, device=None)


def test_a_figure_job_s_last_writes_wait_out_a_locked_database(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A figure job's event, point and completion went to the store unguarded: a lock
    held past the busy timeout ended the worker with a traceback, the unit back only at
    its lease's expiry, its try counted. They wait it out as every other worker write."""
    import sqlite3

    from lstui.scheduler import compare

    spec = JobSpec(kind="figure", figure={"type": "comparison"}).to_dict()
    job_id = store.add_job(kind="figure", name="f", spec=spec, total_points=1, units=[[0]],
                           results_root=tmp_path / "results")
    figure = tmp_path / "figure.png"
    monkeypatch.setattr(compare, "run_figure_job", lambda *_: [figure])  # its drawing is tested elsewhere
    worker = Worker(WorkerConfig(tmp_path / "home"), store)
    worker.worker_id = store.register_worker("cpu", os.getpid(), "here")
    claim = store.claim_unit(worker.worker_id, lease_s=60)
    assert claim is not None
    store.set_timeout(0.2)
    holder = sqlite3.connect(tmp_path / "home" / "lstui.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(1.5, lambda: holder.execute("ROLLBACK"))
    release.start()
    try:
        worker._run_figure(claim)
    finally:
        release.join()
        holder.close()
    job = store.get_job(job_id)
    assert job.state is JobState.DONE, job
    assert any(e.message == f"wrote {figure}" for e in store.events(job_id))
