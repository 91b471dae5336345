"""Where the store lives, who may read it, and what names become on disk."""

from __future__ import annotations

import sqlite3
import stat
import time
from pathlib import Path

import pytest

from lstui.errors import StoreError
from lstui.store import DB_NAME, JobState, Store, default_home, safe_name
from tests.store.support import add_job, finish_job


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_and_its_folder_are_private(tmp_path: Path) -> None:
    home = tmp_path / "a" / "lstui"
    with Store.open_home(home) as store:
        add_job(store, tmp_path)
        assert store.path == home / DB_NAME
        assert _mode(home) == 0o700
        assert _mode(home / DB_NAME) == 0o600
        for side in ("lstui.db-wal", "lstui.db-shm"):
            assert _mode(home / side) == 0o600


def test_store_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store._db.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000


def test_default_home_follows_lstui_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LSTUI_HOME", str(tmp_path / "h"))
    assert default_home() == tmp_path / "h"
    with Store.open_home() as store:
        assert store.path == tmp_path / "h" / "lstui.db"
    monkeypatch.delenv("LSTUI_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert default_home() == tmp_path / "user" / ".local" / "share" / "lstui"


@pytest.mark.parametrize(
    "name,expected",
    [
        ("resnet56 small batch", "resnet56-small-batch"),
        ("../../etc/passwd", "etc-passwd"),
        ("a/../../b", "a-b"),
        ("..", "job"),
        ("", "job"),
        ("evil\x1b[31mred\x00\n", "evil-31mred"),
        ("größe", "gr-e"),
        ("x" * 100, "x" * 60),
        ("v1.2_final-run", "v1.2_final-run"),
    ],
)
def test_safe_name_keeps_only_portable_characters(name: str, expected: str) -> None:
    assert safe_name(name) == expected


def test_results_folder_cannot_leave_the_results_root(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "results"
    for name in ("../../../../tmp/evil", "/etc/cron.d/x", "a\x00b", "\x1b]0;title\x07", "." * 80):
        job = add_job(store, tmp_path, name=name)
        row = store.get_job(job)
        assert row.results_dir.parent == root.absolute()
        assert row.results_dir.name.startswith(f"{job:05d}-")
        assert all(ch.isprintable() for ch in row.name)


def test_list_jobs_with_1000_jobs_and_a_201x201_surface_is_one_query(tmp_path: Path) -> None:
    with Store(tmp_path / "lstui.db") as store:
        worker = store.register_worker("cpu", 1, "h")
        surface = add_job(store, tmp_path, name="surface", points=201 * 201, unit_size=201)
        finish_job(store, worker, surface)
        for n in range(999):
            add_job(store, tmp_path, name=f"job {n}", points=4, unit_size=2)

        statements: list[str] = []
        store._conn.set_trace_callback(statements.append)
        start = time.perf_counter()
        jobs = store.list_jobs()
        elapsed = time.perf_counter() - start
        store._conn.set_trace_callback(None)

    print(f"\nlist_jobs: {len(jobs)} jobs, one with 40401 points, in {elapsed * 1000:.1f} ms")
    assert [s.split()[0] for s in statements] == ["BEGIN", "SELECT", "COMMIT"]
    assert len(jobs) == 1000
    assert (jobs[0].id, jobs[0].done_points, jobs[0].total_points) == (surface, 40401, 40401)
    assert {j.done_points for j in jobs[1:]} == {0}


def test_a_database_locked_too_long_is_one_readable_error(tmp_path: Path) -> None:
    path = tmp_path / "lstui.db"
    with Store(path) as store:
        job = add_job(store, tmp_path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process mid-write, forever
    try:
        with Store(path, timeout_s=0.2) as blocked:
            assert blocked.get_job(job).state is JobState.QUEUED  # WAL: reads go on
            with pytest.raises(StoreError, match=r"lstui\.db is locked by another process"):
                blocked.pause(job)
            assert blocked.job_state(job) is JobState.QUEUED
    finally:
        holder.execute("ROLLBACK")
        holder.close()
