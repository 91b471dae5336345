"""The preview of a job: a 2D surface as a banded half-block heatmap, a 1D job as lines.

The arrays arrive with the snapshot (read in the poller's thread); here they are only
resampled to the widget's size and painted, and only when the job's numbers, the size,
the scale or the quantity drawn changed. A 2D preview draws one of the quantities the
job has (``t`` picks which, see :data:`QUANTITIES`); a 1D preview draws them all.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static
from textual_plotext import PlotextPlot

from lstui.plots.levels import format_level, level_digits, nonempty_range
from lstui.store import JobRow, JobState
from lstui.tui.heatmap import (
    CENTRE_MARK,
    MIN_MARK,
    band_colours,
    draw_surface,
    extreme_mark,
    fit,
    legend_lines,
    merged_levels,
    surface_levels,
)
from lstui.tui.snapshot import PreviewData, Snapshot
from lstui.views import state_name

NUM_LEVELS = 9
GAP = 2
INFO_MIN = 30
LABELS = {"train_loss": "train loss", "test_loss": "test loss",
          "train_acc": "train acc %", "test_acc": "test acc %"}
CURVE_COLOURS = {"train_loss": "cyan", "test_loss": "blue", "train_acc": "orange", "test_acc": "red"}
PLAIN_MARKERS = {"train_loss": "*", "test_loss": "o", "train_acc": "+", "test_acc": "x"}
"""Each curve's own mark without colour (NO_COLOR), as `lstui show` draws them: four
braille lines of one colour could not be told apart."""
LEGEND_STYLES = {"train_loss": "bold cyan", "test_loss": "bold blue", "train_acc": "bold dark_orange",
                 "test_acc": "bold red"}
""":data:`CURVE_COLOURS` in rich's names, for the legend in the title line."""
LOSS_KEYS = ("train_loss", "test_loss")
ACC_KEYS = ("train_acc", "test_acc")
QUANTITIES = (*LOSS_KEYS, *ACC_KEYS)
"""What a 2D preview can draw, in the order ``t`` steps through them."""
NEXT_HINT = " · t: next"
"""Said after the quantity's line when the job has another one, where it fits."""
PLOT_FRAME_ROWS = 4
MIN_PLOT_ROWS = 3
TOO_SMALL = "too small: enter opens the job"
FLAT_DIGITS = 5
"""Significant digits of a flat curve's one label, as a flat figure's note writes its value."""


def without_points(job: JobRow | None, snapshot: Snapshot | None = None) -> tuple[str, str, bool]:
    """What the preview of a job with no point yet says, from its state: the line under
    its title, the note in the middle, and whether that note is one line cut with ``…``
    (none is now: a failed job's error, cut to one line above empty rows, is wrapped).

    ``snapshot`` tells whether a daemon runs and what a queued job waits for.
    """
    daemon = snapshot is None or snapshot.daemon.running
    if job is None or (job.state is JobState.RUNNING and daemon):
        return "waiting for the first points", "nothing computed yet", False
    points = f"0/{job.total_points} points · {state_name(job, daemon_running=daemon)}"
    if job.state is JobState.RUNNING:
        return points, "no daemon runs on this home — d starts one", False
    if job.state is JobState.FAILED:
        return points, f"failed: {' '.join((job.error or 'no reason recorded').split())}", False
    if job.state is JobState.CANCELLED:
        return points, "cancelled — r queues it again", False
    if job.state is JobState.PAUSED:
        return points, "paused — p resumes it", False
    if job.state is JobState.QUEUED:
        blockers = snapshot.blockers(job) if snapshot is not None else ()
        if blockers:
            jobs = "job" if len(blockers) == 1 else "jobs"
            return points, f"queued behind {jobs} {', '.join(map(str, blockers))}", False
        if not daemon:
            return points, "queued — no daemon runs on this home; d starts one", False
        return points, "queued — waiting for a free worker", False
    return points, "nothing computed", False


