"""Files that are damaged, truncated or gone when lstui comes back to them.

lstui's own ``directions.h5`` is derived from the job's settings (seed, checkpoints), so a
damaged one is moved aside to ``directions.h5.corrupt-<time>`` and made again, identical;
a damaged ``surface.h5`` of ``lstui run`` is moved aside the same way and its points are
computed again (the daemon's surface file is rewritten from the store anyway). A file
the person gave (``--dir-file``, ``--checkpoint``) that is damaged or gone fails its job
with one line naming the file.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from lstui.errors import BadInput
from lstui.results import (
    SurfaceFile,
    read_directions,
    read_surface,
    write_directions,
    write_surface,
)
from tests.faults.support import (
    KILL_SPEC,
    SLOW_SPEC,
    Lab,
    assert_points_equal_surface,
    assert_points_once,
    one_error_line,
    wait_until,
    write_fitting_files,
)


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _same_surface(path: Path, reference: Path) -> None:
    got, want = read_surface(path), read_surface(reference)
    for key, values in want.arrays.items():
        assert (got.arrays[key] != -1).all(), key
        assert got.arrays[key] == pytest.approx(values, abs=1e-6), key


@pytest.mark.parametrize("what", ["surface", "directions"])
def test_a_file_cut_or_flipped_anywhere_reads_as_bad_input_or_whole(
    tmp_path: Path, what: str
) -> None:
    path = tmp_path / f"{what}.h5"
    if what == "surface":
        xs = np.linspace(-1, 1, 7)
        loss = np.arange(49.0).reshape(7, 7)
        write_surface(path, SurfaceFile(xs, xs, {"train_loss": loss, "train_acc": loss}, "d.h5"))
        read: Any = read_surface
    else:
        generator = torch.Generator().manual_seed(0)
        tensors = [
            torch.randn(32, 64, generator=generator),
            torch.randn(10, 32, generator=generator),
        ]
        write_directions(path, tensors, tensors)
        read = read_directions
    data = path.read_bytes()
    rng = random.Random(8)
    damaged = [data[:cut] for cut in range(0, len(data), max(1, len(data) // 100))]
    for _ in range(100):
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 16)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        damaged.append(bytes(flipped))
    for content in damaged:
        path.write_bytes(content)
        try:
            read(path)
        except BadInput as exc:
            assert str(path) in str(exc) and "\n" not in str(exc)


def test_run_sets_aside_damaged_surface_and_direction_files_and_computes_the_same(
    lab: Lab, tmp_path: Path, reference_run: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(reference_run, out)
    _truncate(out / "surface.h5")
    (out / "directions.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)
    proc = lab.cli(
        "run", "surface", *KILL_SPEC, "--out", str(out), "--device", "cpu", "--no-figure",
    )  # fmt: skip
    assert "Traceback" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, proc.stderr
    assert "surface.h5.corrupt-" in warnings[0] and "directions.h5.corrupt-" in warnings[1]
    assert proc.stderr.count("surface.h5.corrupt-") == 1  # was said twice, once bare
    assert proc.stderr.count("directions.h5.corrupt-") == 1  # likewise
    assert len(list(out.glob("surface.h5.corrupt-*"))) == 1
    assert len(list(out.glob("directions.h5.corrupt-*"))) == 1
    _same_surface(out / "surface.h5", reference_run / "surface.h5")


def test_run_with_a_damaged_dir_file_is_one_line_naming_it(
    lab: Lab, tmp_path: Path, reference_run: Path
) -> None:
    dir_file = tmp_path / "dirs.h5"
    shutil.copy(reference_run / "directions.h5", dir_file)
    _truncate(dir_file, 0.3)
    out = tmp_path / "out"
    proc = lab.cli(
        "run", "surface", *KILL_SPEC, "--dir-file", str(dir_file), "--out", str(out),
        "--device", "cpu", check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert str(dir_file) in one_error_line(proc.stderr)
    assert dir_file.stat().st_size > 0  # the person's file is left alone
    assert not list(tmp_path.glob("dirs.h5.corrupt-*"))


# -- the daemon -----------------------------------------------------------------------


@dataclass
class DamagedRun:
    lab: Lab
    resumed: int  # its direction and surface files damaged while the daemon was down
    no_checkpoint: int  # its checkpoint deleted while it was queued
    bad_dir_file: int  # a truncated --dir-file
    results: Path
    checkpoint: Path
    dir_file: Path


@pytest.fixture(scope="module")
def damaged_run(
    tmp_path_factory: pytest.TempPathFactory, fault_modules: Path
) -> Iterator[DamagedRun]:
    root = tmp_path_factory.mktemp("damaged")
    lab = Lab(root / "home", fault_modules)
    try:
        lab.start_daemon("cpu:1", "--export", "")
        resumed = lab.submit("surface", *SLOW_SPEC)
        wait_until("some points", lambda: lab.job(resumed)["done_points"] >= 5)
        results = Path(lab.job(resumed)["results_dir"])
        wait_until("the surface file", (results / "surface.h5").exists)
        lab.stop_daemon()
        assert lab.job(resumed)["done_points"] < 49, "the job finished too soon to be resumed"
        _truncate(results / "directions.h5")
        (results / "surface.h5").write_bytes(b"not an HDF5 file\n" * 100)

        # submit reads both files, so they are damaged after their jobs are queued
        checkpoint, dir_file = root / "ck.pt", root / "dirs.h5"
        write_fitting_files(lab, "fault_models:slow", checkpoint=checkpoint, dir_file=dir_file)
        no_checkpoint = lab.submit("surface", *KILL_SPEC, "--checkpoint", str(checkpoint))
        checkpoint.unlink()
        bad_dir_file = lab.submit("surface", *KILL_SPEC, "--dir-file", str(dir_file))
        dir_file.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)

        lab.start_daemon("cpu:1", "--export", "")
        lab.wait_job(resumed)
        for job in (no_checkpoint, bad_dir_file):
            lab.wait_job(job, ("failed",))
        lab.wait_finished_files(resumed)
        yield DamagedRun(lab, resumed, no_checkpoint, bad_dir_file, results, checkpoint, dir_file)
    finally:
        lab.teardown()


def test_damaged_files_of_a_job_are_made_again_and_its_values_are_right(
    damaged_run: DamagedRun, reference_run: Path
) -> None:
    run = damaged_run
    assert_points_once(run.lab, run.resumed)
    assert_points_equal_surface(run.lab, run.resumed, reference_run / "surface.h5")
    _same_surface(run.results / "surface.h5", reference_run / "surface.h5")
    assert len(list(run.results.glob("directions.h5.corrupt-*"))) == 1
    log = (run.lab.home / "daemon.log").read_text()
    assert "moved it to directions.h5.corrupt-" in log


def test_a_direction_file_made_again_is_a_job_event(damaged_run: DamagedRun) -> None:
    events = damaged_run.lab.events(damaged_run.resumed)
    assert any("directions.h5.corrupt-" in e for e in events), events


def test_a_checkpoint_deleted_while_queued_fails_its_job_naming_the_file(
    damaged_run: DamagedRun,
) -> None:
    job = damaged_run.lab.job(damaged_run.no_checkpoint)
    assert job["state"] == "failed"
    assert str(damaged_run.checkpoint) in job["error"]
    assert "no such file" in job["error"] or "does not exist" in job["error"]
    assert "\n" not in job["error"] and "Traceback" not in job["error"]


def test_a_damaged_dir_file_fails_its_job_naming_the_file(damaged_run: DamagedRun) -> None:
    job = damaged_run.lab.job(damaged_run.bad_dir_file)
    assert job["state"] == "failed"
    assert str(damaged_run.dir_file) in job["error"] and "--dir-file" in job["error"]
    assert "\n" not in job["error"] and "Traceback" not in job["error"]
    assert damaged_run.dir_file.exists()  # the person's file is not moved


def test_retrying_a_job_whose_file_is_still_bad_leaves_it_failed(damaged_run: DamagedRun) -> None:
    """``lstui retry`` reads the files as submit does: a job failed on a deleted
    checkpoint or a damaged direction file stays failed, with one line naming the file."""
    run = damaged_run
    for job_id, path in ((run.no_checkpoint, run.checkpoint), (run.bad_dir_file, run.dir_file)):
        proc = run.lab.cli("retry", str(job_id), check=False)
        line = one_error_line(proc.stderr)
        assert proc.returncode == 2 and f"job {job_id} was not retried: " in line
        assert path.name in line, line
        assert run.lab.job(job_id)["state"] == "failed"


def test_a_database_with_damaged_pages_is_one_line_for_every_command(tmp_path: Path) -> None:
    """Pages overwritten in the middle of lstui.db (a disk fault, a copy cut short): the
    header reads, so the store opens, and the first query that meets a damaged page
    raised `database disk image is malformed` as a traceback."""
    from lstui.store import Store
    from tests.faults.support import cli_in_process
    from tests.store.support import add_job

    home = tmp_path / "home"
    with Store.open_home(home) as store:
        for n in range(300):
            add_job(store, tmp_path, points=20, name=f"job {n} " * 5)
    db = home / "lstui.db"
    data = bytearray(db.read_bytes())
    rng = random.Random(1)
    for i in range(20000, min(60000, len(data)), 7):
        data[i] = rng.randrange(256)
    db.write_bytes(bytes(data))
    damaged = 0
    for argv in (["show", "1"], ["show", "30", "--json"], ["cancel", "30"], ["pause", "30"],
                 ["priority", "30", "1"], ["logs", "10"], ["retry", "15"], ["ls", "--all"], ["ls", "--json"]):
        code, _, err = cli_in_process(argv, home)  # a traceback fails the test
        if "is damaged" in err:
            damaged += 1
            assert code == 1 and len(err.strip().splitlines()) == 1, err
            assert "move it aside and start again, or restore a copy" in err
    assert damaged >= 5

    # the daemon's workers retry a locked or full store; a damaged one is not retried
    from lstui.errors import DatabaseDamaged
    from lstui.scheduler.worker import Worker, WorkerConfig

    with Store.open_home(home) as store:
        worker = Worker(WorkerConfig(home), store)
        started = time.monotonic()
        with pytest.raises(DatabaseDamaged, match="is damaged"):
            for job_id in range(1, 301):
                worker._timed(store.events, job_id, limit=None)
        assert time.monotonic() - started < 5


def test_the_daemon_refuses_to_start_on_damaged_pages_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page damaged where no command looked (the points of done jobs): `ls`, `submit`
    and a daemon went on writing into a file SQLite calls malformed."""
    from lstui.store import Store
    from tests.cli.conftest import run_lstui
    from tests.store.support import add_job, finish_job

    home = tmp_path / "home"
    with Store.open_home(home) as store:
        worker = store.register_worker("cpu", 1, "h")
        for n in range(40):
            finish_job(store, worker, add_job(store, tmp_path, points=50, name=f"job {n}"))
    db = home / "lstui.db"
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        root = c.execute("SELECT rootpage FROM sqlite_master WHERE name = 'points'").fetchone()[0]
    data = bytearray(db.read_bytes())
    page = (root - 1) * 4096
    data[page + 8:page + 608] = b"\x5a" * 600  # the cells of the points table's root page
    db.write_bytes(bytes(data))
    before = db.read_bytes()
    proc = run_lstui("daemon", "start", "--devices", "cpu:1", home=home)
    if proc.returncode == 0:  # started after all: not left running after the test
        run_lstui("daemon", "stop", home=home)
    assert proc.returncode == 1, proc.stderr
    line = one_error_line(proc.stderr)
    assert "the daemon exited at start: database" in line and "is damaged (On tree page" in line, line
    assert "move it aside" in line
    assert db.read_bytes() == before  # not a byte written

    # refused before its pid file was written, which `daemon start` takes for a started
    # daemon: with a 410 MB store the check outlasted its 0.1 s look, and it said
    # "daemon started" (a tiny store's daemon exits first, so the look is checked here)
    import os

    from lstui.errors import DatabaseDamaged
    from lstui.scheduler.daemon import PID_FILE, Daemon

    replaced: list[str] = []
    real_replace = os.replace

    def replace(src, dst):  # type: ignore[no-untyped-def]
        replaced.append(str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(DatabaseDamaged, match="is damaged"):
        Daemon(home, ["cpu"], export_formats=()).run()
    assert not [dst for dst in replaced if dst.endswith(PID_FILE)]

