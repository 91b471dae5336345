"""A trajectory projected on given directions (the reference's ``plot_trajectory.py
--dir_file``): another run's PCA plane, so two runs' paths lie in one plane."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import torch

from lstui.models import build_model
from lstui.results import read_projection
from lstui.scheduler.trajectory import PROJECTION_FILE, given_axis_labels, pca_ratios
from tests.faults.support import cli_in_process, listed_jobs, one_error_line
from tests.scheduler.support import walk_checkpoints

DIGITS = (1, 8, 8)


def _submit(home: Path, *argv: str) -> int:
    code, out, err = cli_in_process(["submit", *argv], home)
    assert code == 0, err
    return int(out.split()[0])


def _spec(home: Path, job_id: int) -> dict:
    code, out, err = cli_in_process(["show", str(job_id), "--json"], home)
    assert code == 0, err
    return json.loads(out)["spec"]


def _directions(path: str) -> dict[str, list[np.ndarray]]:
    with h5py.File(path) as f:
        return {key: [np.array(f[key][str(n)]) for n in range(len(f[key]))] for key in ("xdirection", "ydirection")}


def _own_projection(checkpoints: list[Path], directions: dict[str, list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """x_i = (θ_i − θ_n)·dx / ‖dx‖ over every weight (the file's directions as they are)."""
    names = [name for name, _ in build_model("cnn", input_shape=DIGITS).named_parameters()]
    states = [torch.load(p, weights_only=True) for p in checkpoints]
    flat = [np.concatenate([s[n].double().numpy().ravel() for n in names]) for s in states]
    out = []
    for key in ("xdirection", "ydirection"):
        d = np.concatenate([a.astype(np.float64).ravel() for a in directions[key]])
        out.append(np.array([(f - flat[-1]) @ d / np.linalg.norm(d) for f in flat]))
    return out[0], out[1]


def test_a_run_s_path_is_projected_on_another_run_s_pca_plane(tmp_path: Path) -> None:
    a = walk_checkpoints(tmp_path / "a", seed=1)
    b = walk_checkpoints(tmp_path / "b", seed=2)
    home = tmp_path / "home"
    plane_a = _spec(home, _submit(home, "trajectory", "--checkpoints", str(tmp_path / "a" / "cnn_*.pt"),
                                  "--subset", "100", "--num", "5"))["dir_file"]
    assert len(a) == 4 and pca_ratios(Path(plane_a)) is not None
    from lstui.results import read_direction_attrs
    from lstui.scheduler.trajectory import EVERY_CHECKPOINT_ATTR

    assert EVERY_CHECKPOINT_ATTR in read_direction_attrs(Path(plane_a))  # not read again when drawn

    code, out, err = cli_in_process(["submit", "trajectory", "--checkpoints", str(tmp_path / "b" / "cnn_*.pt"),
                                     "--subset", "100", "--num", "5", "--dir-file", plane_a], home)
    assert code == 0, err
    job = int(out.split()[0])
    # said at submit, named in its titles: whose directions, and that (0, 0) is its own end
    assert (f"note: the path is projected on the directions of {plane_a}; its (0, 0), and the surface's "
            f"centre, are this run's own last checkpoint {b[-1]}") in err
    spec = _spec(home, job)
    assert spec["name"] == "trajectory cnn cnn_4 on trajectory-cnn-cnn_4's plane"
    plane_b = Path(spec["dir_file"])
    assert plane_b != Path(plane_a) and plane_b.parent.parent == home / "trajectories"  # its own copy
    assert spec["checkpoint"] == str(b[-1])
    given, copied = _directions(plane_a), _directions(str(plane_b))
    for key in given:
        for x, y in zip(given[key], copied[key], strict=True):
            np.testing.assert_array_equal(x, y)
    # not run A's variance ratios: B's axes name the directions, not B's PCs; the copy
    # keeps A's PCA arrays all the same, which the reference's plot_2D reads (a KeyError)
    assert pca_ratios(plane_b) is None and EVERY_CHECKPOINT_ATTR not in read_direction_attrs(plane_b)
    from lstui.results import read_direction_arrays

    keys = ("explained_variance_ratio_", "explained_variance_", "singular_values_")
    kept, source = read_direction_arrays(plane_b, keys), read_direction_arrays(Path(plane_a), keys)
    assert set(kept) == set(keys) and all(np.array_equal(kept[k], source[k]) for k in keys)
    assert given_axis_labels(plane_b) == ("α", "β")  # as any surface on given directions
    assert given_axis_labels(Path(plane_a)) is None

    px, py = read_projection(plane_b.parent / PROJECTION_FILE)
    want_x, want_y = _own_projection(b, given)
    np.testing.assert_allclose(px, want_x, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(py, want_y, rtol=1e-5, atol=1e-7)
    assert (px[-1], py[-1]) == (0.0, 0.0)
    x0, x1 = (float(v) for v in spec["x"].split(":")[:2])
    assert x0 <= px.min() and px.max() <= x1  # the grid covers the path on the given plane


def test_a_job_file_s_trajectory_takes_dir_file_as_the_flag_does(tmp_path: Path) -> None:
    walk_checkpoints(tmp_path / "a", seed=1)
    b = walk_checkpoints(tmp_path / "b", seed=2)
    home = tmp_path / "home"
    plane_a = _spec(home, _submit(home, "trajectory", "--checkpoints", str(tmp_path / "a" / "cnn_*.pt"),
                                  "--subset", "100", "--num", "5"))["dir_file"]
    (tmp_path / "t.toml").write_text(
        f'# b on a\nkind = "trajectory"\ncheckpoints = "b/cnn_*.pt"\nsubset = "100"\nnum = 5\n'
        f'dir_file = "{plane_a}"\n'
    )
    plane_b = Path(_spec(home, _submit(home, str(tmp_path / "t.toml")))["dir_file"])
    px, py = read_projection(plane_b.parent / PROJECTION_FILE)
    want_x, want_y = _own_projection(b, _directions(plane_a))
    np.testing.assert_allclose(px, want_x, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(py, want_y, rtol=1e-5, atol=1e-7)


def test_a_direction_file_a_trajectory_cannot_use_is_one_line_and_queues_nothing(tmp_path: Path) -> None:
    walk_checkpoints(tmp_path / "b", seed=2)
    home = tmp_path / "home"
    glob = str(tmp_path / "b" / "cnn_*.pt")
    one = tmp_path / "one.h5"
    code, _, err = cli_in_process(["run", "surface", "--model", "cnn", "--x", "-1:1:2", "--subset", "20",
                                   "--out", str(tmp_path / "one"), "--no-figure"], home)
    assert code == 0, err
    (tmp_path / "one" / "directions.h5").rename(one)
    other = tmp_path / "other.h5"
    code, _, err = cli_in_process(["run", "surface", "--model", "mlp", "--x", "-1:1:2", "--y", "-1:1:2",
                                   "--subset", "20", "--out", str(tmp_path / "other"), "--no-figure"], home)
    assert code == 0, err
    (tmp_path / "other" / "directions.h5").rename(other)
    cases = [
        (["--dir-file", str(one)], "has one direction (no ydirection); a trajectory is projected on two"),
        (["--dir-file", str(other)], "check --dir-type and --model"),
        (["--dir-file", str(tmp_path / "none.h5")], "no such file"),
        (["--dir-file", str(other), "--ignore", "biasbn"], "--ignore has no effect with --dir-file"),
    ]
    for extra, message in cases:
        code, out, err = cli_in_process(["submit", "trajectory", "--checkpoints", glob, "--subset", "100", *extra],
                                        home)
        assert code == 2 and message in one_error_line(err), (extra, err)
    assert listed_jobs(home) == []
    assert not any((home / "trajectories").glob("*"))  # no plane folder left behind


def test_cos_on_directions_that_are_not_orthonormal_says_the_path_is_not_at_its_alpha_beta(tmp_path: Path) -> None:
    """A surface's random directions are as long as the weights (‖dx‖ ≈ 15 for a CNN):
    cos coordinates were drawn on that surface's α, β axes ‖dx‖ times too far out,
    without a word. lstsq's coordinates are the α, β, and PCA's directions give both."""
    from lstui.results import write_directions

    walk_checkpoints(tmp_path / "a", seed=1)
    gen = torch.Generator().manual_seed(0)
    shapes = [p.shape for p in build_model("cnn", input_shape=DIGITS).parameters()]
    dx, dy = ([torch.randn(s, generator=gen) for s in shapes] for _ in range(2))
    given = tmp_path / "random_directions.h5"
    write_directions(given, dx, dy)
    norm = float(torch.cat([t.reshape(-1) for t in dx]).norm())
    home = tmp_path / "home"
    argv = ["submit", "trajectory", "--checkpoints", str(tmp_path / "a" / "cnn_*.pt"), "--subset", "100",
            "--num", "3", "--dir-file", str(given)]
    code, _, err = cli_in_process(argv, home)
    assert code == 0, err
    assert (f"note: --projection cos on directions that are not orthonormal (‖dx‖ {norm:.3g}, ") in err, err
    assert "--projection lstsq puts it at its α, β" in err
    code, _, err = cli_in_process([*argv, "--projection", "lstsq"], home)
    assert code == 0 and "orthonormal" not in err, err
    plane = _spec(home, _submit(home, "trajectory", "--checkpoints", str(tmp_path / "a" / "cnn_*.pt"),
                                "--subset", "100", "--num", "3"))["dir_file"]
    code, _, err = cli_in_process(argv[:-1] + [plane], home)  # a PCA plane: orthonormal
    assert code == 0 and "orthonormal" not in err, err


def test_a_path_on_given_directions_is_drawn_with_their_names_on_the_axes(tmp_path: Path) -> None:
    from lstui import plots

    fig = plots.plot_trajectory(None, None, None, [1.0, 0.5, 0.0], [0.2, 0.1, 0.0],
                                axis_labels=("α", "β"))
    assert (fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()) == ("α", "β")
    fig = plots.plot_trajectory(None, None, None, [1.0, 0.0], [0.2, 0.0], explained_variance=(0.5, 0.25))
    assert fig.axes[0].get_xlabel() == "1st PC: 50.00 %"


def test_run_trajectory_into_another_run_s_folder_is_refused_before_its_plane_changes(tmp_path: Path) -> None:
    """`run trajectory --dir-file out/pca_directions.h5` of run B into run A's folder was
    refused, but only after B's plane and path had overwritten A's."""
    import hashlib

    walk_checkpoints(tmp_path / "a", seed=1)
    walk_checkpoints(tmp_path / "b", seed=2)
    home, out = tmp_path / "home", tmp_path / "out"
    common = ["--subset", "100", "--num", "5", "--no-figure", "--out", str(out)]
    code, _, err = cli_in_process(["run", "trajectory", "--checkpoints", str(tmp_path / "a" / "cnn_*.pt"), *common],
                                  home)
    assert code == 0, err

    def digests() -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}

    before = digests()
    code, _, err = cli_in_process(["run", "trajectory", "--checkpoints", str(tmp_path / "b" / "cnn_*.pt"), *common,
                                   "--dir-file", str(out / "pca_directions.h5")], home)
    assert code == 2 and "holds a surface of other settings" in one_error_line(err), err
    assert digests() == before  # A's plane, path and surface as they were
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "home") == ["a", "b", "out"]  # no plane left aside
    code, _, err = cli_in_process(["run", "trajectory", "--checkpoints", str(tmp_path / "a" / "cnn_*.pt"), *common],
                                  home)
    assert code == 0 and digests().keys() == before.keys(), err  # A again: its folder resumed


def test_origin_plane_puts_both_runs_paths_in_one_frame(tmp_path: Path) -> None:
    """With ``--origin plane`` the path is projected about the plane's own origin (the
    last checkpoint of the run it was made from), the surface is around that model, and
    that run's path is kept beside, to be drawn with this one."""
    a = walk_checkpoints(tmp_path / "a", seed=1)
    b = walk_checkpoints(tmp_path / "b", seed=2)
    home = tmp_path / "home"
    plane_a = _spec(home, _submit(home, "trajectory", "--checkpoints", str(tmp_path / "a" / "cnn_*.pt"),
                                  "--subset", "100", "--num", "5"))["dir_file"]
    code, out, err = cli_in_process(["submit", "trajectory", "--checkpoints", str(tmp_path / "b" / "cnn_*.pt"),
                                     "--subset", "100", "--num", "5", "--dir-file", plane_a, "--origin", "plane"],
                                    home)
    assert code == 0, err
    assert f"about its origin {a[-1]}: that run's path and this one lie in one frame" in err
    spec = _spec(home, int(out.split()[0]))
    assert spec["checkpoint"] == str(a[-1])  # the surface is around A's last model, (0, 0)
    assert spec["name"] == "trajectory cnn cnn_4 in trajectory-cnn-cnn_4's plane"
    plane_b = Path(spec["dir_file"])
    px, py = read_projection(plane_b.parent / PROJECTION_FILE)
    given = _directions(plane_a)
    want_x, want_y = _own_projection([*b, a[-1]], given)  # about A's last, not B's
    np.testing.assert_allclose(px, want_x[:-1], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(py, want_y[:-1], rtol=1e-5, atol=1e-7)
    assert abs(px[-1]) > 1e-3  # B's end is not at (0, 0)
    ax, ay = read_projection(plane_b.parent / "plane_projection.h5")
    np.testing.assert_array_equal(ax, read_projection(Path(plane_a).parent / PROJECTION_FILE)[0])
    assert (ax[-1], ay[-1]) == (0.0, 0.0)  # A's path ends at the shared origin
    x0, x1 = (float(v) for v in spec["x"].split(":")[:2])
    assert x0 <= min(px.min(), ax.min()) and max(px.max(), ax.max()) <= x1  # the grid covers both paths


def test_origin_plane_needs_a_plane_that_names_its_origin(tmp_path: Path) -> None:
    walk_checkpoints(tmp_path / "b", seed=2)
    home = tmp_path / "home"
    glob = str(tmp_path / "b" / "cnn_*.pt")
    code, _, err = cli_in_process(["run", "surface", "--model", "cnn", "--x", "-1:1:2", "--y", "-1:1:2",
                                   "--subset", "20", "--out", str(tmp_path / "s"), "--no-figure"], home)
    assert code == 0, err
    for extra, message in (
        ([], "--origin plane takes the origin of a --dir-file's plane; give --dir-file"),
        (["--dir-file", str(tmp_path / "s" / "directions.h5")], "does not name its origin (an lstui trajectory's "
                                                               "pca_directions.h5 does); leave --origin own"),
    ):
        code, _, err = cli_in_process(["submit", "trajectory", "--checkpoints", glob, "--subset", "100",
                                       "--origin", "plane", *extra], home)
        assert code == 2 and message in one_error_line(err), (extra, err)
    assert listed_jobs(home) == [] and not any((home / "trajectories").glob("*"))


def test_the_plane_s_own_path_is_drawn_and_named_beside_the_path() -> None:
    from lstui import plots

    fig = plots.plot_trajectory(None, None, None, [1.0, 0.5, 0.2], [0.2, 0.1, 0.3],
                                other_path=([2.0, 1.0, 0.0], [1.0, 0.5, 0.0]))
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert "the plane's own run" in labels
    texts = [t.get_text() for t in fig.legends[0].get_texts()] if fig.legends else []
    assert "the plane's own run" in texts and "this run" in texts, "both paths named"
    alone = plots.plot_trajectory(None, None, None, [1.0, 0.5, 0.2], [0.2, 0.1, 0.3])
    assert "this run" not in [t.get_text() for t in alone.legends[0].get_texts()]


def test_a_job_file_s_trajectory_takes_origin_as_the_flag_does(tmp_path: Path) -> None:
    a = walk_checkpoints(tmp_path / "a", seed=1)
    walk_checkpoints(tmp_path / "b", seed=2)
    home = tmp_path / "home"
    plane_a = _spec(home, _submit(home, "trajectory", "--checkpoints", str(tmp_path / "a" / "cnn_*.pt"),
                                  "--subset", "100", "--num", "5"))["dir_file"]
    (tmp_path / "t.toml").write_text(
        '# b in the frame of a\nkind = "trajectory"\ncheckpoints = "b/cnn_*.pt"\nsubset = "100"\nnum = 5\n'
        f'dir_file = "{plane_a}"\norigin = "plane"\n'
    )
    assert _spec(home, _submit(home, str(tmp_path / "t.toml")))["checkpoint"] == str(a[-1])
    (tmp_path / "s.toml").write_text('# x\nmodel = "mlp"\nx = "-1:1:3"\norigin = "plane"\n')
    code, _, err = cli_in_process(["submit", str(tmp_path / "s.toml")], home)
    assert code == 2 and "s.toml job 1: origin is for trajectory jobs" in one_error_line(err), err


def test_a_trajectory_whose_plane_folder_is_gone_says_its_path_is_not_drawn(tmp_path: Path) -> None:
    """`export` of it wrote the surface figures and silently no trajectory.*."""
    from lstui.scheduler.trajectory import export_trajectory
    from lstui.spec import JobSpec

    gone = tmp_path / "trajectories" / "20261207-run" / "pca_directions.h5"
    spec = JobSpec(kind="trajectory", model="mlp", dir_file=str(gone),
                   checkpoints=(str(tmp_path / "a.pt"), str(tmp_path / "b.pt")))
    said: list[str] = []  # (the daemon's and the TUI's job log)
    assert export_trajectory(spec, tmp_path / "surface.h5", tmp_path, formats=("png",), on_note=said.append) == []
    assert said == [f"{gone.parent / 'projection.h5'} is not there: the path over the contours (trajectory.*) "
                    "is not drawn"]
    # the way the daemon and the TUI's `e` come: the job's log says it, not only daemon.log's stderr
    import numpy as np

    from lstui.results import SurfaceFile, write_surface
    from lstui.scheduler.exporting import export_figures

    xs = np.linspace(-1, 1, 3)
    write_surface(tmp_path / "surface.h5", SurfaceFile(xs, xs, {"train_loss": np.ones((3, 3))}, "d.h5"))
    said.clear()
    written = export_figures(spec, tmp_path / "surface.h5", tmp_path / "figs", formats=("png",), dpi=40,
                             on_note=said.append)
    assert written and not any("trajectory" in p.name for p in written)
    assert [n for n in said if "is not there" in n] == [f"{gone.parent / 'projection.h5'} is not there: the path "
                                                        "over the contours (trajectory.*) is not drawn"], said
