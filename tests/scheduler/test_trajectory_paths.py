"""A trajectory's checkpoints in folders named as sweeps name them: ``lr=0.1,bs=128``
(Hydra's override_dirname) and ``run[1]``. Each was split at its commas or read as a glob,
and matched no file, from the command line and from a job file's explicit list alike.

Real CLI entry point (in process), real store, real checkpoints from torch.save.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lstui.jobfile import read_job_file
from lstui.scheduler.trajectory import expand_checkpoints
from tests.faults.support import cli_in_process, listed_jobs, one_error_line
from tests.scheduler.support import walk_checkpoints

SWEEP = "lr=0.1,bs=128"


def _submit(home: Path, *args: str) -> tuple[int, str, str]:
    return cli_in_process(["submit", "trajectory", "--model", "cnn", "--data", "digits", "--num", "3",
                           "--subset", "100", *args], home)


def _queued_checkpoints(home: Path, out: str) -> list[str]:
    code, shown, err = cli_in_process(["show", out.split()[0], "--json"], home)
    assert code == 0, err
    return json.loads(shown)["spec"]["checkpoints"]


@pytest.mark.parametrize("folder", [SWEEP, "run[1]"])
def test_a_glob_in_a_sweep_folder_finds_its_checkpoints(tmp_path: Path, folder: str) -> None:
    """`--checkpoints 'ck/lr=0.1,bs=128/cnn_*.pt'` was split: "'bs=128/cnn_*.pt' matches no
    file"; `ck/run[1]/cnn_*.pt` read [1] as a class, matching no file."""
    run = walk_checkpoints(tmp_path / "ck" / folder)
    home = tmp_path / "home"
    code, out, err = _submit(home, "--checkpoints", str(tmp_path / "ck" / folder / "cnn_*.pt"))
    assert code == 0, err
    assert _queued_checkpoints(home, out) == [str(p) for p in run]


def test_a_bracketed_folder_is_itself_beside_its_glob_s_namesake_and_under_a_class(tmp_path: Path) -> None:
    """With `run1/` beside `run[1]/`, `run[1]/cnn_*.pt` took run1's checkpoints without a
    word; `run[1]/cnn_[1-3].pt` (a class in the file name) matched no file."""
    ours = walk_checkpoints(tmp_path / "ck" / "run[1]", steps=4)
    walk_checkpoints(tmp_path / "ck" / "run1", seed=2, steps=3)
    home = tmp_path / "home"
    code, out, err = _submit(home, "--checkpoints", str(tmp_path / "ck" / "run[1]" / "cnn_*.pt"))
    assert code == 0, err
    assert _queued_checkpoints(home, out) == [str(p) for p in ours]
    code, out, err = _submit(home, "--checkpoints", str(tmp_path / "ck" / "run[1]" / "cnn_[1-3].pt"))
    assert code == 0, err
    assert _queued_checkpoints(home, out) == [str(p) for p in ours[:3]]


def test_a_comma_list_of_files_in_sweep_folders_is_those_files(tmp_path: Path) -> None:
    """The documented comma-separated list still splits, each part a file of its own even
    with brackets or commas in its folder's name (`lr=0.1` alone names nothing)."""
    a = walk_checkpoints(tmp_path / "ck" / "run[1]", steps=2)
    b = walk_checkpoints(tmp_path / "ck" / SWEEP, seed=2, steps=2)
    home = tmp_path / "home"
    code, out, err = _submit(home, "--checkpoints", f"{a[0]},{a[1]}", "--checkpoints", f"{b[0]}, {b[1]}")
    assert code == 0, err
    assert _queued_checkpoints(home, out) == [str(a[0]), str(a[1]), str(b[0]), str(b[1])]


@pytest.mark.parametrize("folder", [SWEEP, "run[1]"])
def test_a_job_file_s_list_of_files_in_a_sweep_folder_is_those_files(tmp_path: Path, folder: str) -> None:
    """`checkpoints = ["ck/lr=0.1,bs=128/cnn_1.pt", …]` was "names …/ck/lr=0.1 twice";
    `["ck/run[1]/cnn_1.pt", …]`, "'…/run[1]/cnn_1.pt' matches no file"."""
    run = walk_checkpoints(tmp_path / "ck" / folder)
    listed = ", ".join(f'"ck/{folder}/{p.name}"' for p in run)
    (tmp_path / "t.toml").write_text(f'# a sweep\nkind = "trajectory"\nmodel = "cnn"\ncheckpoints = [{listed}]\n')
    (entry,) = read_job_file(tmp_path / "t.toml")
    assert entry.spec.checkpoints == tuple(str(p) for p in run)
    (tmp_path / "g.toml").write_text(f'# a sweep\nkind = "trajectory"\nmodel = "cnn"\n'
                                     f'checkpoints = ["ck/{folder}/cnn_*.pt"]\n')
    (entry,) = read_job_file(tmp_path / "g.toml")
    assert entry.spec.checkpoints == tuple(str(p) for p in run)


