"""Short texts for table cells and panels: states in colour, bars, sizes, devices.

Colours are only ever added to a text that already says everything (the state's name,
a bar made of two characters), so the screen reads the same with ``NO_COLOR``.
"""

from __future__ import annotations

from rich.text import Text

from lstui.store import JobRow, JobState

STATE_STYLES: dict[JobState, str] = {
    JobState.QUEUED: "yellow",
    JobState.RUNNING: "bold cyan",
    JobState.PAUSED: "magenta",
    JobState.DONE: "green",
    JobState.FAILED: "bold red",
    JobState.CANCELLED: "dim",
}

KIND_SHORT = {"surface": "surface", "interp": "interp", "trajectory": "traj", "figure": "figure"}

LEVEL_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red"}

BAR_FULL = "█"
BAR_EMPTY = "░"


def state_text(state: JobState) -> Text:
    """The state's name, coloured."""
    return Text(state.value, style=STATE_STYLES.get(state, ""))


def bar(fraction: float, width: int, style: str = "") -> Text:
    """A bar of ``width`` cells, ``█`` for the done part and ``░`` for the rest."""
    fraction = max(0.0, min(1.0, fraction))
    filled = int(round(fraction * width))
    text = Text(BAR_FULL * filled, style=style)
    text.append(BAR_EMPTY * (width - filled), style="dim")
    return text


def progress_text(job: JobRow, width: int) -> Text:
    """A bar and the percentage, e.g. ``█████░░░░░  50%``."""
    text = bar(job.progress, width, STATE_STYLES.get(job.state, ""))
    text.append(f" {100 * job.progress:3.0f}%")
    return text


def count(n: int) -> str:
    """``12``, ``9999``, ``10.2k``, ``1.5M``: at most five characters."""
    if n < 10_000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k" if n < 100_000 else f"{n // 1000}k"
    return f"{n / 1_000_000:.1f}M"


def points_text(job: JobRow) -> str:
    return f"{count(job.done_points)}/{count(job.total_points)}"


def device_text(device: str | None) -> str:
    """``cuda:0,cuda:1`` → ``cuda:0,1``; none → ``-``."""
    if not device:
        return "-"
    parts = device.split(",")
    gpus = [p.removeprefix("cuda:") for p in parts if p.startswith("cuda:")]
    others = [p for p in parts if not p.startswith("cuda:")]
    out = others[:]
    if gpus:
        out.append("cuda:" + ",".join(gpus))
    return ",".join(out)


def size_text(n: int | None) -> str:
    """Bytes as ``512 B``, ``12.3 KiB``, ``1.5 GiB``."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def gib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**30:.1f}"


def ellipsis(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells with ``…`` where it was cut."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…"
