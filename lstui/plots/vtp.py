"""A surface as a ParaView PolyData file (``.vtp``, VTK XML, ASCII), as the reference's
``h52vtp.py`` writes it: one point per grid point at height z = value, one quad per
grid cell, the value as point data and the average of each quad's corners as cell data.

Points not computed or diverged (NaN, ±inf) cannot be left out of a regular quad mesh
without tearing it, so they are *filled*: set to ``zmax`` when given, else to the largest
finite value, before any clipping or log. A point-data array ``valid`` (1 computed,
0 filled) lets ParaView hide them (Threshold on ``valid`` ≥ 1).
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from lstui.plots import _style as st
from lstui.results.h5files import temporary_prefix

LOG_OFFSET = 0.1
"""``log=True`` writes ln(z + 0.1), as the reference does, so a zero loss stays finite."""


def _numbers(values: np.ndarray, per_line: int, fmt: str) -> str:
    stream = io.StringIO()
    flat = values.ravel()
    full = flat.size - flat.size % per_line
    if full:
        np.savetxt(stream, flat[:full].reshape(-1, per_line), fmt=fmt, delimiter=" ")
    if flat.size > full:
        np.savetxt(stream, flat[full:].reshape(1, -1), fmt=fmt, delimiter=" ")
    return stream.getvalue()


def _data_array(dtype: str, name: str, values: np.ndarray, fmt: str, components: int = 1) -> str:
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 0.0
    per_line = 6 if components == 1 else 3 * components
    return (
        f'        <DataArray type="{dtype}" Name="{name}" NumberOfComponents="{components}" '
        f'format="ascii" RangeMin="{lo:.9g}" RangeMax="{hi:.9g}">\n'
        + _numbers(values, per_line, fmt)
        + "        </DataArray>\n"
    )


def _interpolate(
    x: np.ndarray, y: np.ndarray, Z: np.ndarray, valid: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Resample onto an n × n grid (cubic where the grid allows it, else linear)."""
    from scipy.interpolate import RegularGridInterpolator

    method = "cubic" if min(x.size, y.size) >= 4 else "linear"
    new_x = np.linspace(x[0], x[-1], n)
    new_y = np.linspace(y[0], y[-1], n)
    grid_y, grid_x = np.meshgrid(new_y, new_x, indexing="ij")
    points = np.stack([grid_y.ravel(), grid_x.ravel()], axis=-1)
    values = RegularGridInterpolator((y, x), Z, method=method)(points).reshape(n, n)
    kept = RegularGridInterpolator((y, x), valid.astype(np.float64), method="nearest")(points)
    return new_x, new_y, values, kept.reshape(n, n) > 0.5


def write_vtp(
    x: ArrayLike,
    y: ArrayLike,
    Z: ArrayLike,
    path: Path | str,
    *,
    log: bool = False,
    zmax: float | None = None,
    interp: int | None = None,
) -> Path:
    """Write the surface as a ``.vtp`` PolyData file for ParaView.

    The order of operations is the reference's: fill bad points (see the module notes),
    interpolate to ``interp × interp`` points (cubic), clip at ``zmax``, then
    ``log`` → ln(z + 0.1). Point ``k = i·nx + j`` is ``(x[j], y[i], z)``.

    Args:
        x, y, Z: the surface, ``Z.shape == (len(y), len(x))``, x and y increasing.
        path: the file to write (written to a temporary name, then renamed).
        log: write ln(z + 0.1) instead of z (values ≤ -0.1 become ln(1e-12)).
        zmax: clip values above this.
        interp: resample to this many points per axis (≥ 2), as the reference's ``--interp``.

    Returns:
        The path written.

    Raises:
        ValueError: when no point of ``Z`` is finite, or for a bad ``interp``.
    """
    xs, ys, zs = st.check_surface(x, y, Z)
    valid = np.isfinite(zs)
    if not valid.any():
        raise ValueError("no point of the surface is finite; nothing to write")
    fill = float(zmax) if zmax is not None else float(zs[valid].max())
    zs = np.where(valid, zs, fill)
    if interp is not None:
        if interp < 2:
            raise ValueError(f"interp must be at least 2 points per axis, not {interp}")
        if not (np.all(np.diff(xs) > 0) and np.all(np.diff(ys) > 0)):
            raise ValueError("interp needs strictly increasing x and y coordinates")
        xs, ys, zs, valid = _interpolate(xs, ys, zs, valid, int(interp))
    if zmax is not None:
        zs = np.minimum(zs, zmax)
    if log:
        zs = np.log(np.maximum(zs + LOG_OFFSET, 1e-12))

    ny, nx = zs.shape
    n_points = nx * ny
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = np.stack([grid_x.ravel(), grid_y.ravel(), zs.ravel()], axis=-1).astype(np.float32)
    corner = (np.arange(ny - 1)[:, None] * nx + np.arange(nx - 1)[None, :]).ravel()
    quads = np.stack([corner, corner + 1, corner + nx + 1, corner + nx], axis=-1)
    n_polys = quads.shape[0]
    offsets = 4 * np.arange(1, n_polys + 1)
    cell_mean = (zs[:-1, :-1] + zs[:-1, 1:] + zs[1:, :-1] + zs[1:, 1:]) / 4.0

    parts = [
        '<?xml version="1.0"?>\n',
        '<VTKFile type="PolyData" version="1.0" byte_order="LittleEndian" header_type="UInt64">\n',
        "  <PolyData>\n",
        f'    <Piece NumberOfPoints="{n_points}" NumberOfVerts="0" NumberOfLines="0" '
        f'NumberOfStrips="0" NumberOfPolys="{n_polys}">\n',
        '      <PointData Scalars="zvalue">\n',
        _data_array("Float32", "zvalue", zs.astype(np.float32), "%.7g"),
        _data_array("UInt8", "valid", valid.astype(np.uint8), "%d"),
        "      </PointData>\n",
        '      <CellData Scalars="averaged zvalue">\n',
        _data_array("Float32", "averaged zvalue", cell_mean.astype(np.float32), "%.7g"),
        "      </CellData>\n",
        "      <Points>\n",
        _data_array("Float32", "Points", points, "%.7g", components=3),
        "      </Points>\n",
        "      <Polys>\n",
        _data_array("Int64", "connectivity", quads, "%d"),
        _data_array("Int64", "offsets", offsets, "%d"),
        "      </Polys>\n",
        "    </Piece>\n",
        "  </PolyData>\n",
        "</VTKFile>\n",
    ]
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, tmp_name = tempfile.mkstemp(prefix=temporary_prefix(target.name), suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.writelines(parts)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target
