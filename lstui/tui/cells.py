"""Short texts for table cells and panels: states in colour, bars, sizes, devices.

Colours are only ever added to a text that already says everything (the state's name,
a bar made of two characters), so the screen reads the same with ``NO_COLOR``.
"""

from __future__ import annotations

from pathlib import Path

from rich.cells import cell_len
from rich.text import Text

from lstui.store import JobRow, JobState
from lstui.views import STALLED, state_name

STATE_STYLES: dict[JobState, str] = {
    JobState.QUEUED: "yellow",
    JobState.RUNNING: "bold cyan",
    JobState.PAUSED: "magenta",
    JobState.DONE: "green",
    JobState.FAILED: "bold red",
    JobState.CANCELLED: "dim",
}

PLAIN_STATE_STYLES: dict[JobState, str] = {
    JobState.RUNNING: "bold",
    JobState.FAILED: "bold reverse",
}
"""With NO_COLOR: greys of red and magenta would be unreadable, so only weight and
reverse video are used."""

STALLED_STYLE = "bold yellow"
PLAIN_STALLED_STYLE = "reverse"

KIND_SHORT = {"surface": "surface", "interp": "interp", "trajectory": "traj", "figure": "figure"}

LEVEL_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red"}

BAR_FULL = "█"
BAR_EMPTY = "░"


def state_style(state: JobState, colour: bool = True) -> str:
    """The style of a state's name: a colour, or (``colour`` False) bold or reverse."""
    return STATE_STYLES.get(state, "") if colour else PLAIN_STATE_STYLES.get(state, "")


def state_text(state: JobState, colour: bool = True) -> Text:
    """The state's name, coloured (see :func:`state_style`)."""
    return Text(state.value, style=state_style(state, colour))


def job_state_text(job: JobRow, daemon_running: bool, colour: bool = True) -> Text:
    """The job's state as shown (``stalled`` for a running job no daemon computes)."""
    name = state_name(job, daemon_running=daemon_running)
    if name == STALLED:
        return Text(name, style=STALLED_STYLE if colour else PLAIN_STALLED_STYLE)
    return state_text(job.state, colour)


def bar(fraction: float, width: int, style: str = "") -> Text:
    """A bar of ``width`` cells, ``█`` for the done part and ``░`` for the rest."""
    fraction = max(0.0, min(1.0, fraction))
    filled = int(round(fraction * width))
    text = Text(BAR_FULL * filled, style=style)
    text.append(BAR_EMPTY * (width - filled), style="dim")
    return text


def progress_text(job: JobRow, width: int, colour: bool = True) -> Text:
    """A bar and the percentage, e.g. ``█████░░░░░  50%``."""
    text = bar(job.progress, width, STATE_STYLES.get(job.state, "") if colour else "")
    text.append(f" {100 * job.progress:3.0f}%")
    return text


COUNT_MAX = 5
"""The most characters :func:`count` writes (below a billion)."""


def count(n: int) -> str:
    """``12``, ``9999``, ``10.2k``, ``250k``, ``1.5M``: at most :data:`COUNT_MAX`
    characters (rounded down, so a count never shows more than there is)."""
    if n < 10_000:
        return str(n)
    if n < 100_000:
        return f"{n // 100 / 10:.1f}k"
    if n < 1_000_000:
        return f"{n // 1000}k"
    if n < 10_000_000:
        return f"{n // 100_000 / 10:.1f}M"
    return f"{n // 1_000_000}M"


POINTS_MAX = 2 * COUNT_MAX + 1
"""The most characters :func:`points_text` writes (``10.2k/10.2k``)."""


def points_text(job: JobRow) -> str:
    """``done/total`` in at most :data:`POINTS_MAX` characters."""
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


def short_duration(seconds: float | None, *, live: bool = False) -> str:
    """``45s``, ``5m24s``, ``2h05m``, ``3d04h``, rounded as ``lstui ls`` rounds.

    A time that still runs (a running job's elapsed time, an ETA: ``live``) is shown to
    the nearest minute (``<1m`` under one), so that it changes once a minute, not every
    second: a changed cell makes the whole table draw again. One that no longer runs (a
    finished or paused job's time) has its seconds.
    """
    if seconds is None:
        return "-"
    s = int(round(seconds))
    if s < 60:
        return "<1m" if live else f"{s}s"
    if live:
        s = int(round(seconds / 60)) * 60  # (flooring showed "1m" with 1m59s left)
    if s < 3600:
        return f"{s // 60}m" if live else f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


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
    """``text`` cut to ``width`` terminal cells with ``…`` where it was cut.

    Cells, not characters: a CJK character or an emoji takes two, and counting
    characters let such names run past the column, which cut the ``…`` off.
    """
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    kept: list[str] = []
    used = 0
    for ch in text:
        used += cell_len(ch)
        if used > width - 1:
            break
        kept.append(ch)
    return "".join(kept) + "…"


def short_path(path: Path | str) -> str:
    """``path`` with the user's home folder written ``~``."""
    p = Path(path)
    try:
        return "~/" + str(p.relative_to(Path.home()))
    except ValueError:
        return str(p)


def _tail(text: str, width: int) -> str:
    """The last characters of ``text`` that fit in ``width`` cells."""
    kept: list[str] = []
    used = 0
    for ch in reversed(text):
        used += cell_len(ch)
        if used > width:
            break
        kept.append(ch)
    return "".join(reversed(kept))


def middle_path(path: Path | str, width: int) -> str:
    """``path`` (as :func:`short_path` writes it) in ``width`` cells, cut in the middle
    with ``…`` so that its start and its file name show: ``~/runs/…/model_300.t7``.

    A file name longer than the room is itself cut in its middle, keeping its suffix.
    """
    text = short_path(path)
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    name = Path(text).name or text
    room = width - cell_len(name) - 2  # "…/"
    if room >= 1:
        return ellipsis(text[: len(text) - len(name)], room + 1).rstrip("…") + "…/" + name
    if cell_len(name) < width:  # the name whole, its folders a "…" (its halves overlapped: "f…figures")
        return ("…/" if cell_len(name) + 2 <= width else "…") + name
    if cell_len(name) == width:
        return name
    if width <= 2:
        return _tail(name, width)
    head = (width - 1) // 2
    return ellipsis(name, head + 1).rstrip("…") + "…" + _tail(name, width - 1 - head)
