"""A job file gives the job `lstui submit KIND` gives: an interpolation's `states`
directions, a trajectory's PCA plane and covering grid, the same refusal of settings a
kind does not use; several files at once, all or none.

Real CLI entry point (in process), real store, real checkpoints from torch.save.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from tests.faults.support import cli_in_process, listed_jobs, one_error_line
from tests.scheduler.support import walk_checkpoints


def _spec(home: Path, job_id: int) -> dict:
    code, out, err = cli_in_process(["show", str(job_id), "--json"], home)
    assert code == 0, err
    return json.loads(out)["spec"]


def _submit(home: Path, *argv: str) -> list[int]:
    code, out, err = cli_in_process(["submit", *argv], home)
    assert code == 0, err
    return [int(line) for line in out.split()]


def test_an_interpolation_from_a_file_is_the_one_from_the_command_line(tmp_path: Path) -> None:
    a, b = walk_checkpoints(tmp_path / "ck", steps=2)
    (tmp_path / "i.toml").write_text(
        '# an interpolation\n[defaults]\nnorm = "layer"\nsubset = "100"\n'
        f'[[job]]\nkind = "interp"\ncheckpoint = "{a}"\ncheckpoint_b = "{b}"\nx = "0:1:5"\n'
    )
    home = tmp_path / "home"
    (from_file,) = _submit(home, str(tmp_path / "i.toml"))
    (from_flags,) = _submit(home, "interp", "--checkpoint", str(a), "--checkpoint-b", str(b),
                            "--subset", "100", "--x", "0:1:5")
    got, want = _spec(home, from_file), _spec(home, from_flags)
    assert got["dir_type"] == want["dir_type"] == "states"  # x = 1 is B, statistics and all
    assert got["norm"] == want["norm"]  # [defaults]' norm is for the kinds that use it
    # no x: the grid `submit interp` takes, not a surface's -1:1:51
    (tmp_path / "nox.toml").write_text(f'# x\nkind = "interp"\ncheckpoint = "{a}"\ncheckpoint_b = "{b}"\n')
    (from_file,) = _submit(home, str(tmp_path / "nox.toml"))
    (from_flags,) = _submit(home, "interp", "--checkpoint", str(a), "--checkpoint-b", str(b))
    assert _spec(home, from_file)["x"] == _spec(home, from_flags)["x"] == "-0.5:1.5:41"


def test_a_job_file_takes_the_reference_s_names_the_flags_take(tmp_path: Path) -> None:
    """``--xnorm`` is a flag of submit, and ``xnorm = "filter"`` was an unknown key."""
    a, b = walk_checkpoints(tmp_path / "ck", steps=2)
    home = tmp_path / "home"
    (tmp_path / "r.toml").write_text(
        f'# the reference\'s names\n[defaults]\nxignore = "none"\nyignore = "none"\n[[job]]\nmodel = "cnn"\n'
        f'model_file = "{a}"\nmodel_file2 = "{b}"\nxnorm = "layer"\nynorm = "layer"\nloss_name = "mse"\n'
        'x = "-1:1:3"\n'
    )
    (from_file,) = _submit(home, str(tmp_path / "r.toml"))
    (from_flags,) = _submit(home, "surface", "--model", "cnn", "--model-file", str(a), "--xnorm", "layer",
                            "--ynorm", "layer", "--xignore", "none", "--yignore", "none", "--loss-name", "mse",
                            "--model-file2", str(b), "--x", "-1:1:3")
    got, want = _spec(home, from_file), _spec(home, from_flags)
    assert (got["norm"], got["ignore"], got["loss"], got["checkpoint"], got["target"]) == (
        "layer", "none", "mse", str(a), str(b))
    assert {k: v for k, v in got.items() if k != "name"} == {k: v for k, v in want.items() if k != "name"}
    (tmp_path / "both.toml").write_text('# x\nnorm = "layer"\nxnorm = "filter"\n')
    code, _, err = cli_in_process(["submit", str(tmp_path / "both.toml")], home)
    assert code == 2 and "xnorm and norm are one setting; give one of them" in one_error_line(err)
    # the reference's defaults in [defaults] serve an interpolation too (it uses no norm)
    (tmp_path / "d.toml").write_text(
        f'# x\n[defaults]\nxnorm = "none"\nynorm = "none"\nyignore = "none"\n[[job]]\nkind = "interp"\n'
        f'checkpoint = "{a}"\ncheckpoint_b = "{b}"\nx = "0:1:3"\n')
    assert _submit(home, str(tmp_path / "d.toml"))
    (tmp_path / "i.toml").write_text(  # but in its own table, as norm there
        f'# x\nkind = "interp"\ncheckpoint = "{a}"\ncheckpoint_b = "{b}"\nynorm = "filter"\n')
    code, _, err = cli_in_process(["submit", str(tmp_path / "i.toml")], home)
    assert code == 2 and "ynorm has no effect on interp jobs" in one_error_line(err), err
    (tmp_path / "y.toml").write_text('# x\nxnorm = "layer"\nynorm = "filter"\n')  # as --ynorm is refused
    code, _, err = cli_in_process(["submit", str(tmp_path / "y.toml")], home)
    assert code == 2 and ("ynorm = 'filter': lstui treats both directions alike, with norm ('layer')"
                          in one_error_line(err))


def test_a_job_file_takes_the_reference_s_values_the_flags_take(tmp_path: Path) -> None:
    """`--xnorm ''`, `--xignore ''` and `--loss-name crossentropy` were queued, and the
    same in a job file refused ("--norm '' is not known")."""
    home = tmp_path / "home"
    (tmp_path / "v.toml").write_text('# x\nmodel = "mlp"\nx = "-1:1:3"\ny = "-1:1:3"\nxnorm = ""\nxignore = ""\n'
                                     'ynorm = ""\nyignore = ""\nloss_name = "crossentropy"\n')
    (from_file,) = _submit(home, str(tmp_path / "v.toml"))
    (from_flags,) = _submit(home, "surface", "--model", "mlp", "--x", "-1:1:3", "--y", "-1:1:3", "--xnorm", "",
                            "--xignore", "", "--ynorm", "", "--yignore", "", "--loss-name", "crossentropy")
    got, want = _spec(home, from_file), _spec(home, from_flags)
    assert (got["norm"], got["ignore"], got["loss"]) == ("none", "none", "ce")
    assert {k: v for k, v in got.items() if k != "name"} == {k: v for k, v in want.items() if k != "name"}


def test_keys_of_another_kind_are_refused_in_a_table_not_dropped(tmp_path: Path) -> None:
    """checkpoint_b in a surface's table (kind forgotten) queued a surface, and digested B."""
    a, b = walk_checkpoints(tmp_path / "ck", steps=2)
    home = tmp_path / "home"
    surface = f'checkpoint = "{a}"\n'
    for body, says in [
        (f'{surface}checkpoint_b = "{b}"', "checkpoint_b has no effect on surface jobs (checkpoint B is an "
                                           "interpolation's (kind = \"interp\")); drop it"),
        (f'kind = "surface"\n{surface}projection = "lstsq"', "projection has no effect on surface jobs"),
        (f'kind = "surface"\n{surface}checkpoints = "ck/*.pt"', "checkpoints has no effect on surface jobs"),
        (f'kind = "trajectory"\ncheckpoints = "ck/*.pt"\ncheckpoint_b = "{b}"',
         "checkpoint_b has no effect on trajectory jobs"),
        (f'kind = "interp"\n{surface}checkpoint_b = "{b}"\nprojection = "lstsq"',
         "projection has no effect on interp jobs"),
    ]:
        (tmp_path / "j.toml").write_text(f"# x\n{body}\n")
        code, _, err = cli_in_process(["submit", str(tmp_path / "j.toml")], home)
        assert code == 2 and says in one_error_line(err), (body, err)
    assert listed_jobs(home) == []


