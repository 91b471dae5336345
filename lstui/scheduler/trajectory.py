"""Trajectory jobs: PCA directions of a training run, its projected path, and its figure.

The PCA runs once, before the job is queued (``lstui submit trajectory`` or ``lstui run
trajectory``), so that the grid can cover the path; the job itself is then a surface
over the PCA plane around the final checkpoint, like any other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import math
import re
import shutil
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lstui.errors import BadInput, SpecError
from lstui.landscape.grid import Axis
from lstui.landscape.options import ORIGINS
from lstui.results import read_projection, read_surface, write_directions, write_projection
from lstui.results.h5files import make_private_dirs, temporary_prefix, writer_dead
from lstui.spec import JobSpec

PROJECTION_FILE = "projection.h5"
PCA_DIRECTIONS_FILE = "pca_directions.h5"
#: The dataset of a plane's direction file naming the ``--dir-file`` it copies (no PCA).
GIVEN_KEY = "directions_from"
#: The dataset of a plane's direction file naming the checkpoint at its (0, 0).
ORIGIN_KEY = "origin_checkpoint"
#: The path of the run a plane was made from, copied beside a path put on it (--origin plane).
PLANE_PROJECTION_FILE = "plane_projection.h5"
PCA_KEYS = ("explained_variance_ratio_", "explained_variance_", "singular_values_")
"""The arrays of a PCA direction file beside its directions, as the reference names them."""
EVERY_CHECKPOINT_ATTR = "pca_rows"
"""The attribute of a PCA plane made since its streaming PCA reads every checkpoint:
planes without it are checked for directions that are not orthogonal when drawn."""
DEFAULT_NUM = 21
NEAR_LINE_BELOW = 1e-3
"""A 2nd PC under this share of the two PCs' variance: a path along a line, its plane's
y axis noise (1e-4 of noise on a straight run gave 5e-7, with a dramatic zigzag drawn)."""
MARGIN = 0.25


def natural_key(path: str) -> list[object]:
    """Sort key that puts ``model_2`` before ``model_10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path)]


def expand_checkpoints(items: Sequence[str], *, base: Path | None = None) -> list[str]:
    """Globs and comma-separated lists → checkpoint paths in natural order (within each glob).

    Each item is first taken whole, since sweep folders are named like ``lr=0.1,bs=128``
    (Hydra's override_dirname) or ``run[1]``: a file it names is that file, and a glob it
    is that matches files is that glob. Only then is it the documented comma-separated
    list, each part by the same rules (see :func:`_listed_files`).

    Args:
        items: what was given, one ``--checkpoints`` each.
        base: the folder relative paths are in (a job file's), else the working directory.
    """
    out: list[str] = []
    for item in items:
        given = item.strip()
        if not given:
            continue
        found = _named_files(given, base)
        if found is None and "," in given:
            found = _listed_files(given, base)
        elif found is None and _is_glob(given):
            raise SpecError(f"--checkpoints {given!r}{_looked(given, base)} matches no file")
        elif found is None:  # missing: said by the spec's check of every file, as for --checkpoint
            found = [_literal(given, base)]
        out += found
    seen: dict[Path, str] = {}
    for path in out:  # counted twice, it weighed twice in the PCA, a step drawn twice
        first = seen.get(key := Path(path).resolve())
        seen[key] = path
        if first is not None:
            what = f"{path} twice" if first == path else f"one file twice ({first} and {path})"
            raise SpecError(f"--checkpoints names {what}: a trajectory's checkpoints are each one "
                            "step of one run, in training order")
    if len(out) < 3:
        raise SpecError(f"a trajectory needs at least 3 checkpoints, got {len(out)}")
    return out


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _literal(text: str, base: Path | None) -> str:
    """The path ``text`` names, relative to ``base`` when given."""
    try:
        path = Path(text).expanduser()
    except RuntimeError as exc:  # ~unknownuser
        raise SpecError(f"--checkpoints {text!r} is not a usable path ({exc})") from None
    return str(base / path if base is not None else path)


def _looked(text: str, base: Path | None) -> str:
    """`` (PATH)``, where ``text`` was looked for, when that is not what was typed (``~``, a
    job file's folder), as the spec's check of a file says it."""
    if "~" not in text and (base is None or Path(text).expanduser().is_absolute()):
        return ""
    looked = _literal(text, base)
    return f" ({looked if looked.isprintable() else repr(looked)})"  # (a newline in it: still one line)


