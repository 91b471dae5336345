"""The job screen: spec, timings, throughput, files and figures, the error, the log."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, HorizontalScroll, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import RichLog, Static

from lstui.plots.cells import table_cells
from lstui.scheduler.compare import SHARPNESS, SHARPNESS_TITLE, sharpness_of, shown_rows
from lstui.spec import shown_setting
from lstui.store import Event, JobRow, JobState
from lstui.tui.cells import (
    LEVEL_STYLES,
    device_text,
    ellipsis,
    job_state_text,
    middle_path,
    short_path,
    size_text,
)
from lstui.tui.snapshot import JobDetail, Snapshot
from lstui.tui.widgets import KeyBar, Preview
from lstui.views import (
    elapsed_s,
    eta_s,
    format_duration,
    format_rate,
    points_per_s,
    shown_device,
    stalled,
    state_code,
)

if TYPE_CHECKING:
    from lstui.tui.app import LstuiApp

FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".vtp")
LABEL_WIDTH = 11
"""Cells of a fact's label (``checkpoint ``)."""
FACT_GAP = "   "
"""Between two parts of a fact (``fp32   batch auto   bn train``)."""
SHARPNESS_FILE = f"{SHARPNESS}.json"
"""A comparison's sharpness table in its figure job's results folder: a list of rows."""
SHARPNESS_MAX_BYTES = 1 << 20
"""A bigger ``sharpness.json`` is not read: a comparison's table has a row a checkpoint."""


def clock_time(ts: float | None, now: float) -> str:
    """``14:02:11 (3m10s ago)``; the date too when it is not today's."""
    if ts is None:
        return "-"
    when = datetime.fromtimestamp(ts)
    shown = when.strftime("%H:%M:%S")
    if when.date() != datetime.fromtimestamp(now).date():
        shown = when.strftime("%Y-%m-%d ") + shown
    return f"{shown} ({format_duration(max(0.0, now - ts))} ago)"


def throughput(job: JobRow, now: float, daemon_running: bool = True) -> str:
    return format_rate(points_per_s(job, now, daemon_running=daemon_running))


def job_title(job: JobRow, width: int, daemon_running: bool = True, colour: bool = True) -> Text:
    """``job 3 · NAME · surface · running`` in ``width`` cells: the name is cut with
    ``…`` so that the id, the kind and the state always show."""
    head = f"job {job.id} · "
    state = job_state_text(job, daemon_running, colour)
    tail = f" · {job.kind} · "
    room = width - cell_len(head) - cell_len(tail) - state.cell_len
    title = Text(head, style="bold")
    title.append(ellipsis(job.name, max(1, room)), style="bold")
    title.append(tail)
    title.append_text(state)
    return title


