"""Reading and writing the reference's HDF5 files.

Every file is built in memory, written to a temporary file (mode 0600) in the same
folder, synced and renamed over the target, so a reader (or a crash, or a full disk)
never sees half a file. Folders are created with mode 0700. A file that is truncated or
not HDF5 at all raises :class:`BadInput` naming it, never an HDF5 error.

torch is imported only to read direction files: surface files, the daemon's work, need
numpy alone (the daemon stays near 100 MB instead of 600).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import socket
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from lstui.errors import BadInput, first_line

if TYPE_CHECKING:
    import torch

SURFACE_KEYS = ("train_loss", "train_acc", "test_loss", "test_acc")
MISSING = -1.0


def make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents with mode 0700 (results are private)."""
    folder = Path(folder)
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=0o700)


NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
"""A full disk, a full quota, a file-size limit: what passes once space is made."""


def no_space(exc: BaseException) -> bool:
    """Whether ``exc`` is a write that failed for want of space (it may pass later)."""
    return isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS


NOT_ALLOWED_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
"""A folder made read-only (chmod, chattr, a read-only remount): what passes once a
person allows the write again."""


def may_pass_later(exc: BaseException) -> bool:
    """Whether ``exc`` is a write that failed for want of space or of permission: one to
    try again later, not a job's files given up for good."""
    return isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS | NOT_ALLOWED_ERRNOS


STALE_TEMPORARY_S = 600.0
"""A temporary file of an atomic write (``.NAME.XXXX.tmp``) this old was left by a
process killed while it wrote: no write takes ten minutes."""


def temporary_prefix(name: str) -> str:
    """The start of the name of an atomic write's temporary file for ``name``:
    ``.NAME.pidPID@HOST-``, so that a daemon tells one whose writer is dead (killed
    while it wrote) from one another process on this machine or another is writing."""
    return f".{name}.pid{os.getpid()}@{socket.gethostname()}-"


_WRITER = re.compile(r"\.pid(\d+)@")


def writer_dead(name: str) -> bool:
    """Whether ``name`` (a temporary file's) names its writer, on this machine, and that
    process is gone."""
    found = _WRITER.search(name)
    if found is None or not name[found.end():].startswith(socket.gethostname() + "-"):
        return False
    try:
        os.kill(int(found.group(1)), 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError, OverflowError):
        return False
    return False


def remove_stale_temporaries(folder: Path, older_than_s: float = STALE_TEMPORARY_S) -> list[Path]:
    """Delete the temporary files that writes killed half way left in ``folder`` (a write
    removes its own when it fails, not when its process is killed): those whose writer,
    on this machine, is gone, and any older than ``older_than_s``; returns them."""
    import time

    removed: list[Path] = []
    cutoff = time.time() - older_than_s
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith(".") and entry.name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                if entry.is_file() and not entry.is_symlink() and (
                    writer_dead(entry.name) or entry.stat().st_mtime < cutoff
                ):
                    entry.unlink()
                    removed.append(entry)
    return removed


def write_private_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a 0600 temporary file, fsync, rename.

    Raises:
        OSError: the file cannot be written (a full disk gives ``ENOSPC`` or ``EFBIG``,
            with ``filename`` set to ``path``); ``path`` is then left as it was.
    """
    path = Path(path)
    make_private_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path.name), suffix=".tmp", dir=path.parent)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _atomic_h5(path: Path) -> Iterator[h5py.File]:
    """An HDF5 file built in memory, then written in one go by :func:`write_private_bytes`.

    HDF5 handles a failing ``write(2)`` (a full disk) badly, up to crashing the process;
    plain ``os.write`` turns it into an ``OSError`` and leaves the old file in place.
    """
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        yield f
    write_private_bytes(Path(path), buffer.getvalue())


_DAMAGE = (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError)
"""What h5py raises on a truncated, damaged or foreign file while it is read."""


@contextlib.contextmanager
def _open_for_reading(path: Path, what: str) -> Iterator[h5py.File]:
    """Open an HDF5 file to read; any damage found while reading becomes one BadInput."""
    path = Path(path).expanduser()
    if not path.is_file():
        kind = "is a folder" if path.is_dir() else "is not a file" if path.exists() else "does not exist"
        raise BadInput(f"{what} {str(path)!r} {kind}")
    try:
        f = h5py.File(path, "r")
    except _DAMAGE as exc:
        raise BadInput(
            f"{what} {str(path)!r} is not a readable HDF5 file ({_first_line(exc)})"
        ) from None
    try:
        with f:
            yield f
    except _DAMAGE as exc:
        raise BadInput(
            f"{what} {str(path)!r} is damaged or truncated ({_first_line(exc)})"
        ) from None


def _numbers(f: h5py.File, key: str, what: str, path: Path) -> np.ndarray:
    """``f[key]`` as float64; a dataset of text (or of compound values) is said to be
    that, not "damaged or truncated" as h5py's failed conversion read."""
    data = f[key]
    kind = getattr(getattr(data, "dtype", None), "kind", None)
    if kind not in ("f", "i", "u", "b"):
        shown = "a group" if kind is None else f"{data.dtype} values"
        raise BadInput(f"{what} {str(path)!r}: its {key!r} holds {shown}, not numbers")
    return np.array(data, dtype=np.float64)