def test_a_setting_an_interpolation_does_not_use_is_refused_in_its_table_and_as_a_flag(
    tmp_path: Path,
) -> None:
    a, b = walk_checkpoints(tmp_path / "ck", steps=2)
    d = tmp_path / "d.h5"
    d.write_bytes(b"")
    (tmp_path / "i.toml").write_text(
        f'# x\nkind = "interp"\ncheckpoint = "{a}"\ncheckpoint_b = "{b}"\ndir_file = "{d}"\n'
    )
    home = tmp_path / "home"
    code, _, err = cli_in_process(["submit", str(tmp_path / "i.toml")], home)
    assert code == 2 and one_error_line(err).endswith(
        "i.toml job 1: dir_file has no effect on interp jobs (its direction is B − A, not a "
        "direction file's); drop it"
    )
    code, _, err = cli_in_process(["submit", "interp", "--checkpoint", str(a), "--checkpoint-b", str(b),
                                   "--dir-file", str(d)], home)
    assert code == 2 and "--dir-file has no effect on interp jobs" in one_error_line(err)
    assert listed_jobs(home) == []


def test_a_trajectory_from_a_file_gets_its_pca_plane_from_a_glob(tmp_path: Path) -> None:
    """It was queued with no plane: a random direction around a random model."""
    walk_checkpoints(tmp_path / "run")
    (tmp_path / "t.toml").write_text(
        '# a trajectory\n[defaults]\nx = "-1:1:51"\nsubset = "100"\n'
        '[[job]]\nkind = "trajectory"\ncheckpoints = "run/cnn_*.pt"\nnum = 7\n'
    )
    home = tmp_path / "home"
    (from_file,) = _submit(home, str(tmp_path / "t.toml"))
    (from_flags,) = _submit(home, "trajectory", "--checkpoints", str(tmp_path / "run" / "cnn_*.pt"),
                            "--subset", "100", "--num", "7")
    got, want = _spec(home, from_file), _spec(home, from_flags)
    assert got["checkpoint"] == want["checkpoint"] == str(tmp_path / "run" / "cnn_4.pt")
    assert got["checkpoints"] == want["checkpoints"]
    assert (got["x"], got["y"], got["norm"]) == (want["x"], want["y"], want["norm"])  # not [defaults]' x
    assert got["dir_file"] and got["dir_file"] != want["dir_file"]
    with h5py.File(got["dir_file"]) as f, h5py.File(want["dir_file"]) as g:
        for key in ("xdirection", "ydirection"):
            for name in f[key]:
                np.testing.assert_allclose(f[key][name][()], g[key][name][()], rtol=1e-6, atol=1e-7)


