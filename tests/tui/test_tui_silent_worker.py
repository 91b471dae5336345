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


def test_a_running_job_whose_worker_is_silent_is_shown_stalled(tmp_path: Path) -> None:
    """As `ls` shows it: its row read running, its elapsed time and ETA growing, while
    its worker (stopped with the daemon by a Ctrl-Z) computed nothing."""
    import asyncio
    import os

    from lstui.scheduler.submit import results_root
    from lstui.tui import LstuiApp
    from lstui.tui.widgets import status_line
    from tests.tui.support import T0, holding_daemon_lock, settle, wait_for

    home = tmp_path / "home"
    with Store.open_home(home, clock=lambda: T0) as store:
        job = store.add_job(kind="surface", name="silent one", spec={"kind": "surface", "model": "mlp", "x": "-1:1:3"},
                            total_points=3, units=[[0, 1, 2]], results_root=results_root(store))
        worker = store.register_worker("cpu", os.getpid(), socket.gethostname())  # (a live process)
        assert store.claim_unit(worker, 3600.0) is not None
        store.heartbeat(worker, job)
    clock = Clock(T0 + 5)

    def state() -> str:
        return str(app.main.table.get_cell(str(job), "state").plain.strip())

    async def drive() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await wait_for(pilot, lambda: state() == "running", 5, "running while heard from")
            clock.now = T0 + 60
            await wait_for(pilot, lambda: state() == "stalled", 5, "stalled once silent")
            assert app.main.table.get_cell(str(job), "eta").plain.strip() == "-"
            assert app.snapshot is not None
            assert "1 stalled" in status_line(app.snapshot, "", devices=True, colour=False).plain

    app = LstuiApp(home, clock=clock, device_facts=fixed_devices, poll_s=0.2)
    with holding_daemon_lock(home):
        asyncio.run(drive())