def _named_files(text: str, base: Path | None) -> list[str] | None:
    """The checkpoints one path or glob names, None when it names none.

    A file named as written is that file, even with ``*?[`` in its name. A part of the
    glob (a folder, a file name) that names an existing folder or file as written is read
    literally (``run[1]``: beside a ``run1``, the glob had taken that run's checkpoints),
    the rest as a glob (``run[1]/model_[1-3].pt``); as a last try, every ``[`` literally.
    """
    path = _literal(text, base)
    if Path(path).is_dir():  # "needs at least 3 checkpoints, got 1" said nothing of why
        raise SpecError(f"--checkpoints {text!r} is a folder; give its checkpoints, as in "
                        f"--checkpoints '{text.rstrip('/')}/model_*.t7' (quoted)")
    if Path(path).exists():  # a FIFO too: the spec's check says it is "not a regular file"
        return [path]
    if not _is_glob(text):
        return None
    relative = str(Path(text).expanduser())  # (usable: _literal said so)
    tries = [relative]
    if "[" in relative:
        tries = [_escaped_where_named(relative, base), relative, relative.replace("[", "[[]")]
    for attempt in dict.fromkeys(tries):
        # the job file's folder is where it is, whatever its name: never a pattern
        pattern = str(Path(glob.escape(str(base))) / attempt) if base is not None else attempt
        found = sorted((p for p in glob.glob(pattern) if Path(p).is_file()), key=natural_key)
        if found:
            return found
    return None


def _escaped_where_named(relative: str, base: Path | None) -> str:
    """``relative`` with each part holding ``[`` that names an existing folder or file (from
    the part before, as written) escaped: read literally, not as a character class."""
    parts = Path(relative).parts
    out: list[str] = []
    here = base if base is not None else Path()
    for part in parts:
        literal = "[" in part and (here / part).exists()
        out.append(glob.escape(part) if literal else part)
        here = here / part
    return str(Path(*out)) if out else relative


def _listed_files(given: str, base: Path | None) -> list[str]:
    """The checkpoints of a comma-separated list, each part by :func:`_named_files`.

    A part is the longest run of the pieces between commas that names files, so that
    ``ck/lr=0.1,bs=128/a.pt,ck/lr=0.1,bs=128/b.pt`` lists two files, as a sweep's are. A
    part naming nothing is refused here, saying the item was split: "--checkpoints
    'bs=128/model_*.pt' matches no file" hid that a glob in ``lr=0.1,bs=128`` had been.
    """
    pieces = given.split(",")
    found: list[str] = []
    start = 0
    while start < len(pieces):
        if not pieces[start].strip():
            start += 1
            continue
        longest = len(pieces) - 1 if start == 0 else len(pieces)  # the whole: named nothing
        for end in range(longest, start, -1):
            in_part = _named_files(",".join(pieces[start:end]).strip(), base)
            if in_part is not None:
                break
        else:
            part = pieces[start].strip()
            if _is_glob(given):
                how = "matches" if _is_glob(part) else "names"
                raise SpecError(f"--checkpoints {given!r}{_looked(given, base)} matches no file, nor "
                                f"split at its commas ({part!r} {how} none)")
            raise SpecError(f"--checkpoints {part!r}{_looked(part, base)} (of {given!r}, split at "
                            "its commas): no such file")
        found += in_part
        start = end
    return found


@dataclass(frozen=True)
class TrajectoryPlane:
    dir_file: Path
    projection_file: Path
    path_x: np.ndarray
    path_y: np.ndarray
    explained_variance_ratio: tuple[float, float] | None  # None: the directions of a --dir-file
    given_from: Path | None = None  # the --dir-file copied, for a plane of given directions
    origin: Path | None = None  # the checkpoint at (0, 0) when not this run's last (--origin plane)
    plane_path: tuple[np.ndarray, np.ndarray] | None = None  # the plane's own run's, drawn beside
    # ‖dx‖, ‖dy‖ and their cosine, for --projection cos on given directions not orthonormal
    skew: tuple[float, float, float] | None = None


