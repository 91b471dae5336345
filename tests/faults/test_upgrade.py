"""lstui upgraded in place: a job store from an older lstui, and a daemon it started.

A command that upgrades the store says so once (an older lstui cannot open it after);
a command run while a daemon started by an older lstui runs says to restart it, whose
workers would fail the jobs the newer one queues (their specs' new keys).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from lstui.scheduler.daemon import PID_FILE
from lstui.store import SCHEMA_VERSION, _schema
from tests.faults.support import Lab

TINY_JOB = ("submit", "surface", "--model", "mlp", "--x", "-1:1:3", "--subset", "50")


def test_a_command_that_upgrades_the_store_says_so_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    conn = sqlite3.connect(home / "lstui.db", isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    _schema.apply_migrations(Database(conn), upto=2)
    conn.execute("COMMIT")
    conn.close()
    lab = Lab(home, tmp_path)
    try:
        first = lab.cli("ls")
        again = lab.cli("ls")
    finally:
        lab.teardown()
    assert first.stderr.splitlines() == [
        f"note: upgraded the job store {home / 'lstui.db'} from schema 2 to {SCHEMA_VERSION}: an older lstui "
        "can no longer open it (kept as it was in lstui.db.schema2.bak)"], first.stderr
    assert again.stderr == ""


def test_a_daemon_started_by_an_older_lstui_is_said_to_need_a_restart(lab: Lab) -> None:
    pid = lab.start_daemon("cpu:1")
    queued = lab.cli(*TINY_JOB)
    assert "was started by another lstui" not in queued.stderr, queued.stderr  # its own: nothing to say
    info = json.loads((lab.home / PID_FILE).read_text())
    assert info["schema"] == SCHEMA_VERSION
    del info["schema"]  # as an lstui from before this one wrote it
    (lab.home / PID_FILE).write_text(json.dumps(info))
    queued = lab.cli(*TINY_JOB)
    assert (f"note: the daemon (pid {pid}) was started by another lstui (an older schema; this one's is "
            f"{SCHEMA_VERSION}): its workers may fail the jobs queued now; restart it (lstui daemon stop, "
            "then lstui daemon start)") in queued.stderr.splitlines(), queued.stderr
    assert queued.stdout.strip().isdigit()  # queued all the same
    lab.stop_daemon()


def test_a_store_is_not_upgraded_under_a_daemon_of_an_older_lstui(lab: Lab) -> None:
    """Its code cannot follow the upgrade: schema 6's results folders, relative to the
    home, it took as relative to the folder it was started from, and wrote a job's files
    there. Every command, the TUI and the demo refuse until it is stopped; `daemon stop`
    stops it, and the next command upgrades."""
    pid = lab.start_daemon("cpu:1")
    lab.wait_workers(1)
    info = json.loads((lab.home / PID_FILE).read_text())
    del info["schema"]  # as an lstui from before pid files named their schema wrote it
    (lab.home / PID_FILE).write_text(json.dumps(info))
    with sqlite3.connect(lab.home / "lstui.db") as raw:
        raw.execute("PRAGMA user_version = 5")  # the store of that lstui (schema 6 is idempotent)
    for args in (("ls",), TINY_JOB):
        refused = lab.cli(*args, check=False)
        assert refused.returncode == 1 and refused.stdout == "", refused
        assert refused.stderr.splitlines() == [
            f"lstui: error: the job store {lab.home / 'lstui.db'} is of an older lstui (schema 5) and its daemon "
            f"(pid {pid}) was started by that lstui, which cannot go on in the store this one upgrades: stop it "
            "first (lstui daemon stop), then run this again; nothing was changed"], refused.stderr
    with sqlite3.connect(lab.home / "lstui.db") as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 5
    # a worker that daemon restarts runs this lstui's code: it leaves the store as it is too
    import os
    import signal
    import time

    from tests.faults.support import wait_until

    (old_worker,) = [p for p in lab.lab_pids() if p != pid]
    os.kill(old_worker, signal.SIGKILL)
    wait_until("a worker started again", lambda: any(p not in (pid, old_worker) for p in lab.lab_pids()), 30)
    time.sleep(3)  # (it opened the store, or would have)
    with sqlite3.connect(lab.home / "lstui.db") as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 5
    stopped = lab.cli("daemon", "stop")
    # (a worker still importing torch on a loaded machine may be killed after 30 s: a second line)
    assert stopped.stdout.startswith(f"daemon (pid {pid}) stopped\n") and "another lstui" not in stopped.stderr, stopped
    assert lab.cli("ls").returncode == 0
    with sqlite3.connect(lab.home / "lstui.db") as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def _bump_schema(home: Path) -> int:
    """The store upgraded under the running processes, as a newer lstui's first command does."""
    newer = SCHEMA_VERSION + 1
    with sqlite3.connect(home / "lstui.db") as raw:
        raw.execute(f"PRAGMA user_version = {newer}")
    return newer


