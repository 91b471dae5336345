"""The reference's spellings on lstui's command line: a researcher moving from
plot_surface.py types `--model_file`, `--loss_name crossentropy`, `--xnorm ''` (its
default), `--mpi`; each was "No such option" or a wrong "Did you mean"."""

from __future__ import annotations

import json

import click
import pytest
import torch

from lstui.cli import reference_flags
from lstui.models import build_model
from tests.cli.conftest import run_lstui


def test_underscores_values_and_empty_norms_become_lstui_s_spellings() -> None:
    assert reference_flags(["run", "surface", "--model_file", "a.t7", "--dir_type=states", "--x=-1:1:51"]) == [
        "run", "surface", "--model-file", "a.t7", "--dir-type=states", "--x=-1:1:51"]
    assert reference_flags(["run", "--loss_name", "crossentropy", "--loss-name=crossentropy"]) == [
        "run", "--loss", "ce", "--loss=ce"]  # --loss: compare has no --loss-name
    assert reference_flags(["run", "--xnorm", "", "--xignore=", "--ynorm", "filter"]) == [
        "run", "--xnorm", "none", "--xignore=none", "--ynorm", "filter"]
    # values are never touched, nor anything after --
    assert reference_flags(["submit", "surface", "--name", "my_run_1", "--", "--model_file"]) == [
        "submit", "surface", "--name", "my_run_1", "--", "--model_file"]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "surface", "--mpi"], "--mpi: lstui spreads a job over every GPU through its daemon"),
        (["submit", "surface", "--surf_file", "s.h5"], "--surf_file: lstui names the surface file itself"),
        (["run", "surface", "--same_dir"], "--same_dir: lstui has no --same_dir"),
        (["submit", "trajectory", "--model_folder", "run/"], "lstui submit trajectory takes the checkpoints"),
        (["--home", "h", "run", "--vmax", "5"], "--vmax is a drawing option: lstui export takes it"),
        (["export", "--surf_file", "s.h5"], "--surf_file: give the surface file as lstui export FILE"),
        (["run", "surface", "--threads", "4"], "--threads: lstui's CPU workers share the cores"),
        (["run", "surface", "--split_idx", "0"], "--split_idx: lstui computes every point of a job itself"),
        (["submit", "trajectory", "--prefix", "model_"], "--prefix: lstui submit trajectory takes the checkpoints"),
        (["submit", "trajectory", "--max_epoch=300"], "--max_epoch: lstui submit trajectory takes the checkpoints"),
    ],
)
def test_a_reference_flag_lstui_has_no_use_for_says_what_to_do_instead(argv: list[str], says: str) -> None:
    with pytest.raises(click.UsageError, match=says.replace("(", r"\(")):
        reference_flags(argv)


def test_export_keeps_its_drawing_flags() -> None:
    assert reference_flags(["export", "3", "--vmax", "5", "--surf_name", "train_loss"]) == [
        "export", "3", "--vmax", "5", "--surf-name", "train_loss"]


def test_a_reference_style_command_line_gives_the_job_the_dashed_one_gives(tmp_path) -> None:
    ck = tmp_path / "mlp.pt"
    torch.manual_seed(0)
    torch.save(build_model("mlp", input_shape=(1, 8, 8)).state_dict(), ck)
    specs = []
    for n, argv in enumerate((
        ["--model_file", "{ck}", "--xnorm", "", "--xignore", "", "--loss_name", "crossentropy",
         "--data_split", "2"],
        ["--model-file", "{ck}", "--norm", "none", "--ignore", "none", "--loss", "ce", "--data-split", "2"],
    )):
        out = tmp_path / f"out{n}"
        done = run_lstui("run", "surface", "--model", "mlp", "--x=-1:1:3", "--subset", "100",
                         *[a.format(ck=ck) for a in argv], "--out", str(out), "--no-figure",
                         home=tmp_path / "home")
        assert done.returncode == 0, done.stderr
        specs.append(json.loads((out / "spec.json").read_text()))
    assert specs[0] == specs[1]
    assert (specs[0]["norm"], specs[0]["ignore"], specs[0]["loss"]) == ("none", "none", "ce")


def test_x_flags_alone_on_a_2d_surface_say_that_y_takes_them_too(tmp_path) -> None:
    """plot_surface.py's y direction takes its own defaults (--ynorm '', --yignore ''):
    a reference command line giving the x flags only got another y from lstui, silently."""
    home = tmp_path / "home"
    grid = ("--model", "mlp", "--x=-1:1:3", "--y=-1:1:3")
    said = run_lstui("submit", "surface", *grid, "--xnorm", "filter", "--xignore", "biasbn", home=home)
    assert said.returncode == 0, said.stderr
    assert ("note: --xnorm and --xignore set y's direction too (lstui treats both alike); plot_surface.py's y "
            "would take --ynorm '' --yignore '' (not normalised, nothing ignored)") in said.stderr
    # both '' (none): lstui's y is plot_surface.py's; nothing to say
    for quiet in (("--xnorm", "filter", "--ynorm", "filter"), ("--norm", "filter"), ("--xnorm", "", "--xignore", ""),
                  ("--xnorm=", "--xignore=none")):
        done = run_lstui("submit", "surface", *grid, *quiet, home=home)
        assert done.returncode == 0 and "y's direction too" not in done.stderr, done.stderr
    refused = run_lstui("submit", "surface", "--model", "mlp", "--x=-1:1:3", "--y=1:-1:3", "--xnorm", "filter",
                        home=home)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, "the error alone"


def test_a_trajectory_shows_the_ignore_its_plane_was_made_with() -> None:
    """A queued trajectory's spec names its own PCA plane as dir_file, and show and the
    TUI said "ignore -" as for a direction file someone gave, though --ignore none and
    biasbn make different planes."""
    from lstui.spec import shown_setting

    for ignore in ("none", "biasbn"):
        spec = {"kind": "trajectory", "dir_file": "/h/trajectories/x/pca_directions.h5", "ignore": ignore,
                "norm": "none"}
        assert shown_setting(spec, "ignore") == ignore
        assert shown_setting(spec, "norm") == "-"
    given = {"kind": "surface", "dir_file": "/some/directions.h5", "ignore": "biasbn"}
    assert shown_setting(given, "ignore") == "-"