def _covering_axis(values: np.ndarray, num: int) -> Axis:
    lo, hi = float(np.min(values)), float(np.max(values))
    span = max(hi - lo, 1e-3)
    lo, hi = lo - MARGIN * span, hi + MARGIN * span
    lo, hi = min(lo, 0.0), max(hi, 0.0)  # the centre (the final model, at 0) inside
    # the centre a grid point too, so the surface holds the final model's own loss: ``a``
    # intervals left of 0 and ``num - 1 - a`` right of it, of a width rounded up to two
    # significant digits (the range grows by about one interval at most)
    # of the ways to split the intervals, the one of the narrowest width: the grid then
    # hugs the path on both sides (rounding ``a`` from the proportions left one side
    # wider, a 11-point grid of -4:16 over a path of -0.77 to 9.63)
    choices = [a for a in range(num) if (a > 0 or lo >= 0) and (num - 1 - a > 0 or hi <= 0)]
    if not choices:
        return Axis(lo, hi, num)  # too few points to put one at 0

    def width_of(a: int) -> float:
        b = num - 1 - a
        return max(-lo / a if a else 0.0, hi / b if b else 0.0)

    a = min(choices, key=width_of)
    b = num - 1 - a
    width = width_of(a)
    unit = 10 ** (math.floor(math.log10(width)) - 1)
    width = math.ceil(round(width / unit, 9)) * unit
    return Axis(round(-a * width, 12), round(b * width, 12), num)


def new_plane_dir(home: Path, spec: JobSpec) -> Path:
    """A new folder of its own for a queued trajectory's PCA plane, under
    ``home/trajectories``: its time and name, and ``-2``, ``-3``, … when another job of
    the same name was planned in the same second (two jobs must not share a plane)."""
    from lstui.store import safe_name

    root = home / "trajectories"
    make_private_dirs(root)
    # not the default name: it holds the grid, which is not known before the plane is
    name = spec.name or f"trajectory {spec.model} {Path(spec.checkpoints[-1]).stem if spec.checkpoints else ''}"
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{safe_name(name)}"
    for n in range(1, 10_000):
        folder = root / (stem if n == 1 else f"{stem}-{n}")
        try:
            folder.mkdir(mode=0o700)  # atomic: two submits at once get two folders
        except FileExistsError:
            continue
        (folder / temporary_prefix(UNQUEUED)).touch(mode=0o600)  # until its job is queued (plane_queued)
        return folder
    raise OSError(f"no free folder name for {stem!r} under {root}")


UNQUEUED = "unqueued"
"""The mark a new plane's folder holds, ``.unqueued.pidPID@HOST-``, until its job is
queued: a submit killed meanwhile (SIGKILL, a machine restarted) left folders, and a PCA's
files, that no job named and nothing removed (:func:`remove_unqueued_planes`)."""


def plane_queued(plane: TrajectoryPlane) -> None:
    """Take away the mark of ``plane``'s folder, its job queued."""
    _unmark(Path(plane.dir_file).parent)


def _unmark(folder: Path) -> None:
    for mark in folder.glob(f".{UNQUEUED}.*"):
        with contextlib.suppress(OSError):
            mark.unlink()


def remove_unqueued_planes(home: Path, in_use: Callable[[], Collection[Path]]) -> list[Path]:
    """Remove the folders under ``home/trajectories`` that a submit killed before it queued
    their job left (marked, their writer gone from this machine), but for those ``in_use``
    names (their jobs' plane folders, resolved: one killed after the queueing); returns them.
    ``in_use`` is asked only when such a folder is there."""
    root = home / "trajectories"
    try:
        folders = [f for f in root.iterdir() if f.is_dir() and not f.is_symlink()]
    except OSError:
        return []
    left = []
    for folder in folders:
        marks = [m.name for m in folder.glob(f".{UNQUEUED}.*")]
        if marks and all(writer_dead(mark) for mark in marks):
            left.append(folder)
    if not left:
        return []
    used = set(in_use())
    removed = []
    for folder in left:
        if folder.resolve() in used:
            _unmark(folder)
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def plane_dirs_in_use(store: Any) -> set[Path]:
    """The folders of every trajectory job's plane in ``store``, resolved."""
    used = set()
    for job in store.list_jobs(include_finished=True):
        dir_file = job.spec.get("dir_file") if job.kind == "trajectory" else None
        if isinstance(dir_file, str) and dir_file:
            with contextlib.suppress(OSError):
                used.add(Path(dir_file).parent.resolve())
    return used


