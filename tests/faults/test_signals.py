"""SIGTERM and SIGHUP (an SSH connection dropped) to lstui's commands, a daemon stopped in
the middle of a job, and the files a write killed half way leaves. Real processes and
real signals."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from lstui.results import read_surface
from lstui.results.h5files import remove_stale_temporaries
from tests.faults.support import SLOW_SPEC, Lab, one_error_line, wait_until
from tests.lab import pid_alive


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_run_ended_by_a_signal_keeps_its_points_and_says_so(lab: Lab, tmp_path: Path, signum: int) -> None:
    """Only Ctrl-C was an interrupt: SIGTERM and SIGHUP killed `lstui run` without a
    word and lost the points it held."""
    out = tmp_path / "out"
    proc = lab.popen("run", "surface", *SLOW_SPEC, "--out", str(out), "--device", "cpu", "--no-figure")
    try:
        wait_until("some points in the file", lambda: (out / "surface.h5").exists(), 120)
        time.sleep(1.0)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "lstui: interrupted" in err and "Traceback" not in err
    kept = int(read_surface(out / "surface.h5").computed().sum())
    assert 0 < kept < 49
    # it said "interrupted" alone: whether the points were kept, and that a rerun goes on, unsaid
    assert f"kept {kept} of 49 points in {out / 'surface.h5'}: the same command goes on from them" in err, err


def test_ctrl_c_in_submit_wait_says_which_jobs_are_left_and_how_to_drop_them(lab: Lab) -> None:
    """It said "lstui: interrupted" alone: had the jobs been cancelled, or not? Only the
    unfinished ones are named: a cancel naming a done one is refused whole."""
    done = lab.submit("surface", "--model", "mlp", "--x", "-1:1:3", "--subset", "100")
    lab.start_daemon("cpu:1", "--export", "")
    lab.wait_job(done, ("done",))
    lab.stop_daemon()
    proc = lab.popen("submit", "--wait", "surface", *SLOW_SPEC)  # no daemon: it waits
    try:
        wait_until("the job queued", lambda: len(json.loads(lab.cli("ls", "--json").stdout)) == 1, 60)
        (left,) = [job["id"] for job in json.loads(lab.cli("ls", "--json").stdout)]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == (
        f"lstui: interrupted; job {left} is still queued (no daemon runs on this home): "
        f"lstui cancel {left} drops it")
    assert lab.job(left)["state"] == "queued"
    # what the follow of several jobs names, one of them finished: the unfinished only
    from click import Context

    from lstui.cli import _left_note, cli
    from lstui.store import Store

    with Store(lab.home / "lstui.db") as store:
        note = _left_note(Context(cli, obj={"home": lab.home}), store, [done, left])
    assert note == f"; job {left} is still queued (no daemon runs on this home): lstui cancel {left} drops it"


def test_a_stopped_daemon_leaves_its_running_job_queued_not_stalled(lab: Lab) -> None:
    """A job a stop took its workers from stayed `running` (shown stalled) until the next
    daemon started: no worker held it."""
    lab.start_daemon("cpu:1", "--export", "")
    job_id = lab.submit("surface", *SLOW_SPEC)
    lab.wait_job(job_id, ("running",))
    wait_until("a point", lambda: lab.job(job_id)["done_points"] > 0)
    lab.stop_daemon()
    job = lab.job(job_id)
    assert job["state"] == "queued", lab.diagnose(job_id)
    assert job["run_since"] is None
    log = (lab.home / "daemon.log").read_text()  # it said neither why nor when it stopped
    assert "INFO stopping (SIGTERM): its workers finish the point in hand" in log, log[-2000:]
    assert "INFO stopped after " in log


def test_a_daemon_hung_up_on_says_so_in_its_log(lab: Lab) -> None:
    """SIGHUP (a --foreground daemon's SSH connection dropped) stopped it without a word."""
    from tests.lab import _default_hangup

    pid = lab.start_daemon("cpu:1", "--export", "", preexec_fn=_default_hangup)  # (not nohup's)
    os.kill(pid, signal.SIGHUP)
    wait_until("the daemon to stop", lambda: lab.daemon_pid() is None)
    assert "INFO stopping (SIGHUP): its workers finish the point in hand" in (lab.home / "daemon.log").read_text()


def test_a_foreground_daemon_hung_up_on_lets_its_workers_finish_their_points(lab: Lab) -> None:
    """An SSH link dropped under `daemon start --foreground`: the terminal's hang-up
    reaches its whole process group. The workers died of it mid-point, which counted
    against the unit (three hang-ups failed a sound job: "it may be crashing the
    worker"), and the daemon, logging to the dead terminal only, left no line in
    daemon.log."""
    import subprocess
    import sys

    from tests.lab import _default_hangup

    job_id = lab.submit("surface", *SLOW_SPEC)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstui.cli", "daemon", "start", "--foreground", "--devices", "cpu:1",
         "--export", ""], env=lab.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=_default_hangup)
    lab.daemon_pids.append(proc.pid)  # (its group, killed at teardown whatever happens)
    lab.wait_job(job_id, ("running",))
    wait_until("a point", lambda: lab.job(job_id)["done_points"] > 0)
    os.killpg(proc.pid, signal.SIGHUP)  # what the terminal does to its foreground job
    assert proc.wait(timeout=120) == 0
    wait_until("its workers gone", lambda: not lab.lab_pids())
    units = lab.query("SELECT state, attempts, last_error FROM units WHERE job_id = ?", (job_id,))
    assert not [u for u in units if u["last_error"] or (u["state"] != "done" and u["attempts"])], lab.diagnose(job_id)
    events = " ".join(e["message"] for e in lab.query("SELECT message FROM events WHERE job_id = ?", (job_id,)))
    assert "died" not in events, events
    assert lab.job(job_id)["state"] == "queued"
    log = (lab.home / "daemon.log").read_text()
    assert f"daemon[{proc.pid}] INFO stopping (SIGHUP): its workers finish the point in hand" in log, log[-2000:]
    assert " worker[" in log and " points, " in log, log[-2000:]  # its workers' lines too (their summary)


