"""A worker that stopped beating (SIGSTOP, a hung device call) in the device panel:
listed, and said to be silent, while its process exists; a killed daemon's worker whose
process is gone is not listed once its heartbeat is old."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from lstui.store import Store
from lstui.tui.snapshot import StorePoller
from lstui.tui.widgets import device_lines
from tests.tui.support import Clock, fixed_devices


def test_a_stopped_worker_is_listed_as_silent_and_a_gone_one_is_not(tmp_path: Path) -> None:
    home = tmp_path / "home"
    stopped = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try:
        stopped.send_signal(signal.SIGSTOP)  # the worker of `kill -STOP`
        start = time.time()
        with Store.open_home(home, clock=lambda: start) as store:
            host = socket.gethostname()
            silent_id = store.register_worker("cpu", stopped.pid, host)
            gone_id = store.register_worker("cpu", gone.pid, host)
            store.heartbeat(silent_id, None)
            store.heartbeat(gone_id, None)
        clock = Clock(start + 10)
        poller = StorePoller(home, clock=clock, device_facts=fixed_devices)
        try:
            fresh = poller.poll()
            assert {w.id for w in fresh.workers} == {silent_id, gone_id}, "both beat 10 s ago"
            assert "silent" not in device_lines(fresh, 60, colour=False).plain
            clock.now = start + 125
            later = poller.poll()
            assert [w.id for w in later.workers] == [silent_id]
            panel = device_lines(later, 60, colour=False).plain
            assert f"worker {silent_id} silent 2m05s idle" in panel, panel
            assert f"worker {gone_id}" not in panel
        finally:
            poller.close()
    finally:
        stopped.send_signal(signal.SIGCONT)
        stopped.kill()
        stopped.wait()
