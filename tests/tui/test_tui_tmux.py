"""``lstui`` in a real terminal: tmux at 80×24, driven with keys, read with capture-pane."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lstui.store import JobState, Store

TMUX = shutil.which("tmux")


class Tmux:
    """One tmux session on its own server socket (the user's sessions are not touched)."""

    def __init__(self, socket: Path, name: str) -> None:
        assert TMUX is not None
        self.base = [TMUX, "-S", str(socket)]
        self.name = name

    def run(self, *args: str, check: bool = True) -> str:
        done = subprocess.run([*self.base, *args], capture_output=True, text=True, check=check, timeout=20)
        return done.stdout

    def start(self, command: str, width: int, height: int) -> None:
        self.run("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), command)

    def keys(self, *keys: str) -> None:
        """Press keys one by one, at a quick typist's pace (a Tab moves the focus, which
        the app applies before it reads the next key only if that comes a moment later)."""
        for key in keys:
            self.run("send-keys", "-t", self.name, key)
            time.sleep(0.4 if key == "Tab" else 0.15)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", self.name, "-l", "--", text)
        time.sleep(0.15)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name, check=False)

    def alive(self) -> bool:
        return subprocess.run([*self.base, "has-session", "-t", self.name], capture_output=True).returncode == 0

    def wait(self, condition: Callable[[str], bool], timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if condition(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{text}")
            time.sleep(0.2)

    def kill(self) -> None:
        self.run("kill-server", check=False)

    def app_in_shell(self, command: str) -> str:
        """Start a shell at 80x24, run ``command`` (the app) in it, then ``echo rc=$?``;
        once the app shows, return its process id."""
        self.start("env PS1='$ ' bash --norc --noprofile", 80, 24)
        self.type(f"{command}; echo rc=$?\n")
        self.wait(lambda s: "jobs" in s and "daemon" in s, 30, "the app")
        pid = self.run("list-panes", "-t", self.name, "-F", "#{pane_pid}").strip()
        app = subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split()
        assert app, "the app's process"
        return app[0]

    def ended(self) -> str:
        """The screen once the shell said the app's exit status (``rc=N``)."""
        return self.wait(lambda s: re.search(r"rc=\d", s) is not None, 20, "the app to end")


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_lstui_in_tmux_queues_a_job_with_the_form_and_shows_it_done(daemon_home: Path, tmp_path: Path) -> None:
    lstui = Path(sys.executable).parent / "lstui"
    tmux = Tmux(tmp_path / "tmux.sock", "lstui")
    tmux.start(f"env LSTUI_HOME={daemon_home} {lstui}", 80, 24)
    try:
        tmux.wait(lambda s: "jobs" in s and "daemon running" in s, 30, "the app")
        tmux.keys("n")
        tmux.wait(lambda s: "New job" in s, 10, "the form")
        tmux.keys("C-u")  # the focus starts in the model field
        tmux.type("mlp")
        tmux.wait(lambda s: re.search(r"│ model +mlp ", s) is not None, 5, "model mlp")
        tmux.keys("Tab", "Tab", "Tab")  # checkpoint, data, x (checkpoint-b: hidden)
        tmux.type("-1:1:5")
        tmux.wait(lambda s: re.search(r"│ x +-1:1:5 ", s) is not None, 5, "x -1:1:5")
        tmux.keys("Tab")
        tmux.type("-1:1:5")
        tmux.wait(lambda s: re.search(r"│ y +-1:1:5 ", s) is not None, 5, "y -1:1:5")
        tmux.keys("Tab", "Tab", "Tab", "Tab", "Tab", "Tab")  # norm … precision, subset
        tmux.type("tmux-job")
        tmux.wait(lambda s: re.search(r"│ name +tmux-job ", s) is not None, 5, "the name")
        tmux.keys("Enter")
        screen = tmux.wait(
            lambda s: any("tmux-job" in line and " done " in line for line in s.splitlines())
            and "centre (0,0)" in s,
            90,
            "the job to be done, with its preview",
        )
        lines = screen.splitlines()
        assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
        row = next(line for line in lines if "tmux-job" in line)
        assert "25/25" in row and "100%" in row
        assert "≥" in screen and "min " in screen, "the preview's legend and minimum"
        assert "Export" in screen and "Quit" in screen, "every key in the footer"
        (tmp_path / "screen.txt").write_text(screen)
        with Store.open_home(daemon_home) as store:
            job = next(j for j in store.list_jobs() if j.name == "tmux-job")
            assert job.state is JobState.DONE
            assert (job.spec["model"], job.spec["x"], job.spec["y"]) == ("mlp", "-1:1:5", "-1:1:5")
        tmux.keys("q")
        deadline = time.monotonic() + 30
        while tmux.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not tmux.alive(), f"q quits; the screen:\n{tmux.screen()}"
    finally:
        tmux.kill()


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
@pytest.mark.parametrize("signum", ["TERM", "HUP"])
def test_a_tui_ended_by_sigterm_or_sighup_gives_the_terminal_back(stopped_home: Path, tmp_path: Path,
                                                                  signum: str) -> None:
    """`kill` (or an SSH connection dropped) left the alternate screen on, the cursor
    hidden and mouse tracking on: the shell beneath was unusable."""
    lstui = Path(sys.executable).parent / "lstui"
    tmux = Tmux(tmp_path / "tmux.sock", "shell")
    try:
        app = tmux.app_in_shell(f"env LSTUI_HOME={stopped_home} {lstui}")
        subprocess.run(["kill", f"-{signum}", app], check=True)
        text = tmux.ended()
        assert "lstui: interrupted" in text and "rc=130" in text and "Traceback" not in text
        state = tmux.run("display", "-p", "-t", "shell", "#{alternate_on} #{cursor_flag} #{mouse_any_flag}")
        assert state.split() == ["0", "1", "0"]
    finally:
        tmux.kill()


DEAD_TERMINAL = """
import errno, os, sys
from pathlib import Path
from textual.drivers import _writer_thread

_writer_thread.MAX_QUEUED_WRITES = 1  # a dead output thread blocks the app's next write at once
run = _writer_thread.WriterThread.run


class Dying:
    # the terminal as once the SSH connection is gone: every write fails (EIO)
    def __init__(self, file):
        self.file = file

    def write(self, text):
        if os.path.exists(sys.argv[2]):
            raise OSError(errno.EIO, "Input/output error")
        return self.file.write(text)

    def flush(self):
        return self.file.flush()

    def fileno(self):
        return self.file.fileno()


def dying_run(self):
    self._file = Dying(self._file)
    run(self)


_writer_thread.WriterThread.run = dying_run
import lstui.tui.app as app

app.LEAVE_GRACE_S = 2.0
app.run_app(Path(sys.argv[1]))
"""


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_a_tui_whose_terminal_died_still_ends_on_sighup(stopped_home: Path, tmp_path: Path) -> None:
    """Once, after its tmux session was killed, the TUI stayed up for good, deaf to SIGHUP
    and SIGTERM: Textual's output thread had died on a write to the dead terminal and the
    app waited on it; the loop's signal handler waited behind. Here the output fails
    with EIO from a moment on, as a dead terminal's does (the terminal itself stays, to
    read the exit code); the app must end within its grace after SIGHUP, with 128 + 1."""
    script = tmp_path / "dead_terminal.py"
    script.write_text(DEAD_TERMINAL)
    dead = tmp_path / "dead"
    tmux = Tmux(tmp_path / "tmux.sock", "shell")
    try:
        app = tmux.app_in_shell(f"{sys.executable} {script} {stopped_home} {dead}")
        dead.touch()
        time.sleep(4)  # the output thread dies at the app's next write; the one after waits on it
        subprocess.run(["kill", "-HUP", app], check=True)
        text = tmux.ended()
        assert "rc=129" in text, text
    finally:
        tmux.kill()
        subprocess.run(["pkill", "-KILL", "-f", str(script)], check=False)  # had it hung


CRASHING = """
import sys
from pathlib import Path

import lstui.tui.app as app


def broken(self, width, height):
    raise RuntimeError("a drawing bug")


app.LstuiApp.follow_size = broken
from lstui.cli import cli

sys.argv = ["lstui", "--home", sys.argv[1]]
cli()
"""


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_a_tui_that_ends_on_an_error_exits_non_zero(stopped_home: Path, tmp_path: Path) -> None:
    """A job whose preview raised ended the app with Textual's traceback, and exit 0."""
    from lstui.tui.app import LstuiApp

    assert hasattr(LstuiApp, "follow_size"), "the method the script breaks (renamed: the app ran on)"
    script = tmp_path / "crashing.py"
    script.write_text(CRASHING)
    tmux = Tmux(tmp_path / "tmux.sock", "shell")
    tmux.start("env PS1='$ ' bash --norc --noprofile", 80, 24)
    try:
        tmux.type(f"{sys.executable} {script} {stopped_home} 2>/dev/null; echo rc=$?\n")
        text = tmux.ended()
        assert re.search(r"rc=1\b", text), text
    finally:
        tmux.kill()


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_a_notification_stands_above_the_two_row_key_bar(stopped_home: Path, tmp_path: Path) -> None:
    """At 80 columns a toast covered the key bar's first row ("c Cancel ▌", hiding
    p Pause, r Retry, Prio+): Textual leaves room for a one-row footer only."""
    lstui = Path(sys.executable).parent / "lstui"
    tmux = Tmux(tmp_path / "tmux.sock", "lstui")
    tmux.start(f"env LSTUI_HOME={stopped_home} {lstui}", 80, 24)
    try:
        tmux.wait(lambda s: "jobs" in s and "q Quit" in s, 30, "the app")
        tmux.keys("Home", "c")  # job 1 is done: a toast says it cannot be cancelled
        text = tmux.wait(lambda s: "cannot cancel it" in s, 10, "the toast")
        bar = text.rstrip("\n").splitlines()[-2:]
        assert "p Pause" in bar[0] and "- Prio-" in bar[0] and "q Quit" in bar[1], bar
    finally:
        tmux.kill()


def test_the_form_s_toast_stands_above_the_key_bar_it_closes_to(stopped_home: Path, tmp_path: Path) -> None:
    """The "queued job …" toast of the form was lifted on the form (no key bar) and then
    covered the list's first key row ("c Cancel ▌") for its seconds."""
    lstui = Path(sys.executable).parent / "lstui"
    tmux = Tmux(tmp_path / "tmux.sock", "lstui")
    tmux.start(f"env LSTUI_HOME={stopped_home} {lstui}", 80, 24)
    try:
        tmux.wait(lambda s: "jobs" in s and "q Quit" in s, 30, "the app")
        tmux.keys("n")
        tmux.wait(lambda s: "New job" in s, 10, "the form")
        tmux.keys("Tab", "Tab", "Tab", "C-u")  # model → checkpoint → data → x: a small grid
        tmux.type("-1:1:3")
        tmux.keys("Enter")
        text = tmux.wait(lambda s: "queued job" in s and "q Quit" in s, 60, "the toast")

        def bar_whole(screen: str) -> bool:
            bar = screen.rstrip("\n").splitlines()[-2:]
            return len(bar) == 2 and "p Pause" in bar[0] and "- Prio-" in bar[0] and "q Quit" in bar[1]

        # The toast is lifted by the refresh after it shows: a screen caught under load
        # between the two has it low for a frame. Covered for its seconds, the toast goes
        # before the bar shows whole beside it, and this fails.
        if not bar_whole(text):
            text = tmux.wait(lambda s: "queued job" in s and bar_whole(s), 10, "the toast above the key bar")
        assert bar_whole(text), text
    finally:
        tmux.kill()


def test_exported_columns_and_lines_neither_size_the_tui_nor_stop_it_following_the_window(
        stopped_home: Path, tmp_path: Path) -> None:
    """`export COLUMNS LINES` (in a .bashrc, for wide `ps`): the app drew at their size in
    a corner of the window and never followed a resize."""
    lstui = Path(sys.executable).parent / "lstui"
    tmux = Tmux(tmp_path / "tmux.sock", "lstui")
    tmux.start(f"env COLUMNS=40 LINES=10 LSTUI_HOME={stopped_home} {lstui}", 80, 24)
    try:
        text = tmux.wait(lambda s: "q Quit" in s and len(s.rstrip("\n").splitlines()) >= 20, 30,
                         "the app over the whole window")
        assert "q Quit" in text.rstrip("\n").splitlines()[-1], text
        tmux.run("resize-window", "-t", "lstui", "-x", "100", "-y", "30")
        text = tmux.wait(lambda s: len(s.rstrip("\n").splitlines()) == 30 and "q Quit" in s.splitlines()[29],
                         30, "the app following the window to 100×30")
        assert max(len(line.rstrip()) for line in text.splitlines()) > 80, text
    finally:
        tmux.kill()


def test_a_16_colour_terminal_draws_the_map_s_bands_in_characters_of_their_own(
        stopped_home: Path, tmp_path: Path) -> None:
    """TERM=xterm (PuTTY's default), screen, linux: Textual gave each of the map's bands
    the nearest of 16 colours, and the 9 bands of a surface showed as 4, the lowest four
    (the basin) one grey. They are drawn as NO_COLOR draws them."""
    lstui = Path(sys.executable).parent / "lstui"
    tmux = Tmux(tmp_path / "tmux.sock", "lstui")
    tmux.start(f"env -u COLORTERM TERM=xterm LSTUI_HOME={stopped_home} {lstui}", 80, 24)
    try:
        text = tmux.wait(lambda s: "≥3.0" in s and "q Quit" in s, 30, "the preview of job 2")
        assert "@@ ≥3.0" in text and ".. <0.5" in text, text
    finally:
        tmux.kill()


@pytest.mark.parametrize("term", ["dumb", "xterm-256color"])
def test_show_colours_its_plot_on_a_terminal_but_not_a_dumb_one(stopped_home: Path, tmp_path: Path,
                                                               term: str) -> None:
    """`lstui show` under TERM=dumb (Emacs' shell) wrote 24-bit colour escapes."""
    lstui = Path(sys.executable).parent / "lstui"
    tmux = Tmux(tmp_path / "tmux.sock", "show")
    tmux.start(f"env TERM={term} LSTUI_HOME={stopped_home} {lstui} show 1; sleep 60", 80, 40)
    try:
        tmux.wait(lambda s: "centre" in s, 30, "the plot")
        time.sleep(0.5)
        coloured = tmux.run("capture-pane", "-p", "-e", "-t", "show")
        assert ("\x1b[38;" in coloured) is (term != "dumb"), coloured
        if term == "dumb":
            assert any(ch in coloured for ch in "@#O"), coloured  # the bands in characters
    finally:
        tmux.kill()