def job_facts(job: JobRow, now: float, colour: bool = True, daemon_running: bool = True,
              width: int | None = None) -> Text:
    """The job's spec and timings, one fact per line (``daemon_running`` False: a
    running job is stalled, with no ETA or rate). Paths are cut in the middle to fit
    ``width`` cells, keeping their file names: wrapped, they left their labels blank."""
    spec = job.spec
    text = Text()
    path_room = None if width is None else max(8, width - LABEL_WIDTH)

    def path(value: object) -> str:
        return short_path(str(value)) if path_room is None else middle_path(str(value), path_room)

    def line(label: str, value: str | Text, style: str = "") -> None:
        text.append(f"{label:<{LABEL_WIDTH}}", style="bold")
        if isinstance(value, Text):
            text.append_text(value)
        else:
            rows = fact_rows(value, None if width is None else width - LABEL_WIDTH)
            text.append(("\n" + " " * LABEL_WIDTH).join(rows), style=style)
        text.append("\n")

    state = job_state_text(job, daemon_running, colour)
    state.append(f" ({state_code(job, daemon_running=daemon_running)})   priority {job.priority}"
                 f"   runs {job.attempts}")
    line("state", state)
    if stalled(job, daemon_running=daemon_running):
        line("", "no daemon runs on this home: d starts one")
    if job.error:
        line("error", " ".join(job.error.split()), style="bold red" if colour else "bold")
    if job.kind == "figure":  # it draws the figures of the jobs it waits on: no points
        drawn = "figures drawn" if job.state is JobState.DONE else "figures not drawn yet"
        line("progress", f"{drawn}   device {device_text(shown_device(job))}")
    else:
        line("progress", f"{job.done_points}/{job.total_points} points ({100 * job.progress:.1f} %)"
                         f"   device {device_text(shown_device(job))}")
    line("created", clock_time(job.created, now))
    line("started", clock_time(job.started, now))
    line("finished", clock_time(job.finished, now))
    eta = format_duration(eta_s(job, now, daemon_running=daemon_running))
    rate = "" if job.kind == "figure" else f"   {throughput(job, now, daemon_running)}"
    line("elapsed", f"{format_duration(elapsed_s(job, now, daemon_running=daemon_running))}   ETA {eta}{rate}")
    line("model", f"{spec.get('model')}")
    # a trajectory's centre: its last checkpoint, or (--origin plane) another run's
    stored = spec.get("figure")
    figure: dict[str, Any] = stored if isinstance(stored, dict) else {}
    compared = figure.get("checkpoints") if job.kind == "figure" else None
    if compared:  # a comparison's figure job: every checkpoint it compares, as `show` names them
        labels = list(figure.get("labels") or []) + [""] * len(compared)
        for n, (name, file) in enumerate(zip(labels, compared, strict=False)):
            line("compares" if n == 0 else "", f"{name}: {path(file)}" if name else path(file))
    for key, label in (("checkpoint", "centre" if job.kind == "trajectory" else "checkpoint"),
                       ("checkpoint_b", "ckpt B")):
        if spec.get(key) and not compared:
            line(label, path(spec[key]))
    if spec.get("checkpoints"):
        run = [PurePath(c) for c in spec["checkpoints"]]
        ends = f"{run[0].name} … {run[-1].name}"
        folders = {c.parent for c in run}
        line("run", f"{len(run)} checkpoints, {ends} in {path(run[0].parent)}" if len(folders) == 1
             else f"{len(run)} checkpoints, {path(run[0])} … {path(run[-1])}")
    if job.kind == "trajectory" and spec.get("dir_file"):
        line("plane", path(spec["dir_file"]))
    data = f"{spec.get('data')}   split {spec.get('split')}   loss {spec.get('loss')}"
    if spec.get("subset"):
        data += f"   subset {spec['subset']}"
    line("data", data)
    if job.kind != "figure":  # a figure job draws what the jobs it waits on computed
        grid = f"x {spec.get('x')}" + (f"   y {spec['y']}" if spec.get("y") else "")
        line("grid", grid)
        line("directions", f"{spec.get('dir_type')}   norm {shown_setting(spec, 'norm')}"
                           f"   ignore {shown_setting(spec, 'ignore')}"
                           f"   seed {spec.get('seed')}")
        line("compute", f"{spec.get('precision')}   batch {spec.get('batch_size') or 'auto'}"
                        f"   bn {spec.get('bn')}")
    if job.depends_on:
        line("waits on", ", ".join(str(d) for d in job.depends_on))
    line("results", path(job.results_dir))
    text.rstrip()
    return text


def fact_rows(value: str, room: int | None) -> list[str]:
    """``value`` in rows of at most ``room`` cells (None: one row), broken between its
    parts (``a   b   c``) rather than inside one (``seed`` and ``123`` were on two
    rows at 120 columns), and a part longer than a row between its words."""
    if room is None or cell_len(value) <= room:
        return [value]
    rows: list[str] = []
    for part in value.split(FACT_GAP):
        pieces = textwrap.wrap(part, max(8, room)) or [""]
        if rows and cell_len(rows[-1]) + len(FACT_GAP) + cell_len(pieces[0]) <= room:
            rows[-1] += FACT_GAP + pieces.pop(0)
        rows.extend(pieces)
    return rows


