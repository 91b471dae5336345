"""Numbered migrations: old databases are upgraded in place, data kept."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from lstui.errors import StoreError
from lstui.store import SCHEMA_VERSION, JobState, Store, _schema


def _version_1_database(path: Path) -> None:
    """A database as the first release left it, with one job that has one point."""
    conn = sqlite3.connect(path, isolation_level=None)
    db = Database(conn)
    conn.execute("BEGIN IMMEDIATE")
    assert _schema.apply_migrations(db, upto=1) == 1
    conn.execute(
        "INSERT INTO jobs (name, kind, spec, state, priority, created, attempts, results_dir,"
        " total_points, done_points) VALUES"
        " ('old', 'interp', '{\"a\": 1}', 'queued', 0, 1.0, 0, '/r/00001-old', 2, 1)"
    )
    conn.execute(
        "INSERT INTO units (job_id, seq, indices, state, attempts) VALUES (1, 0, '[0, 1]', 'pending', 0)"
    )
    conn.execute("INSERT INTO points (job_id, idx, train_loss, created) VALUES (1, 0, 0.5, 1.0)")
    conn.execute("COMMIT")
    conn.close()


def test_opening_a_version_1_database_upgrades_it_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "lstui.db"
    _version_1_database(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
        assert "device" not in [r[1] for r in raw.execute("PRAGMA table_info(jobs)")]

    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION == 6
        job = store.get_job(1)
        assert (job.name, job.kind, job.spec, job.state, job.device) == (
            "old",
            "interp",
            {"a": 1},
            JobState.QUEUED,
            None,
        )
        assert [p.train_loss for p in store.points(1)] == [0.5]
        store.set_meta("k", "v")
        store.set_job_device(1, "cuda:0")
        worker = store.register_worker("cuda:0", 1, "h")
        claim = store.claim_unit(worker, lease_s=10)
        assert claim is not None and claim.todo == (1,)

    with Store(path) as again:  # reopening applies nothing twice
        assert again.schema_version == SCHEMA_VERSION
        assert again.get_meta("k") == "v"
        assert again.get_job(1).device == "cuda:0"


def test_a_failing_migration_leaves_the_database_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "lstui.db"
    _version_1_database(path)

    def broken(db: Database) -> None:
        db.table("meta").create({"key": str, "value": str}, pk="key")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(_schema, "MIGRATIONS", (_schema.MIGRATIONS[0], broken))
    with pytest.raises(RuntimeError, match="migration bug"):
        Store(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "meta" not in tables and "jobs" in tables
    # nor its copy made before: an upgrade stopped (Ctrl-C in a long one) left one each time
    assert not list(tmp_path.glob("*.bak"))

    def interrupted(db: Database) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_schema, "MIGRATIONS", (_schema.MIGRATIONS[0], interrupted))
    with pytest.raises(KeyboardInterrupt):
        Store(path)
    assert not list(tmp_path.glob("*.bak"))


def test_a_database_from_a_newer_lstui_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lstui.db"
    Store(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99, newer than this lstui knows"):
        Store(path)


def test_migrations_are_numbered_in_order() -> None:
    names = [m.__name__ for m in _schema.MIGRATIONS]
    assert names == [f"_m{n:03d}_{name.split('_', 2)[2]}" for n, name in enumerate(names, 1)]
    assert SCHEMA_VERSION == len(names)


def test_migration_3_gives_old_jobs_the_running_time_their_rows_tell(tmp_path: Path) -> None:
    path = tmp_path / "lstui.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    assert _schema.apply_migrations(Database(conn), upto=2) == 2
    for name, state, started, finished in (
        ("done", "done", 100.0, 160.0),
        ("paused", "paused", 100.0, None),
        ("running", "running", 100.0, None),
        ("never ran", "queued", None, None),
    ):
        conn.execute(
            "INSERT INTO jobs (name, kind, spec, state, priority, created, started, finished,"
            " attempts, results_dir, total_points, done_points)"
            " VALUES (?, 'surface', '{}', ?, 0, 1.0, ?, ?, 0, '/r', 2, 0)",
            (name, state, started, finished),
        )
    conn.execute("INSERT INTO points (job_id, idx, train_loss, created) VALUES (2, 0, 0.5, 130.0)")
    conn.execute("COMMIT")
    conn.close()

    with Store(path) as store:
        rows = {j.name: (j.run_s, j.run_since) for j in store.list_jobs()}
    assert rows == {
        "done": (60.0, None),  # its start to its end
        "paused": (30.0, None),  # its start to its last point
        "running": (0.0, 100.0),  # a run that began when it first started
        "never ran": (None, None),
    }


def test_migration_4_measures_a_running_jobs_rate_from_its_next_points(tmp_path: Path) -> None:
    path = tmp_path / "lstui.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    assert _schema.apply_migrations(Database(conn), upto=3) == 3
    for name, state, run_since, done in (("running", "running", 100.0, 7), ("queued", "queued", None, 2)):
        conn.execute(
            "INSERT INTO jobs (name, kind, spec, state, priority, created, started, attempts,"
            " results_dir, total_points, done_points, run_s, run_since)"
            " VALUES (?, 'surface', '{}', ?, 0, 1.0, 100.0, 1, '/r', 20, ?, 0, ?)",
            (name, state, done, run_since),
        )
    conn.execute("COMMIT")
    conn.close()

    with Store(path) as store:
        rows = {j.name: (j.pace_since, j.pace_done) for j in store.list_jobs()}
    assert rows == {"running": (None, None), "queued": (None, None)}  # ETAs: the run's average till then


def test_migration_6_makes_results_folders_the_home_s_own_so_a_moved_or_copied_home_finds_them(
    tmp_path: Path,
) -> None:
    """A copied home exported and ran its jobs into the original home's folders (their
    absolute paths were stored); a moved one said its results were deleted."""
    import shutil

    first = tmp_path / "first"
    first.mkdir()
    conn = sqlite3.connect(first / "lstui.db", isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    assert _schema.apply_migrations(Database(conn), upto=5) == 5
    plane = f"{first}/trajectories/20261207-t/pca_directions.h5"  # lstui's own; a person's file stays
    for job_id, folder, kind, spec in (
        (1, f"{first}/results/00001-a", "surface", {}),
        (2, "/data/elsewhere/00002-b", "surface", {"kind": "surface", "dir_file": "/data/trajectories/x/d.h5"}),
        (3, f"{first}/results/00003-t", "trajectory", {"kind": "trajectory", "dir_file": plane}),
    ):
        conn.execute(
            "INSERT INTO jobs (id, name, kind, spec, state, priority, created, attempts, results_dir,"
            " total_points, done_points) VALUES (?, 'j', ?, ?, 'done', 0, 1.0, 1, ?, 1, 1)",
            (job_id, kind, json.dumps(spec), folder),
        )
    conn.execute("COMMIT")
    conn.close()
    moved = tmp_path / "moved"
    shutil.move(first, moved)
    with Store(moved / "lstui.db") as store:
        assert store.get_job(1).results_dir == moved / "results" / "00001-a"
        assert store.get_job(2).results_dir == Path("/data/elsewhere/00002-b")  # not a home's: as it was
        assert store.get_job(2).spec["dir_file"] == "/data/trajectories/x/d.h5"
        assert store.get_job(3).spec["dir_file"] == str(moved / "trajectories/20261207-t/pca_directions.h5")
        traj = store.add_job(kind="trajectory", name="t2", total_points=1, units=[[0]], results_root=moved / "results",
                             spec={"kind": "trajectory", "dir_file": str(moved / "trajectories/u/pca_directions.h5")})
        new = store.add_job(kind="surface", name="new", spec={}, total_points=1, units=[[0]],
                            results_root=moved / "results")
        outside = store.add_job(kind="surface", name="out", spec={}, total_points=1, units=[[0]],
                                results_root=tmp_path / "elsewhere")
    copy = tmp_path / "copy"
    shutil.copytree(moved, copy)
    with Store(copy / "lstui.db") as store:
        assert [store.get_job(i).results_dir for i in (1, new, outside)] == [
            copy / "results" / "00001-a", copy / "results" / f"{new:05d}-new",
            tmp_path / "elsewhere" / f"{outside:05d}-out"]
        # a trajectory's PCA plane (its path, its exports) is the copy's own too
        assert [store.get_job(i).spec["dir_file"] for i in (3, traj)] == [
            str(copy / "trajectories/20261207-t/pca_directions.h5"), str(copy / "trajectories/u/pca_directions.h5")]
        claim = store.claim_unit(store.register_worker("cpu", 1, "h"), lease_s=10)
        assert claim is not None and claim.job_id == traj
        assert claim.results_dir == copy / "results" / f"{traj:05d}-t2"  # where a worker writes
        assert claim.spec["dir_file"] == str(copy / "trajectories/u/pca_directions.h5")  # and reads


def test_migration_6_mends_a_database_of_migration_4_s_early_form(tmp_path: Path) -> None:
    """Migration 4 first added pace_ts and three more columns, later pace_marks: a
    database of the early form, upgraded to 5, failed every query ("no such column:
    j.pace_marks") and could go neither forward nor back."""
    path = tmp_path / "lstui.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    db = Database(conn)
    assert _schema.apply_migrations(db, upto=3) == 3
    for column in ("pace_ts", "pace_done", "pace_next_ts", "pace_next_done"):
        db.table("jobs").add_column(column, float)
    _schema.MIGRATIONS[4](db)
    conn.execute("PRAGMA user_version = 5")
    conn.execute(
        "INSERT INTO jobs (name, kind, spec, state, priority, created, attempts, results_dir,"
        " total_points, done_points) VALUES ('old', 'surface', '{}', 'queued', 0, 1.0, 0, '/r/00001-old', 2, 0)"
    )
    conn.execute("COMMIT")
    conn.close()
    with Store(path) as store:
        assert [j.name for j in store.list_jobs()] == ["old"]


def test_an_upgrade_keeps_a_copy_of_the_store_as_it_was_that_the_older_lstui_opens(tmp_path: Path) -> None:
    """No copy was made before an upgrade: the older lstui (a rollback, another machine
    on the same home) could no longer open the store at all."""
    path = tmp_path / "lstui.db"
    _version_1_database(path)
    with Store(path) as store:
        assert store.upgraded_from == 1
        copy = store.upgrade_copy
        assert copy == tmp_path / "lstui.db.schema1.bak"
        store.set_meta("after", "the upgrade")  # (not in the copy)
    assert copy.stat().st_mode & 0o777 == 0o600  # (a job store is its owner's alone)
    with sqlite3.connect(copy) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file
        assert raw.execute("SELECT name, results_dir FROM jobs").fetchall() == [("old", "/r/00001-old")]
        assert raw.execute("SELECT train_loss FROM points").fetchall() == [(0.5,)]
    with Store(path) as again:  # an upgraded store is not copied again
        assert again.upgraded_from is None and again.upgrade_copy is None
    assert sorted(p.name for p in tmp_path.glob("*.bak")) == ["lstui.db.schema1.bak"]

    other = tmp_path / "other"  # a copy already there (an upgrade of a store put back) is kept
    other.mkdir()
    _version_1_database(other / "lstui.db")
    (other / "lstui.db.schema1.bak").write_bytes(b"kept")
    with Store(other / "lstui.db") as store:
        assert store.upgrade_copy == other / "lstui.db.schema1.2.bak"
    assert (other / "lstui.db.schema1.bak").read_bytes() == b"kept"


def test_an_upgrade_whose_copy_cannot_be_written_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    """A disk too full for the copy (here a file-size limit below the store's size):
    one line, the store still of its old schema, no half copy left."""
    path = tmp_path / "lstui.db"
    _version_1_database(path)
    size = path.stat().st_size
    script = (
        "import resource, signal, sys\n"
        "from lstui.errors import StoreError\n"
        "from lstui.store import Store\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({size - 4096}, {size - 4096}))\n"
        "try:\n"
        f"    Store({str(path)!r})\n"
        "except StoreError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stdout + done.stderr
    line = done.stdout.strip()
    assert "\n" not in line
    assert "needs an upgrade to" in line and "cannot be made first" in line and "nothing was changed" in line, line
    assert not list(tmp_path.glob("*.bak"))
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
