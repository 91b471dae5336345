"""The new-job form: the CLI's flags as fields, each checked before anything is queued."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static
from textual.worker import get_current_worker

from lstui.errors import LstuiError
from lstui.spec import JobSpec
from lstui.tui.form import (
    DEFAULT_DIR_TYPE,
    DEFAULT_X,
    FIELDS,
    GENERAL,
    HIDDEN,
    placeholder_of,
    validate_form,
)

TITLE = "New job · tab: next field · enter: queue · esc: cancel"
"""Whole in the 56 columns the form leaves at 60 (ctrl+s queues too, from any field)."""
CHECKING = "checking the job's files …"
PLANNING = "computing the PCA plane of the checkpoints …"
QUEUEING = "queueing …"
WAITING = "queueing: waiting for the database, which another process is writing to …"

#: The fields whose files the check reads, in the order a reason naming a file is matched.
FILE_FIELDS = ("checkpoint", "checkpoint_b", "checkpoints", "data")

Plan = Callable[[dict[str, str], Callable[[], bool]], tuple[int, str, str]]
"""Queues a trajectory the form checked, from its fields' values, as ``lstui submit
trajectory`` does (which computes its PCA plane first), giving up when the second
argument says so (the form or the app closed): returns the job's id, its name and the
notes said of it; raises :class:`~lstui.errors.LstuiError` with the reason it was refused."""


def _field_named(reason: str, values: dict[str, str]) -> str:
    """The shown field a file check's ``reason`` is about: the one whose text, or folder
    made absolute, or flag it quotes (``--checkpoint-b is the --checkpoint file itself``);
    :data:`GENERAL` for none. A kind's hidden field keeps its text: it is passed over."""
    hidden = HIDDEN.get(values.get("kind", ""), ())
    shown = [k for k in FILE_FIELDS if k not in hidden and values.get(k, "").strip()]
    for k in shown:
        text = values[k].strip()
        _, sep, folder = text.partition(":")
        if text in reason or (k == "data" and sep and folder and str(Path(folder).expanduser().absolute()) in reason):
            return k
    for k in sorted(shown, key=len, reverse=True):  # --checkpoint-b before --checkpoint
        if f"--{k.replace('_', '-')}" in reason:
            return k
    if values.get("kind") == "trajectory" and "checkpoint" in reason:
        return "checkpoints"  # a file its glob or list expanded to, which the text does not hold
    return GENERAL


