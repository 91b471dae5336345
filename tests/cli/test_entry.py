"""How the command is reached: ``python -m lstui``, ``--home`` on either side of the
command, and the help of the commands that act on jobs. Real CLI processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from lstui.cli import home_first
from tests.cli.conftest import run_lstui


def test_home_given_after_the_command_is_the_home_it_acts_on(tmp_path: Path) -> None:
    """``lstui ls --home D`` said "No such option '--home'. Did you mean '--help'?"."""
    home = tmp_path / "home"
    queued = run_lstui("submit", "surface", "--model", "mlp", "--data", "digits", "--x", "-1:1:3",
                       "--home", str(home), home=tmp_path / "elsewhere")
    assert queued.returncode == 0, queued.stderr
    listed = run_lstui("ls", "--json", f"--home={home}", home=tmp_path / "elsewhere")
    assert [job["id"] for job in json.loads(listed.stdout)] == [1]
    assert not (tmp_path / "elsewhere").exists()


def test_home_first_moves_only_the_home_flag_and_its_folder() -> None:
    assert home_first(["ls", "--home", "D", "--all"]) == ["--home", "D", "ls", "--all"]
    assert home_first(["--home=D", "ls"]) == ["--home=D", "ls"]
    assert home_first(["show", "3", "--home=D"]) == ["--home=D", "show", "3"]
    with pytest.raises(click.UsageError, match="--home needs a folder"):
        home_first(["ls", "--home"])  # it said "No such option '--home'. Did you mean '--help'?"
    assert home_first(["run", "--", "--home", "D"]) == ["run", "--", "--home", "D"]


def test_python_dash_m_lstui_is_the_command(tmp_path: Path) -> None:
    env = {**os.environ, "LSTUI_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "lstui", "--version"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("lstui, version "), done.stderr
    helped = subprocess.run([sys.executable, "-m", "lstui", "--help"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert "opens its terminal app (the TUI)" in " ".join(helped.stdout.split())


def test_the_commands_acting_on_jobs_say_which_states_they_take() -> None:
    """Their help was one line each: "Cancel jobs.", "Pause jobs."."""
    for action, words in (("cancel", "queued, running or paused"), ("pause", "queued or running"),
                          ("resume", "paused"), ("retry", "failed or cancelled")):
        text = " ".join(run_lstui(action, "--help").stdout.split())
        assert words in text and "ids: 3 5" in text, text


def test_a_write_refused_in_a_folder_names_the_folder_not_the_temporary_file(
        capsys: pytest.CaptureFixture[str]) -> None:
    """`export --out` into a read-only folder named
    ".ok_train_loss_2dcontour.pid20337@vm.png.tmp", a file the person never asked for."""
    import errno

    from lstui.cli import handle_errors

    @handle_errors
    def export() -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted", "/data/figs/.ok_2dcontour.pid7@vm.png.tmp")

    with pytest.raises(SystemExit) as ended:
        export()
    assert ended.value.code == 1
    assert capsys.readouterr().err.strip() == (
        "lstui: error: cannot write in /data/figs: Operation not permitted "
        "(check the folder's permissions, or choose another (--out, --home))")
