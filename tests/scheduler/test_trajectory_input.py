"""A trajectory's checkpoints as a walk found them: a glob that also matched a copy, the
same file twice, a path along a line, a list out of its names' order; refused or said."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from tests.faults.support import cli_in_process, listed_jobs, one_error_line
from tests.scheduler.support import walk_checkpoints


def _submit(home: Path, *args: str) -> tuple[int, str, str]:
    return cli_in_process(["submit", "trajectory", "--model", "cnn", "--data", "digits", *args], home)


def _planes(home: Path) -> list[Path]:
    return sorted((home / "trajectories").glob("*")) if (home / "trajectories").is_dir() else []


def test_a_copy_of_an_epoch_matched_by_the_glob_is_refused_naming_both(tmp_path: Path) -> None:
    """`model_*.pt` with best.pt beside, a copy of the last epoch: best.pt sorted first and
    was counted twice in the PCA; the path started at the minimum, its start marker hidden
    under the end's."""
    run = walk_checkpoints(tmp_path / "run")
    shutil.copy(run[-1], tmp_path / "run" / "cnn_best.pt")
    home = tmp_path / "home"
    code, _, err = _submit(home, "--checkpoints", str(tmp_path / "run" / "cnn_*.pt"))
    line = one_error_line(err)
    assert code == 2, err
    assert f"{run[-1]} and {tmp_path / 'run' / 'cnn_best.pt'} hold the same model" in line \
        or f"{tmp_path / 'run' / 'cnn_best.pt'} and {run[-1]} hold the same model" in line, line
    assert "name the files, or narrow the glob" in line
    assert listed_jobs(home) == [] and _planes(home) == []


def test_one_file_named_twice_is_refused(tmp_path: Path) -> None:
    run = walk_checkpoints(tmp_path / "run")
    home = tmp_path / "home"
    listed = ",".join(str(p) for p in (run[0], run[1], run[1], run[3]))
    code, _, err = _submit(home, "--checkpoints", listed)
    assert code == 2
    assert one_error_line(err) == (f"lstui: error: --checkpoints names {run[1]} twice: a trajectory's "
                                   "checkpoints are each one step of one run, in training order")
    code, _, err = _submit(home, "--checkpoints", f"{run[0]},{run[2]},{tmp_path}/run/../run/{run[2].name}")
    assert code == 2 and "names one file twice" in one_error_line(err)
    assert listed_jobs(home) == [] and _planes(home) == []


def test_a_path_along_a_line_is_said_to_be_one(tmp_path: Path) -> None:
    """1e-4 of noise on a straight run: "2nd PC 0.00 %" and exit 0, the y axis pure noise
    drawn as a dramatic zigzag."""
    start, end = (torch.load(p) for p in walk_checkpoints(tmp_path / "walk")[::3])
    g = torch.Generator().manual_seed(5)
    folder = tmp_path / "line"
    folder.mkdir()
    for n, t in enumerate((0.0, 0.3, 0.6, 1.0)):
        noise = 1e-4 if 0 < t < 1 else 0.0
        torch.save({k: (a + t * (end[k] - a) + noise * torch.randn(a.shape, generator=g))
                    if a.is_floating_point() else a for k, a in start.items()}, folder / f"step_{n}.pt")
    code, _, err = _submit(tmp_path / "home", "--checkpoints", str(folder / "step_*.pt"), "--num", "5")
    assert code == 0, err
    assert "the path is nearly a line: the 2nd PC, the y axis, holds only its wobble" in err, err
    share = err.split("2nd PC ")[1].split(" %")[0]
    assert 0 < float(share) < 0.1, err  # its share said, not "0.00"
    code, _, err = _submit(tmp_path / "home", "--checkpoints", str(tmp_path / "walk" / "cnn_*.pt"), "--num", "5")
    assert code == 0 and "nearly a line" not in err, err


def test_an_axis_left_out_a_list_out_of_order_and_states_like_weights_are_said(tmp_path: Path) -> None:
    run = walk_checkpoints(tmp_path / "run")
    home = tmp_path / "home"
    code, _, err = _submit(home, "--checkpoints", ",".join(str(p) for p in (run[3], run[0], run[1])),
                           "--x", "-1:1:5", "--dir-type", "states")
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert any(n.startswith("note: no --y given: y ") and "covers the path (a trajectory's surface is 2D: 105 points)"
               in n for n in notes), notes
    assert "note: the checkpoints are taken in the order given, not their names': cnn_4.pt first, cnn_2.pt " \
           "last, the centre" in notes, notes
    assert any(n.startswith("note: --dir-type states with --ignore biasbn: BatchNorm's running statistics")
               for n in notes), notes
    code, _, err = _submit(home, "--checkpoints", str(tmp_path / "run" / "cnn_*.pt"), "--dir-type", "states",
                           "--ignore", "none")
    assert code == 0, err
    assert [line for line in err.splitlines() if "order given" in line or "no --" in line
            or "--dir-type states" in line] == [], err
