"""ParaView PolyData (.vtp) files of a surface."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from lstui.plots import write_vtp


def read_vtp(path: Path) -> tuple[ET.Element, dict[str, np.ndarray]]:
    root = ET.parse(path).getroot()
    piece = root.find("./PolyData/Piece")
    assert piece is not None
    arrays = {
        array.get("Name", ""): np.array((array.text or "").split(), dtype=np.float64)
        for array in root.iter("DataArray")
    }
    return piece, arrays


def test_vtp_has_one_point_per_grid_point_and_one_quad_per_cell(two_minima, tmp_path):
    x, y, Z = two_minima
    path = write_vtp(x, y, Z, tmp_path / "surface.vtp")
    piece, arrays = read_vtp(path)
    nx, ny = x.size, y.size
    assert piece.get("NumberOfPoints") == str(nx * ny)
    assert piece.get("NumberOfPolys") == str((nx - 1) * (ny - 1))
    points = arrays["Points"].reshape(-1, 3)
    assert points.shape == (nx * ny, 3)
    # Point k = i·nx + j is (x[j], y[i], Z[i, j]): the global minimum sits at (1, 0.5, 0).
    k = 15 * nx + 30
    assert np.allclose(points[k], [1.0, 0.5, 0.0])
    assert np.allclose(points[:, 2], Z.ravel().astype(np.float32), rtol=1e-6)
    assert np.allclose(arrays["zvalue"], Z.ravel(), rtol=1e-6)
    quads = arrays["connectivity"].reshape(-1, 4).astype(int)
    assert quads.tolist()[0] == [0, 1, nx + 1, nx]
    assert arrays["offsets"][-1] == 4 * (nx - 1) * (ny - 1)
    assert arrays["averaged zvalue"].size == (nx - 1) * (ny - 1)


def test_bad_points_are_filled_with_the_largest_finite_value_and_flagged(
    two_minima, with_bad_points, tmp_path
):
    x, y, Z = two_minima
    bad = with_bad_points(Z)
    _, arrays = read_vtp(write_vtp(x, y, bad, tmp_path / "bad.vtp"))
    finite_max = bad[np.isfinite(bad)].max()
    valid = arrays["valid"].reshape(Z.shape)
    assert valid.sum() == Z.size - 3
    assert valid[0, 0] == valid[0, -1] == valid[-1, 0] == 0
    z = arrays["zvalue"].reshape(Z.shape)
    assert np.allclose([z[0, 0], z[0, -1], z[-1, 0]], finite_max, rtol=1e-6)
    assert np.all(np.isfinite(arrays["Points"]))


def test_zmax_clips_and_fills_and_log_follows_the_reference(two_minima, with_bad_points, tmp_path):
    x, y, Z = two_minima
    bad = with_bad_points(Z)
    _, clipped = read_vtp(write_vtp(x, y, bad, tmp_path / "clip.vtp", zmax=1.0))
    assert clipped["zvalue"].max() == pytest.approx(1.0)
    assert clipped["zvalue"].reshape(Z.shape)[0, 0] == pytest.approx(1.0)
    _, logged = read_vtp(write_vtp(x, y, Z, tmp_path / "log.vtp", log=True))
    assert np.allclose(logged["zvalue"], np.log(Z.ravel() + 0.1), rtol=1e-5)


def test_interp_resamples_onto_a_square_grid(two_minima, tmp_path):
    x, y, Z = two_minima
    piece, arrays = read_vtp(write_vtp(x, y, Z, tmp_path / "fine.vtp", interp=50))
    assert piece.get("NumberOfPoints") == str(50 * 50)
    points = arrays["Points"].reshape(50, 50, 3)
    assert np.allclose(points[0, :, 0], np.linspace(-2, 2, 50), atol=1e-6)
    assert np.allclose(points[:, 0, 1], np.linspace(-1, 1, 50), atol=1e-6)


def test_an_all_nan_surface_is_refused(paraboloid, tmp_path):
    x, y, Z = paraboloid
    with pytest.raises(ValueError, match="no point of the surface is finite"):
        write_vtp(x, y, np.full_like(Z, np.nan), tmp_path / "none.vtp")
    assert not (tmp_path / "none.vtp").exists()
