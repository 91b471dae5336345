"""The database schema as numbered migrations.

``PRAGMA user_version`` holds how many migrations a database has had. Opening a store
applies the missing ones, in order, inside one ``BEGIN IMMEDIATE`` transaction, so two
processes opening an old database at once cannot both upgrade it. Never edit a
migration that has shipped: append a new one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import PurePosixPath

from sqlite_utils import Database
from sqlite_utils.db import Table


def _table(db: Database, name: str) -> Table:
    return db.table(name)


def _m001_core(db: Database) -> None:
    """Jobs, their dependencies, work units, points, events and workers."""
    _table(db, "jobs").create(
        {
            "id": int,
            "name": str,
            "kind": str,
            "spec": str,  # JSON object
            "state": str,
            "priority": int,
            "created": float,
            "started": float,
            "finished": float,
            "attempts": int,
            "error": str,
            "results_dir": str,
            "total_points": int,
            "done_points": int,  # kept equal to COUNT(points) by write_points
        },
        pk="id",
        not_null=[
            "name",
            "kind",
            "spec",
            "state",
            "priority",
            "created",
            "attempts",
            "results_dir",
            "total_points",
            "done_points",
        ],
        defaults={"state": "queued", "priority": 0, "attempts": 0, "done_points": 0},
    )
    _table(db, "jobs").create_index(["state"])

    _table(db, "job_deps").create(
        {"job_id": int, "depends_on": int},
        pk=("job_id", "depends_on"),
        foreign_keys=[("job_id", "jobs", "id"), ("depends_on", "jobs", "id")],
    )
    _table(db, "job_deps").create_index(["depends_on"])

    _table(db, "workers").create(
        {
            "id": int,
            "device": str,
            "pid": int,
            "host": str,
            "started": float,
            "heartbeat": float,
            "state": str,
            "current_job": int,
        },
        pk="id",
        not_null=["device", "pid", "host", "started", "heartbeat", "state"],
    )

    _table(db, "units").create(
        {
            "id": int,
            "job_id": int,
            "seq": int,
            "indices": str,  # JSON list of flat point indices
            "state": str,  # pending | leased | done | failed
            "lease_owner": int,
            "lease_expires": float,
            "attempts": int,
            "last_error": str,
        },
        pk="id",
        foreign_keys=[("job_id", "jobs", "id")],
        not_null=["job_id", "seq", "indices", "state", "attempts"],
        defaults={"state": "pending", "attempts": 0},
    )
    _table(db, "units").create_index(["job_id", "seq"], unique=True)
    _table(db, "units").create_index(["state", "job_id", "seq"])

    _table(db, "points").create(
        {
            "job_id": int,
            "idx": int,
            "train_loss": float,
            "train_acc": float,
            "test_loss": float,
            "test_acc": float,
            "unit_id": int,
            "worker": int,
            "created": float,
        },
        pk=("job_id", "idx"),  # the index by job; one row per point, ever
        foreign_keys=[("job_id", "jobs", "id")],
        not_null=["created"],
    )

    _table(db, "events").create(
        {"id": int, "job_id": int, "ts": float, "level": str, "message": str},
        pk="id",
        foreign_keys=[("job_id", "jobs", "id")],
        not_null=["ts", "level", "message"],
    )
    _table(db, "events").create_index(["job_id", "id"])


def _m002_meta_and_device(db: Database) -> None:
    """Daemon facts as key/value pairs; the device(s) a job last ran on."""
    _table(db, "meta").create({"key": str, "value": str}, pk="key", not_null=["value"])
    _table(db, "jobs").add_column("device", str)


def _m003_running_time(db: Database) -> None:
    """The time each job has spent running, paused and queued time left out: ``run_s``
    sums its runs that ended, ``run_since`` is when the current one began (NULL unless
    it runs). Jobs from before get the best figure their rows give: a finished job its
    start to its end, a paused or queued one its start to its last point, a running
    one a run that began when it first started."""
    jobs = _table(db, "jobs")
    jobs.add_column("run_s", float)
    jobs.add_column("run_since", float)
    db.execute(
        "UPDATE jobs SET run_s = 0, run_since = started"
        " WHERE state = 'running' AND started IS NOT NULL"
    )
    db.execute(
        "UPDATE jobs SET run_s = max(0, coalesce(finished,"
        " (SELECT max(p.created) FROM points p WHERE p.job_id = jobs.id), started) - started)"
        " WHERE state != 'running' AND started IS NOT NULL"
    )


def _m004_pace(db: Database) -> None:
    """Where the running job's current rate is measured from: ``pace_marks`` holds moments
    of its current run and its points then (a JSON list of ``[time, points]``, oldest
    first, see ``Store.write_points``), the first a minute or a little more back once the
    run is that old. A job that runs now is measured from its next stored points."""
    _table(db, "jobs").add_column("pace_marks", str)


def _m005_jobs_version(db: Database) -> None:
    """A count of the changes to the jobs table, kept by triggers: what a reader that
    shows or acts on jobs asks before it reads them all again. SQLite's own
    ``data_version`` also moves with every worker's heartbeat and lease, twice a second
    while jobs run, so an idle TUI re-read 9,500 jobs a second."""
    _table(db, "jobs_version").create({"id": int, "n": int}, pk="id", not_null=["n"])
    db.execute("INSERT INTO jobs_version (id, n) VALUES (1, 0)")
    for event in ("INSERT", "UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER jobs_version_{event.lower()} AFTER {event} ON jobs"
            " BEGIN UPDATE jobs_version SET n = n + 1 WHERE id = 1; END"
        )


def _m006_results_in_home(db: Database) -> None:
    """Results folders kept relative to the home (``results/00001-name``), so a home moved
    or copied elsewhere finds its own: the absolute paths stored before sent a copy's
    exports and retried jobs into the original home's folders. A job's folder made under
    a home (``…/results/{id:05d}-…``, as every one was) becomes relative to it, and so
    does a trajectory's PCA plane (``…/trajectories/FOLDER/pca_directions.h5``, lstui's).

    Also repairs a database that had an early form of migration 4 (``pace_ts`` and
    three more columns, no ``pace_marks``): it stopped every query."""
    jobs = _table(db, "jobs")
    if "pace_marks" not in jobs.columns_dict:
        jobs.add_column("pace_marks", str)
    for job_id, value in db.execute("SELECT id, results_dir FROM jobs").fetchall():
        path = PurePosixPath(value or "")
        if path.is_absolute() and path.parent.name == "results" and path.name.startswith(f"{job_id:05d}-"):
            db.execute("UPDATE jobs SET results_dir = ? WHERE id = ?", (f"results/{path.name}", job_id))
    # a trajectory's PCA plane likewise: lstui's own file, HOME/trajectories/FOLDER/FILE
    for job_id, text in db.execute("SELECT id, spec FROM jobs WHERE kind = 'trajectory'").fetchall():
        spec = json.loads(text)
        plane = PurePosixPath(spec.get("dir_file") or "")
        if plane.is_absolute() and plane.parent.parent.name == "trajectories":
            spec["dir_file"] = f"trajectories/{plane.parent.name}/{plane.name}"
            db.execute("UPDATE jobs SET spec = ? WHERE id = ?", (json.dumps(spec, sort_keys=True), job_id))


MIGRATIONS: tuple[Callable[[Database], None], ...] = (
    _m001_core,
    _m002_meta_and_device,
    _m003_running_time,
    _m004_pace,
    _m005_jobs_version,
    _m006_results_in_home,
)
"""Every migration, in order; a database at version N has had the first N."""

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: Database) -> int:
    """The number of migrations ``db`` has had."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def apply_migrations(db: Database, *, upto: int = SCHEMA_VERSION) -> int:
    """Apply the migrations ``db`` lacks, up to number ``upto``.

    The caller holds the write lock (``BEGIN IMMEDIATE``); this only runs the steps
    and records the new version in the same transaction.

    Returns:
        The version the database now has.
    """
    current = schema_version(db)
    for number in range(current + 1, upto + 1):
        MIGRATIONS[number - 1](db)
        db.execute(f"PRAGMA user_version = {number:d}")
    return max(current, upto)