def plane_in_new_dir(home: Path, spec: JobSpec, *, origin: str = "own") -> TrajectoryPlane:
    """:func:`compute_plane` into a :func:`new_plane_dir`, which goes again when the PCA
    fails (a checkpoint refused): a refused submit leaves no folder behind."""
    folder = new_plane_dir(home, spec)
    try:
        return compute_plane(spec, folder, origin=origin)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def plan_trajectory(
    spec: JobSpec,
    plane_for: Callable[[JobSpec, str], TrajectoryPlane],
    *,
    x_given: bool,
    y_given: bool,
    num: int = DEFAULT_NUM,
    origin: str = "own",
) -> tuple[JobSpec, TrajectoryPlane]:
    """The PCA plane of ``spec``'s checkpoints (expanded already), made by
    ``plane_for(spec, origin)`` (into which folder), and the job on it: a surface around
    the last checkpoint whose grid covers the path where ``x``/``y`` were not given.
    ``lstui submit``/``run trajectory`` and the TUI's form plan a trajectory alike."""
    from lstui.scheduler.imports import check_factories

    spec = dataclasses.replace(spec, checkpoint=spec.checkpoints[-1])
    check_factories(spec)  # the PCA builds the model: its module imported from here first
    plane = plane_for(spec, origin)
    return trajectory_spec(spec, plane, x_given=x_given, y_given=y_given, num=num), plane


def compute_plane(spec: JobSpec, out: Path, *, origin: str = "own") -> TrajectoryPlane:
    """Streaming PCA of the checkpoints and the projected path, written to ``out``.

    With ``spec.dir_file`` (the reference's ``plot_trajectory.py --dir_file``) the path
    is projected on that file's two directions as they are, instead of a PCA of its own:
    another run's PCA plane, to see two runs' paths in one plane. They are copied into
    ``out`` (the job reads its own copy), without the other run's variance ratios.

    ``origin``: where (0, 0) is. ``own``: this run's last checkpoint, as the reference
    has it. ``plane`` (with an lstui plane as ``dir_file``): the plane's own origin, the
    last checkpoint of the run it was made from, so that both paths lie in one frame;
    that run's path is copied beside (``plane_projection.h5``) to be drawn with this one.
    """
    from lstui.landscape.directions import model_tensors
    from lstui.landscape.pca import project, trajectory_pca
    from lstui.models import apply_state_dict, load_checkpoint, misfit_subject
    from lstui.scheduler.compute import build_centre, load_job_data, read_fitting_directions

    given = Path(spec.dir_file) if spec.dir_file else None
    if origin not in ORIGINS:
        raise BadInput(f"--origin {origin!r}: choose from {', '.join(ORIGINS)}")
    if origin == "plane" and given is None:
        raise BadInput("--origin plane takes the origin of a --dir-file's plane; give --dir-file")
    centre = plane_origin(given) if origin == "plane" and given is not None else None
    data = load_job_data(spec)
    model = build_centre(spec, data, spec.checkpoints[-1])
    ignore = spec.ignore == "biasbn" and given is None  # a file's directions: as they are
    # the checkpoints to load: this run's, and last the one at (0, 0) when it is not its own
    files = [*spec.checkpoints, *([str(centre)] if centre is not None else [])]

    digests: dict[bytes, int] = {}  # of each of this run's checkpoints, at its first load
    checked: set[int] = set()

    def load(i: int) -> list:  # type: ignore[type-arg]
        state = load_checkpoint(files[i], trust=spec.trust_checkpoint)
        # (its bare path, "ck/mlp.pt: 12 missing", said not what it did not fit)
        apply_state_dict(model, state, subject=misfit_subject(files[i], spec.model))
        tensors = [t.detach().clone() for t in model_tensors(model, spec.dir_type)]
        if i < count and i not in checked:
            checked.add(i)
            same = files[digests.setdefault(_digest(tensors), i)]
            if same != files[i]:  # a glob's best.pt or model_final.pt beside the epochs
                first, second = sorted((same, files[i]), key=files.index)
                raise BadInput(f"--checkpoints {first} and {second} hold the same model (every tensor "
                               "equal): counted twice, it weighs twice in the PCA; a trajectory's "
                               "checkpoints are each one step of one run (name the files, or narrow the glob)")
        return tensors

    count = len(spec.checkpoints)
    ratios: tuple[float, float] | None = None
    extra: dict[str, np.ndarray] = {}
    if given is None:
        pca = trajectory_pca(load, count, ignore_biasbn=ignore)
        xdirection, ydirection = pca.xdirection, pca.ydirection
        ratios = pca.explained_variance_ratio
        extra = dict(zip(PCA_KEYS, (np.asarray(pca.explained_variance_ratio), np.asarray(pca.explained_variance),
                                    np.asarray(pca.singular_values)), strict=True))
    else:
        from lstui.results import read_direction_arrays
        from lstui.results.h5files import direction_file_keys

        given_extra = read_direction_arrays(given, PCA_KEYS)  # (its directions are read once, below)
        if "ydirection" not in direction_file_keys(given):
            raise BadInput(f"--dir-file: direction file {str(given)!r} has one direction (no "
                           "ydirection); a trajectory is projected on two")
        try:
            xdirection, ydirection = read_fitting_directions(
                given, [t.detach() for t in model_tensors(model, spec.dir_type)], 2)
        except BadInput as exc:
            raise BadInput(f"--dir-file: {exc}") from None
        extra = {GIVEN_KEY: np.array(str(given).encode())}
        # its PCA's arrays, kept: the reference's plot_2D reads explained_variance_ratio_ of
        # the file a surface names (a KeyError without it), as its --dir_file run would
        extra.update({k: given_extra[k] for k in PCA_KEYS if k in given_extra})
    # (0, 0) of this plane, for a later run's --origin plane
    extra[ORIGIN_KEY] = np.array(str(centre or Path(spec.checkpoints[-1]).resolve()).encode())
    px, py = project(load, len(files), (xdirection, ydirection), method=spec.projection, ignore_biasbn=ignore)
    skew = _skew(xdirection, ydirection) if given is not None and spec.projection == "cos" else None
    px, py = px[:count], py[:count]
    make_private_dirs(out)  # $LSTUI_HOME/trajectories too: 0700, as the results
    dir_file = out / PCA_DIRECTIONS_FILE
    write_directions(dir_file, xdirection, ydirection, extra=extra,
                     attrs={EVERY_CHECKPOINT_ATTR: "every checkpoint"} if given is None else None)
    proj_file = out / PROJECTION_FILE
    write_projection(proj_file, px, py)
    plane_path = None
    if centre is not None and given is not None and (given.parent / PROJECTION_FILE).is_file():
        # the plane's own run, drawn beside this path: same directions, same origin
        plane_path = read_projection(given.parent / PROJECTION_FILE)
        write_projection(out / PLANE_PROJECTION_FILE, *plane_path)
    return TrajectoryPlane(dir_file, proj_file, np.asarray(px), np.asarray(py), ratios, given, centre, plane_path, skew)