def test_several_files_are_queued_all_or_none(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('# one\nmodel = "mlp"\nx = "-1:1:3"\nsubset = "100"\n')
    bad = tmp_path / "bad.toml"
    bad.write_text('# two\nmodel = "mlp"\nx = "-1:1:0"\n')
    home = tmp_path / "home"
    code, _, err = cli_in_process(["submit", str(good), str(bad)], home)
    assert code == 2 and "bad.toml" in one_error_line(err)
    assert listed_jobs(home) == []
    assert len(_submit(home, str(good), str(good))) == 2


def test_two_trajectories_planned_in_one_second_get_a_plane_each(tmp_path: Path) -> None:
    """Same name, same second: they shared one folder, and the first job drew on the
    second's plane. A comma list with globs is relative to the file, item by item."""
    walk_checkpoints(tmp_path / "run")
    (tmp_path / "t.toml").write_text(
        '# two\n[defaults]\nsubset = "100"\nkind = "trajectory"\nnum = 5\n'
        '[[job]]\ncheckpoints = "run/cnn_1.pt, run/cnn_[234].pt"\nprojection = "cos"\n'
        '[[job]]\ncheckpoints = ["run/cnn_*.pt"]\nprojection = "lstsq"\n'
    )
    home = tmp_path / "home"
    first, second = _submit(home, str(tmp_path / "t.toml"))
    a, b = _spec(home, first), _spec(home, second)
    assert a["checkpoints"] == b["checkpoints"] == [str(tmp_path / "run" / f"cnn_{n}.pt") for n in range(1, 5)]
    assert a["dir_file"] != b["dir_file"]
    assert Path(a["dir_file"]).parent.parent == Path(b["dir_file"]).parent.parent == home / "trajectories"


def test_a_refused_trajectory_leaves_no_plane_folder_and_planes_are_named_without_a_grid(tmp_path: Path) -> None:
    """A checkpoint the PCA refused left an empty folder under trajectories/; every
    folder was named after the placeholder grid -1:1:3, not the job's."""
    walk_checkpoints(tmp_path / "run")
    (tmp_path / "run" / "cnn_9.pt").write_text("not a checkpoint\n")
    home = tmp_path / "home"
    code, _, err = cli_in_process(["submit", "trajectory", "--model", "cnn", "--subset", "100",
                                   "--checkpoints", str(tmp_path / "run" / "cnn_*.pt")], home)
    assert code == 2 and "cnn_9.pt" in err
    assert not any((home / "trajectories").iterdir())
    (tmp_path / "run" / "cnn_9.pt").unlink()
    code, _, err = cli_in_process(["submit", "trajectory", "--model", "cnn", "--subset", "100", "--num", "5",
                                   "--checkpoints", str(tmp_path / "run" / "cnn_*.pt")], home)
    assert code == 0, err
    (plane,) = (home / "trajectories").iterdir()
    assert plane.name.endswith("-trajectory-cnn-cnn_4") and "-1-1-3" not in plane.name
