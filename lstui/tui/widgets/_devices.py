"""The device panel (each GPU, the CPU, their workers, the daemon) and the one-line status bar."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from lstui.scheduler.daemon import DaemonStatus
from lstui.store import JobRow, JobState, WorkerRow
from lstui.tui.cells import PLAIN_STALLED_STYLE, STALLED_STYLE, bar, ellipsis, gib, state_style
from lstui.tui.snapshot import Snapshot
from lstui.views import STALE_HEARTBEAT_S, STALLED, format_duration, silent_jobs, state_name

RUNNING_DOT = "●"
STORE_UNREADABLE = "can't read the job store (see below)"
"""The status line's word on an error reading the store, which the preview gives in full."""
STOPPED_DOT = "○"


def daemon_text(daemon: DaemonStatus, *, short: bool = False, colour: bool = True) -> Text:
    """``● daemon running (pid 12, cpu×2)`` or ``○ daemon stopped — d: start``."""
    if daemon.running and daemon.suspended:  # (Ctrl-Z, SIGSTOP: "running" hid why nothing moved)
        text = Text(STOPPED_DOT + " ", style="yellow" if colour else "")
        text.append("daemon suspended", style="bold yellow" if colour else "bold reverse")
        # (not "fg": a detached daemon has no terminal to bring it back in)
        text.append(f" (kill -CONT {daemon.pid})" if short else f" (Ctrl-Z or SIGSTOP): kill -CONT {daemon.pid}")
        return text
    if daemon.running:
        text = Text(RUNNING_DOT + " ", style="green" if colour else "")
        text.append("daemon running", style="green" if colour else "bold")
        if not short:
            devices = Counter(daemon.devices)
            shown = ", ".join(f"{d}×{n}" if n > 1 else d for d, n in devices.items())
            extra = ", ".join(p for p in (f"pid {daemon.pid}" if daemon.pid else "", shown) if p)
            if extra:
                text.append(f" ({extra})")
        return text
    text = Text(STOPPED_DOT + " ", style="yellow" if colour else "")
    text.append("daemon stopped", style="bold yellow" if colour else "bold reverse")
    text.append(" (d starts it)" if short else " — press d to start it")
    return text


def start_refused(daemon: DaemonStatus | None) -> str | None:
    """Why ``d`` starts no daemon: one runs, or is suspended (it said "a daemon already
    runs", and nothing moved); None when none runs."""
    if daemon is None or not daemon.running:
        return None
    if daemon.suspended:
        return f"the daemon (pid {daemon.pid}) is suspended (Ctrl-Z or SIGSTOP): kill -CONT {daemon.pid} continues it"
    return f"a daemon already runs on this home (pid {daemon.pid})"


def utilisation_word(device: str) -> str:
    """What a device's percentage is: the CPU's is the machine's ``load`` (every process
    on it, with or without a daemon), a GPU's its ``util``."""
    return "load" if device == "cpu" else "util"


def _workers_by_device(workers: Sequence[WorkerRow]) -> dict[str, list[WorkerRow]]:
    out: dict[str, list[WorkerRow]] = defaultdict(list)
    for w in workers:
        out[w.device].append(w)
    return out


def _worker_line(w: WorkerRow, jobs: dict[int, JobRow], width: int, colour: bool, now: float) -> Text:
    text = Text(f"  worker {w.id} ")
    silent = now - w.heartbeat
    if silent > STALE_HEARTBEAT_S:  # stopped or stuck: its job reads running, nothing computes it
        text.append(f"silent {format_duration(silent)} ", style="bold yellow" if colour else "bold reverse")
    if w.current_job is None:
        text.append("idle", style="dim")
        return text
    job = jobs.get(w.current_job)
    text.append(f"job {w.current_job}", style=state_style(JobState.RUNNING, colour))
    if job is not None:
        room = width - len(text.plain) - 1
        if room > 4:
            text.append(" " + ellipsis(job.name, room))
    return text


def device_lines(snapshot: Snapshot, width: int, colour: bool = True) -> Text:
    """The device panel's text for a panel ``width`` cells wide."""
    jobs = {j.id: j for j in snapshot.jobs}
    workers = _workers_by_device(snapshot.workers)
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append_text(daemon_text(snapshot.daemon, colour=colour))
    bar_w = max(4, min(12, width - 22))
    shown: set[str] = set()
    for fact in snapshot.devices:
        out.append("\n")
        out.append(f"{fact.key}", style="bold")
        out.append(" " + ellipsis(fact.name, max(0, width - len(fact.key) - 2)))
        if fact.utilisation is not None:
            out.append(f"\n  {utilisation_word(fact.key)} ")
            out.append_text(bar(fact.utilisation / 100, bar_w, "cyan" if colour else ""))
            out.append(f" {fact.utilisation:3.0f}%")
        if fact.memory_used is not None and fact.memory_total:
            out.append("\n  mem  ")
            out.append_text(bar(fact.memory_used / fact.memory_total, bar_w, "magenta" if colour else ""))
            out.append(f" {gib(fact.memory_used)}/{gib(fact.memory_total)} GiB")
        if fact.temperature is not None:
            out.append(f"\n  temp {fact.temperature:.0f}°C")
        for w in workers.get(fact.key, []):
            out.append("\n")
            out.append_text(_worker_line(w, jobs, width, colour, snapshot.taken))
        shown.add(fact.key)
    for device, ws in sorted(workers.items()):
        if device in shown:
            continue
        out.append("\n")
        out.append(device, style="bold")
        for w in ws:
            out.append("\n")
            out.append_text(_worker_line(w, jobs, width, colour, snapshot.taken))
    if not snapshot.devices and not snapshot.workers:
        out.append("\nno devices known yet", style="dim")
    return out