def _first_line(exc: BaseException) -> str:
    return first_line(exc) or type(exc).__name__


def _as_numpy(t: torch.Tensor | np.ndarray) -> np.ndarray:
    # duck-typed: surface files never need torch, so the daemon does not import it
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def write_directions(
    path: Path,
    xdirection: Sequence[torch.Tensor | np.ndarray],
    ydirection: Sequence[torch.Tensor | np.ndarray] | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
    attrs: Mapping[str, str] | None = None,
) -> None:
    """Write groups ``xdirection`` (and ``ydirection``) with datasets ``"0"``, ``"1"``, …;
    ``attrs``: text attributes of the file (what made it)."""
    with _atomic_h5(path) as f:
        for key, text in (attrs or {}).items():
            f.attrs[key] = text
        for name, direction in (("xdirection", xdirection), ("ydirection", ydirection)):
            if direction is None:
                continue
            group = f.create_group(name)
            for n, t in enumerate(direction):
                group.create_dataset(str(n), data=_as_numpy(t))
        for key, value in (extra or {}).items():
            f[key] = np.asarray(value)


def _read_group(f: h5py.File, name: str, path: Path) -> list[torch.Tensor]:
    import torch

    group = f[name]
    if not isinstance(group, h5py.Group):
        raise BadInput(f"direction file {str(path)!r}: {name!r} is not a group")
    try:
        count = len(group.keys())
        return [torch.from_numpy(np.array(group[str(n)])) for n in range(count)]
    except KeyError:
        raise BadInput(
            f"direction file {str(path)!r}: group {name!r} must hold datasets named 0..{count - 1}"
        ) from None


def read_direction_attrs(path: Path) -> dict[str, str]:
    """The text attributes of a direction file (none in the reference's)."""
    with _open_for_reading(path, "direction file") as f:
        return {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in f.attrs.items()}


def direction_file_keys(path: Path) -> set[str]:
    """The top-level names of a direction file (no tensor read); none for one that
    cannot be read."""
    try:
        with _open_for_reading(path, "direction file") as f:
            return set(f.keys())
    except (BadInput, OSError):
        return set()


def direction_cosine(path: Path) -> float | None:
    """The cosine of a direction file's x and y directions, read in float64 one tensor at
    a time without torch; None for a file of one direction or one that cannot be read."""
    try:
        with _open_for_reading(path, "direction file") as f:
            groups = [f.get(name) for name in ("xdirection", "ydirection")]
            if not all(isinstance(g, h5py.Group) for g in groups):
                return None
            dot = nx = ny = 0.0
            for n in range(len(groups[0])):
                a = np.asarray(groups[0][str(n)], dtype=np.float64).ravel()
                b = np.asarray(groups[1][str(n)], dtype=np.float64).ravel()
                dot, nx, ny = dot + float(a @ b), nx + float(a @ a), ny + float(b @ b)
    except (BadInput, OSError, KeyError, ValueError):
        return None
    return dot / float(np.sqrt(nx * ny)) if nx and ny else None