def _hangup_ignored() -> None:
    """(In the child, before exec: as `nohup` starts a command.)"""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def test_a_foreground_daemon_under_nohup_runs_on_when_hung_up(lab: Lab) -> None:
    """`nohup lstui daemon start --foreground &`: the daemon (and, with the hang-up
    handled, its workers) replaced nohup's ignored SIGHUP, and stopped with the terminal."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "lstui.cli", "daemon", "start", "--foreground", "--devices", "cpu:1",
         "--export", ""], env=lab.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=_hangup_ignored)
    lab.daemon_pids.append(proc.pid)
    (worker,) = lab.wait_workers(1)
    os.killpg(proc.pid, signal.SIGHUP)
    time.sleep(3)
    assert proc.poll() is None and pid_alive(worker["pid"]), (lab.home / "daemon.log").read_text()[-1500:]
    lab.stop_daemon()
    assert proc.wait(timeout=60) == 0


_SLOW_DAEMON_START = """
import sys, time
if "lstui.scheduler.daemon" in sys.orig_argv:
    time.sleep(4)  # a daemon slow to start (a loaded machine): the window an interrupt hit
"""


@pytest.mark.parametrize("command", [("daemon", "start", "--devices", "cpu:1"), ("demo", "--quick")])
def test_daemon_start_interrupted_leaves_no_daemon_running(lab: Lab, tmp_path: Path, command: tuple[str, ...]) -> None:
    """Ctrl-C while `daemon start` (or the demo) waited for its daemon said "interrupted",
    and the daemon, detached, ran on and computed the queue (the demo's jobs too, with no
    word that they were queued)."""
    import subprocess
    import sys

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_SLOW_DAEMON_START)
    env = {**lab.env, "PYTHONPATH": f"{hook}{os.pathsep}{lab.env.get('PYTHONPATH', '')}"}
    from tests.lab import _default_hangup

    proc = subprocess.Popen([sys.executable, "-m", "lstui.cli", *command], cwd=tmp_path,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_hangup)
    # (the demo trains its two CNNs first: 36 s alone, over 120 s on a loaded 2-core machine)
    spawned = wait_until("the daemon's process", lambda: lab.lab_pids(), timeout_s=300)
    lab.daemon_pids.extend(spawned)
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    said = "lstui: interrupted; the daemon it was starting was stopped" if command[0] == "daemon" else (
        "lstui: interrupted")
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == said, (out, err)
    assert "daemon started" not in out and "started one for the demo" not in out
    if command[0] == "demo":
        assert "the demo's jobs 1–8 stay queued" in out + err, (out, err)
    wait_until("no daemon process", lambda: not lab.lab_pids(), timeout_s=30)
    assert lab.daemon_pid() is None
    status = lab.cli("daemon", "status", check=False)
    assert (status.returncode, status.stdout.strip()) == (3, "daemon: not running"), status


_CTRL_C_WHILE_NUMPY_LOADS = """
import importlib.abc, os, signal, sys