def _skew(xdirection: Sequence[Any], ydirection: Sequence[Any]) -> tuple[float, float, float] | None:
    """``(‖dx‖, ‖dy‖, cos(dx, dy))`` when the two directions are not orthonormal (to
    1e-3), else None: then ``cos`` coordinates are not the α, β of the surface's axes."""
    import torch

    dx = torch.cat([t.detach().double().reshape(-1).cpu() for t in xdirection])
    dy = torch.cat([t.detach().double().reshape(-1).cpu() for t in ydirection])
    nx, ny = float(dx.norm()), float(dy.norm())
    cos = float(dx @ dy) / (nx * ny) if nx and ny else 0.0
    if max(abs(nx - 1), abs(ny - 1), abs(cos)) <= 1e-3:
        return None
    return nx, ny, cos


def _digest(tensors: Sequence[Any]) -> bytes:
    """The bytes of ``tensors``, hashed: equal for two checkpoints of one model only."""
    import hashlib

    import torch

    hasher = hashlib.blake2b(digest_size=20)
    for t in tensors:
        flat = t.detach().cpu().contiguous().reshape(-1)
        hasher.update(str((t.dtype, tuple(t.shape))).encode())
        hasher.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    return hasher.digest()


def plane_origin(dir_file: Path) -> Path:
    """The checkpoint at (0, 0) of an lstui plane (the last of the run it was made from)."""
    from lstui.results import read_directions

    _, _, extra = read_directions(dir_file)
    value = extra.get(ORIGIN_KEY)
    if value is None:
        raise BadInput(f"--origin plane: {str(dir_file)!r} does not name its origin (an lstui "
                       "trajectory's pca_directions.h5 does); leave --origin own")
    path = Path(bytes(value.item()).decode() if isinstance(value.item(), bytes) else str(value.item()))
    if not path.is_file():
        raise BadInput(f"--origin plane: the plane's origin {str(path)!r} is not there (moved or deleted)")
    return path


