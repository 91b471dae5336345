import h5py
import numpy as np
import pytest
import torch

from lstui.errors import BadInput
from lstui.results import (
    SurfaceFile,
    read_directions,
    read_surface,
    write_directions,
    write_surface,
)


def test_direction_file_has_the_reference_layout(tmp_path):
    x = [torch.randn(3, 2), torch.randn(3)]
    y = [torch.randn(3, 2), torch.randn(3)]
    path = tmp_path / "dirs.h5"
    write_directions(path, x, y)
    with h5py.File(path, "r") as f:
        assert sorted(f.keys()) == ["xdirection", "ydirection"]
        assert sorted(f["xdirection"].keys()) == ["0", "1"]
        np.testing.assert_array_equal(f["ydirection"]["0"][()], y[0].numpy())
    rx, ry, extra = read_directions(path)
    assert all(torch.equal(a, b) for a, b in zip(rx, x))
    assert all(torch.equal(a, b) for a, b in zip(ry, y))
    assert extra == {}


def test_non_square_surface_is_written_rows_over_y(tmp_path):
    xs, ys = np.linspace(-1, 1, 5), np.linspace(0, 1, 3)
    xx, yy = np.meshgrid(xs, ys)  # shape (3, 5)
    loss = xx * 10 + yy
    path = tmp_path / "surface.h5"
    write_surface(path, SurfaceFile(xs, ys, {"train_loss": loss, "train_acc": np.full((3, 5), -1.0)}, "d.h5"))
    with h5py.File(path, "r") as f:
        assert f["train_loss"].shape == (3, 5)
        assert f["train_loss"][2, 4] == pytest.approx(10 * 1 + 1)  # Z[i, j] at x[j], y[i]
        assert f["dir_file"][()].decode() == "d.h5"
    back = read_surface(path)
    np.testing.assert_array_equal(back.arrays["train_loss"], loss)
    assert not back.computed("train_acc").any()
    assert np.isnan(back.values("train_acc")).all()


def test_reads_a_reference_surface_allocated_nx_by_ny(tmp_path):
    # the reference allocates (nx, ny) but fills it in flat order k = i*nx + j
    xs, ys = np.linspace(-1, 1, 5), np.linspace(0, 1, 3)
    flat = np.array([10 * xs[k % 5] + ys[k // 5] for k in range(15)])
    path = tmp_path / "ref.h5"
    with h5py.File(path, "w") as f:
        f["dir_file"] = "model.t7_weights.h5"
        f["xcoordinates"] = xs
        f["ycoordinates"] = ys
        f["train_loss"] = flat.reshape(5, 3)
        f["train_acc"] = -np.ones((5, 3))
    back = read_surface(path)
    xx, yy = np.meshgrid(xs, ys)
    np.testing.assert_allclose(back.arrays["train_loss"], 10 * xx + yy)
    assert back.dir_file == "model.t7_weights.h5"


def test_diverged_points_stay_nan_and_differ_from_missing(tmp_path):
    xs = np.linspace(0, 1, 4)
    path = tmp_path / "s.h5"
    write_surface(path, SurfaceFile(xs, None, {"train_loss": np.array([1.0, np.nan, -1.0, 2.0])}))
    back = read_surface(path)
    np.testing.assert_array_equal(back.computed(), [True, True, False, True])


def test_unreadable_files_are_bad_input(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        read_surface(tmp_path / "nope.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(BadInput, match="not a readable HDF5"):
        read_directions(junk)


def test_writes_are_atomic_and_private(tmp_path):
    path = tmp_path / "s.h5"
    write_surface(path, SurfaceFile(np.arange(3.0), None, {"train_loss": np.zeros(3)}))
    assert [p.name for p in tmp_path.iterdir()] == ["s.h5"]
    assert (path.stat().st_mode & 0o777) == 0o600