def read_direction_arrays(path: Path, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The top-level arrays ``names`` of a direction file that it holds, without reading
    its directions (a wide network's are gigabytes)."""
    with _open_for_reading(path, "direction file") as f:
        return {k: np.array(f[k]) for k in names if isinstance(f.get(k), h5py.Dataset)}


def read_directions(path: Path) -> tuple[list[torch.Tensor], list[torch.Tensor] | None, dict[str, np.ndarray]]:
    """Read a direction file (the reference's own included): x, y (or None), extra arrays."""
    with _open_for_reading(path, "direction file") as f:
        if "xdirection" not in f:
            raise BadInput(f"direction file {str(path)!r} has no 'xdirection' group")
        x = _read_group(f, "xdirection", Path(path))
        y = _read_group(f, "ydirection", Path(path)) if "ydirection" in f else None
        extra = {
            k: np.array(f[k]) for k in f.keys() if k not in ("xdirection", "ydirection")
            and isinstance(f[k], h5py.Dataset)
        }
    return x, y, extra


@dataclass
class SurfaceFile:
    """A surface in memory: coordinates and arrays of shape ``(nx,)`` or ``(ny, nx)``.

    Arrays hold the reference's ``-1`` where a point is not computed yet, and ``NaN``
    where it was computed and diverged. :meth:`values` gives NaN for both, for plotting.
    """

    xcoordinates: np.ndarray
    ycoordinates: np.ndarray | None
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    dir_file: str = ""
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        nx = len(self.xcoordinates)
        return (nx,) if self.ycoordinates is None else (len(self.ycoordinates), nx)

    def computed(self, key: str = "train_loss") -> np.ndarray:
        """Boolean mask of the points already computed."""
        return np.asarray(self.arrays[key]) != MISSING

    def values(self, key: str = "train_loss") -> np.ndarray:
        """The array with NaN where a point is missing (or diverged)."""
        arr = np.asarray(self.arrays[key], dtype=np.float64)
        return np.where(arr == MISSING, np.nan, arr)


def write_surface(path: Path, surface: SurfaceFile) -> None:
    """Write a surface file: ``dir_file``, coordinates, and each array with −1 for missing."""
    with _atomic_h5(path) as f:
        f["dir_file"] = surface.dir_file
        f["xcoordinates"] = np.asarray(surface.xcoordinates, dtype=np.float64)
        if surface.ycoordinates is not None:
            f["ycoordinates"] = np.asarray(surface.ycoordinates, dtype=np.float64)
        for key, arr in surface.arrays.items():
            arr = np.asarray(arr, dtype=np.float64)
            if arr.shape != surface.shape:
                raise ValueError(f"{key} has shape {arr.shape}, expected {surface.shape}")
            f[key] = arr
        for k, v in surface.attrs.items():
            f.attrs[k] = v


def _not_a_surface(f: h5py.File) -> str:
    """What else an HDF5 file without a surface's coordinates is, if it is one of the other
    files lstui and the reference write, and what to give instead; else nothing."""
    if "proj_xcoord" in f:
        return (": it is a trajectory's projection (proj_xcoord); draw it on its surface: "
                "lstui export SURF_FILE --proj-file FILE --dir-file ITS_PCA_DIR_FILE")
    if "explained_variance_ratio_" in f:
        return (": it is a trajectory's PCA directions; export the trajectory job, or compute "
                "a surface on them with --dir-file")
    if "xdirection" in f:
        return ": it is a direction file; export the surface file computed along it (surface.h5)"
    return ""


def read_surface(path: Path) -> SurfaceFile:
    """Read a surface file of lstui or of the reference.

    The reference allocates ``(nx, ny)`` but fills it in flat order ``k = i*nx + j``;
    re-shaping the flat values to ``(ny, nx)`` is right for both layouts.
    """
    with _open_for_reading(path, "surface file") as f:
        if "xcoordinates" not in f:
            raise BadInput(f"surface file {str(path)!r} has no 'xcoordinates'{_not_a_surface(f)}")
        x = _numbers(f, "xcoordinates", "surface file", path)
        y = _numbers(f, "ycoordinates", "surface file", path) if "ycoordinates" in f else None
        for name, axis in (("xcoordinates", x), ("ycoordinates", y)):
            values = axis.ravel() if axis is not None else np.empty(0)
            if axis is not None and values.size < 2:  # a figure of one point drew nothing, under warnings
                raise BadInput(f"surface file {str(path)!r}: its {name} hold {values.size} "
                               f"value{'' if values.size == 1 else 's'}; a grid has at least 2")
            steps = np.diff(values)
            if steps.size and not (np.all(steps > 0) or np.all(steps < 0)):
                # every x the same drew a figure of nothing, under matplotlib's warnings
                how = "hold NaN or inf" if not np.all(np.isfinite(values)) else "repeat a value or turn back"
                raise BadInput(f"surface file {str(path)!r}: its {name} ({values[0]:g} … {values[-1]:g}) "
                               f"are not a grid's: they {how}")
        shape = (len(x),) if y is None else (len(y), len(x))
        arrays: dict[str, np.ndarray] = {}
        for key in SURFACE_KEYS:
            if key not in f:
                continue
            raw = _numbers(f, key, "surface file", path)
            if raw.size != int(np.prod(shape)):
                raise BadInput(
                    f"surface file {str(path)!r}: {key} has {raw.size} values, the grid {shape}"
                )
            arr = raw.ravel().reshape(shape)
            arrays[key] = arr
        dir_file = f["dir_file"][()] if "dir_file" in f else b""
        if isinstance(dir_file, bytes):
            dir_file = dir_file.decode()
        attrs = {k: str(v) for k, v in f.attrs.items()}
    return SurfaceFile(x, y, arrays, str(dir_file), attrs)


def write_projection(path: Path, proj_x: np.ndarray, proj_y: np.ndarray) -> None:
    """Write a trajectory projection file (``proj_xcoord``, ``proj_ycoord``)."""
    with _atomic_h5(path) as f:
        f["proj_xcoord"] = np.asarray(proj_x, dtype=np.float64)
        f["proj_ycoord"] = np.asarray(proj_y, dtype=np.float64)


def read_projection(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a projected path (the reference's ``*_proj_cos.h5`` and lstui's ``projection.h5``)."""
    with _open_for_reading(path, "projection file") as f:
        missing = [k for k in ("proj_xcoord", "proj_ycoord") if not isinstance(f.get(k), h5py.Dataset)]
        if missing:
            raise BadInput(f"projection file {str(path)!r} has no {' or '.join(repr(k) for k in missing)}")
        px = _numbers(f, "proj_xcoord", "projection file", path).ravel()
        py = _numbers(f, "proj_ycoord", "projection file", path).ravel()
    if len(px) != len(py) or not len(px):
        raise BadInput(f"projection file {str(path)!r}: {len(px)} x and {len(py)} y coordinates")
    return px, py