def test_a_worker_leaves_a_job_it_cannot_read_queued_when_a_newer_lstui_upgraded_the_store(
    tmp_path: Path,
) -> None:
    """An older worker failed every job a newer lstui queued ("unknown key 'digests' in
    job spec"): the job is no fault of its own, and waits for the newer daemon."""
    import pytest

    from lstui.scheduler.worker import Worker, WorkerConfig
    from lstui.store import JobState, Store

    home = tmp_path / "home"
    with Store.open_home(home) as store:
        spec = {"kind": "surface", "model": "mlp", "a_key_of_a_newer_lstui": 1}
        job_id = store.add_job(kind="surface", name="new", spec=spec, total_points=1, units=[[0]],
                               results_root=home / "results")
        newer = _bump_schema(home)
        worker = Worker(WorkerConfig(home, exit_when_idle=True), store)
        with pytest.raises(SystemExit):
            worker.run()
        job = store.get_job(job_id)
        assert (job.state, job.error) == (JobState.QUEUED, None), job
        assert store.schema_version == newer


def test_a_daemon_stops_when_a_newer_lstui_upgrades_the_store_under_it(lab: Lab) -> None:
    from tests.faults.support import wait_until

    lab.start_daemon("cpu:1")
    newer = _bump_schema(lab.home)
    wait_until("the daemon to stop", lambda: lab.daemon_pid() is None, 20)
    log = (lab.home / "daemon.log").read_text()
    assert (f"stopping: the job store was upgraded to schema {newer} by a newer lstui (this daemon's is "
            f"{SCHEMA_VERSION}): start the daemon again with it") in log, log[-2000:]
    wait_until("its worker to end", lambda: not lab.lab_pids(), 20)


def _old_home(home: Path, version: int = 2) -> Path:
    home.mkdir(parents=True)
    conn = sqlite3.connect(home / "lstui.db", isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    _schema.apply_migrations(Database(conn), upto=version)
    conn.execute("COMMIT")
    conn.close()
    return home


def test_daemon_start_and_the_tui_say_they_upgraded_the_store(tmp_path: Path) -> None:
    """`daemon stop; daemon start`, the usual step after an upgrade, and the TUI upgraded
    an older store without a word (the daemon process did it, detached)."""
    lab = Lab(_old_home(tmp_path / "home"), tmp_path)
    try:
        started = lab.cli("daemon", "start", "--devices", "cpu:1")
        lab.daemon_pids.append(lab.daemon_pid())
        assert (f"note: upgraded the job store {lab.home / 'lstui.db'} from schema 2 to {SCHEMA_VERSION}: an "
                "older lstui can no longer open it (kept as it was in lstui.db.schema2.bak)"
                ) in started.stderr.splitlines(), started.stderr
        lab.stop_daemon()
    finally:
        lab.teardown()

    import asyncio

    from tests.tui.support import fixed_app, screen_text, wait_for

    app = fixed_app(_old_home(tmp_path / "tui_home", version=5))

    async def drive() -> None:
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await wait_for(pilot, lambda: "upgraded the job store from schema 5" in "\n".join(screen_text(app)),
                           10, "the upgrade's notice")
            assert any("kept as it was in lstui.db.schema5.bak" in text for _, text in app.notices), app.notices

    asyncio.run(drive())


def test_a_daemon_whose_pid_file_went_is_not_called_older(lab: Lab) -> None:
    """Its pid (from the lock) is all that is known: no "started by another lstui"."""
    lab.start_daemon("cpu:1")
    (lab.home / PID_FILE).write_text("{damaged")  # (deleted, the daemon writes it again)
    listed = lab.cli("ls")
    assert "started by another lstui" not in listed.stderr, listed.stderr
    lab.stop_daemon()


def test_the_tui_on_a_store_an_older_daemon_runs_says_it_runs(lab: Lab) -> None:
    """It said "daemon stopped (d starts it)" beside the refusal, and `d` then said a
    daemon runs."""
    import asyncio

    from tests.tui.support import fixed_app, screen_text, wait_for

    pid = lab.start_daemon("cpu:1")
    lab.wait_workers(1)
    info = json.loads((lab.home / PID_FILE).read_text())
    del info["schema"]
    (lab.home / PID_FILE).write_text(json.dumps(info))
    with sqlite3.connect(lab.home / "lstui.db") as raw:
        raw.execute("PRAGMA user_version = 5")
    app = fixed_app(lab.home)

    async def drive() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            def said() -> str:  # (the line wraps where the home's path length has it: words joined again)
                return " ".join(" ".join(screen_text(app)).split())

            await wait_for(pilot, lambda: "stop it first" in said(), 15, "the refusal")
            assert "daemon running" in said() and "daemon stopped" not in said(), said()
            assert f"pid {pid}" in said(), said()

    asyncio.run(drive())
    with sqlite3.connect(lab.home / "lstui.db") as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 5