def trajectory_spec(spec: JobSpec, plane: TrajectoryPlane, *, x_given: bool, y_given: bool, num: int = DEFAULT_NUM) -> JobSpec:
    """The surface part of a trajectory job: around the final checkpoint, over the path."""
    # the grid covers the path, and the plane's own run's drawn beside it
    path_x, path_y = plane.path_x, plane.path_y
    if plane.plane_path is not None:
        path_x, path_y = np.concatenate([path_x, plane.plane_path[0]]), np.concatenate([path_y, plane.plane_path[1]])
    x = spec.x if x_given else _covering_axis(path_x, num)
    y = spec.y if (y_given and spec.y is not None) else _covering_axis(path_y, num)
    name = spec.name
    if plane.given_from is not None and not name:  # whose plane, in its name and titles
        where = "in" if plane.origin is not None else "on"
        name = f"trajectory {spec.model} {Path(spec.checkpoints[-1]).stem} {where} {plane_label(plane.given_from)}"
    # the surface is around (0, 0): this run's last checkpoint, or the plane's origin
    centre = str(plane.origin) if plane.origin is not None else spec.checkpoints[-1]
    return dataclasses.replace(
        spec, kind="trajectory", checkpoint=centre, dir_file=str(plane.dir_file),
        x=x, y=y, norm="none", target=None, target_y=None, name=name,
    ).validated()


def plane_label(dir_file: Path) -> str:
    """A direction file named for a title: an lstui plane by its folder, less the time it
    was made ("trajectory-cnn-model_15's plane"); another file by its name."""
    folder = Path(dir_file).parent.name
    if Path(dir_file).name == PCA_DIRECTIONS_FILE and folder:
        return f"{re.sub(r'^[0-9]{8}-[0-9]{6}-', '', folder)}'s plane"
    return Path(dir_file).name


def plane_note(plane: TrajectoryPlane, spec: JobSpec) -> str:
    """What ``submit``/``run trajectory`` say of the plane: where it is (for another run's
    ``--dir-file``) and its variance, or, on given directions, whose they are and that
    (0, 0) is still this run's own end."""
    if plane.given_from is not None and plane.origin is not None:
        return (f"the path is projected on the directions of {plane.given_from} about its origin "
                f"{plane.origin}: that run's path and this one lie in one frame, drawn together")
    if plane.given_from is not None:
        return (f"the path is projected on the directions of {plane.given_from}; its (0, 0), and the "
                f"surface's centre, are this run's own last checkpoint {spec.checkpoints[-1]} "
                "(--origin plane puts both runs' paths in one frame)")
    ratios = plane.explained_variance_ratio
    from lstui.plots.surfaces import pc_percent

    share = f" (1st PC {pc_percent(ratios[0])} %, 2nd PC {pc_percent(ratios[1])} %)" if ratios else ""
    line = ""
    if ratios and ratios[1] < NEAR_LINE_BELOW * sum(ratios):
        line = ("; the path is nearly a line: the 2nd PC, the y axis, holds only its wobble about it "
                "(lstui submit interp draws the loss along a line)")
    return f"its PCA plane: {plane.dir_file}{share}{line}; another run's path goes on it with --dir-file"


