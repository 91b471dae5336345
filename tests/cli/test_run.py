"""`lstui run surface|interp|trajectory` end to end, with the real command line."""

import json
import os
import stat

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from lstui.datasets import load_data
from lstui.landscape.directions import model_tensors
from lstui.landscape.evaluator import EvalData, Evaluator
from lstui.models import load_model
from lstui.results import read_surface
from lstui.scheduler.exporting import export_job
from lstui.scheduler.trajectory import compute_plane
from lstui.spec import JobSpec
from lstui.store import PointRow, Store
from tests.cli.conftest import run_lstui

SMALL = ["--model", "mlp", "--data", "digits", "--subset", "200"]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--x", "1:-1:5"], "MIN must be smaller than MAX"),
        (["--x", "a:b:c"], "is not a grid spec"),
        (["--x", "-1:1:0"], "NUM must be at least 2"),
        (["--x", "-1:1:1.5"], "is not a whole number"),
        (["--checkpoint", "/no/such/model.pt"], "no such file"),
        (["--model", "resnet5"], "unknown model 'resnet5'"),
        (["--data", "cifar10:/no/such/folder"], "--data 'cifar10:/no/such/folder': no such folder"),
        (["--data", "cifar10:."], "holds no cifar-10-batches-py/"),  # the test's empty folder
        (["--norm", "bogus"], "'bogus' is not one of"),
        (["--subset", "lots"], "subset"),
        (["--triton-conv", "yes"], "'yes' is not one of"),
        (["--y", "-1:1:3", "--ynorm", "layer"], "--ynorm layer: lstui treats both directions alike"),
        (["--y", "-1:1:3", "--yignore", "none"], "--yignore none: lstui treats both directions alike"),
    ],
)
def test_bad_input_gets_one_line_exit_2_and_writes_nothing(tmp_path, args, fragment):
    out = tmp_path / "out"
    result = run_lstui("run", "surface", *SMALL[:4], *args, "--out", str(out), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lstui: error:"), result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_the_reference_scripts_x_and_y_flags_give_the_same_surface(tmp_path):
    grid = ["--x", "-1:1:3", "--y", "-1:1:3", "--subset", "100"]
    plain = run_lstui("run", "surface", *SMALL[:4], *grid, "--out", str(tmp_path / "a"))
    theirs = run_lstui("run", "surface", *SMALL[:4], *grid, "--out", str(tmp_path / "b"), "--xnorm", "filter",
                       "--ynorm", "filter", "--xignore", "biasbn", "--yignore", "biasbn")
    assert plain.returncode == 0 and theirs.returncode == 0, plain.stderr + theirs.stderr
    a, b = read_surface(tmp_path / "a" / "surface.h5"), read_surface(tmp_path / "b" / "surface.h5")
    assert np.array_equal(a.arrays["train_loss"], b.arrays["train_loss"])


def test_run_surface_writes_files_and_resumes_only_missing_points(tmp_path):
    out = tmp_path / "out"
    first = run_lstui("run", "surface", *SMALL, "--x", "-1:1:5", "--y", "-1:1:3", "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert {p.name for p in out.iterdir()} >= {"directions.h5", "surface.h5", "surface_train_loss_2dcontour.png"}
    surface = read_surface(out / "surface.h5")
    assert surface.arrays["train_loss"].shape == (3, 5)
    full = surface.arrays["train_loss"].copy()
    assert np.all(full > 0)
    # forget three points, as if the run had been interrupted
    with h5py.File(out / "surface.h5", "r+") as f:
        for key in ("train_loss", "train_acc"):
            data = f[key][()]
            data.flat[[1, 7, 14]] = -1
            f[key][...] = data
    again = run_lstui("run", "surface", *SMALL, "--x", "-1:1:5", "--y", "-1:1:3", "--out", str(out), "--no-figure")
    assert again.returncode == 0, again.stderr
    assert "12 already computed" in again.stderr
    np.testing.assert_allclose(read_surface(out / "surface.h5").arrays["train_loss"], full, rtol=1e-6)


def test_rerun_with_other_settings_on_the_same_out_is_refused(tmp_path):
    out = tmp_path / "out"
    assert run_lstui("run", "surface", *SMALL, "--x", "-1:1:3", "--out", str(out), "--no-figure").returncode == 0
    other = run_lstui("run", "surface", *SMALL, "--x", "-1:1:3", "--norm", "layer", "--out", str(out))
    assert other.returncode == 2
    assert "holds a surface of other settings (norm 'filter' there, 'layer' here)" in other.stderr  # which
    # the batch size changes nothing, except under --bn recompute (averages over batches)
    again = run_lstui("run", "surface", *SMALL, "--x", "-1:1:3", "--batch-size", "7", "--out", str(out),
                      "--no-figure")
    assert again.returncode == 0, again.stderr
    bn = tmp_path / "bn"
    first = run_lstui("run", "surface", *SMALL, "--x", "-1:1:3", "--bn", "recompute", "--batch-size", "64",
                      "--out", str(bn), "--no-figure")
    assert first.returncode == 0, first.stderr
    other_batch = run_lstui("run", "surface", *SMALL, "--x", "-1:1:3", "--bn", "recompute", "--batch-size",
                            "128", "--out", str(bn), "--no-figure")
    assert other_batch.returncode == 2 and "(batch_size 64 there, 128 here)" in other_batch.stderr
    default = tmp_path / "default"  # no batch size given is 1024: the same numbers
    for batch in ((), ("--batch-size", "1024")):
        same = run_lstui("run", "surface", *SMALL, "--x", "-1:1:3", "--bn", "recompute", *batch,
                         "--out", str(default), "--no-figure")
        assert same.returncode == 0, same.stderr


def test_the_triton_choice_is_kept_with_the_job_and_does_not_change_its_numbers(tmp_path):
    """``--triton-conv`` reaches the job's spec; it picks a kernel, not the numbers, so a
    surface computed with one choice is resumed under another."""
    out = tmp_path / "out"
    args = ["run", "surface", "--model", "cnn", "--data", "digits", "--subset", "100", "--x", "-1:1:3"]
    first = run_lstui(*args, "--triton-conv", "auto", "--out", str(out), "--no-figure")
    assert first.returncode == 0, first.stderr
    with h5py.File(out / "surface.h5", "r") as f:
        assert json.loads(f.attrs["lstui_spec"])["triton_conv"] == "auto"
    # where it cannot run, said (strict fp32 here: never the Triton kernel)
    assert "note: --triton-conv auto does nothing under strict --precision fp32" in first.stderr
    again = run_lstui(*args, "--triton-conv", "off", "--out", str(out), "--no-figure")
    assert again.returncode == 0, again.stderr
    assert "3 already computed" in again.stderr
    assert "--triton-conv" not in again.stderr


@pytest.mark.parametrize(
    ("flags", "said"),
    [(["--precision", "bf16"], "on the CPU: it runs on CUDA"),
     (["--precision", "bf16", "--no-fold-bn"], "under --no-fold-bn: it runs the folded convolutions")],
)
def test_a_triton_conv_that_cannot_run_is_said(tmp_path, flags, said):
    ran = run_lstui("run", "surface", "--model", "cnn", "--subset", "50", "--x", "-1:1:3", "--device", "cpu",
                    "--triton-conv", "on", *flags, "--out", str(tmp_path / "out"), "--no-figure")
    assert ran.returncode == 0, ran.stderr
    assert f"note: --triton-conv on does nothing {said}" in ran.stderr


def test_reference_direction_file_reproduces_the_same_values(tmp_path):
    data = load_data("digits", subset="200", seed=123)
    torch.manual_seed(123)
    model = load_model("mlp", None, input_shape=data.input_shape, num_classes=data.num_classes)
    weights = model_tensors(model, "weights")
    g = torch.Generator().manual_seed(99)
    dx = [torch.randn(w.shape, generator=g) * 0.1 for w in weights]
    dy = [torch.randn(w.shape, generator=g) * 0.1 for w in weights]
    dir_file = tmp_path / "reference_dirs.h5"
    with h5py.File(dir_file, "w") as f:  # written the way the reference's h5_util does
        for name, d in (("xdirection", dx), ("ydirection", dy)):
            group = f.create_group(name)
            for n, t in enumerate(d):
                group.create_dataset(str(n), data=t.numpy())
    out = tmp_path / "out"
    result = run_lstui(
        "run", "surface", *SMALL, "--x", "-1:1:3", "--y", "0:1:2", "--dir-file", str(dir_file),
        "--out", str(out), "--no-figure",
    )
    assert result.returncode == 0, result.stderr
    assert not (out / "directions.h5").exists()
    surface = read_surface(out / "surface.h5")
    assert surface.dir_file == str(dir_file)
    ev = Evaluator(model, [dx, dy], train=EvalData(data.train.inputs, data.train.targets, data.train.scale,
                                                    data.train.mean, data.train.std))
    for (i, j) in [(0, 0), (1, 2), (0, 1)]:
        x, y = surface.xcoordinates[j], surface.ycoordinates[i]
        assert surface.arrays["train_loss"][i, j] == pytest.approx(ev.evaluate(x, y).train_loss, rel=1e-5)


def test_interp_goes_from_a_at_0_to_b_at_1(tmp_path):
    data = load_data("digits", subset="200", seed=123)
    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        m = load_model("cnn", None, input_shape=data.input_shape, num_classes=data.num_classes)
        path = tmp_path / f"m{seed}.pt"
        torch.save({"state_dict": m.state_dict()}, path)
        paths.append(path)
    out = tmp_path / "out"
    result = run_lstui(
        "run", "interp", "--model", "cnn", "--data", "digits", "--subset", "200",
        "--checkpoint", str(paths[0]), "--checkpoint-b", str(paths[1]), "--x", "0:1:3", "--out", str(out),
    )
    assert result.returncode == 0, result.stderr
    surface = read_surface(out / "surface.h5")
    assert (out / "surface_1d.png").exists()
    split = data.train
    for x, path in ((0, paths[0]), (2, paths[1])):
        model = load_model("cnn", path, input_shape=data.input_shape, num_classes=data.num_classes)
        zero = [torch.zeros_like(t) for t in model_tensors(model, "states")]
        ev = Evaluator(model, [zero], dir_type="states",
                       train=EvalData(split.inputs, split.targets, split.scale, split.mean, split.std))
        assert surface.arrays["train_loss"][x] == pytest.approx(ev.evaluate(0.0).train_loss, rel=1e-5)


def test_run_trajectory_draws_the_figures_the_daemon_exports_the_path_among_them(tmp_path):
    """``lstui run trajectory`` writes the figures the daemon's export of the same job
    writes (``export_job``, fed the same points through a store): the path over the
    contours, ``trajectory.png``, as well as the surface's own."""
    torch.manual_seed(0)
    state = load_model("cnn", None, input_shape=(1, 8, 8), num_classes=10).state_dict()
    folder = tmp_path / "ckpt"
    folder.mkdir()
    g = torch.Generator().manual_seed(1)
    for epoch in range(1, 5):  # a random walk of the weights, one checkpoint per "epoch"
        state = {k: v + 0.05 * torch.randn(v.shape, generator=g) if v.is_floating_point() else v
                 for k, v in state.items()}
        torch.save({"state_dict": state}, folder / f"cnn{epoch}.pt")
    out = tmp_path / "out"
    result = run_lstui(
        "run", "trajectory", "--model", "cnn", "--data", "digits", "--subset", "200",
        "--checkpoints", str(folder / "cnn*.pt"), "--num", "5", "--out", str(out),
    )
    assert result.returncode == 0, result.stderr
    drawn = {p.name for p in out.glob("*.png")}
    assert "trajectory.png" in drawn and "surface_train_loss_2dcontour.png" in drawn
    with Image.open(out / "trajectory.png") as image:
        assert image.format == "PNG" and image.width > 300 and image.height > 300
        assert np.asarray(image.convert("L"), dtype=float).std() > 5

    spec = JobSpec.from_dict(json.loads((out / "spec.json").read_text()), check_files=False)
    surface = read_surface(out / "surface.h5")
    n = spec.grid.num_points
    with Store.open_home(tmp_path / "home") as store:
        job_id = store.add_job(kind="trajectory", name="walk", spec=spec.to_dict(), total_points=n,
                               units=[list(range(n))], results_root=tmp_path / "home" / "results")
        worker = store.register_worker("cpu", os.getpid(), "test")
        claim = store.claim_unit(worker, lease_s=60, job_ids=[job_id])
        assert claim is not None
        rows = [PointRow(i, float(surface.arrays["train_loss"].flat[i]),
                         float(surface.arrays["train_acc"].flat[i])) for i in range(n)]
        store.write_points(claim.unit_id, worker, rows)
        assert store.complete_unit(claim.unit_id, worker)
        exported = export_job(store, store.get_job(job_id), formats=("png",))
    assert {p.name for p in exported} == drawn

    # a PCA plane's folder and its parents are private, as the results are
    plane_home = tmp_path / "home" / "trajectories" / "walk"
    compute_plane(spec, plane_home)
    for folder in (plane_home, plane_home.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700

    # the file alone, by its path: the path is drawn too, also once the folder has moved
    moved = tmp_path / "moved"
    out.rename(moved)
    result = run_lstui("export", str(moved / "surface.h5"), "--format", "png", "--out", str(tmp_path / "again"))
    assert result.returncode == 0, result.stderr
    assert {p.name for p in (tmp_path / "again").glob("*.png")} == drawn


def test_a_2d_surface_of_both_splits_draws_the_test_loss_too(tmp_path):
    out = tmp_path / "out"
    result = run_lstui(
        "run", "surface", "--model", "cnn", "--data", "digits", "--subset", "100", "--split", "both",
        "--x", "-1:1:3", "--y", "-1:1:3", "--out", str(out),
    )
    assert result.returncode == 0, result.stderr
    drawn = {p.name for p in out.glob("*.png")}
    for key in ("train_loss", "test_loss"):
        assert {f"surface_{key}_{kind}.png" for kind in ("2dcontour", "2dcontourf", "2dheat", "3dsurface")} <= drawn


def test_a_relative_out_gives_a_surface_file_naming_its_directions_absolutely(tmp_path):
    """The surface file names its direction file; another tool (or a later export) reads
    it from elsewhere. With ``--dir-file`` the directions are read, not written: the last
    line says so."""
    args = ("run", "surface", "--model", "mlp", "--data", "digits", "--subset", "100", "--x", "-1:1:3",
            "--no-figure")
    result = run_lstui(*args, "--out", "first", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    first = read_surface(tmp_path / "first" / "surface.h5")
    assert first.dir_file == str(tmp_path / "first" / "directions.h5")

    result = run_lstui(*args, "--out", "second", "--dir-file", "first/directions.h5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"(directions from {tmp_path / 'first' / 'directions.h5'})" in result.stderr
    assert not (tmp_path / "second" / "directions.h5").exists()