class NewJobScreen(ModalScreen[int | None]):
    """A form that queues a checked :class:`JobSpec` with ``queue`` and closes with the
    new job's id (None: cancelled).

    Every wrong field gets its reason written under it; nothing is queued until all
    are right. Then, in a thread, the files the job will read are checked
    (:func:`~lstui.scheduler.preflight.check_inputs`: the torch import makes it take a
    few seconds the first time) and the job is queued. A reason found on the way goes
    under the field naming its file (or under the form), the form staying open with
    every value. The title says what the thread is doing, and that it waits for the
    database when another process holds it. ``enter`` in a text field or ``ctrl+s``
    queues, ``esc`` cancels; the focus starts in the first text field, so that
    ``enter`` queues rather than opening the kind's list.

    A trajectory is queued by ``lstui submit trajectory`` in a process of its own
    (``plan``), which checks its files and computes its PCA plane first: the TUI
    computes nothing, and quitting stops it.

    Args:
        queue: queues a spec (called in a thread); returns the job's id.
        plan: see :data:`Plan` (called in that thread).
        twins: what to say of a job queued that earlier jobs compute (called in that
            thread with its id; None: nothing).
        remembered: the values of the last job queued from the form, which it opens
            with (and which it updates when it queues one): a person queueing a second
            job of their own model does not type its factory and data again. Not its
            name, which names one job.
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Queue"),
    ]

    def __init__(self, queue: Callable[[JobSpec], int], remembered: dict[str, str] | None = None,
                 plan: Plan | None = None, twins: Callable[[int], str | None] | None = None) -> None:
        super().__init__(id="new-job")
        self.queue = queue
        self.plan = plan
        self.twins = twins
        self.remembered = remembered if remembered is not None else {}
        self.errors: dict[str, str] = {}
        self.checking = False
        self.stage = ""
        """What the thread is doing: "", "checking" or "queueing"."""

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Static(TITLE, id="form-title")
            with VerticalScroll(id="form-fields"):
                for f in FIELDS:
                    with Horizontal(classes="field"):
                        yield Label(f.label, classes="field-label")
                        value = self.remembered.get(f.key, f.default)
                        if f.choices:
                            value = value if value in f.choices else f.default
                            yield Select([(c, c) for c in f.choices], value=value, allow_blank=False,
                                         compact=True, id=f"field-{f.key}")
                        else:
                            yield Input(value, placeholder=f.placeholder, compact=True,
                                        id=f"field-{f.key}")
                    yield Static("", classes="field-error", id=f"error-{f.key}")
                yield Static("", classes="field-error", id=f"error-{GENERAL}")
            with Horizontal(id="form-buttons"):
                yield Button("Queue", variant="primary", id="queue", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        for err in self.query(".field-error"):
            err.display = False
        self._show_fields_of(self.values()["kind"])
        self.query_one("#field-model").focus()

    def _show_fields_of(self, kind: str) -> None:
        """Hide the fields ``kind`` does not use (:data:`~lstui.tui.form.HIDDEN`), and
        give the others its placeholders."""
        for f in FIELDS:
            field = self.query_one(f"#field-{f.key}")
            if isinstance(field, Input):
                field.placeholder = placeholder_of(f, kind)
            row = field.parent
            if isinstance(row, Widget):
                row.display = f.key not in HIDDEN.get(kind, ())

    def values(self) -> dict[str, str]:
        """The text of every field as it stands."""
        out: dict[str, str] = {}
        for f in FIELDS:
            widget = self.query_one(f"#field-{f.key}")
            if isinstance(widget, Select):
                out[f.key] = str(widget.value)
            elif isinstance(widget, Input):
                out[f.key] = widget.value
        return out

    def set_value(self, key: str, value: str) -> None:
        widget = self.query_one(f"#field-{key}")
        if isinstance(widget, Select):
            widget.value = value
        elif isinstance(widget, Input):
            widget.value = value

    def show_errors(self, errors: dict[str, str]) -> None:
        """Write each reason under its field; clear the others."""
        self.errors = errors
        first: Widget | None = None
        shown: Static | None = None  # the first reason, scrolled into view
        for f in [*FIELDS, None]:
            key = GENERAL if f is None else f.key
            label = self.query_one(f"#error-{key}", Static)
            reason = errors.get(key)
            label.update(f"↑ {reason}" if reason and f is not None else reason or "")
            label.display = bool(reason)
            if reason and shown is None:
                shown = label
            if f is not None:
                field = self.query_one(f"#field-{key}")
                field.set_class(bool(reason), "-wrong")
                if reason and first is None:
                    first = field
        if first is not None:
            first.focus()
        if shown is not None:
            # the reason under its field, not the field alone: at 100×30 the form, spaced,
            # fills its box, and a reason below the fold left enter seeming to do nothing
            fields = self.query_one("#form-fields", VerticalScroll)
            self.call_after_refresh(fields.scroll_to_widget, shown, animate=False)

    @on(Input.Changed)
    @on(Select.Changed)
    def _edited(self, event: Input.Changed | Select.Changed) -> None:
        """A field's reason goes as soon as its value changes: it was about the old one.
        The next submit checks every field again."""
        key = (event.control.id or "").removeprefix("field-")
        if key in self.errors:
            del self.errors[key]
            self.query_one(f"#error-{key}", Static).display = False
            event.control.remove_class("-wrong")

    @on(Select.Changed, "#field-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        kind = str(event.value)
        values = self.values()
        if kind in DEFAULT_X and values["x"] in DEFAULT_X.values():
            self.set_value("x", DEFAULT_X[kind])
        if kind in DEFAULT_DIR_TYPE and values["dir_type"] in DEFAULT_DIR_TYPE.values():
            self.set_value("dir_type", DEFAULT_DIR_TYPE[kind])
        self._show_fields_of(kind)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#queue")
    def _queue(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.action_cancel()

    def action_submit(self) -> None:
        if self.checking:
            return
        values = self.values()
        spec, errors = validate_form(values)
        self.show_errors(errors)
        if spec is None:
            return
        self.checking = True
        self._stage("checking", CHECKING)

        def check_and_queue() -> None:
            from lstui.scheduler.preflight import check_inputs

            if spec.kind == "trajectory":
                plan_and_queue()
                return
            try:
                check_inputs([spec])
            except (LstuiError, OSError) as exc:  # what the CLI shows as one line
                self.app.call_from_thread(self._refused, str(exc), values)
                return
            self.app.call_from_thread(self._stage, "queueing", QUEUEING)
            try:
                job_id = self.queue(spec)
            except (LstuiError, OSError) as exc:  # the database locked too long, say
                self.app.call_from_thread(self._refused, str(exc), None)
            else:
                note = ""
                if self.twins is not None:
                    try:
                        note = self.twins(job_id) or ""
                    except (LstuiError, OSError):  # (queued all the same: the note is a kindness)
                        note = ""
                self.app.call_from_thread(self._queued, job_id, spec.default_name(), values, note)

        def plan_and_queue() -> None:
            if self.plan is None:
                self.app.call_from_thread(self._refused, "this form cannot queue trajectories here; "
                                          "use lstui submit trajectory", values)
                return
            worker = get_current_worker()
            self.app.call_from_thread(self._stage, "planning", PLANNING)
            try:
                job_id, name, note = self.plan(values, lambda: worker.is_cancelled or not self.app.is_running)
            except LstuiError as exc:
                if self.app.is_running:
                    self.app.call_from_thread(self._refused, str(exc), values)
                return
            if self.app.is_running:
                self.app.call_from_thread(self._queued, job_id, name, values, note)

        # in the app's "actions" group: checking is the first step of queueing
        self.run_worker(check_and_queue, name="queue", group="actions", thread=True)

    def _stage(self, stage: str, title: str) -> None:
        """Say in the title what the thread does; queueing that takes longer than a
        moment is waiting for the database, and says so at once, not after 30 s."""
        self.stage = stage
        self.query_one("#form-title", Static).update(title)
        if stage == "queueing":
            from lstui.tui.app import SLOW_S

            self.set_timer(SLOW_S, self._still_queueing)

    def _still_queueing(self) -> None:
        if self.stage == "queueing":
            self.query_one("#form-title", Static).update(WAITING)
            self.notify(WAITING, markup=False)

    def _queued(self, job_id: int, name: str, values: dict[str, str], note: str = "") -> None:
        """Say that job ``name`` is queued as ``job_id`` (and ``note``), remember its
        values for the next form, and close (unless ``esc`` closed the form already)."""
        self.remembered.clear()
        # not its name: every job queued after it took that name too
        self.remembered.update({k: v for k, v in values.items() if k != "name"})
        self.stage = ""
        said = f"queued job {job_id}: {name}" + (f"\n{note}" if note else "")
        self.app.notify(said, markup=False, timeout=10 if note else 5)
        if self.is_active:
            self.dismiss(job_id)

    def _refused(self, reason: str, values: dict[str, str] | None) -> None:
        """Show what the check found under the field that names its file (``values``:
        the fields checked; None: queueing failed, said under the form)."""
        self.checking = False
        self.stage = ""
        if self not in self.app.screen_stack:  # esc closed the form: the reason is all there is
            self.app.notify(reason, severity="error", timeout=8, markup=False)
            return
        self.query_one("#form-title", Static).update(TITLE)
        key = GENERAL
        if values is not None:
            key = _field_named(reason, values)
        if "--trust-checkpoint" in reason:  # a flag the form has not: it sent the person looking for it
            reason += "; the form trusts no file: queue it with lstui submit … --trust-checkpoint"
        self.show_errors({key: reason})

    def action_cancel(self) -> None:
        self.dismiss(None)