def trajectory_notes(spec: JobSpec, plane: TrajectoryPlane, *, x_given: bool, y_given: bool) -> list[str]:
    """What ``submit``/``run trajectory`` and a job file say of a trajectory beside its
    plane: an axis the path chose, checkpoints not in their names' order, BatchNorm
    statistics that its states directions leave alone, ``cos`` coordinates that are not
    the surface's α, β."""
    notes = []
    if x_given != y_given:  # `--x` alone read as a 1D job, as a surface's is: it is 2D, 21 rows
        chosen = "y" if x_given else "x"
        notes.append(f"no --{chosen} given: {chosen} {getattr(spec, chosen)} covers the path "
                     f"(a trajectory's surface is 2D: {spec.grid.num_points} points)")
    names = list(spec.checkpoints)
    if names != sorted(names, key=natural_key):
        notes.append(f"the checkpoints are taken in the order given, not their names': "
                     f"{Path(names[0]).name} first, {Path(names[-1]).name} last, the centre")
    if spec.dir_type == "states" and spec.ignore == "biasbn" and plane.given_from is None:
        from lstui.models import has_running_statistics

        if has_running_statistics(spec.checkpoints[-1], trust=spec.trust_checkpoint):
            notes.append(STATES_LIKE_WEIGHTS)
    if plane.skew is not None:
        nx, ny, cos = plane.skew
        notes.append(f"--projection cos on directions that are not orthonormal (‖dx‖ {nx:.3g}, ‖dy‖ {ny:.3g}, "
                     f"cosine {cos:.2g}): the path's x, y are d·dx/‖dx‖ and d·dy/‖dy‖, not the α, β of "
                     "θ + α·dx + β·dy the surface is drawn in, so it is not drawn where it lies on it; "
                     "--projection lstsq puts it at its α, β")
    return notes


STATES_LIKE_WEIGHTS = (
    "--dir-type states with --ignore biasbn: BatchNorm's running statistics are 1-dim tensors, "
    "zero in the directions as the biases are, so they stay the centre's, as under --dir-type "
    "weights (--ignore none moves them too)")


def path_outside(plane: TrajectoryPlane, x: Axis, y: Axis | None) -> str | None:
    """What a note says when the checkpoints' path leaves the grid the person gave (its
    start off the figure, with nothing to tell it); None when the grid holds it."""
    out = []
    for flag, values, axis in (("--x", plane.path_x, x), ("--y", plane.path_y, y)):
        if axis is None:
            continue
        lo, hi = float(np.min(values)), float(np.max(values))
        if lo < axis.min or hi > axis.max:
            out.append(f"{flag} {axis} (the path spans {lo:.3g} to {hi:.3g})")
    if not out:
        return None
    return (f"the checkpoints' path leaves the grid {' and '.join(out)}: the figure shows only "
            "its part on the grid; without --x/--y the grid covers it")


def trajectory_path(spec: JobSpec) -> tuple[np.ndarray, np.ndarray] | None:
    """The checkpoints' projected path, from beside the job's PCA directions; None for a
    job without a direction file or whose projection file is gone."""
    if spec.dir_file is None:
        return None
    proj = Path(spec.dir_file).parent / PROJECTION_FILE
    if not proj.exists():
        return None
    return read_projection(proj)


def export_trajectory(
    spec: JobSpec,
    surface_path: Path,
    out: Path,
    *,
    formats: Sequence[str],
    title: str | None = None,
    dpi: int = 150,
    on_note: Callable[[str], None] | None = None,
    **contours: Any,
) -> list[Path]:
    """The path over the contours, axes labelled with each PC's explained variance;
    ``contours``: :func:`draw_trajectory`'s ``surf_name``, ``vmin``, ``vmax``, ``vlevel``, ``log``;
    ``on_note``: told what is wrong with the plane, as the other export notes (the job's log)."""
    from lstui.scheduler.exporting import note

    found = trajectory_path(spec)
    if found is None or spec.dir_file is None:
        if spec.dir_file is not None:  # its plane's folder gone (deleted, or a home moved by hand)
            note(f"{Path(spec.dir_file).parent / PROJECTION_FILE} is not there: the path over the "
                 "contours (trajectory.*) is not drawn", on_note)
        return []
    dir_file = Path(spec.dir_file)
    ratios = pca_ratios(dir_file)
    if ratios is not None:  # a PCA plane of lstui's own (not a copied --dir-file)
        skewed = skewed_plane(dir_file)
        if skewed is not None:
            note(skewed, on_note)
    beside = dir_file.parent / PLANE_PROJECTION_FILE  # --origin plane: the plane's own run's path
    other = read_projection(beside) if beside.is_file() else None
    return draw_trajectory(surface_path, found, ratios, Path(out) / "trajectory",
                           formats=formats, title=title, dpi=dpi, axis_labels=given_axis_labels(dir_file),
                           other_path=other, **contours)


def given_axis_labels(dir_file: Path | None) -> tuple[str, str] | None:
    """"α", "β" for a plane copied from a ``--dir-file``, as on any surface's figures of
    given directions (they are not this path's principal components); None for a PCA
    plane."""
    from lstui.results.h5files import direction_file_keys

    if dir_file is None or not Path(dir_file).is_file():
        return None
    if GIVEN_KEY not in direction_file_keys(Path(dir_file)):
        return None
    return "α", "β"  # lstui.plots' own labels of a plane