class CtrlC(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "numpy":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, the real signal, as numpy loads
        return None


sys.meta_path.insert(0, CtrlC())
"""

_CTRL_C_AGAIN_AT_EXIT = """
import atexit, os, signal, time


def again():
    os.kill(os.getpid(), signal.SIGINT)  # an impatient second Ctrl-C, as the process ends
    time.sleep(0.2)


atexit.register(again)
"""


@pytest.mark.parametrize("hook", ["while the modules load", "again while it ends"])
def test_ctrl_c_at_any_moment_of_a_command_is_one_line(lab: Lab, tmp_path: Path, hook: str) -> None:
    """Ctrl-C while `lstui`'s modules loaded printed a 15-line traceback of the import
    (numpy's); a second Ctrl-C after "lstui: interrupted" one of PyTorch's exit handlers."""
    import subprocess
    import sys

    folder = tmp_path / "hook"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(  # (after the first, a second Ctrl-C as the process ends)
        (_CTRL_C_WHILE_NUMPY_LOADS if hook == "while the modules load" else "") + _CTRL_C_AGAIN_AT_EXIT)
    env = {**lab.env, "PYTHONPATH": f"{folder}{os.pathsep}{lab.env.get('PYTHONPATH', '')}"}
    if hook == "while the modules load":
        args = ["daemon", "status"]
    else:  # a run interrupted: SIGINT at its first point, then again at exit
        args = ["run", "surface", *SLOW_SPEC, "--out", str(tmp_path / "out"), "--device", "cpu", "--no-figure"]
    from tests.lab import _default_hangup

    proc = subprocess.Popen([sys.executable, "-m", "lstui", *args], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_hangup)
    if hook != "while the modules load":
        wait_until("a point", lambda: (tmp_path / "out" / "surface.h5").exists(), timeout_s=120)
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert err.strip().splitlines()[-1] == "lstui: interrupted" and "Traceback" not in err, err


def test_temporary_files_of_killed_writes_are_removed_once_stale(tmp_path: Path) -> None:
    old = tmp_path / ".surface_train_loss_2dcontour.ab12cd.pdf.tmp"
    fresh = tmp_path / ".surface.h5.xy98zz.tmp"  # a write going on now, in another process
    kept = [tmp_path / "surface.h5", tmp_path / ".hidden"]
    for path in (old, fresh, *kept):
        path.write_bytes(b"x")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    assert remove_stale_temporaries(tmp_path) == [old]
    assert not old.exists() and fresh.exists() and all(p.exists() for p in kept)


def test_daemon_status_says_which_worker_has_gone_silent(lab: Lab) -> None:
    """A worker stopped (SIGSTOP, or stuck) was listed as working on its job with no sign
    that it had not been heard from for a while; and `ls` and `show` said its job was
    running, its elapsed time and ETA growing (2m20s → 12m05s in a minute stopped)."""
    lab.start_daemon("cpu:1", "--export", "")
    (worker,) = wait_until("a worker", lambda: lab.live_workers())
    job_id = lab.submit("surface", *SLOW_SPEC)
    wait_until("a point", lambda: lab.job(job_id)["done_points"] > 0)
    os.kill(worker["pid"], signal.SIGSTOP)
    try:
        time.sleep(36)  # past 30 s without a heartbeat (it beats every 5 s)
        out = lab.cli("daemon", "status").stdout
        listed = lab.cli("ls").stdout
        listed_json = json.loads(lab.cli("ls", "--json").stdout)
        shown = lab.cli("show", str(job_id), "--no-plot").stdout
    finally:
        os.kill(worker["pid"], signal.SIGCONT)
    line = next(line for line in out.splitlines() if f"worker {worker['id']} " in line)
    # (36 s stopped, and up to 5 s since its last beat before: 41 s under load)
    assert re.search(r"\(no heartbeat for (3\d|4\d) s\)", line), out
    row = next(line.split() for line in listed.splitlines() if line.split()[:1] == [str(job_id)])
    assert row[1:3] == ["ST", "stalled"] and row[9] == "-", listed  # (no ETA)
    assert listed_json[0]["stalled"] is True and listed_json[0]["eta_s"] is None, listed_json
    assert re.search(r"^  state     stalled \(ST\): its worker has been silent \S+ \(stopped", shown, re.M), shown
    assert "(stopped, as by Ctrl-Z or SIGSTOP, or hung; lstui daemon status)" in shown, shown

    def heard_again() -> bool:
        return "no heartbeat" not in lab.cli("daemon", "status").stdout

    wait_until("a heartbeat again", heard_again)
    assert lab.wait_job(job_id)["state"] == "done"


def test_a_stopped_worker_is_killed_past_its_lease_and_its_job_goes_on(lab: Lab) -> None:
    """A worker stopped with SIGSTOP lost its lease and its unit went back, but nothing
    took its place: its job read running for ever, every job queued behind it waited."""
    from lstui.scheduler.daemon import SILENT_STOPPED_AFTER_S, start_daemon

    # a short lease and wait (flags of the daemon's own, not of `lstui daemon start`)
    lab.daemon_pids.append(start_daemon(lab.home, "cpu:1", extra_args=["--export", "", "--lease", "3",
                                                                         "--kill-after", "1"]))
    job_id = lab.submit("surface", *SLOW_SPEC)
    lab.wait_job(job_id, ("running",))
    wait_until("a point", lambda: lab.job(job_id)["done_points"] > 0)
    (worker,) = lab.live_workers()
    os.kill(worker["pid"], signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        done = lab.wait_job(job_id, ("done",), timeout_s=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker["pid"], signal.SIGCONT)
    assert time.monotonic() - stopped > 3 + SILENT_STOPPED_AFTER_S  # not killed before its lease and wait
    assert done["done_points"] == 49
    assert lab.query("SELECT count(*) AS n FROM points WHERE job_id = ?", (job_id,))[0]["n"] == 49
    said = lab.events(job_id)
    assert any(f"worker {worker['id']} on cpu was stopped (SIGSTOP?)" in m and "was killed; a fresh one starts" in m
               for m in said), said
    assert not pid_alive(worker["pid"])


def test_a_worker_hung_holding_the_interpreter_is_killed_and_its_job_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A point stuck in a C call that keeps the GIL: the worker's lease keeper never ran
    again, so neither its heartbeat nor its own hung-point limit came; its lease expired,
    but the worker held its device for good, its job reading running. Silent past its
    lease, --kill-after and $LSTUI_POINT_TIMEOUT_S, it is killed and a fresh one starts."""
    from lstui.scheduler.daemon import start_daemon
    from tests.faults.support import write_fault_models

    modules = write_fault_models(tmp_path / "modules")
    hold = modules / "hold_now"
    lab = Lab(tmp_path / "home", modules)
    monkeypatch.setenv("LSTUI_POINT_TIMEOUT_S", "2")
    monkeypatch.setenv("PYTHONPATH", lab.env["PYTHONPATH"])
    try:
        lab.daemon_pids.append(start_daemon(lab.home, "cpu:1", extra_args=["--export", "", "--lease", "3",
                                                                             "--kill-after", "1"]))
        job = lab.submit("surface", "--model", "fault_models:holding", "--data", "digits", "--subset", "150",
                         "--x", "-1:1:7", "--y", "-1:1:7")
        wait_until("a point", lambda: lab.job(job)["done_points"] > 0)
        (worker,) = lab.live_workers()
        hold.touch()
        wait_until("the hung worker said", lambda: any("hung (its heartbeat stopped" in m for m in lab.events(job)),
                   timeout_s=60)
        hold.unlink()  # the fresh worker's points pass
        done = lab.wait_job(job, ("done",), timeout_s=120)
        said = lab.events(job)
        points = lab.query("SELECT count(*) AS n FROM points WHERE job_id = ?", (job,))[0]["n"]
    finally:
        hold.unlink(missing_ok=True)
        lab.teardown()
    assert done["done_points"] == 49 and points == 49
    hung = next(m for m in said if "hung (its heartbeat stopped" in m)
    assert hung.startswith(f"worker {worker['id']} on cpu hung (its heartbeat stopped, its process did not), "
                           "silent for "), hung
    assert hung.endswith("and was killed; a fresh one starts"), hung
    assert not pid_alive(worker["pid"])


def test_a_temporary_file_whose_writer_was_killed_is_removed_at_once(tmp_path: Path) -> None:
    """A daemon killed while it wrote a figure left `.NAME.XXXX.pdf.tmp`; its successor,
    restarted within the ten minutes, left it there for good. A temporary file names its
    writer now: one whose writer is gone (on this machine) goes at once, one whose
    writer runs, or that another machine writes, stays."""
    import socket
    import subprocess

    from lstui.results.h5files import temporary_prefix

    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()
    killed = tmp_path / f".surface_train_loss_2dcontour.pid{dead.pid}@{host}-kgaa_icb.pdf.tmp"
    running = tmp_path / f"{temporary_prefix('surface.h5')}xy98zz.tmp"  # this process: writing now
    elsewhere = tmp_path / f".directions.h5.pid{dead.pid}@another-{host}-ab12.tmp"  # a Ray node's
    for path in (killed, running, elsewhere):
        path.write_bytes(b"x")
    assert remove_stale_temporaries(tmp_path) == [killed]
    assert running.exists() and elsewhere.exists()


def test_a_worker_crashed_in_native_code_leaves_its_stack_in_the_log(lab: Lab) -> None:
    """A segmentation fault (a CUDA library's, say) left only the daemon's "was killed by
    signal 11": nothing said where the worker was."""
    lab.start_daemon("cpu:1", "--export", "")
    job_id = lab.submit("surface", *SLOW_SPEC)
    lab.wait_job(job_id, ("running",))
    wait_until("a point", lambda: lab.job(job_id)["done_points"] > 0)
    (worker,) = lab.live_workers()
    os.kill(worker["pid"], signal.SIGSEGV)
    lab.wait_job(job_id, ("done",))
    log = (lab.home / "daemon.log").read_text()
    assert "Fatal Python error: Segmentation fault" in log, log
    assert "was killed by signal 11" in log, log


def test_a_worker_hung_in_a_cancelled_job_is_killed_and_the_queue_moves_on(tmp_path: Path) -> None:
    """A cancelled job's worker stuck inside a point (a hung data loader or device call)
    kept its job in hand for good: the next job stayed queued until `daemon stop` killed
    the worker 30 s into its stop."""
    from tests.faults.support import write_fault_models

    modules = write_fault_models(tmp_path / "modules")  # its own: the file below hangs its model
    hang = modules / "hang_now"
    lab = Lab(tmp_path / "home", modules)
    try:
        _hung_worker_killed(lab, hang)
    finally:
        hang.unlink(missing_ok=True)
        lab.teardown()


def _hung_worker_killed(lab: Lab, hang: Path) -> None:
    lab.start_daemon("cpu:1", "--export", "", "--kill-after", "3")
    stuck = lab.submit("surface", "--model", "fault_models:hanging", "--data", "digits", "--subset", "150",
                       "--x", "-1:1:7", "--y", "-1:1:7")
    lab.wait_job(stuck, ("running",))
    wait_until("a point", lambda: lab.job(stuck)["done_points"] > 0)
    hang.touch()
    behind = lab.submit("surface", "--model", "mlp", "--data", "digits", "--subset", "150", "--x", "-1:1:3")
    assert lab.cli("cancel", str(stuck)).returncode == 0
    done = lab.wait_job(behind, ("done",), timeout_s=90)
    assert done["done_points"] == 3
    said = lab.events()
    assert any(f"was still computing a point of job {stuck}, cancelled" in m and "was killed" in m for m in said), said
    assert lab.job(stuck)["state"] == "cancelled"


def test_a_job_whose_worker_keeps_exiting_says_how_it_ended(tmp_path: Path) -> None:
    """"unit 0 lost its worker 3 times, last because its worker died (worker 5); it may be
    crashing the worker (out of memory?)": daemon.log had "exited with 7", the job not."""
    from tests.faults.support import write_fault_models

    modules = write_fault_models(tmp_path / "modules")
    (modules / "exit_now").touch()  # from the first forward pass the worker prepares the job with
    lab = Lab(tmp_path / "home", modules)
    try:
        lab.start_daemon("cpu:1", "--export", "")
        job = lab.submit("surface", "--model", "fault_models:exiting", "--data", "digits", "--subset", "50",
                         "--x", "-1:1:3")
        failed = lab.wait_job(job, ("failed",), timeout_s=120)
    finally:
        lab.teardown()
    assert "lost its worker 3 times, last because its worker died: it exited with 7" in failed["error"], failed
    assert "out of memory" not in failed["error"]


def test_a_daemon_whose_pid_file_went_is_found_by_its_lock_and_stopped(lab: Lab) -> None:
    """With daemon.pid damaged (or moved aside, before the daemon writes it again), status
    said "running (pid None) on " and `daemon stop` "its pid file is unreadable", exit 1:
    nothing stopped it but a hunt for its pid."""
    pid = lab.start_daemon("cpu:1", "--export", "")
    (lab.home / "daemon.pid").write_text("{damaged")
    status = lab.cli("daemon", "status").stdout
    assert status.splitlines()[0] == (f"daemon: running (pid {pid}) (its pid file is unreadable: what it runs "
                                      "on is not known)"), status
    stopped = lab.cli("daemon", "stop")
    assert stopped.returncode == 0 and f"(pid {pid}) stopped" in stopped.stdout, stopped
    assert not pid_alive(pid)


def test_status_after_a_daemon_was_killed_names_its_stalled_jobs(lab: Lab) -> None:
    pid = lab.start_daemon("cpu:1", "--export", "")
    job_id = lab.submit("surface", *SLOW_SPEC)
    lab.wait_job(job_id, ("running",))
    os.kill(pid, signal.SIGKILL)
    wait_until("the daemon gone", lambda: not pid_alive(pid))
    status = lab.cli("daemon", "status", check=False)
    assert status.returncode == 3
    assert status.stdout.strip() == (f"daemon: not running; job {job_id} stalled (left running by a daemon that "
                                     "ended without stopping): lstui daemon start resumes it"), status.stdout
    said = lab.cli("daemon", "status", "--json", check=False)
    assert said.returncode == 3 and json.loads(said.stdout)["stalled_jobs"] == [job_id], said


def test_a_daemon_killed_with_its_workers_in_the_same_unit_three_times_fails_no_job(lab: Lab) -> None:
    """A machine restarted (or the daemon's group killed) three times while one unit was in
    hand failed a sound job: "lost its worker 3 times … it may be crashing the worker",
    right after `daemon status` said `daemon start` resumes it. A daemon that starts gives
    back the units of the workers that ended with the daemon before it, uncounted."""
    job_id = lab.submit("--unit-size", "49", "surface", *SLOW_SPEC)

    def holder() -> list[int]:  # the pid of the live worker holding the unit (not one killed before)
        rows = lab.query("SELECT w.pid FROM units u JOIN workers w ON w.id = u.lease_owner"
                         " WHERE u.job_id = ? AND u.state = 'leased'", (job_id,))
        return [r["pid"] for r in rows if pid_alive(r["pid"])]

    for _ in range(3):
        pid = lab.start_daemon("cpu:1", "--export", "")
        (worker_pid,) = wait_until("the unit in a live worker's hand", holder, timeout_s=60)
        time.sleep(0.3)
        os.killpg(pid, signal.SIGKILL)  # (its own session: the daemon and its workers, as a restart)
        pids = (pid, worker_pid)
        wait_until("the daemon and its worker gone", lambda pids=pids: not any(map(pid_alive, pids)))
    lab.start_daemon("cpu:1", "--export", "")
    done = lab.wait_job(job_id, ("done", "failed"), timeout_s=120)
    assert done["state"] == "done", lab.events(job_id)
    assert lab.query("SELECT count(*) AS n FROM points WHERE job_id = ?", (job_id,))[0]["n"] == 49
    said = lab.events(job_id)
    assert sum("ended with a daemon that ended without stopping (killed, or the machine restarted); not counted "
               "against the unit" in m for m in said) == 3, "\n".join(said)


def test_a_point_that_hangs_ends_its_worker_and_the_job_goes_on(tmp_path: Path) -> None:
    """A point stuck in a device call that never returns (its worker alive, its lease
    kept by the keeper's thread) held its job "running" for good, the queue behind it
    waiting. Past $LSTUI_POINT_TIMEOUT_S the worker writes what it has, counts the
    unit's try and ends; a fresh one computes the rest."""
    from tests.faults.support import write_fault_models

    modules = write_fault_models(tmp_path / "modules")
    hang = modules / "hang_now"
    lab = Lab(tmp_path / "home", modules)
    lab.env["LSTUI_POINT_TIMEOUT_S"] = "3"
    try:
        lab.start_daemon("cpu:1", "--export", "")
        job = lab.submit("surface", "--model", "fault_models:hanging", "--data", "digits", "--subset", "150",
                         "--x", "-1:1:7", "--y", "-1:1:7")
        wait_until("a point", lambda: lab.job(job)["done_points"] > 0)
        hang.touch()
        wait_until("the hung point said", lambda: any("took over" in m for m in lab.events(job)), timeout_s=60)
        hang.unlink()  # the fresh worker's points pass
        done = lab.wait_job(job, ("done",), timeout_s=120)
        said = lab.events(job)
        troubles = lab.events()
    finally:
        hang.unlink(missing_ok=True)
        lab.teardown()
    assert done["done_points"] == 49
    hung = [m for m in said if "took over" in m]
    assert hung and "on cpu (hung?; LSTUI_POINT_TIMEOUT_S in the daemon's environment gives points longer)" in hung[0]
    assert any("exited with 4; restarting it" in m for m in troubles), troubles


def test_a_bad_point_timeout_is_refused_when_the_daemon_starts(lab: Lab) -> None:
    lab.env["LSTUI_POINT_TIMEOUT_S"] = "soon"
    done = lab.cli("daemon", "start", "--devices", "cpu:1", check=False)
    assert done.returncode == 1, done
    assert one_error_line(done.stderr) == ("lstui: error: LSTUI_POINT_TIMEOUT_S='soon': give the seconds a point "
                                           "may take before it is taken for hung, above 0 (default 900)")
    assert lab.daemon_pid() is None


def test_a_stopped_daemon_is_said_stopped_and_daemon_stop_ends_it_at_once(lab: Lab) -> None:
    """Ctrl-Z on `daemon start --foreground` (or SIGSTOP): status said "running", and
    `daemon stop` waited 60 s, then blamed a worker's point or the database."""
    pid = lab.start_daemon("cpu:1", "--export", "")
    lab.wait_workers(1)
    assert os.getpgid(pid) == pid  # (its own session: the stop below reaches none of the tests)
    os.killpg(pid, signal.SIGSTOP)  # the daemon and its workers, as Ctrl-Z stops its job
    try:
        status = lab.cli("daemon", "status").stdout
        assert (f"  but stopped (Ctrl-Z or SIGSTOP): it computes nothing until continued "
                f"(kill -CONT {pid}); lstui daemon stop continues and stops it") in status.splitlines(), status
        started = time.monotonic()
        stopped = lab.cli("daemon", "stop")
        assert stopped.stdout.startswith(f"daemon (pid {pid}) stopped"), stopped
        assert time.monotonic() - started < 30
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGCONT)


def test_a_daemon_stopped_with_its_workers_and_continued_alone_continues_them(lab: Lab) -> None:
    """Ctrl-Z of `daemon start --foreground` stops its workers with it; `kill -CONT` of the
    daemon's pid, as `daemon status` says, continued it alone: its workers stayed stopped
    until killed past their leases, their units given back."""
    from lstui.scheduler.daemon import process_stopped

    pid = lab.start_daemon("cpu:1", "--export", "")
    (worker,) = lab.wait_workers(1)
    os.killpg(pid, signal.SIGSTOP)  # (its own session: as Ctrl-Z stops its job)
    try:
        wait_until("the worker stopped", lambda: process_stopped(worker["pid"]), 10)
        status = lab.cli("daemon", "status").stdout  # (detached: no terminal to fg it in)
        assert f"it computes nothing until continued (kill -CONT {pid}); lstui daemon stop" in status, status
        os.kill(pid, signal.SIGCONT)
        wait_until("the worker continued by the daemon", lambda: not process_stopped(worker["pid"]), 20)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGCONT)
    assert pid_alive(worker["pid"])
    assert "was stopped with it: continued" in (lab.home / "daemon.log").read_text()


