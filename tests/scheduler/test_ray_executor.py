"""Ray devices: a real one-node Ray cluster (``ray start --head``, 2 CPUs, no GPU) and a
real daemon whose workers compute on its actors (``--devices ray-cpu:2``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lstui.store import JobState, Store
from tests.scheduler.support import SLOW_SPEC, Lab, assert_same_surface, wait_until

pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[2]
RAY = Path(sys.executable).with_name("ray")
HERE = f"ray:{socket.gethostname()}/cpu"
"""The device of a worker whose actor computes on this machine's CPU."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cluster_up(address: str, env: dict[str, str]) -> bool:
    code = f"import ray; ray.init(address={address!r}); print(ray.cluster_resources().get('CPU'))"
    probe = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    return probe.returncode == 0 and probe.stdout.strip().endswith("2.0")


@pytest.fixture(scope="module")
def ray_cluster(lab_modules: Path) -> Iterator[str]:
    """The address of a Ray cluster of one node, stopped (its process group) afterwards.
    Its processes see the lab's test models, as a real cluster's nodes see shared files."""
    with one_node_cluster(lab_modules) as address:
        yield address


@contextlib.contextmanager
def one_node_cluster(lab_modules: Path) -> Iterator[str]:
    """A Ray cluster of one node (2 CPUs) for the time of the block; its address."""
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # Ray's socket paths must be short
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(lab_modules), str(REPO)]))
    with open(temp / "head.log", "wb") as log:
        head = subprocess.Popen(
            [str(RAY), "start", "--head", "--block", "--port", str(port), "--node-ip-address", "127.0.0.1",
             "--num-cpus", "2", "--num-gpus", "0", "--object-store-memory", str(80 * 2**20),
             "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", str(temp)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        wait_until("the Ray cluster", lambda: head.poll() is None and _cluster_up(address, env), 90, every_s=1)
        yield address
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(temp, ignore_errors=True)


def _actor_pids() -> list[int]:
    """Processes of lstui's Ray actors (Ray names them ``ray::RemoteEvaluator…``)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"ray::RemoteEvaluator"):
                found.append(int(entry))
    return found


def test_two_ray_workers_compute_a_surface_equal_to_lstui_run(
    lab: Lab, ray_cluster: str, reference_surface: Path
) -> None:
    lab.start_daemon("ray-cpu:2", "--ray-address", ray_cluster)
    workers = lab.wait_workers(2)
    assert all(w["device"] == HERE for w in workers), workers
    status = lab.cli("daemon", "status").stdout
    assert "on ray-cpu ×2" in status

    job_id = lab.submit("surface", *SLOW_SPEC)
    job = lab.wait_exported(job_id)
    assert_same_surface(Path(job.results_dir) / "surface.h5", reference_surface)
    writers = lab.query("SELECT worker, count(*) AS n FROM points WHERE job_id = ? GROUP BY worker", (job_id,))
    assert {r["worker"] for r in writers} == {w["id"] for w in workers}
    assert sum(r["n"] for r in writers) == 100
    with Store.open_home(lab.home) as store:
        events = [e.message for e in store.events(job_id)]
    assert sum(f"ready on {HERE}" in e for e in events) == 2, events

    # bad input fails the job in one line, as on a local worker
    bad = lab.submit("surface", "--model", "lab_models:boom", "--x", "-1:1:5", "--subset", "200")
    failed = lab.wait_job(bad, (JobState.FAILED,))
    assert failed.error is not None and "\n" not in failed.error and "Ray" not in failed.error

    # stopping the workers (SIGTERM) is no crash: Ray's C++ printed a stack dump for each
    lab.stop_daemon()
    log = (lab.home / "daemon.log").read_text()
    assert "SIGTERM received" not in log and "PC: @" not in log, log


def test_a_killed_actor_loses_no_point_and_its_worker_comes_back(
    lab: Lab, ray_cluster: str, reference_surface: Path
) -> None:
    lab.start_daemon("ray-cpu:2", "--ray-address", ray_cluster)
    lab.wait_workers(2)
    job_id = lab.submit("surface", *SLOW_SPEC)
    wait_until("points of the job", lambda: lab.job(job_id).done_points >= 10, 60)
    victims = _actor_pids()
    assert len(victims) == 2, victims
    os.kill(victims[0], signal.SIGKILL)

    job = lab.wait_exported(job_id, timeout_s=180)
    assert_same_surface(Path(job.results_dir) / "surface.h5", reference_surface)
    rows = lab.query("SELECT count(*) AS n, count(DISTINCT idx) AS d FROM points WHERE job_id = ?", (job_id,))[0]
    assert rows["n"] == rows["d"] == 100
    wait_until("a new actor in place of the killed one", lambda: len(_actor_pids()) == 2, 60)
    assert victims[0] not in _actor_pids()
    log = (lab.home / "daemon.log").read_text()
    assert "is gone" in log
    # its worker ended saying why in one line: the ExecutorLost that Ray's module raised
    # was not the one `python -m` defines as __main__'s, and went up as a traceback
    assert "Traceback" not in log and "ExecutorLost" not in log, log
    # its unit went back at once, uncounted: not 30 s later "requeued: its lease expired"
    said = [r["message"] for r in lab.query("SELECT message FROM events WHERE job_id = ?", (job_id,))]
    assert not any("lease expired" in m for m in said), said


def test_a_hung_actor_is_stopped_its_try_counted_and_the_job_finished_by_a_fresh_one(
    lab: Lab, ray_cluster: str, reference_surface: Path
) -> None:
    """An actor that stops answering (SIGSTOP: a hung GPU, a stalled file system) held
    its job "running" for ever, its lease kept alive by its worker."""
    lab.env["LSTUI_RAY_POINT_TIMEOUT_S"] = "3"
    lab.start_daemon("ray-cpu:1", "--ray-address", ray_cluster)
    lab.wait_workers(1)
    job_id = lab.submit("surface", *SLOW_SPEC)
    wait_until("points of the job", lambda: lab.job(job_id).done_points >= 10, 60)
    (victim,) = _actor_pids()
    os.kill(victim, signal.SIGSTOP)
    try:
        job = lab.wait_exported(job_id, timeout_s=180)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
    assert_same_surface(Path(job.results_dir) / "surface.h5", reference_surface)
    said = [r["message"] for r in lab.query("SELECT message FROM events WHERE job_id = ?", (job_id,))]
    assert any("computed no point in" in m and "(attempt 1 of 3)" in m for m in said), said
    assert "Traceback" not in (lab.home / "daemon.log").read_text()


def test_ray_devices_without_a_cluster_or_its_gpus_are_refused_in_one_line(lab: Lab, ray_cluster: str) -> None:
    nobody = f"127.0.0.1:{_free_port()}"
    web = socket.socket()  # a port that answers, but as something else (Ray would try for minutes)
    web.bind(("127.0.0.1", 0))
    web.listen()
    other = f"127.0.0.1:{web.getsockname()[1]}"
    for devices, address, fragment in [
        ("ray:1", ray_cluster, f"--devices ray:1: the Ray cluster at {ray_cluster} has 0 GPUs "
                               "(its 2 CPU cores: --devices ray-cpu:N)"),
        ("ray-cpu:3", ray_cluster, f"--devices ray-cpu:3: the Ray cluster at {ray_cluster} has 2 CPUs"),
        ("ray-cpu:1", nobody, f"no Ray cluster at --ray-address {nobody}"),
        ("ray-cpu:1", other, f"--ray-address {other} answers, but not as a Ray cluster's head"),
    ]:
        started = time.monotonic()
        result = lab.cli("daemon", "start", "--devices", devices, "--ray-address", address, check=False,
                         timeout_s=120)
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"lstui: error: {fragment}"), result.stderr
        assert "`--address`" not in lines[0]  # Ray's own flag, not lstui's
        assert lab.daemon_pid() is None, f"no daemon after {time.monotonic() - started:.0f} s"
    web.close()
    # a daemon that runs already is said first, before any cluster is asked
    lab.start_daemon("cpu:1")
    again = lab.cli("daemon", "start", "--devices", "ray-cpu:1", "--ray-address", nobody, check=False)
    assert again.returncode != 0 and "a daemon already runs" in again.stderr, again.stderr


def test_a_cluster_that_goes_away_is_named_by_daemon_status(lab: Lab, lab_modules: Path) -> None:
    """The cluster stopped under a running daemon: its workers stop and restart in a loop
    that only daemon.log told of; ``daemon status`` listed no worker and no reason."""
    with one_node_cluster(lab_modules) as address:
        lab.start_daemon("ray-cpu:1", "--ray-address", address)
        lab.wait_workers(1)
        # 1600 points of about 0.04 s: still running when the cluster has stopped
        job_id = lab.submit("surface", "--model", "lab_models:slow", "--x", "-1:1:40", "--y", "-1:1:40",
                            "--subset", "300")
        wait_until("points of the job", lambda: lab.job(job_id).done_points >= 5, 60)
    # the cluster is gone: the worker's actor with it, then each new worker at ray.init;
    # the job no worker computes goes back to the queue (it said "running", with an ETA)
    lab.wait_job(job_id, (JobState.QUEUED,), timeout_s=90)

    def said() -> str | None:
        out = lab.cli("daemon", "status").stdout
        return out if "no Ray cluster at --ray-address" in out else None

    out = wait_until("daemon status to say why no worker runs", said, 150, every_s=2)
    assert "0 of 1 workers running" in out
    (line,) = [line for line in out.splitlines() if "no Ray cluster" in line]
    assert line.startswith("  error: worker on ray-cpu stopped: no Ray cluster at --ray-address")


def test_a_ray_address_nobody_answers_on_is_refused_when_ray_address_names_it(monkeypatch) -> None:
    """`--ray-address auto` (the default) with RAY_ADDRESS=HOST:PORT of no cluster: Ray
    tried for over 10 minutes, printing C++ warnings and deaf to Ctrl-C; the same address
    given as --ray-address was refused at once."""
    from lstui.errors import DaemonError
    from lstui.scheduler.ray_executor import _reachable

    nobody = f"127.0.0.1:{_free_port()}"
    monkeypatch.setenv("RAY_ADDRESS", nobody)
    started = time.monotonic()
    with pytest.raises(DaemonError, match=f"^no Ray cluster at RAY_ADDRESS={nobody} \\(--ray-address auto\\) "):
        _reachable("auto")
    assert time.monotonic() - started < 5
    monkeypatch.setenv("RAY_ADDRESS", "auto")  # Ray's own look for a cluster here: left to it
    _reachable("auto")
    monkeypatch.delenv("RAY_ADDRESS")
    _reachable("auto")
