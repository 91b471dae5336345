"""The preview of a job: a 2D surface as a banded half-block heatmap, a 1D job as lines.

The arrays arrive with the snapshot (read in the poller's thread); here they are only
resampled to the widget's size and painted, and only when the job's numbers, the size
or the scale changed.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static
from textual_plotext import PlotextPlot

from lstui.store import JobRow
from lstui.tui.heatmap import (
    CENTRE_MARK,
    band_colours,
    MIN_MARK,
    draw_surface,
    legend_lines,
    minimum_mark,
    surface_levels,
)
from lstui.tui.snapshot import PreviewData

NUM_LEVELS = 9
LEGEND_GAP = 2
LABELS = {"train_loss": "train loss", "test_loss": "test loss",
          "train_acc": "train acc %", "test_acc": "test acc %"}
CURVE_COLOURS = {"train_loss": "cyan", "test_loss": "blue", "train_acc": "orange", "test_acc": "red"}


class SurfaceView(Widget):
    """A 2D surface in contour bands with a colour bar, drawn with the line API.

    The map keeps the grid's aspect ratio; ``+`` marks the centre (0, 0) and ``*`` the
    smallest computed value; a trajectory's path is drawn with ``•``.
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.data: PreviewData | None = None
        self.key: str | None = None
        self.levels = np.empty(0)
        self.log = False
        self.plain = False
        self._cache_key: tuple[object, ...] | None = None
        self._strips: list[Strip] = []
        self.renders = 0
        """How many times the picture was painted (tests and the benchmark read it)."""

    def set_surface(self, data: PreviewData, key: str, levels: np.ndarray, log: bool) -> None:
        self.data, self.key, self.levels, self.log = data, key, levels, log
        self.refresh()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    def _build(self) -> list[Strip]:
        data, key = self.data, self.key
        width, height = self.size
        cache_key = (None if data is None else (data.job_id, data.version), key, self.log,
                     self.plain, width, height, len(self.levels), self.rich_style)
        if cache_key == self._cache_key:
            return self._strips
        self._cache_key = cache_key
        self._strips = []
        if data is None or key is None or data.y is None or width <= 0 or height <= 0:
            return self._strips
        n_bands = len(self.levels) + 1
        legend = legend_lines(self.levels, band_colours(n_bands), height, plain=self.plain)
        legend_w = max((sum(len(s.text) for s in line) for line in legend), default=0)
        map_cols = max(1, width - legend_w - LEGEND_GAP)
        picture = draw_surface(data.x, data.y, data.arrays[key], map_cols, height,
                               levels=self.levels, log=self.log, path=data.path, plain=self.plain)
        base = self.rich_style
        for row in range(height):
            segments: list[Segment] = []
            if row < len(picture.lines):
                segments += picture.lines[row]
            pad = picture.width + LEGEND_GAP if row < len(legend) else 0
            if pad:
                used = sum(len(s.text) for s in segments)
                segments.append(Segment(" " * max(0, pad - used)))
                segments += legend[row]
            strip = Strip(segments).apply_style(base).adjust_cell_length(width, base)
            self._strips.append(strip)
        self.renders += 1
        return self._strips

    def render_line(self, y: int) -> Strip:
        strips = self._build()
        if y < len(strips):
            return strips[y]
        return Strip.blank(self.size.width, self.rich_style)


class CurvePlot(PlotextPlot):
    """A 1D job's loss (left axis) and accuracy (right axis) over its x coordinates."""

    def show(self, data: PreviewData, log: bool) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        x = data.x
        drew = False
        for key, values in data.arrays.items():
            done = np.isfinite(values)
            if not done.any():
                continue
            side = "right" if key.endswith("_acc") else "left"
            plt.plot(x[done].tolist(), values[done].tolist(), label=LABELS.get(key, key),
                     color=CURVE_COLOURS.get(key, "white"), marker="braille", yside=side)
            drew = True
        if drew and log:
            plt.yscale("log", yside="left")
        plt.xlabel("α" if data.kind == "interp" else "x")
        self.refresh()


class Preview(Vertical):
    """Title lines over a :class:`SurfaceView` (2D) or a :class:`CurvePlot` (1D)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.log_scale = False
        self.job_id: int | None = None
        self._shown: tuple[object, ...] | None = None
        self.data: PreviewData | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="preview-title", classes="preview-title")
        yield SurfaceView(classes="preview-surface")
        yield CurvePlot(classes="preview-curves")
        yield Static("", classes="preview-note")

    def on_mount(self) -> None:
        self.query_one(SurfaceView).plain = self.app.no_color
        self._switch("note")
        self.query_one(".preview-note", Static).update("no job selected")

    def _switch(self, which: str) -> None:
        self.query_one(SurfaceView).display = which == "surface"
        self.query_one(CurvePlot).display = which == "curves"
        self.query_one(".preview-note", Static).display = which == "note"

    def _title(self, first: Text, second: Text | str = "") -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append_text(first)
        text.append("\n")
        text.append_text(second if isinstance(second, Text) else Text(second))
        self.query_one("#preview-title", Static).update(text)

    def toggle_log(self) -> bool:
        self.log_scale = not self.log_scale
        self._shown = None
        if self.data is not None:
            self.show(self.data, None)
        return self.log_scale

    def show_nothing(self, job: JobRow | None, why: str) -> None:
        """No picture: ``why`` says what is missing (no job, loading, no points yet)."""
        self.job_id = None if job is None else job.id
        key = ("nothing", self.job_id, why)
        if key == self._shown:
            return
        self._shown = key
        self.data = None
        self._title(Text(f"job {job.id} · {job.name}" if job else "preview", style="bold"), "")
        self._switch("note")
        self.query_one(".preview-note", Static).update(why)

    def show(self, data: PreviewData, job: JobRow | None) -> None:
        """Draw ``data`` unless it is what is already drawn."""
        key = (data.job_id, data.version, data.done_points, data.name, self.log_scale)
        if key == self._shown:
            return
        self._shown = key
        self.data = data
        self.job_id = data.job_id
        head = Text(f"job {data.job_id} · ", style="bold")
        head.append(data.name, style="bold")
        head.append(f" · {data.done_points}/{data.total_points} points")
        if data.note:
            self._title(head)
            self._switch("note")
            self.query_one(".preview-note", Static).update(data.note)
            return
        if data.done_points == 0:
            self._title(head, "waiting for the first points")
            self._switch("note")
            self.query_one(".preview-note", Static).update("nothing computed yet")
            return
        if data.ndim == 1:
            self._title(head, f"loss and accuracy · {'log' if self.log_scale else 'linear'} (g)")
            self._switch("curves")
            self.query_one(CurvePlot).show(data, self.log_scale)
            return
        key_name = data.loss_key or next(iter(data.arrays))
        Z = data.arrays[key_name]
        levels, log = surface_levels(Z, log=self.log_scale, num=NUM_LEVELS)
        assert data.y is not None
        low = minimum_mark(data.x, data.y, Z)
        second = Text(f"{LABELS.get(key_name, key_name)} · {'log' if log else 'linear'} (g) · ")
        second.append(CENTRE_MARK, style="bold")
        second.append(" (0,0) ")
        if low is not None:
            second.append(MIN_MARK, style="bold red")
            second.append(f" min {low[2]:.4g} at ({low[0]:.3g},{low[1]:.3g})")
        if data.path is not None:
            second.append(" · • path")
        self._title(head, second)
        self._switch("surface")
        self.query_one(SurfaceView).set_surface(data, key_name, levels, log)
