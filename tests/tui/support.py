"""Helpers of the TUI tests: a store whose content never changes (snapshots and pilot
tests without a daemon), the tiniest real job, and waiting for the app."""

from __future__ import annotations

import asyncio
import fcntl
import json
import math
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from textual.pilot import Pilot

from lstui.landscape.grid import parse_axis
from lstui.models import build_model
from lstui.scheduler.daemon import LOCK_FILE, PID_FILE
from lstui.scheduler.devices import DeviceFacts
from lstui.scheduler.submit import submit_spec
from lstui.spec import JobSpec
from lstui.store import PointRow, Store
from lstui.tui import LstuiApp
from lstui.tui.screens import NewJobScreen

T0 = 1_700_000_000.0
"""The fixed store's first moment (2023-11-14 22:13:20 UTC)."""
NOW = T0 + 900.0
"""The app's clock in tests that use the fixed store."""

GIB = 2**30
FIXED_DEVICES = (
    DeviceFacts("cuda:0", "NVIDIA H100 80GB HBM3", 87.0, int(31.5 * GIB), 80 * GIB, 61.0),
    DeviceFacts("cpu", "CPU (16 cores)", 12.0, int(9.1 * GIB), int(62.8 * GIB), None),
)


def fixed_devices() -> list[DeviceFacts]:
    return list(FIXED_DEVICES)


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def loss_at(x: float, y: float) -> float:
    """A bowl with ripples, smallest near (0.2, -0.1)."""
    return 0.25 + 2.0 * (x - 0.2) ** 2 + 1.2 * (y + 0.1) ** 2 + 0.15 * math.sin(4 * x) * math.cos(3 * y)


def point(spec: JobSpec, idx: int) -> PointRow:
    x, y = spec.grid.coordinates_of(idx)
    loss = loss_at(x, y)
    return PointRow(idx, loss, 100.0 * math.exp(-loss))


def compute_units(store: Store, worker: int, job_id: int, spec: JobSpec, clock: Clock, units: int | None = None,
                  partial: int = 0) -> None:
    """Claim and complete ``units`` units of a job (all when None); then, with
    ``partial``, store that many points of one more unit and keep its lease."""
    done = 0
    while units is None or done < units:
        claim = store.claim_unit(worker, lease_s=3600, job_ids=[job_id])
        if claim is None:
            return
        store.write_points(claim.unit_id, worker, [point(spec, i) for i in claim.todo])
        assert store.complete_unit(claim.unit_id, worker)
        clock.advance(2.0)
        done += 1
    if partial:
        claim = store.claim_unit(worker, lease_s=3600, job_ids=[job_id])
        if claim is not None:
            store.write_points(claim.unit_id, worker, [point(spec, i) for i in claim.todo[:partial]])


def build_fixed_store(home: Path) -> Path:
    """Seven jobs in every state, with deterministic points and times; returns ``home``."""
    clock = Clock()
    home.mkdir(parents=True, exist_ok=True)
    ckpt = home / "checkpoints"
    ckpt.mkdir(exist_ok=True)
    for name in ("small-batch.pt", "large-batch.pt"):  # real checkpoints: submit reads them
        torch.save(build_model("mlp", input_shape=(1, 8, 8)).state_dict(), ckpt / name)
    with Store.open_home(home, clock=clock) as store:
        gpu = store.register_worker("cuda:0", 4242, "lab")
        cpu = store.register_worker("cpu", 4243, "lab")

        done = JobSpec(model="resnet56", data="digits", x=parse_axis("-1:1:21"), y=parse_axis("-1:1:21"),
                       name="resnet56 small batch").validated()
        j1 = submit_spec(store, done, unit_size=64)
        clock.advance(10)
        compute_units(store, gpu, j1, done, clock)

        running = JobSpec(model="resnet56", data="digits", x=parse_axis("-1:1:31"), y=parse_axis("-1:1:31"),
                          name="resnet56 large batch").validated()
        j2 = submit_spec(store, running, unit_size=64)
        clock.advance(5)
        compute_units(store, gpu, j2, running, clock, units=6, partial=20)
        store.heartbeat(gpu, j2)

        interp = JobSpec(kind="interp", model="mlp", data="digits", checkpoint=str(ckpt / "small-batch.pt"),
                         checkpoint_b=str(ckpt / "large-batch.pt"), x=parse_axis("-0.5:1.5:41"),
                         dir_type="states", name="small → large").validated()
        j3 = submit_spec(store, interp, unit_size=8)
        compute_units(store, cpu, j3, interp, clock, units=3, partial=4)
        store.heartbeat(cpu, j3)

        failed = JobSpec(model="vgg9", data="digits", x=parse_axis("-1:1:11"), y=parse_axis("-1:1:11"),
                         name="vgg9 sharp").validated()
        j4 = submit_spec(store, failed, unit_size=16)
        store.fail_job(j4, "unit 0 failed 3 times: CUDA out of memory (tried to allocate 2.00 GiB)")

        queued = JobSpec(model="cnn", data="digits", x=parse_axis("-1:1:51"), y=parse_axis("-1:1:51"),
                         name="cnn wide", priority=3).validated()
        submit_spec(store, queued)

        paused = JobSpec(model="mlp", data="digits", x=parse_axis("-1:1:25"), name="mlp 1D").validated()
        j6 = submit_spec(store, paused)
        store.pause(j6)

        cancelled = JobSpec(model="mlp", data="digits", x=parse_axis("-2:2:9"), y=parse_axis("-2:2:9"),
                            name="mlp coarse").validated()
        j7 = submit_spec(store, cancelled)
        store.cancel(j7)
        clock.now = NOW - 5
        store.heartbeat(gpu, j2)
        store.heartbeat(cpu, j3)
    return home


