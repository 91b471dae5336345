"""The device panel (each GPU, the CPU, their workers, the daemon) and the one-line status bar."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from lstui.scheduler.daemon import DaemonStatus
from lstui.scheduler.devices import DeviceFacts
from lstui.store import JobRow, JobState, WorkerRow
from lstui.tui.cells import STATE_STYLES, bar, ellipsis, gib
from lstui.tui.snapshot import Snapshot

RUNNING_DOT = "●"
STOPPED_DOT = "○"


def daemon_text(daemon: DaemonStatus, *, short: bool = False) -> Text:
    """``● daemon running (pid 12, cpu×2)`` or ``○ daemon stopped — d: start``."""
    if daemon.running:
        text = Text(RUNNING_DOT + " ", style="green")
        text.append("daemon running", style="green")
        if not short:
            devices = Counter(daemon.devices)
            shown = ", ".join(f"{d}×{n}" if n > 1 else d for d, n in devices.items())
            extra = ", ".join(p for p in (f"pid {daemon.pid}" if daemon.pid else "", shown) if p)
            if extra:
                text.append(f" ({extra})")
        return text
    text = Text(STOPPED_DOT + " ", style="yellow")
    text.append("daemon stopped", style="bold yellow")
    text.append(" — d: start")
    return text


def _workers_by_device(workers: Sequence[WorkerRow]) -> dict[str, list[WorkerRow]]:
    out: dict[str, list[WorkerRow]] = defaultdict(list)
    for w in workers:
        out[w.device].append(w)
    return out


def _worker_line(w: WorkerRow, jobs: dict[int, JobRow], width: int) -> Text:
    text = Text(f"  worker {w.id} ")
    if w.current_job is None:
        text.append("idle", style="dim")
        return text
    job = jobs.get(w.current_job)
    text.append(f"job {w.current_job}", style=STATE_STYLES[JobState.RUNNING])
    if job is not None:
        room = width - len(text.plain) - 1
        if room > 4:
            text.append(" " + ellipsis(job.name, room))
    return text


def device_lines(snapshot: Snapshot, width: int) -> Text:
    """The device panel's text for a panel ``width`` cells wide."""
    jobs = {j.id: j for j in snapshot.jobs}
    workers = _workers_by_device(snapshot.workers)
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append_text(daemon_text(snapshot.daemon))
    bar_w = max(4, min(12, width - 22))
    shown: set[str] = set()
    for fact in snapshot.devices:
        out.append("\n")
        out.append(f"{fact.key}", style="bold")
        out.append(" " + ellipsis(fact.name, max(0, width - len(fact.key) - 2)))
        if fact.utilisation is not None:
            label = "load" if fact.key == "cpu" else "util"
            out.append(f"\n  {label} ")
            out.append_text(bar(fact.utilisation / 100, bar_w, "cyan"))
            out.append(f" {fact.utilisation:3.0f}%")
        if fact.memory_used is not None and fact.memory_total:
            out.append("\n  mem  ")
            out.append_text(bar(fact.memory_used / fact.memory_total, bar_w, "magenta"))
            out.append(f" {gib(fact.memory_used)}/{gib(fact.memory_total)} GiB")
        if fact.temperature is not None:
            out.append(f"\n  temp {fact.temperature:.0f}°C")
        for w in workers.get(fact.key, []):
            out.append("\n")
            out.append_text(_worker_line(w, jobs, width))
        shown.add(fact.key)
    for device, ws in sorted(workers.items()):
        if device in shown:
            continue
        out.append("\n")
        out.append(device, style="bold")
        for w in ws:
            out.append("\n")
            out.append_text(_worker_line(w, jobs, width))
    if not snapshot.devices and not snapshot.workers:
        out.append("\nno devices known yet", style="dim")
    return out


def status_line(snapshot: Snapshot, filter_text: str, *, devices: bool) -> Text:
    """The top line: the daemon, job counts by state, the filter and, when the device
    panel is hidden (``devices``), each device in a few words."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("lstui ", style="bold")
    text.append_text(daemon_text(snapshot.daemon, short=devices))
    counts = Counter(j.state for j in snapshot.jobs)
    parts = [(s, counts[s]) for s in (JobState.RUNNING, JobState.QUEUED, JobState.PAUSED, JobState.FAILED) if counts[s]]
    text.append(f" │ {len(snapshot.jobs)} jobs")
    for state, n in parts:
        text.append(" ")
        text.append(f"{n} {state.value}", style=STATE_STYLES[state])
    if filter_text:
        text.append(f" │ filter: {filter_text}", style="bold")
    if devices:
        busy = {w.device: w.current_job for w in snapshot.workers if w.current_job is not None}
        for fact in snapshot.devices:
            text.append(" │ ")
            text.append(fact.key, style="bold")
            if fact.utilisation is not None:
                text.append(f" {fact.utilisation:.0f}%")
            if fact.key != "cpu" and fact.memory_used is not None:
                text.append(f" {gib(fact.memory_used)}G")
            if fact.temperature is not None:
                text.append(f" {fact.temperature:.0f}°C")
            if fact.key in busy:
                text.append(f" job {busy[fact.key]}", style=STATE_STYLES[JobState.RUNNING])
    if snapshot.error:
        text.append(f" │ {snapshot.error}", style="bold red")
    return text


class DevicePanel(Static):
    """Each GPU (name, utilisation, memory, temperature, its worker's job), the CPU
    workers, and whether the daemon runs."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self._shown: str | None = None
        self._snapshot: Snapshot | None = None

    def show(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        text = device_lines(snapshot, max(20, self.content_region.width or 40))
        key = text.markup
        if key != self._shown:
            self._shown = key
            self.update(text)

    def on_resize(self) -> None:
        if self._snapshot is not None:
            self.show(self._snapshot)


class StatusBar(Static):
    """The top line (see :func:`status_line`)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self._shown: str | None = None

    def show(self, snapshot: Snapshot, filter_text: str, *, devices: bool) -> None:
        text = status_line(snapshot, filter_text, devices=devices)
        key = text.markup
        if key != self._shown:
            self._shown = key
            self.update(text)