def skewed_plane(dir_file: Path) -> str | None:
    """What to say of an lstui PCA plane whose directions are not orthogonal: made before
    the fix of its streaming PCA, which left checkpoints out of the directions of a run a
    few checkpoints longer than its block (235–310 of ResNet-56's); its path and surface
    are on the wrong plane, though its variance shares are right. None for a sound one; a
    plane made since (:data:`EVERY_CHECKPOINT_ATTR`) is not read: its directions can be
    gigabytes."""
    from lstui.results import direction_cosine, read_direction_attrs

    if EVERY_CHECKPOINT_ATTR in read_direction_attrs(dir_file):
        return None
    cosine = direction_cosine(dir_file)
    if cosine is None or abs(cosine) <= 1e-3:
        return None
    return (f"the PCA plane {dir_file} has directions that are not orthogonal (cosine {cosine:.3g}): an earlier "
            "lstui's trajectory PCA left checkpoints out of them; queue the trajectory again for the right plane")


def pca_ratios(dir_file: Path | None) -> tuple[float, float] | None:
    """The explained variance ratios of a PCA direction file's two directions (lstui's
    or the reference's ``explained_variance_ratio_``); None for a file without them, for
    one that cannot be read, and for a plane copied from another run's ``--dir-file``
    (it keeps that run's PCA arrays for the reference's readers; its axes are α and β,
    not this run's PCs)."""
    from lstui.errors import LstuiError
    from lstui.results import read_direction_arrays

    if dir_file is None or not Path(dir_file).is_file():
        return None
    try:
        extra = read_direction_arrays(Path(dir_file), ("explained_variance_ratio_", GIVEN_KEY))
    except LstuiError:
        return None
    if GIVEN_KEY in extra:
        return None
    ratio = extra.get("explained_variance_ratio_")
    if ratio is None or len(ratio) < 2 or not all(0.0 <= float(r) <= 1.0 for r in ratio[:2]):
        return None
    return float(ratio[0]), float(ratio[1])


def draw_trajectory(
    surface_path: Path,
    path: tuple[np.ndarray, np.ndarray],
    ratios: tuple[float, float] | None,
    base: Path,
    *,
    formats: Sequence[str],
    title: str | None = None,
    dpi: int = 150,
    axis_labels: tuple[str, str] | None = None,
    other_path: tuple[np.ndarray, np.ndarray] | None = None,
    surf_name: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    vlevel: float | None = None,
    log: bool | None = None,
) -> list[Path]:
    """A projected path over a 2D surface's contours, saved as ``{base}.{format}``; its
    axes the PCs' (``ratios``), or ``axis_labels``.

    The contours are the train loss's (the test loss's when only it was evaluated), or
    ``surf_name``'s (the reference's ``--surf_name``: an error is 100 − the accuracy),
    at the levels ``vmin``, ``vmax``, ``vlevel`` and ``log`` choose as for the surface's
    own contour figures; the title says which values they are.
    """
    from lstui import plots
    from lstui.scheduler.exporting import surface_values

    px, py = path
    surface = read_surface(surface_path)
    if surface.ycoordinates is None:
        raise BadInput(f"a trajectory is drawn over a 2D surface; {str(surface_path)!r} is 1D")
    losses = [k for k in ("train_loss", "test_loss") if k in surface.arrays]
    if surf_name is None and not losses:
        raise BadInput(f"{str(surface_path)!r} holds no loss to draw the trajectory over")
    values, label = surface_values(surface, surf_name or losses[0], repr(str(surface_path)))
    # every array holds -1 at the same points: those not computed yet
    pending = ~surface.computed(losses[0] if losses else next(iter(surface.arrays)))
    fig = plots.plot_trajectory(
        surface.xcoordinates, surface.ycoordinates, values, px, py,
        explained_variance=ratios, title=f"{title} — {label}" if title else label, pending=pending,
        axis_labels=axis_labels, vmin=vmin, vmax=vmax, vlevel=vlevel, log=log, other_path=other_path,
    )
    image_formats = [f for f in formats if f != "vtp"]
    return plots.save_figure(fig, base, image_formats, dpi=dpi) if image_formats else []