FIXED_DAEMON_PID = 4240


@contextmanager
def holding_daemon_lock(home: Path) -> Iterator[None]:
    """This process holds ``home``'s daemon lock and pid file, which is what "a daemon
    runs on this home" means to :func:`~lstui.scheduler.daemon.daemon_status`.

    The fixed store's workers beat their hearts as a daemon's do; with the lock held its
    running jobs read as running, not stalled, while no real daemon computes (and so
    changes) them.
    """
    fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        (home / PID_FILE).write_text(json.dumps({"pid": FIXED_DAEMON_PID, "devices": ["cuda:0", "cpu"],
                                                 "started": T0}))
        yield
    finally:
        (home / PID_FILE).unlink(missing_ok=True)
        os.close(fd)


def tiny_spec(name: str = "tiny", **changes: object) -> JobSpec:
    """The smallest real job: a 5×5 surface of an MLP on 200 digits."""
    values: dict[str, object] = dict(model="mlp", data="digits", x=parse_axis("-1:1:5"),
                                     y=parse_axis("-1:1:5"), subset="200", name=name)
    values.update(changes)
    return JobSpec(**values).validated()  # type: ignore[arg-type]


def fixed_app(home: Path, **kwargs: object) -> LstuiApp:
    """The app on a fixed store with a frozen clock and made-up devices."""
    return LstuiApp(home, clock=lambda: NOW, device_facts=fixed_devices, poll_s=0.2, **kwargs)  # type: ignore[arg-type]


async def open_form(pilot: Pilot[None]) -> NewJobScreen:
    """Open the new-job form (``n``) once the app has settled; returns it."""
    await settle(pilot)
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, NewJobScreen), 5, "the form")
    form = pilot.app.screen
    assert isinstance(form, NewJobScreen)
    return form


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 30.0,
                   what: str = "condition") -> None:
    """Let the app run until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def preview_ready(app: LstuiApp) -> bool:
    """The main screen shows the selected job's preview (or its reason for none)."""
    selected = app.main.table.selected_job_id()
    snap = app.snapshot
    return (
        selected is not None
        and snap is not None
        and snap.preview is not None
        and snap.preview.job_id == selected
        and app.main.preview.job_id == selected
        and app.main.preview.shown_data is not None
    )


async def settle(pilot: Pilot[None]) -> None:
    """Wait for the first snapshots and the selected job's preview, then a repaint."""
    app = pilot.app
    assert isinstance(app, LstuiApp)
    await wait_for(pilot, lambda: app.refreshes >= 2 and preview_ready(app), 20, "the preview")
    await pilot.pause(0.2)


def drive_app(home: Path, steps: Callable[[Pilot[None], LstuiApp], Awaitable[None]], *,
              size: tuple[int, int] = (80, 24), **run_test: object) -> None:
    """Run the fixed app on ``home`` at ``size``, settled (:func:`settle`), through
    ``steps(pilot, app)``."""

    async def drive() -> None:
        app = fixed_app(home)
        async with app.run_test(size=size, **run_test) as pilot:  # type: ignore[arg-type]
            await settle(pilot)
            await steps(pilot, app)

    asyncio.run(drive())


def screen_text(app: LstuiApp) -> list[str]:
    """The lines the terminal shows now, as text (every screen and toast composited)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def select_job(pilot: Pilot[None], job_id: int) -> None:
    """Move the table's selection to ``job_id`` with the arrow keys, as a person would."""
    app = pilot.app
    assert isinstance(app, LstuiApp)
    table = app.main.table
    await wait_for(pilot, lambda: job_id in table._shown, 10, f"job {job_id} in the table")
    for _ in range(table.row_count + 1):
        current = table.selected_job_id() or 0
        if current == job_id:
            return
        await pilot.press("up" if current > job_id else "down")
    raise AssertionError(f"could not select job {job_id}")