def test_a_daemon_stopped_alone_is_said_to_leave_its_workers_computing(lab: Lab) -> None:
    """`kill -STOP` of the daemon alone: status said "it computes nothing" while its
    workers went on computing jobs (their files and figures waited), and the TUI said
    "daemon running"."""
    from lstui.scheduler.daemon import daemon_status
    from lstui.tui.widgets._devices import daemon_text, start_refused

    pid = lab.start_daemon("cpu:1", "--export", "")
    lab.wait_workers(1)
    os.kill(pid, signal.SIGSTOP)
    try:
        status = lab.cli("daemon", "status").stdout
        assert ("  but stopped (Ctrl-Z or SIGSTOP): its workers go on computing, but the files and figures of the "
                "jobs that finish wait, and no worker is restarted, until continued (kill "
                f"-CONT {pid}); lstui daemon stop continues and stops it") in status.splitlines(), status
        seen = daemon_status(lab.home)
        assert seen.running and seen.suspended
        assert daemon_text(seen).plain == f"○ daemon suspended (Ctrl-Z or SIGSTOP): kill -CONT {pid}"
        assert daemon_text(seen, short=True).plain == f"○ daemon suspended (kill -CONT {pid})"  # (80 columns)
        # the TUI's `d` said "a daemon already runs"
        assert start_refused(seen) == f"the daemon (pid {pid}) is suspended (Ctrl-Z or SIGSTOP): kill -CONT {pid} continues it"
        # a job its workers finish meanwhile: its files wait; `rm` said "being written … try
        # again in a moment", `show` "(files being written by the daemon)", for good
        job_id = lab.submit("surface", "--model", "mlp", "--x", "-1:1:3", "--subset", "50")
        lab.wait_job(job_id, ("done",))
        refused = lab.cli("rm", str(job_id), check=False)
        assert refused.returncode == 2 and "files wait for the daemon, which is suspended" in refused.stderr, refused
        shown = lab.cli("show", str(job_id), "--no-plot").stdout
        assert "(files not written yet: the daemon is suspended; lstui daemon status says how" in shown, shown
        listed = lab.cli("ls", "--all").stderr  # (`ls` said nothing of folders without figures)
        assert (f"note: the figures and surface file of job {job_id} are not written yet: the daemon is "
                "suspended (lstui daemon status says how to continue it)") in listed, listed
    finally:
        os.kill(pid, signal.SIGCONT)
    assert not daemon_status(lab.home).suspended
    assert daemon_text(daemon_status(lab.home)).plain.startswith("● daemon running")


