"""Databases lstui did not write just now: an older schema, a newer one, a damaged file.

The version-1 database is built with the store's own migration list (the first
migration only), as the first release left it, holding a half-computed job.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from lstui.landscape.grid import parse_axis
from lstui.spec import JobSpec
from lstui.store import SCHEMA_VERSION, Store
from lstui.store._schema import apply_migrations
from tests.faults.support import Lab, cli_in_process, one_error_line


def _version_1_home(home: Path) -> Path:
    """A home whose ``lstui.db`` has had migration 1 only, with one tiny job of 5 points
    of which 2 are stored (with made-up values, to see that they are kept)."""
    home.mkdir(parents=True)
    path = home / "lstui.db"
    spec = JobSpec(model="mlp", data="digits", subset="150", x=parse_axis("-1:1:5")).validated()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    assert apply_migrations(Database(conn), upto=1) == 1
    conn.execute(
        "INSERT INTO jobs (name, kind, spec, state, priority, created, attempts, results_dir,"
        " total_points, done_points) VALUES ('old job', 'surface', ?, 'queued', 0, 1.0, 0, ?, 5, 2)",
        (json.dumps(spec.to_dict()), str(home / "results" / "00001-old-job")),
    )
    for seq, indices in enumerate(([0, 4, 2], [1, 3])):
        conn.execute(
            "INSERT INTO units (job_id, seq, indices, state, attempts) VALUES (1, ?, ?, 'pending', 0)",
            (seq, json.dumps(indices)),
        )
    for idx, loss in ((0, 0.5), (4, 0.25)):
        conn.execute(
            "INSERT INTO points (job_id, idx, train_loss, train_acc, unit_id, created)"
            " VALUES (1, ?, ?, 50.0, 1, 1.0)",
            (idx, loss),
        )
    conn.execute(
        "INSERT INTO events (job_id, ts, level, message) VALUES (1, 1.0, 'info', 'queued')"
    )
    conn.execute("COMMIT")
    conn.close()
    return path


def _version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def test_a_version_1_database_is_upgraded_by_ls_and_its_job_finishes(lab: Lab) -> None:
    path = _version_1_home(lab.home)
    code, out, err = cli_in_process(["ls", "--json"], lab.home)
    assert code == 0, err
    (job,) = json.loads(out)
    assert (job["id"], job["name"], job["state"], job["done"], job["total"]) == (
        1, "old job", "queued", 2, 5,
    )  # fmt: skip
    assert _version(path) == SCHEMA_VERSION

    lab.start_daemon("cpu:1", "--export", "")
    lab.wait_job(1)
    rows = lab.query("SELECT idx, train_loss FROM points WHERE job_id = 1 ORDER BY idx")
    assert [r["idx"] for r in rows] == [0, 1, 2, 3, 4]
    assert (rows[0]["train_loss"], rows[4]["train_loss"]) == (0.5, 0.25)  # kept, not redone
    assert lab.job(1)["device"] == "cpu"  # the column migration 2 added is in use


def test_a_database_from_a_newer_lstui_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = _version_1_home(home)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 7}")
    conn.close()
    code, _, err = cli_in_process(["ls"], home)
    assert code == 1
    assert "newer than this lstui knows" in one_error_line(err)
    assert _version(path) == SCHEMA_VERSION + 7  # left alone


def test_another_program_s_database_is_not_taken_over(tmp_path: Path) -> None:
    """A SQLite file of another program at lstui.db (no lstui schema, a table of its own)
    had lstui's tables added to it, silently."""
    import hashlib

    home = tmp_path / "home"
    home.mkdir()
    path = home / "lstui.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE foo (x)")
    conn.execute("INSERT INTO foo VALUES (1)")
    conn.commit()
    conn.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    code, _, err = cli_in_process(["ls"], home)
    assert code == 1
    assert "is not an lstui database (it holds table foo and no lstui schema)" in one_error_line(err)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before and _version(path) == 0


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_database_is_one_line(tmp_path: Path, damage: str) -> None:
    home = tmp_path / "home"
    path = _version_1_home(home)
    data = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(bytes((n * 37) % 256 for n in range(len(data))))
    else:
        path.write_bytes(data[: len(data) // 2])
    code, _, err = cli_in_process(["ls"], home)
    assert code == 1
    assert str(path) in one_error_line(err)


def test_a_job_a_newer_lstui_queued_fails_saying_to_restart_the_daemon(lab: Lab) -> None:
    """lstui upgraded under a running daemon: its workers (the old code) meet a spec key
    they do not know. The job fails with what to do, not with the list of known keys."""
    spec = JobSpec(model="mlp", data="digits", subset="150", x=parse_axis("-1:1:3")).validated()
    with Store(lab.home / "lstui.db") as store:
        job_id = store.add_job(
            kind="surface", name="from the future", spec={**spec.to_dict(), "hologram": True},
            total_points=3, units=[[0, 1, 2]], results_root=lab.home / "results",
        )
    lab.start_daemon("cpu:1", "--export", "")
    job = lab.wait_job(job_id, states=("failed",))
    assert job["error"] == (
        "the job was queued by a newer lstui than this worker's (its spec has 'hologram'): "
        f"restart the daemon (lstui daemon stop; lstui daemon start), then lstui retry {job_id}"
    )