def files_text(files: Sequence[tuple[str, int]]) -> Text:
    """The results folder's figures, then its other files."""
    text = Text()
    figures = [f for f in files if f[0].lower().endswith(FIGURE_SUFFIXES)]
    others = [f for f in files if f not in figures]
    for title, group in (("figures", figures), ("files", others)):
        text.append(f"{title}\n", style="bold")
        if not group:
            text.append("  none yet\n", style="dim")
        for name, size in group:
            text.append(f"  {name}", style="cyan" if title == "figures" else "")
            text.append(f"  {size_text(size)}\n", style="dim")
    text.rstrip()
    return text


def read_sharpness(path: Path) -> list[Mapping[str, object]]:
    """The rows of a comparison's ``sharpness.json``.

    Raises:
        OSError: the file cannot be read (FileNotFoundError: it is not there).
        ValueError: it is too big, or not a non-empty JSON list of tables.
    """
    with path.open("rb") as handle:
        data = handle.read(SHARPNESS_MAX_BYTES + 1)
    if len(data) > SHARPNESS_MAX_BYTES:
        raise ValueError(f"bigger than {size_text(SHARPNESS_MAX_BYTES)}")
    try:
        rows = json.loads(data)
    except RecursionError:
        raise ValueError("nested too deep") from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError("not JSON") from None
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise ValueError("not a list of rows")
    return rows


def sharpness_text(rows: Sequence[Mapping[str, object]], colour: bool = True) -> Text:
    """The rows aligned as ``lstui show`` prints them (:func:`lstui.views.rows_text`):
    the columns are the keys in first-seen order, the first (the model) to the left,
    the numbers to the right; the header bold, a diverged value red."""
    columns, cells = table_cells(rows)
    widths = [max([cell_len(c)] + [cell_len(r[k]) for r in cells]) for k, c in enumerate(columns)]
    text = Text(no_wrap=True, overflow="crop")
    for n, values in enumerate([columns, *cells]):
        line = Text()
        for k, (value, width) in enumerate(zip(values, widths, strict=True)):
            if k:
                line.append("  ")
            pad = " " * (width - cell_len(value))
            style = "bold" if n == 0 else ""
            if n and colour and value in ("NaN", "inf", "-inf"):
                style = "bold red"
            line.append(value + pad if k == 0 else pad + value, style=style)
        line.rstrip()
        if n:
            text.append("\n")
        text.append_text(line)
    return text


class SideScroll(HorizontalScroll):
    """Scrolls sideways what is wider than the pane (the sharpness table beside a plot);
    in the focus chain only then."""

    DEFAULT_CSS = """
    SideScroll {
        height: auto;
        scrollbar-size-horizontal: 1;
    }
    """

    def allow_focus(self) -> bool:
        return super().allow_focus() and self.max_scroll_x > 0