def quantities(data: PreviewData) -> tuple[str, ...]:
    """The quantities of :data:`QUANTITIES` that ``data`` holds values of, in that order
    (all of its arrays while none holds one: no point computed yet, or all NaN).

    The store keeps a quantity a job did not compute as NULL, read as NaN: an array of
    NaN only is one the job does not have. An infinite value is a value: a loss that
    diverged to +inf at every point so far is still drawn (as NaN/inf cells), not left
    out for the accuracy, which stays finite there.
    """
    present = [key for key in QUANTITIES if key in data.arrays]
    return tuple([key for key in present if (~np.isnan(data.arrays[key])).any()] or present)


def drawn_quantity(data: PreviewData, chosen: str | None) -> str:
    """What a 2D preview of ``data`` draws when ``chosen`` is asked for: that, if the
    job has it, else the first quantity it has (None asks for the first)."""
    have = quantities(data)
    if chosen in have:
        assert chosen is not None
        return chosen
    return have[0] if have else (data.loss_key or next(iter(data.arrays)))


def _not_finite_note(data: PreviewData) -> str:
    """`` · 8 NaN/inf`` when some computed points are not numbers (diverged), else nothing."""
    count = data.not_finite_count()
    return f" · {count} NaN/inf" if count else ""


class SurfaceView(Widget):
    """A 2D surface in contour bands, its colour bar and a few lines about it.

    Drawn with the line API and cached: the picture is painted again only when the
    numbers, the levels, the size or the scale changed. The map keeps the grid's aspect
    ratio; ``+`` marks the centre (0, 0), ``*`` the smallest computed value (the largest
    of an accuracy) and ``•`` a trajectory's path.
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.surface_data: PreviewData | None = None
        self.surface_key: str | None = None
        self.levels = np.empty(0)
        self.log_levels = False
        self.highest = False
        self.info: list[Text] = []
        self.tails: dict[int, Text] = {}
        self.over_centre: dict[int, Text | None] = {}
        self.plain = False
        self._cache_key: tuple[object, ...] | None = None
        self._strips: list[Strip] = []
        self.renders = 0
        """How many times the picture was painted (tests and the benchmark read it)."""

    def set_surface(self, data: PreviewData, key: str, levels: np.ndarray, log: bool,
                    info: list[Text], *, highest: bool = False, tails: dict[int, Text] | None = None,
                    over_centre: dict[int, Text | None] | None = None) -> None:
        """Draw ``data.arrays[key]`` in the bands between ``levels``, ``info`` beside it.

        Args:
            highest: mark the largest value (an accuracy), not the smallest.
            tails: text to add to the end of some info lines (by index) where the whole
                line fits; it does not widen the room the info takes.
            over_centre: info lines (by index) to replace, or drop (None), when the
                extreme's mark hides the centre's (drawn in its cell, off (0, 0)).
        """
        self.surface_data, self.surface_key, self.levels, self.log_levels = data, key, levels, log
        self.highest = highest
        self.info = info
        self.tails = tails or {}
        self.over_centre = over_centre or {}
        self._cache_key = None
        self.refresh()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    def _build(self) -> list[Strip]:
        data, key = self.surface_data, self.surface_key
        width, height = self.size
        cache_key = (None if data is None else (data.job_id, data.version), key, width, height,
                     self.rich_style)
        if cache_key == self._cache_key:
            return self._strips
        self._cache_key = cache_key
        self._strips = []
        if data is None or key is None or data.y is None or width <= 0 or height <= 0:
            return self._strips
        self._strips = self.paint(data, key, width, height)
        self.renders += 1
        return self._strips

    def paint(self, data: PreviewData, key: str, width: int, height: int) -> list[Strip]:
        """The widget's lines: map, gap, colour bar, then the info lines beside the bar,
        or under the map when that leaves the map more room (a tall, narrow panel).

        A panel lower than the bands between :attr:`levels` draws the map and its bar
        in fewer, merged bands (:func:`~lstui.tui.heatmap.merged_levels`)."""
        assert data.y is not None
        not_finite = data.not_finite(key)
        has_not_finite = bool(not_finite.any())
        # the map in no more bands than the colour bar has rows for, so that it names
        # every colour drawn (it once left every other band out, and the map did not)
        bar_rows = max(1, height - 1 if has_not_finite else height)
        levels = merged_levels(self.levels, bar_rows, highest=self.highest)
        # 256 colours (tmux's default): viridis neighbours were one palette colour
        eight_bit = self.app.console.color_system == "256"
        legend = legend_lines(levels, band_colours(len(levels) + 1, eight_bit=eight_bit), height,
                              plain=self.plain, not_finite=has_not_finite, eight_bit=eight_bit)
        legend_w = max((sum(cell_len(s.text) for s in line) for line in legend), default=0)
        info_w = min(INFO_MIN, max((t.cell_len for t in self.info), default=0))
        x_span = float(data.x[-1] - data.x[0])
        y_span = float(data.y[-1] - data.y[0])
        beside = (max(1, width - legend_w - 2 * GAP - info_w), height)
        below = (max(1, width - legend_w - GAP), max(1, height - len(self.info) - 1))
        fit_beside, fit_below = fit(x_span, y_span, *beside), fit(x_span, y_span, *below)
        under = fit_below[0] * fit_below[1] > fit_beside[0] * fit_beside[1]
        map_cols, map_rows = below if under else beside
        if under:  # the bar as high as the map at most: the lines under both ran off the panel
            bar_rows = max(1, map_rows - 1 if has_not_finite else map_rows)
            levels = merged_levels(self.levels, bar_rows, highest=self.highest)
            legend = legend_lines(levels, band_colours(len(levels) + 1, eight_bit=eight_bit), map_rows,
                                  plain=self.plain, not_finite=has_not_finite, eight_bit=eight_bit)
        picture = draw_surface(data.x, data.y, data.arrays[key], map_cols, map_rows,
                               levels=levels, log=self.log_levels, path=data.path, plain=self.plain,
                               not_finite=not_finite, highest=self.highest, eight_bit=eight_bit)
        console = self.app.console
        room = max(0, width - (0 if under else picture.width + legend_w + 2 * GAP))
        info = []
        for n, text in enumerate(self.info):
            if picture.centre_hidden and n in self.over_centre:  # no + drawn: none named
                swapped = self.over_centre[n]
                if swapped is None:
                    continue
                text = swapped
            line = text.copy()
            tail = self.tails.get(n)
            if tail is not None and line.cell_len + tail.cell_len <= room:
                line.append_text(tail)
            line.truncate(room, overflow="ellipsis")
            info.append(list(line.render(console)))
        # under the map and under the colour bar, which may be the taller
        info_x, info_y = ((0, max(len(picture.lines), len(legend)) + 1) if under
                          else (picture.width + GAP + legend_w + GAP, 0))
        base = self.rich_style
        strips = []
        for row in range(height):
            segments: list[Segment] = []
            if row < len(picture.lines):
                segments += picture.lines[row]
            if row < len(legend):
                used = sum(cell_len(s.text) for s in segments)
                segments.append(Segment(" " * max(0, picture.width + GAP - used)))
                segments += legend[row]
            n = row - info_y
            if 0 <= n < len(info) and width - info_x >= 8:
                used = sum(cell_len(s.text) for s in segments)
                segments.append(Segment(" " * max(0, info_x - used)))
                segments += info[n]
            strips.append(Strip(segments).apply_style(base).adjust_cell_length(width, base))
        return strips

    def render_line(self, y: int) -> Strip:
        strips = self._build()
        if y < len(strips):
            return strips[y]
        return Strip.blank(self.size.width, self.rich_style)


class CurvePlot(PlotextPlot):
    """A 1D job's loss (left axis) and accuracy (right axis) over its x coordinates.

    The plot is built when it is drawn, at the widget's size: the y ticks sit on rows
    (each label reads the value of its own row), the x axis spans the whole grid, the
    legend is left to the title line (plotext's covered where the curves start), and a
    panel too low for :data:`MIN_PLOT_ROWS` rows of curve says so instead.
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.curve_data: PreviewData | None = None
        self.log_scale = False

    def show(self, data: PreviewData, log: bool) -> None:
        self.curve_data, self.log_scale = data, log
        self.refresh()

    def plot_rows(self) -> int:
        """Rows of curve at the widget's height (the frame, the x ticks and the label take 4)."""
        return self.size.height - PLOT_FRAME_ROWS

    def render(self) -> RenderResult:
        data = self.curve_data
        if data is None:
            return Text("")
        rows = self.plot_rows()
        if rows < MIN_PLOT_ROWS:
            return Text(TOO_SMALL, style="dim", no_wrap=True, overflow="ellipsis")
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        x = data.x
        for side, keys in (("left", LOSS_KEYS), ("right", ACC_KEYS)):
            shown: list[np.ndarray] = []
            for key in keys:
                if key not in data.arrays:
                    continue
                values = data.arrays[key]
                log = self.log_scale and side == "left"
                if log:
                    with np.errstate(invalid="ignore", divide="ignore"):
                        values = np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)
                done = np.isfinite(values)
                if not done.any():
                    continue
                plain = self.app.no_color
                plt.plot(x[done].tolist(), values[done].tolist(), color=CURVE_COLOURS.get(key, "white"),
                         marker=PLAIN_MARKERS.get(key, "•") if plain else "braille", yside=side)
                shown.append(values[done])
            if shown:
                _row_ticks(plt, np.concatenate(shown), rows, side, log=self.log_scale and side == "left")
        if len(x) > 1:  # the grid's range, also where its last points are NaN
            plt.xlim(float(x[0]), float(x[-1]))
        plt.xlabel("α" if data.kind == "interp" else "x")
        return super().render()