def test_daemon_status_right_after_start_says_its_workers_are_starting(lab: Lab) -> None:
    """"0 of 2 workers running", alone, for the 12-20 s its workers load PyTorch, read as a
    failure."""
    lab.cli("daemon", "start", "--devices", "cpu:1", "--export", "", preexec_fn=None)
    lab.daemon_pids.append(lab.daemon_pid())
    status = lab.cli("daemon", "status").stdout.splitlines()
    if "  0 of 1 workers running" in status:  # (a fast machine may list it already)
        after = status[status.index("  0 of 1 workers running") + 1]
        assert after.startswith("  (starting: the daemon started ") and "loads PyTorch" in after, status
    lab.wait_workers(1)
    assert not any("starting" in line for line in lab.cli("daemon", "status").stdout.splitlines())
    lab.stop_daemon()


def test_a_closed_stdout_or_stdin_is_no_traceback(lab: Lab) -> None:
    """`lstui ls >&-` (Python's sys.stdout then None) ended in an AttributeError traceback;
    so did `lstui show 1 >&-` and `lstui <&-`."""
    job = lab.submit("surface", "--model", "mlp", "--x", "-1:1:3", "--subset", "50")
    for args, fd, code in ((("ls", "--all"), 1, 0), (("show", str(job)), 1, 0), ((), 0, 2)):
        ran = lab.cli(*args, check=False, preexec_fn=lambda fd=fd: os.close(fd))  # type: ignore[misc]
        assert ran.returncode == code and "Traceback" not in ran.stderr, (args, ran)


