"""Trust: no code from checkpoints, private files, no network port.

* Checkpoints load with ``weights_only=True``: a pickle whose ``__reduce__`` would run
  code is refused in one line and its code does not run; only ``--trust-checkpoint``
  unpickles it (the payload here merely creates a marker file in a tmp folder).
* The database, the daemon's log, pid and lock files, results folders, surface and
  direction files and figures are created private (0600 files, 0700 folders) even
  under umask 022.
* Neither the daemon nor its workers hold an internet socket: every ``socket:[inode]``
  in their ``/proc/<pid>/fd`` is absent from ``/proc/net/{tcp,tcp6,udp,udp6,raw,raw6}``
  (unix sockets are fine).
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

from tests.faults.conftest import FinishedLab
from tests.faults.support import (
    KILL_SPEC,
    Lab,
    cli_in_process,
    one_error_line,
    write_evil_checkpoint,
)

INET_TABLES = ("tcp", "tcp6", "udp", "udp6", "raw", "raw6")


# -- checkpoints ----------------------------------------------------------------------


def test_a_checkpoint_that_would_run_code_is_refused_and_runs_none(
    lab: Lab, tmp_path: Path
) -> None:
    marker, evil = tmp_path / "pwned", tmp_path / "evil.pt"
    write_evil_checkpoint(evil, marker)
    proc = lab.cli(
        "run", "surface", *KILL_SPEC, "--checkpoint", str(evil), "--out", str(tmp_path / "out"),
        "--device", "cpu", check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    line = one_error_line(proc.stderr)
    assert str(evil) in line and ".open)" in line and "--trust-checkpoint" in line
    assert not marker.exists()


def test_submit_refuses_it_before_queueing(tmp_path: Path) -> None:
    marker, evil = tmp_path / "pwned", tmp_path / "evil.pt"
    write_evil_checkpoint(evil, marker)
    argv = ["submit", "surface", "--model", "mlp", "--data", "digits", "--x", "-1:1:3",
            "--checkpoint", str(evil)]  # fmt: skip
    code, _, err = cli_in_process(argv, tmp_path / "home")
    line = one_error_line(err)
    assert code == 2 and "(io.open)" in line and "--trust-checkpoint" in line
    assert not marker.exists()
    code, out, _ = cli_in_process(["ls", "--all", "--json"], tmp_path / "home")
    assert code == 0 and out.strip() == "[]"


def test_the_daemon_refuses_it_too(finished_lab: FinishedLab) -> None:
    """The file was swapped in after its job was queued, past the submit's check."""
    job = finished_lab.lab.job(finished_lab.evil)
    assert job["state"] == "failed"
    assert "--trust-checkpoint" in job["error"] and "\n" not in job["error"]
    assert not finished_lab.marker.exists()


def test_only_trust_checkpoint_unpickles_it(tmp_path: Path) -> None:
    marker, evil = tmp_path / "pwned", tmp_path / "evil.pt"
    write_evil_checkpoint(evil, marker)
    argv = ["run", "surface", "--model", "mlp", "--data", "digits", "--subset", "150",
            "--x", "-1:1:3", "--checkpoint", str(evil), "--out", str(tmp_path / "out"),
            "--device", "cpu"]  # fmt: skip
    code, _, err = cli_in_process(argv, tmp_path / "home")
    assert code == 2 and not marker.exists()
    code, _, err = cli_in_process([*argv, "--trust-checkpoint"], tmp_path / "home")
    assert marker.exists()  # trusted: the pickle ran (here, only its open())
    assert code == 2 and "without a state dict" in one_error_line(err)


# -- private files --------------------------------------------------------------------


def _loose(path: Path) -> str | None:
    """Why ``path`` is not private (group or others may read, write or enter), or None."""
    mode = stat.S_IMODE(path.lstat().st_mode)
    want = 0o700 if path.is_dir() else 0o600
    return None if mode & 0o077 == 0 and mode & want == mode else f"{path}: {mode:o}"


def test_the_database_logs_and_results_are_private(finished_lab: FinishedLab) -> None:
    home = finished_lab.lab.home
    expected = ["lstui.db", "daemon.log", "daemon.pid", "daemon.lock", "results"]
    for name in expected:
        assert (home / name).exists(), name
    everything = [home, *home.rglob("*")]
    names = {p.name for p in everything}
    assert {"surface.h5", "directions.h5"} <= names
    assert any(n.endswith(".png") for n in names) and any(n.endswith(".pdf") for n in names)
    loose = [why for p in everything if p.name != ".lstui-finished" and (why := _loose(p))]
    assert loose == []


def test_the_finish_marks_are_private(finished_lab: FinishedLab) -> None:
    marks = list(finished_lab.lab.home.rglob(".lstui-finished"))
    assert marks and [why for p in marks if (why := _loose(p))] == []


# -- no network -----------------------------------------------------------------------


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _inet_inodes() -> set[str]:
    """The inodes of every internet socket of this network namespace, in any state."""
    inodes = set()
    for table in INET_TABLES:
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        inodes |= {line.split()[9] for line in lines if len(line.split()) > 9}
    return inodes


def test_the_inode_check_sees_an_internet_socket() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert _socket_inodes(os.getpid()) & _inet_inodes()


def test_neither_daemon_nor_workers_hold_a_network_socket(finished_lab: FinishedLab) -> None:
    lab = finished_lab.lab
    pids = lab.lab_pids()
    daemon = lab.daemon_pid()
    workers = [w["pid"] for w in lab.live_workers()]
    assert daemon in pids and workers and set(workers) <= set(pids)
    held = {pid: _socket_inodes(pid) for pid in pids}
    inet = _inet_inodes()
    assert {pid: inodes & inet for pid, inodes in held.items() if inodes & inet} == {}