def _row_ticks(plt: Any, values: np.ndarray, rows: int, side: str, *, log: bool) -> None:
    """Y limits and ticks on one side, from :func:`row_ticks`."""
    (lo, hi), ticks, labels = row_ticks(values, rows, log=log)
    plt.ylim(lo, hi, yside=side)
    plt.yticks(ticks, labels, yside=side)


def row_ticks(values: np.ndarray, rows: int, *, log: bool) -> tuple[tuple[float, float], list[float], list[str]]:
    """The y limits, ticks and labels of one side of a 1D plot ``rows`` rows high: a
    tick every other row from the top (every row when there are few), each labelled
    with the value of that row in as few significant digits as tell its neighbours
    apart (the figures' rule, :func:`lstui.plots.levels.level_digits`).

    A flat curve (or one too narrow to label its rows apart) gets one label, its value,
    on the row it is drawn on, between the figures' limits for one value
    (:func:`lstui.plots.levels.nonempty_range`).

    Args:
        values: what is drawn: the values, or their log10 with ``log``.
        log: label each tick with ``10 ** tick``.

    Returns:
        ``((lo, hi), ticks, labels)``, ticks and limits in ``values``' units.
    """
    def value_of(t: float) -> float:
        return float(10**t) if log else t

    lo, hi = float(values.min()), float(values.max())
    step = 1 if rows <= 4 else 2
    ticks = [hi - (hi - lo) * r / (rows - 1) for r in range(0, rows, step)]
    digits = level_digits(np.array([value_of(t) for t in ticks]))
    labels = [format_level(value_of(t), digits) for t in ticks]
    if hi > lo and len(set(labels)) == len(labels):
        return (lo, hi), ticks, labels
    centre = (lo + hi) / 2
    below, above = nonempty_range(value_of(centre), value_of(centre), log)
    if log:
        below, above = math.log10(below), math.log10(above)
    # the line on a row (the middle one, or the upper of two), the label on that row
    per_row = (above - below) / max(rows - 1, 1)
    row = (rows - 1) // 2
    limits = (centre - per_row * (rows - 1 - row), centre + per_row * row)
    return limits, [centre], [format_level(value_of(centre), FLAT_DIGITS)]