def test_pytorch_refused_by_a_memory_limit_is_one_line(lab: Lab) -> None:
    """Under `ulimit -v` (a login node's), PyTorch's libraries cannot be mapped: `run` (and
    `submit` of a checkpoint) ended in an ImportError traceback."""
    import resource

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1_500_000 * 1024, 1_500_000 * 1024))

    out = lab.home.parent / "run_out"
    ran = lab.cli("run", "surface", "--model", "mlp", "--x", "-1:1:3", "--subset", "50", "--out", str(out),
                  check=False, preexec_fn=limited)
    if ran.returncode == 0:  # (PyTorch loaded in 1.5 GB here: nothing to show)
        pytest.skip("PyTorch loads under this limit here")
    assert ran.returncode == 1 and "Traceback" not in ran.stderr, ran
    assert one_error_line(ran.stderr).startswith("lstui: error: cannot load PyTorch: "), ran.stderr
    assert "ulimit -v" in ran.stderr


def test_a_daemon_whose_workers_cannot_load_pytorch_says_why(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Started under `ulimit -v`, its workers exited at `import torch` and restarted in a
    loop; `daemon status` said only "exited with 1", the ImportError in daemon.log."""
    import resource

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1_500_000 * 1024, 1_500_000 * 1024))

    lab.start_daemon("cpu:1", "--export", "", preexec_fn=limited)

    def said() -> str | None:
        out = lab.cli("daemon", "status").stdout
        return out if "cannot load PyTorch" in out else None

    try:
        out = wait_until("daemon status to say why", said, 60, every_s=1)
    except AssertionError:
        if lab.live_workers():  # (PyTorch loaded in 1.5 GB here: nothing to show)
            pytest.skip("PyTorch loads under this limit here")
        raise
    assert "error: worker on cpu stopped: cannot load PyTorch: " in out and "ulimit -v" in out, out
    # a queued job's `show` says that nothing computes it (it read "queued" and waited, without a word)
    import lstui.cli
    from tests.faults.support import cli_in_process

    job = lab.submit("surface", "--model", "mlp", "--x", "-1:1:3", "--subset", "50")
    monkeypatch.setattr(lstui.cli, "STARTING_S", 0.0)  # (past the daemon's first two minutes)
    code, shown, _ = cli_in_process(["show", str(job), "--no-plot"], lab.home)
    assert code == 0 and ("note: the daemon runs no worker now: nothing computes this job (lstui daemon status "
                          "says why)") in shown, shown
    lab.stop_daemon()
