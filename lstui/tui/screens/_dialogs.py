"""Small modal screens: a yes/no question and the help."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    """Asks ``question``; ``y`` answers yes, ``n`` or ``esc`` no (the default)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]
    AUTO_FOCUS = "#no"
    """Focused as the screen is shown: focusing it later (in ``on_mount``) left "Yes"
    focused for a moment, and an enter typed ahead after ``c`` cancelled the job."""

    def __init__(self, question: str) -> None:
        super().__init__(classes="dialog")
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(self.question, id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes (y)", variant="error", id="yes", compact=True)
                yield Button("No (n)", variant="primary", id="no", compact=True)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓ pgup pgdn", "move in the job table"),
    ("home / end", "the first / the last job"),
    ("enter", "open the job: spec, timings, files, log"),
    ("esc", "back (and clear the filter)"),
    ("n", "new job (a form; nothing is queued until every field is right)"),
    ("c", "cancel the job (asks first)"),
    ("p", "pause a queued or running job; resume a paused one"),
    ("r", "retry a failed or cancelled job (points already computed are kept)"),
    ("x", "remove a finished job and its results folder (asks first)"),
    ("+ / -", "raise / lower the job's priority (higher runs first)"),
    ("e", "export the job's figures (PNG and PDF into its results folder)"),
    ("l", "the job's log"),
    ("v", "in a job's screen: its plot on the whole screen"),
    ("/", "filter jobs by words in their name, state or kind"),
    ("s", "sort jobs: id → priority → state → progress → id"),
    ("g", "log scale of the preview on/off (accuracies stay linear)"),
    ("t", "2D preview: train loss → test loss → train acc → test acc"),
    ("d", "start the daemon when none runs"),
    ("ctrl+p", "command palette: every action by name"),
    ("?", "this help"),
    ("q ctrl+c", "quit (jobs keep running in the daemon)"),
)


def help_table() -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, what in KEYS:
        table.add_row(key, what)
    return table


class HelpScreen(ModalScreen[None]):
    """The keys, and what the preview's marks mean; ``esc``, ``?`` or ``q`` close it
    (the title says so)."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self) -> None:
        super().__init__(classes="dialog")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            title = Text("lstui — keys", style="bold")
            title.append("   esc or ?: close", style="dim")
            yield Static(title, id="help-title")
            yield Static(help_table())
            yield Static(
                "Preview: contour bands of the loss (or what t picked), + the centre (0,0), "
                "* the lowest point computed (the highest of an accuracy), • a trajectory's "
                "path. Blank cells are not computed yet, grey ones "
                "(x without colours) computed as NaN or inf; the picture sharpens as "
                "coarse-to-fine units arrive.",
                id="help-preview",
            )

    def action_close(self) -> None:
        self.dismiss(None)