def curve_legend(data: PreviewData, plain: bool = False) -> Text:
    """The 1D preview's legend, for its title line: a coloured dash and the name of each
    curve drawn, the two splits of a quantity together ("loss ━ train ━ test"; one alone:
    "━ train loss"; ``plain``, without colour: each curve's own mark, "loss * train o test");
    accuracies are read on the right axis. Each curve named once and
    short: at 80 columns the four of them ran past the panel's edge, "test acc" unseen."""
    text = Text()
    for keys, name in ((LOSS_KEYS, data.loss_label), (ACC_KEYS, "acc % (right)")):
        drawn = [key for key in keys if key in data.arrays and np.isfinite(data.arrays[key]).any()]
        if not drawn:
            continue
        if text:
            text.append(" · ")
        if len(drawn) > 1:
            text.append(f"{name} ")
        for n, key in enumerate(drawn):
            if n:
                text.append(" ")
            text.append(f"{PLAIN_MARKERS.get(key, '•')} " if plain else "━ ", style=LEGEND_STYLES.get(key, ""))
            text.append(key.split("_", 1)[0])
        if len(drawn) == 1:
            text.append(f" {name}")
    return text


class Preview(Vertical):
    """Title lines over a :class:`SurfaceView` (2D) or a :class:`CurvePlot` (1D).

    Args:
        log_scale: log-spaced levels (``g``) for a loss.
        quantity: the key of :data:`QUANTITIES` a 2D surface draws (``t``) where the
            job has it; None: the first the job has.
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None, log_scale: bool = False,
                 quantity: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.log_scale = log_scale
        self.quantity = quantity
        self.drawn: str | None = None
        """The quantity the surface draws now; None while no surface is drawn."""
        self.job_id: int | None = None
        self._shown: tuple[object, ...] | None = None
        self.shown_data: PreviewData | None = None
        self._shown_for: tuple[JobRow | None, Snapshot | None] = (None, None)
        self._title_line = Static("", classes="preview-title")
        self.surface = SurfaceView(classes="preview-surface")
        self.curves = CurvePlot(classes="preview-curves")
        self._note = Static("no job selected", classes="preview-note")
        self.surface.display = self.curves.display = False

    def compose(self) -> ComposeResult:
        yield self._title_line
        yield self.surface
        yield self.curves
        yield self._note

    def on_mount(self) -> None:
        # 16 colours (TERM=xterm, screen, linux …): Textual gives each band the nearest of
        # them, and a map's 9 bands showed as 4 (the basin's lowest four one grey): its
        # bands drawn as NO_COLOR draws them, in characters of their own
        self.surface.plain = self.app.no_color or self.app.console.color_system in ("standard", "windows")

    def _switch(self, which: str) -> None:
        self.surface.display = which == "surface"
        self.curves.display = which == "curves"
        self._note.display = which == "note"

    def _title(self, first: Text | None, second: Text | str = "") -> None:
        """Two lines over the picture; none (``first`` None) for a 2D surface, which
        writes its lines beside the map."""
        title = self._title_line
        title.display = first is not None
        if first is None:
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append_text(first)
        text.append("\n")
        text.append_text(second if isinstance(second, Text) else Text(second))
        title.update(text)

    def forget(self) -> None:
        """Draw again whatever comes next, even with the same job id and version."""
        self._shown = None
        self.shown_data = None
        self.job_id = None
        self.drawn = None

    def _redraw(self) -> None:
        self._shown = None
        if self.shown_data is not None:
            self.show(self.shown_data, *self._shown_for)

    def toggle_log(self) -> bool:
        self.log_scale = not self.log_scale
        self._redraw()
        return self.log_scale

    def set_quantity(self, quantity: str | None) -> None:
        """Draw ``quantity`` (a key of :data:`QUANTITIES`) in a 2D surface from now on,
        where the job has it."""
        if quantity != self.quantity:
            self.quantity = quantity
            self._redraw()

    def next_quantity(self) -> str | None:
        """The quantity after the one drawn, among those of the job shown (``t``), or
        None when it has no other or no surface is shown."""
        data = self.shown_data
        if data is None or data.note or data.ndim != 2:
            return None
        have = quantities(data)
        if len(have) < 2:
            return None
        drawn = drawn_quantity(data, self.quantity)
        return have[(have.index(drawn) + 1) % len(have)]

    def show_nothing(self, job: JobRow | None, why: str) -> None:
        """No picture: ``why`` says what is missing (no job, loading, no points yet)."""
        self.job_id = None if job is None else job.id
        key = ("nothing", self.job_id, why)
        if key == self._shown:
            return
        self._shown = key
        self.shown_data = None
        self.drawn = None
        self._title(Text(f"job {job.id} · {job.name}" if job else "preview", style="bold"), "")
        self._switch("note")
        self._note.set_class(False, "-one-line")
        self._note.update(Text(why))

    def show(self, data: PreviewData, job: JobRow | None, snapshot: Snapshot | None = None) -> None:
        """Draw ``data`` unless it is what is already drawn; a job without points gets
        what its state says (see :func:`without_points`; ``snapshot``: the daemon and
        the jobs a queued one waits on)."""
        waiting = without_points(job, snapshot) if data.done_points == 0 and not data.note else None
        # the state is part of the key: a job that fails or is paused before its first
        # point has the same numbers as before
        # the priority: the table's PRIO column shows only from 120 columns on
        prio = f" · prio {job.priority}" if job is not None else ""
        key = (data.job_id, data.version, data.done_points, data.name, self.log_scale, self.quantity, waiting,
               prio)
        if key == self._shown:
            return
        self._shown = key
        self.shown_data = data
        self._shown_for = (job, snapshot)
        self.job_id = data.job_id
        self.drawn = None
        head = Text(f"job {data.job_id} · {data.name}", style="bold")
        self._note.set_class(False, "-one-line")
        if data.note:
            self._title(head)
            self._switch("note")
            self._note.update(Text(data.note))
            return
        if waiting is not None:
            under, note, one_line = waiting
            self._title(head, under + prio)
            self._switch("note")
            self._note.set_class(one_line, "-one-line")
            self._note.update(Text(note))  # not markup: an error may quote [brackets]
            return
        if data.ndim == 1:
            # the legend before the scale: cut at the panel's edge, the scale matters least
            second = Text(f"{data.done_points}/{data.total_points} points{_not_finite_note(data)}{prio} · ")
            second.append_text(curve_legend(data, plain=self.app.no_color))
            second.append(f" · {'log' if self.log_scale else 'linear'} (g)")
            self._title(head, second)
            self._switch("curves")
            self.curves.show(data, self.log_scale)
            return
        key_name = drawn_quantity(data, self.quantity)
        # an accuracy is best where it is high: its maximum is marked, and its levels
        # stay linear (a log scale spreads the low values, the losses' interesting end)
        accuracy = key_name in ACC_KEYS
        Z = data.arrays[key_name]
        levels, log = surface_levels(Z, log=self.log_scale and not accuracy, num=NUM_LEVELS, highest=accuracy)
        assert data.y is not None
        mark = extreme_mark(data.x, data.y, Z, highest=accuracy)
        scale = "linear" if accuracy else f"{'log' if log else 'linear'} (g)"
        info = [
            head,
            Text(f"{data.done_points}/{data.total_points} points{_not_finite_note(data)}{prio}"),
            Text(f"{LABELS.get(key_name, key_name).replace('loss', data.loss_label)} · {scale}"),
        ]
        # the extreme at the centre (a trained minimizer's usual picture) is drawn over
        # its + there: the legend names the mark that shows
        at_centre = mark is not None and mark[0] == 0 and mark[1] == 0
        # off the centre but drawn in its cell (a fine grid), the mark hides the + too
        over_centre: dict[int, Text | None] = {}
        if not at_centre:
            over_centre[len(info)] = None
            info.append(Text.assemble((CENTRE_MARK, "bold"), " centre (0,0)"))
        tails = {2: Text(NEXT_HINT, style="dim")} if len(quantities(data)) > 1 else {}
        if mark is not None:
            info.append(Text.assemble((MIN_MARK, "bold" if self.app.no_color else "bold red"),
                                      f" {'max' if accuracy else 'min'} {mark[2]:.4g}"))
            info.append(Text("  at the centre (0,0)" if at_centre else f"  at ({mark[0]:.3g}, {mark[1]:.3g})"))
            over_centre[len(info) - 1] = Text(f"  at ({mark[0]:.3g}, {mark[1]:.3g}), over +")
        if data.path is not None:
            info.append(Text.assemble(("•", "bold"), " trajectory"))
        self._title(None)
        self._switch("surface")
        self.drawn = key_name
        self.surface.set_surface(data, key_name, levels, log, info, highest=accuracy, tails=tails,
                                 over_centre=over_centre)