def test_a_job_file_in_a_bracketed_folder_reads_its_globs_from_there(tmp_path: Path) -> None:
    """The job file's own folder is where relative paths are, never a pattern."""
    run = walk_checkpoints(tmp_path / "sweep[2]" / "run")
    (tmp_path / "sweep[2]" / "t.toml").write_text(
        '# here\nkind = "trajectory"\nmodel = "cnn"\ncheckpoints = "run/cnn_[123].pt, run/cnn_4.pt"\n')
    (entry,) = read_job_file(tmp_path / "sweep[2]" / "t.toml")
    assert entry.spec.checkpoints == tuple(str(p) for p in run)


def test_a_file_named_as_written_is_that_file_not_a_glob(tmp_path: Path) -> None:
    """A file whose name reads as a class is itself, though the class matches others too."""
    run = walk_checkpoints(tmp_path / "run", steps=3)
    (tmp_path / "run" / "cnn_[12].pt").write_bytes(run[2].read_bytes())
    got = expand_checkpoints([f"{run[0]},{run[1]}", str(tmp_path / "run" / "cnn_[12].pt")])
    assert got == [str(run[0]), str(run[1]), str(tmp_path / "run" / "cnn_[12].pt")]
    # a real class, still a glob when no file has its name
    assert expand_checkpoints([str(tmp_path / "run" / "cnn_[123].pt")]) == [str(p) for p in run]


def test_what_matches_nothing_is_said_as_given_in_one_line(tmp_path: Path) -> None:
    """A glob's typo in a sweep folder was "'bs=128/model_*.pt' matches no file", the glob
    given nowhere; a list's missing file is named with the list it was split from."""
    run = walk_checkpoints(tmp_path / "ck" / SWEEP)
    home = tmp_path / "home"
    given = str(tmp_path / "ck" / SWEEP / "model_*.pt")  # cnn_*.pt there
    code, _, err = _submit(home, "--checkpoints", given)
    assert code == 2
    assert one_error_line(err) == (f"lstui: error: --checkpoints {given!r} matches no file, nor split at "
                                   f"its commas ({str(tmp_path / 'ck' / 'lr=0.1')!r} names none)")
    given = str(tmp_path / "ck" / "run[1]" / "cnn_*.pt")
    code, _, err = _submit(home, "--checkpoints", given)
    assert code == 2
    assert one_error_line(err) == f"lstui: error: --checkpoints {given!r} matches no file"
    given = f"{run[0]},{run[1]},{tmp_path / 'ck' / 'cnn_3.pt'}"
    code, _, err = _submit(home, "--checkpoints", given)
    assert code == 2
    assert one_error_line(err) == (f"lstui: error: --checkpoints {str(tmp_path / 'ck' / 'cnn_3.pt')!r} "
                                   f"(of {given!r}, split at its commas): no such file")
    os.mkfifo(tmp_path / "ck" / "fifo.pt")  # there, though no file to read: not "no such file"
    code, _, err = _submit(home, "--checkpoints", f"{run[0]},{run[1]},{tmp_path / 'ck' / 'fifo.pt'}")
    assert code == 2
    assert one_error_line(err) == f"lstui: error: --checkpoints {str(tmp_path / 'ck' / 'fifo.pt')!r}: not a regular file"
    assert listed_jobs(home) == []


def test_a_job_file_s_list_item_naming_no_file_whole_is_split_at_its_commas(tmp_path: Path) -> None:
    """As ``--checkpoints``: an item is taken whole first, then as a comma-separated list
    (job files written so before keep working)."""
    run = walk_checkpoints(tmp_path / "run", steps=3)
    (tmp_path / "t.toml").write_text('# one item\nkind = "trajectory"\nmodel = "cnn"\n'
                                     'checkpoints = ["run/cnn_1.pt,run/cnn_2.pt", "run/cnn_3.pt"]\n')
    (entry,) = read_job_file(tmp_path / "t.toml")
    assert entry.spec.checkpoints == tuple(str(p) for p in run)
    (tmp_path / "s.toml").write_text('# a string\nkind = "trajectory"\nmodel = "cnn"\n'
                                     'checkpoints = "run/cnn_1.pt,run/cnn_2.pt, run/cnn_3.pt"\n')
    (entry,) = read_job_file(tmp_path / "s.toml")
    assert entry.spec.checkpoints == tuple(str(p) for p in run)


def test_a_checkpoint_of_another_model_before_the_last_is_named_with_the_model(tmp_path: Path) -> None:
    """Said by its bare path, "/…/mlp_2.pt: 12 missing …", where the last checkpoint's
    misfit says which model it does not fit."""
    import torch

    from lstui.models import build_model

    run = walk_checkpoints(tmp_path / "run", steps=3)
    other = tmp_path / "run" / "mlp_2.pt"
    torch.save(build_model("mlp", input_shape=(1, 8, 8)).state_dict(), other)
    home = tmp_path / "home"
    code, _, err = _submit(home, "--checkpoints", ",".join(map(str, [run[0], other, run[2]])))
    assert code == 2
    line = one_error_line(err)
    assert line.startswith(f"lstui: error: checkpoint {str(other)!r} does not fit model 'cnn': "), line
    assert listed_jobs(home) == []