def status_line(snapshot: Snapshot, filter_text: str, *, devices: bool, colour: bool = True) -> Text:
    """The top line: that the store cannot be read, the daemon, job counts by state and
    the filter. With ``devices`` (the device panel is hidden), a second line: the daemon
    and each device in a few words. Each line is cut at the terminal's edge (the
    stylesheet's ``text-wrap: nowrap``), so what matters most comes first."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("lstui ", style="bold")
    if snapshot.error:
        # the error in full (a path, what to do) took the whole line and was cut at 80
        # columns; the preview, below, has room for it
        text.append(STORE_UNREADABLE, style="bold red" if colour else "bold reverse")
        text.append(" │ ")
    if not devices:
        text.append_text(daemon_text(snapshot.daemon, short=True, colour=colour))
        text.append(" │ ")
    running = snapshot.daemon.running
    silent = silent_jobs(snapshot.jobs, snapshot.workers, snapshot.taken)  # (stalled, as the table shows them)
    counts = Counter(state_name(j, daemon_running=running and j.id not in silent) for j in snapshot.jobs)
    text.append(f"{len(snapshot.jobs)} job{'' if len(snapshot.jobs) == 1 else 's'}")
    if counts[STALLED]:
        text.append(" · ")
        text.append(f"{counts[STALLED]} {STALLED}", style=STALLED_STYLE if colour else PLAIN_STALLED_STYLE)
    for state in (JobState.RUNNING, JobState.QUEUED, JobState.PAUSED, JobState.FAILED):
        if counts[state.value]:
            text.append(" · ")
            text.append(f"{counts[state.value]} {state.value}", style=state_style(state, colour))
    if filter_text:
        text.append(f" │ filter: {filter_text}", style="bold")
    if devices:
        text.append("\n")
        text.append_text(device_summary(snapshot, colour))
    return text


def device_summary(snapshot: Snapshot, colour: bool = True) -> Text:
    """The daemon and every device on one line (the device panel, folded), each
    percentage named as the panel names it: ``○ daemon stopped (d starts it) │ cpu load 100%``."""
    text = daemon_text(snapshot.daemon, short=True, colour=colour)
    busy: dict[str, list[int]] = defaultdict(list)
    for w in snapshot.workers:
        if w.current_job is not None:
            busy[w.device].append(w.current_job)
    for fact in snapshot.devices:
        text.append(" │ ")
        text.append(fact.key, style="bold")
        if fact.utilisation is not None:
            text.append(f" {utilisation_word(fact.key)} {fact.utilisation:.0f}%")
        if fact.key != "cpu" and fact.memory_used is not None and fact.memory_total:
            text.append(f" {gib(fact.memory_used)}/{gib(fact.memory_total)}G")
        if fact.temperature is not None:
            text.append(f" {fact.temperature:.0f}°C")
        jobs = busy.get(fact.key)
        if jobs:
            text.append(" job " + ",".join(str(j) for j in sorted(set(jobs))),
                        style=state_style(JobState.RUNNING, colour))
    # workers on devices this machine does not list (Ray's: ray:HOST/cpu), as the
    # unfolded panel shows them
    listed = {fact.key for fact in snapshot.devices}
    for device in sorted({w.device for w in snapshot.workers} - listed):
        text.append(" │ ")
        text.append(device, style="bold")
        jobs = busy.get(device)
        if jobs:
            text.append(" job " + ",".join(str(j) for j in sorted(set(jobs))),
                        style=state_style(JobState.RUNNING, colour))
    return text


class DevicePanel(Static):
    """Each GPU (name, utilisation, memory, temperature, its worker's job), the CPU
    workers, and whether the daemon runs."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self._shown: Text | None = None
        self._snapshot: Snapshot | None = None

    def show(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        text = device_lines(snapshot, max(20, self.content_region.width or 40), not self.app.no_color)
        if text != self._shown:
            self._shown = text
            self.update(text)

    def on_resize(self) -> None:
        if self._snapshot is not None:
            self.show(self._snapshot)


class StatusBar(Static):
    """The top line (see :func:`status_line`)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self._shown: Text | None = None

    def show(self, snapshot: Snapshot, filter_text: str, *, devices: bool) -> None:
        text = status_line(snapshot, filter_text, devices=devices, colour=not self.app.no_color)
        if text != self._shown:
            self._shown = text
            self.update(text)