class SharpnessTable(Vertical):
    """A comparison's sharpness table on its figure job's screen: what it is (wrapped),
    then its rows, which scroll sideways when wider than the pane. Hidden until
    :meth:`show` has rows or a reason for none."""

    DEFAULT_CSS = """
    SharpnessTable {
        height: auto;
        margin-bottom: 1;
        display: none;
    }
    SharpnessTable .sharpness-rows {
        width: auto;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(id=id)
        # made here, not in compose: the job screen may show a table before this is composed
        self._title = Static("", classes="sharpness-title")
        self._rows = Static("", classes="sharpness-rows")
        self._scroll = SideScroll(self._rows)

    def compose(self) -> ComposeResult:
        yield self._title
        yield self._scroll

    def show(self, path: Path | None, colour: bool = True) -> None:
        """The table in ``path`` (None: hide it); one line instead when it is not there
        or not a table."""
        self.display = path is not None
        if path is None:
            return
        try:
            rows = read_sharpness(path)
            table = sharpness_text(shown_rows(rows), colour)
        except FileNotFoundError:
            reason = "is not in the results folder"
        except OSError as exc:
            reason = f"cannot be read ({exc.strerror or exc})"
        except ValueError as exc:
            reason = f"is {exc}"
        else:
            what = sharpness_of(rows)  # said where it is not the usual train loss (80 columns are full)
            self._title.update(Text(SHARPNESS_TITLE + (f", L the {what}" if what not in (None, "train loss") else ""),
                                    style="bold"))
            self._rows.update(table)
            self._scroll.display = True
            return
        self._title.update(Text(f"no sharpness table: {path.name} {reason}", style="dim"))
        self._scroll.display = False


def event_line(event: Event, results_dir: Path | str | None = None, now: float | None = None) -> Text:
    """One log line, its date too when it is not the day of ``now`` (today's); paths
    inside ``results_dir`` are written relative to it.

    The files panel above names the folder; repeating it in every "wrote" line made each
    of them wrap over two or three rows of an 80-column terminal.
    """
    when = datetime.fromtimestamp(event.ts)
    today = datetime.fromtimestamp(now).date() if now is not None else datetime.now().date()
    # a year-old job's log read as of today
    shown = when.strftime("%H:%M:%S " if when.date() == today else "%Y-%m-%d %H:%M:%S ")
    text = Text(shown, style="dim")
    text.append(f"{event.level:<7} ", style=LEVEL_STYLES.get(event.level, ""))
    message = event.message
    if results_dir:
        message = message.replace(str(results_dir).rstrip("/") + "/", "")
    text.append(message)
    return text


class JobScreen(Screen[None]):
    """Everything about one job. ``esc`` goes back, ``l`` gives the log the screen, ``v``
    the plot (on a narrow terminal, 80 columns, the only way to see it: beside the facts
    there is no room for it). A done comparison's figure job, which has no plot, shows
    its result above the facts: the sharpness table."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("l", "toggle_log", "Log"),
        Binding("v", "toggle_plot", "Plot"),
    ]

    def __init__(self, job_id: int, *, log: bool = False, database: tuple[int, int] | None = None) -> None:
        super().__init__(classes="log-full" if log else None)
        self.job_id = job_id
        self._last_event = 0
        self._shown: dict[str, object] = {}
        self.ready = False
        self.database = database
        """The database file its job was read from (None: the first snapshot's)."""
        self.kind: str | None = None
        """Its job's kind once read: a figure job's screen offers no plot keys."""

    @property
    def lstui(self) -> LstuiApp:
        from lstui.tui.app import LstuiApp

        assert isinstance(self.app, LstuiApp)
        return self.app

    def compose(self) -> ComposeResult:
        self._statics = {
            "#job-title": Static(f"job {self.job_id}", id="job-title"),
            "#job-facts": Static("", id="job-facts"),
            "#job-files": Static("", id="job-files"),
        }
        self._info = VerticalScroll(id="job-info")
        self._sharpness = SharpnessTable(id="job-sharpness")
        # g and t are app-wide: the main preview holds what they chose
        chosen = self.lstui.main.preview
        self._preview = Preview(id="job-preview", log_scale=chosen.log_scale, quantity=chosen.quantity)
        # min_width: RichLog's default (78) wraps wider than an 80-column terminal leaves it,
        # and the last character of each wrapped line fell under the scrollbar
        self._log = RichLog(id="job-log", max_lines=2000, wrap=True, markup=False, highlight=False, min_width=20)
        yield self._statics["#job-title"]
        with Horizontal(id="job-body"):
            with self._info:
                yield self._sharpness  # a comparison's result: first, in view at 80x24
                yield self._statics["#job-facts"]
                yield self._statics["#job-files"]
            yield self._preview
        yield self._log
        yield KeyBar()

    @property
    def preview(self) -> Preview:
        return self._preview

    def on_mount(self) -> None:
        self._log.border_title = "log"
        if self.has_class("log-full"):
            self._log.focus()
        else:
            self._info.focus()
        self.ready = True
        if self.lstui.snapshot is not None:
            self.apply_snapshot(self.lstui.snapshot)

    def _update(self, selector: str, key: object, content: Text | str) -> None:
        if self._shown.get(selector) != key:
            self._shown[selector] = key
            self._statics[selector].update(content)

    def shows(self, snapshot: Snapshot) -> bool:
        """Whether ``snapshot`` was read from the database file this screen's job is in."""
        return self.database is None or snapshot.database == self.database

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        if not self.ready:
            return
        if self.database is None:
            self.database = snapshot.database
        if not self.shows(snapshot):
            self._update("#job-title", "other database",
                         f"job {self.job_id} was in a database file that is gone — esc: back")
            return
        job = snapshot.job(self.job_id)
        if job is None:
            self._update("#job-title", "gone", f"job {self.job_id} no longer exists — esc: back")
            return
        if job.kind != self.kind:
            self.kind = job.kind
            self.app.refresh_bindings()  # a figure job draws files: v, g and t go
        colour = not self.app.no_color
        daemon_running = snapshot.daemon.running
        title = job_title(job, self._statics["#job-title"].content_region.width or self.app.size.width - 2,
                          daemon_running, colour)
        self._update("#job-title", title.markup, title)
        now = snapshot.taken
        facts = job_facts(job, now, colour, daemon_running,
                          width=self._statics["#job-facts"].content_region.width or None)
        self._update("#job-facts", facts.markup, facts)
        if snapshot.detail is not None and snapshot.detail.job_id == self.job_id:
            self._show_detail(snapshot.detail, job.results_dir, snapshot.taken)
            self._show_sharpness(job, snapshot.detail.files, colour)
        preview = self._preview
        if snapshot.preview is not None and snapshot.preview.job_id == self.job_id:
            preview.show(snapshot.preview, job, snapshot)
        elif preview.job_id != self.job_id:
            preview.show_nothing(job, "loading…")

    def _show_detail(self, detail: JobDetail, results_dir: Path, now: float | None = None) -> None:
        files = files_text(detail.files)
        self._update("#job-files", files.markup, files)
        log = self._log
        for event in detail.events:
            if event.id > self._last_event:
                log.write(event_line(event, results_dir, now))
                self._last_event = event.id

    def _show_sharpness(self, job: JobRow, files: Sequence[tuple[str, int]], colour: bool) -> None:
        """A done comparison's sharpness table, read again only when the listing of its
        results folder says the file changed (nothing for any other job)."""
        key: object = None
        if job.kind == "figure" and job.state is JobState.DONE:
            key = ("sharpness", job.finished, next((f for f in files if f[0] == SHARPNESS_FILE), None))
        if self._shown.get("#job-sharpness") != key:
            self._shown["#job-sharpness"] = key
            self._sharpness.show(None if key is None else Path(job.results_dir) / SHARPNESS_FILE, colour)

    PLOT_ACTIONS = frozenset({"toggle_plot", "toggle_log_scale", "cycle_quantity"})
    """The keys of a plot (v, g, t), which a figure job's screen does not offer."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.app.screen is not self:  # a dialog over it: esc, l, v answer or do nothing there
            return False
        return not (self.kind == "figure" and action in self.PLOT_ACTIONS)

    def action_back(self) -> None:
        self.dismiss(None)

    def action_toggle_plot(self) -> None:
        self.remove_class("log-full")
        self.toggle_class("plot-full")
        self._info.focus()

    def action_toggle_log(self) -> None:
        self.remove_class("plot-full")
        self.toggle_class("log-full")
        if self.has_class("log-full"):
            self._log.focus()
            self._log.scroll_end(animate=False)
        else:
            self._info.focus()
