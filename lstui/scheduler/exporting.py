"""From stored points to files: surface files and the figures exported for a job."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lstui.errors import BadInput, StoreError
from lstui.results import SurfaceFile, read_surface, write_surface
from lstui.spec import SURF_NAMES, JobSpec
from lstui.store import JobRow, JobState, Store

DIRECTIONS_FILE = "directions.h5"
SURFACE_FILE = "surface.h5"
EXPORT_FORMATS = ("png", "pdf", "svg", "vtp")
FIGURE_KINDS_2D = ("2dcontour", "2dcontourf", "2dheat", "3dsurface")

log = logging.getLogger("lstui.export")


def job_dir_file(spec: JobSpec, results_dir: Path) -> Path:
    return Path(spec.dir_file) if spec.dir_file else results_dir / DIRECTIONS_FILE


def job_surface(store: Store, job: JobRow) -> SurfaceFile:
    """The job's surface assembled from the store (missing points −1, diverged NaN)."""
    from lstui.scheduler.compute import assemble_surface

    spec = JobSpec.from_dict(job.spec, check_files=False)
    rows = store.points(job.id)
    points = (
        (r.idx, {"train_loss": r.train_loss, "train_acc": r.train_acc,
                 "test_loss": r.test_loss, "test_acc": r.test_acc})
        for r in rows
    )
    return assemble_surface(spec, job_dir_file(spec, Path(job.results_dir)), points)


def write_job_surface(store: Store, job: JobRow) -> Path:
    """Write ``surface.h5`` of a job from the store (atomic replace), and its settings
    beside it as ``spec.json``, as ``lstui run`` leaves them: a folder copied away from
    the home still says what its figures were made with."""
    from lstui.results.h5files import write_private_bytes
    from lstui.scheduler.compute import SPEC_FILE

    path = Path(job.results_dir) / SURFACE_FILE
    write_surface(path, job_surface(store, job))
    settings = (json.dumps(job.spec, indent=2) + "\n").encode()
    try:
        same = (path.parent / SPEC_FILE).read_bytes() == settings
    except OSError:
        same = False
    if not same:  # written once, not at each of a running job's writes
        write_private_bytes(path.parent / SPEC_FILE, settings)
    return path


def parse_formats(text: str | Sequence[str]) -> tuple[str, ...]:
    items = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else text)]
    items = [t for t in items if t]
    bad = [t for t in items if t not in EXPORT_FORMATS]
    if bad or not items:
        raise BadInput(
            f"--format {','.join(items) or repr(text)}: choose from {', '.join(EXPORT_FORMATS)}"
        )
    return tuple(dict.fromkeys(items))


def _saved_title(saved: dict[str, object]) -> str | None:
    """The title of a surface file's figures: its job's name, or the name `lstui run` gave
    its figure (the settings it was computed with); None for a file without lstui's spec."""
    if saved.get("name"):
        return str(saved["name"])
    if not saved:
        return None
    from lstui.errors import LstuiError
    from lstui.spec import JobSpec

    try:
        return JobSpec.from_dict(saved, check_files=False).default_name()
    except LstuiError:  # an older or foreign spec: no title rather than no figure
        return None


def _saved_spec(surface: SurfaceFile) -> dict[str, object]:
    """The settings lstui stored in a surface file (empty for the reference's files)."""
    try:
        saved = json.loads(surface.attrs.get("lstui_spec", "{}"))
    except ValueError:
        return {}
    return saved if isinstance(saved, dict) else {}


def export_surface(
    surface_path: Path,
    out: Path,
    *,
    formats: Sequence[str] = ("png", "pdf"),
    title: str | None = None,
    kinds: Sequence[str] | None = None,
    dpi: int | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    vlevel: float | None = None,
    log: bool | None = None,
    zmax: float | None = None,
    stem: str | None = None,
    axis_labels: tuple[str, str] | None = None,
    surf_names: Sequence[str] | None = None,
    on_note: Callable[[str], None] | None = None,
    loss_max: float | None = None,
) -> list[Path]:
    """Draw the figures of a surface file (lstui's or the reference's) into ``out``.

    1D: loss and accuracy curves (the interpolation figure when the file is an
    interpolation, its ends named after the checkpoints' files). 2D: contour lines,
    filled contours, heatmap and 3D surface of the train loss (or test loss when only
    the test split was evaluated); VTP on request. Points not computed yet (the file's
    ``-1``) are named as such on the figures.

    ``dpi`` defaults to :data:`lstui.plots.save.DEFAULT_DPI`; ``log`` None decides from
    the values (log when they span two decades), True or False forces it. A 2D
    surface's axes read ``axis_labels`` (a trajectory's "1st PC: 91.15 %"), α and β
    without.

    ``loss_max``: the top of a 1D figure's loss axis (the reference's ``--loss_max``).

    ``surf_names``: which values a 2D surface's figures draw (the reference's
    ``--surf_name``: :data:`SURF_NAMES`, an error being 100 − accuracy); the train loss,
    and the test loss when it was evaluated, without.

    A format that does not apply (VTP of a 1D surface) is skipped with a warning, logged
    and passed to ``on_note``; asked for alone, it is refused.

    Raises:
        BadInput: no arrays in the file, an unknown figure kind, a value the file does
            not hold, or VTP alone of a 1D surface.
    """
    from lstui import plots
    from lstui.plots.save import DEFAULT_DPI

    dpi = dpi or DEFAULT_DPI
    surface = read_surface(surface_path)
    if not surface.arrays:
        raise BadInput(f"{str(surface_path)!r} holds no loss or accuracy arrays")
    image_formats = [f for f in formats if f != "vtp"]
    if surface.ycoordinates is None and "vtp" in formats:
        what = "vtp needs a 2D surface (--x and --y) and this one is 1D"
        if not image_formats:
            raise BadInput(f"--format vtp: {what}; export its curves as png, pdf or svg")
        note(f"no vtp written: {what}", on_note)
    out = Path(out)  # made by the first file saved: a refused option leaves no empty folder
    stem = stem or Path(surface_path).stem
    saved = _saved_spec(surface)
    title = title or _saved_title(saved)
    written: list[Path] = []
    x = surface.xcoordinates
    keys: list[str] = [k for k in ("train_loss", "test_loss") if k in surface.arrays]
    # every array of a file holds -1 at the same points: those not computed yet
    pending = ~surface.computed(keys[0] if keys else next(iter(surface.arrays)))
    if surface.ycoordinates is None:
        # a 2D surface's options, ignored here without a word, as --loss-max is refused on 2D
        for flag, value in (("--surf-name", surf_names), ("--vmin", vmin), ("--vmax", vmax),
                            ("--vlevel", vlevel), ("--zmax", zmax)):
            if value is not None:
                raise BadInput(f"{flag} is for a 2D surface's figures; this surface is 1D (its curves "
                               "draw every quantity; their loss axis: --loss-max, --log)")
        curves = {k: surface.values(k) for k in surface.arrays}
        interp = saved.get("kind") == "interp"
        if image_formats:
            fig = plots.plot_1d(x, curves, title=title, interpolation=interp, names=_endpoint_names(saved),
                                log=log, pending=pending, loss_max=loss_max, loss_label=loss_name(surface))
            written += plots.save_figure(fig, out / f"{stem}_1d", image_formats, dpi=dpi)
        return written
    if loss_max is not None:
        raise BadInput("--loss-max is the top of a 1D figure's loss axis; this surface is 2D "
                       "(its levels: --vmin, --vmax; its 3D surface: --zmax)")
    y = surface.ycoordinates
    kinds = tuple(kinds) if kinds is not None else FIGURE_KINDS_2D
    bad = [k for k in kinds if k not in FIGURE_KINDS_2D]
    if bad:
        raise BadInput(f"figure kind {bad[0]!r}: choose from {', '.join(FIGURE_KINDS_2D)}")
    # a file of accuracies alone (no loss): their errors, not nothing at all
    names = list(surf_names) if surf_names else keys or [
        k.replace("_acc", "_err") for k in ("train_acc", "test_acc") if k in surface.arrays]
    drawn = {key: surface_values(surface, key, repr(str(surface_path))) for key in names}  # all checked first
    for key in names:  # the train loss's figures, and the test loss's when it was evaluated
        values, label = drawn[key]
        # always say what is drawn: "NAME — train loss" ("(train error (%))" doubled brackets)
        titled = f"{title} — {label}" if title else label
        written += _surface_figures(x, y, values, pending, out / f"{stem}_{key}", kinds,
                                    image_formats, "vtp" in formats, title=titled, zlabel=label,
                                    axis_labels=axis_labels, dpi=dpi, vmin=vmin, vmax=vmax,
                                    vlevel=vlevel, log=log, zmax=zmax)
    return written


def surface_values(surface: Any, key: str, source: str) -> tuple[Any, str]:
    """The values ``key`` names (an error is 100 − the accuracy, in %) and their label;
    ``source`` names the surface in an error ("job 3", a file's path)."""
    if key not in SURF_NAMES:
        raise BadInput(f"--surf-name {key!r}: choose from {', '.join(SURF_NAMES)}")
    split, what = key.split("_")
    stored = f"{split}_acc" if what == "err" else key  # no accuracy surfaces: see SURF_NAMES
    if stored not in surface.arrays:
        drawn_from = f", from which {key} is drawn" if stored != key else ""
        raise BadInput(f"--surf-name {key}: {source} holds no {stored}{drawn_from} "
                       f"(it holds {', '.join(sorted(surface.arrays))})")
    values = surface.values(stored)
    if what == "err":
        values = 100.0 - values
    label = {"loss": f"{split} {loss_name(surface)}", "err": f"{split} error (%)"}[what]
    return values, label


def loss_name(surface: Any) -> str:
    """"loss", or "MSE loss" for a surface of ``--loss mse`` (its settings say so): a
    figure read without its job does not tell it from cross-entropy otherwise."""
    return "MSE loss" if _saved_spec(surface).get("loss") == "mse" else "loss"


def _endpoint_names(saved: dict[str, object]) -> tuple[str, str]:
    """An interpolation's ends as the comparison names them: the checkpoints' file stems
    (their folders too when the stems are the same); "A" and "B" for a file without them.
    Under ``--dir-type weights`` a B with BatchNorm statistics is "B's weights" (two lines): the model
    at 1 has A's statistics, as submit says."""
    from lstui.scheduler.compare import checkpoint_labels

    a, b = saved.get("checkpoint"), saved.get("checkpoint_b")
    if not (isinstance(a, str) and a and isinstance(b, str) and b):
        return ("A", "B")
    first, second = checkpoint_labels([a, b])
    if saved.get("dir_type") == "weights" and saved.get("bn") != "recompute":
        from lstui.models import has_running_statistics

        if has_running_statistics(b, trust=saved.get("trust_checkpoint") is True):
            second = f"{second}'s\nweights"
    return first, second


def _surface_figures(
    x: Any, y: Any, Z: Any, pending: Any, base: Path, kinds: Sequence[str],
    image_formats: Sequence[str], vtp: bool, *, title: str | None, zlabel: str,
    axis_labels: tuple[str, str] | None, dpi: int, vmin: float | None, vmax: float | None,
    vlevel: float | None, log: bool | None, zmax: float | None,
) -> list[Path]:
    """One loss array's 2D figures, each saved as ``{base}_{kind}.{format}``, and its VTP."""
    from lstui import plots

    written: list[Path] = []
    common: dict[str, Any] = dict(log=log, title=title, pending=pending)
    if axis_labels is not None:
        common.update(xlabel=axis_labels[0], ylabel=axis_labels[1])
    levels: dict[str, Any] = dict(vmin=vmin, vmax=vmax, vlevel=vlevel)
    if image_formats:
        for kind in kinds:
            if kind == "2dcontour":
                fig = plots.plot_contour(x, y, Z, **levels, **common)
            elif kind == "2dcontourf":
                fig = plots.plot_filled_contour(x, y, Z, **levels, **common, zlabel=zlabel)
            elif kind == "2dheat":
                fig = plots.plot_heatmap(x, y, Z, vmin=vmin, vmax=vmax, **common, zlabel=zlabel)
            else:
                fig = plots.plot_surface_3d(x, y, Z, zmax=zmax, vmin=vmin, vmax=vmax, **common, zlabel=zlabel)
            written += plots.save_figure(fig, Path(f"{base}_{kind}"), image_formats, dpi=dpi)
    if vtp:
        import numpy as np

        # named as the reference's h52vtp names them: a clipped or log file is not the plain one
        name = f"{base}{f'_zmax={zmax:g}' if zmax is not None else ''}{'_log' if log else ''}.vtp"
        if np.isfinite(np.asarray(Z, dtype=np.float64)).any():
            written.append(plots.write_vtp(x, y, Z, Path(name), log=bool(log), zmax=zmax))
        else:
            note(f"{Path(name).name} not written: no point of the surface is finite (all diverged "
                  "or none computed yet)", None)
    return written


def note(text: str, on_note: Callable[[str], None] | None) -> None:
    """Say ``text``, a note on figures drawn or not drawn: logged, and told ``on_note`` (the
    daemon's and the TUI's job log)."""
    # Logged too: with no handler set up (the command line) logging's last resort
    # prints a warning on stderr, and the daemon's log file keeps it.
    log.warning("%s", text)
    if on_note is not None:
        on_note(text)


def export_figures(
    spec: JobSpec,
    surface_path: Path,
    out: Path,
    *,
    formats: Sequence[str] = ("png", "pdf"),
    title: str | None = None,
    **options: Any,
) -> list[Path]:
    """Every figure of a job's surface file: :func:`export_surface`'s, and for a
    trajectory its path over the contours (``trajectory.png``).

    The one way from a job's surface file to its figures, for the daemon, ``lstui
    export JOB``, the TUI and ``lstui run``. ``options`` go to :func:`export_surface`;
    a trajectory's surface figures have their axes named as its path's are.
    """
    from lstui.plots.save import DEFAULT_DPI

    options["dpi"] = options.get("dpi") or DEFAULT_DPI
    title = title or spec.name or None  # the path figure's too, as the surface's figures
    if spec.kind == "trajectory" and options.get("axis_labels") is None:
        options["axis_labels"] = _pca_axis_labels(spec)
    written = export_surface(surface_path, out, formats=formats, title=title, **options)
    if spec.kind == "trajectory":
        from lstui.scheduler.trajectory import export_trajectory

        written += export_trajectory(
            spec, surface_path, out, formats=formats, title=title, dpi=options["dpi"],
            on_note=options.get("on_note"), **_trajectory_contours(options),
        )
    return written


def _trajectory_contours(options: dict[str, Any]) -> dict[str, Any]:
    """What of :func:`export_surface`'s options a trajectory's path figure draws its
    contours with, as the surface's contour figures do: the levels, and the first
    ``surf_names``."""
    contours = {key: options.get(key) for key in ("vmin", "vmax", "vlevel", "log")}
    names = options.get("surf_names")
    contours["surf_name"] = names[0] if names else None
    return contours


def _pca_axis_labels(spec: JobSpec) -> tuple[str, str] | None:
    """"1st PC: 91.15 %", "2nd PC: 5.99 %" from a trajectory's direction file (the
    explained variance ratios its PCA stored), "α", "β" for a plane
    of given directions, or None when the file holds neither."""
    from lstui.scheduler.trajectory import given_axis_labels, pca_ratios

    if not spec.dir_file:
        return None
    return given_axis_labels(Path(spec.dir_file)) or _pc_labels(pca_ratios(Path(spec.dir_file)))


def _pc_labels(ratios: tuple[float, float] | None) -> tuple[str, str] | None:
    from lstui import plots

    return plots.pc_axis_labels(ratios) if ratios is not None else None


def export_file(
    surface_path: Path,
    out: Path,
    *,
    formats: Sequence[str] = ("png", "pdf"),
    proj_file: Path | None = None,
    dir_file: Path | None = None,
    **options: Any,
) -> list[Path]:
    """Every figure of a surface file named by its path (``lstui export FILE``).

    A trajectory's path is drawn over its contours (``{stem}_trajectory``, its axes the
    PCs' explained variance): an lstui trajectory job's file gets it from the projection
    beside its PCA directions, or beside the file when the folder moved; the
    reference's, from ``proj_file`` (its ``--proj_file``) or else from the
    ``*_proj_cos.h5`` (or ``_proj_lstsq.h5``) beside the direction file its ``dir_file``
    names (``dir_file`` given: that one), as ``plot_2D.py`` would be told them.
    """
    from lstui.errors import LstuiError
    from lstui.scheduler.trajectory import PCA_DIRECTIONS_FILE

    surface_path = Path(surface_path)
    surface = read_surface(surface_path)
    saved = _saved_spec(surface)
    spec = None
    if saved.get("kind") == "trajectory" and proj_file is None and dir_file is None:
        try:
            spec = JobSpec.from_dict(saved, check_files=False)
        except LstuiError:  # settings of another lstui version: the surface alone
            spec = None
    if spec is not None:
        beside = surface_path.parent / PCA_DIRECTIONS_FILE
        if (spec.dir_file is None or not Path(spec.dir_file).exists()) and beside.exists():
            spec = dataclasses.replace(spec, dir_file=str(beside))
        return export_figures(spec, surface_path, out, formats=formats, **options)
    found = _reference_trajectory(surface_path, surface, proj_file, dir_file)
    if found is None:
        return export_surface(surface_path, out, formats=formats, **options)
    from lstui.plots.save import DEFAULT_DPI
    from lstui.results import read_projection
    from lstui.scheduler.trajectory import draw_trajectory, given_axis_labels, pca_ratios

    path = read_projection(found[0])  # a bad projection file said before any figure is drawn
    ratios = pca_ratios(found[1])
    options["dpi"] = options.get("dpi") or DEFAULT_DPI
    given = given_axis_labels(found[1])
    if options.get("axis_labels") is None:  # a plane of given directions: α, β, not "1st PC"
        options["axis_labels"] = given or _pc_labels(ratios) or ("α", "β")
    if ratios is None and given is None:
        # random directions (a surface's own directions.h5): the path was projected on them
        # only if its maker said so (projection.py --dir_file); a PCA plane's path read "1st PC"
        note(f"{found[1]} holds no PCA directions: {found[0]} is drawn on them as it is; it belongs "
              "on this surface only if it was projected on those directions", options.get("on_note"))
    written = export_surface(surface_path, out, formats=formats, **options)
    stem = options.get("stem") or surface_path.stem
    return written + draw_trajectory(surface_path, path, ratios, Path(out) / f"{stem}_trajectory",
                                     formats=formats, title=options.get("title"), dpi=options["dpi"],
                                     axis_labels=options["axis_labels"], **_trajectory_contours(options))


PROJECTION_SUFFIXES = ("_proj_cos.h5", "_proj_lstsq.h5")
"""What the reference's ``projection.py`` appends to a PCA direction file's name for the
projected path (by cosine, its default, or by least squares)."""


def _reference_trajectory(
    surface_path: Path, surface: SurfaceFile, proj_file: Path | None, dir_file: Path | None
) -> tuple[Path, Path | None] | None:
    """``(projection file, PCA direction file or None)`` of a surface file drawn with a
    path: those given, or found from its ``dir_file`` (as written, relative to the
    current folder, or beside the surface file); None for a surface without one."""
    for flag, given in (("--proj-file", proj_file), ("--dir-file", dir_file)):
        if given is not None and not Path(given).is_file():
            raise BadInput(f"{flag} {given}: no such file")
    if surface.ycoordinates is None:
        if proj_file is not None:
            raise BadInput(f"--proj-file draws a path over a 2D surface; {str(surface_path)!r} is 1D")
        return None
    named = Path(dir_file) if dir_file is not None else None
    candidates = [named] if named is not None else _beside(surface.dir_file, surface_path)
    directions = next((c for c in candidates if c.is_file()), None)
    if proj_file is not None:
        return Path(proj_file), directions
    from lstui.scheduler.trajectory import PCA_DIRECTIONS_FILE, PROJECTION_FILE

    for candidate in candidates:
        projections = [Path(f"{candidate}{suffix}") for suffix in PROJECTION_SUFFIXES]
        if candidate.name == PCA_DIRECTIONS_FILE:  # an lstui trajectory's plane
            projections.append(candidate.parent / PROJECTION_FILE)
        for proj in projections:
            if proj.is_file():
                return proj, candidate if candidate.is_file() else directions
    if named is not None:  # given for a path to draw: not dropped without a word
        raise BadInput(f"--dir-file {named}: no projected path beside it ({named.name}"
                       f"{' or '.join(PROJECTION_SUFFIXES)}, or lstui's {PROJECTION_FILE} beside its "
                       f"{PCA_DIRECTIONS_FILE}); give it with --proj-file")
    return None


def _beside(name: str, surface_path: Path) -> list[Path]:
    """Where a file a surface file names may be: as named, and beside the surface file."""
    if not name.strip():
        return []
    named = Path(name).expanduser()
    places = [named] if named.is_absolute() else [named, surface_path.parent / named]
    places.append(surface_path.parent / named.name)
    return list(dict.fromkeys(places))


def point_counts(surface: SurfaceFile) -> tuple[int, int]:
    """How many points of ``surface`` are computed, and how many of those diverged (a
    loss NaN or infinite), as ``lstui run`` counts them."""
    losses = [k for k in surface.arrays if k.endswith("_loss")] or list(surface.arrays)
    if not losses:
        return 0, 0
    computed = np.zeros(surface.shape, bool)
    diverged = np.zeros(surface.shape, bool)
    for key in losses:
        values = np.asarray(surface.arrays[key], dtype=np.float64)
        done = surface.computed(key)
        computed |= done
        diverged |= done & ~np.isfinite(values)
    return int(computed.sum()), int(diverged.sum())


def check_exportable(job: JobRow) -> None:
    """Refuse in one line a job that ``lstui export JOB`` or the TUI's ``e`` cannot draw."""
    if job.kind == "figure":
        if job.state is not JobState.DONE:
            raise BadInput(f"job {job.id} is a figure job that is {job.state.value}: it draws its "
                           "figures when the jobs it waits on are done")
        return
    if not job.done_points:
        if job.state in (JobState.FAILED, JobState.CANCELLED):
            why = f": {job.error}" if job.error else ""
            raise BadInput(f"job {job.id} {job.state.value} before its first point{why}; nothing to draw")
        raise BadInput(f"job {job.id} has no computed points yet; nothing to draw")


class _Recorder:
    """The job's log, written as long as the store takes it: figures drawn for a person
    (``lstui export --out``) are theirs even when the database cannot be written now
    (a read-only home, another process's lock); that is said once, not waited out again
    for every file."""

    def __init__(self, store: Store, job_id: int) -> None:
        self.store, self.job_id, self.failed = store, job_id, False

    def __call__(self, level: str, text: str) -> None:
        if self.failed:
            return
        try:
            self.store.add_event(self.job_id, level, text)
        except StoreError as exc:
            self.failed = True
            log.warning("job %d: the files are written, but not recorded in its log: %s", self.job_id, exc)


def export_job(
    store: Store,
    job: JobRow,
    *,
    formats: Sequence[str] = ("png", "pdf"),
    out: Path | None = None,
    **options: object,
) -> list[Path]:
    """Export a finished (or partial) job's figures (a comparison's figure job: its
    figures drawn again from its jobs' surfaces, in the formats asked for).

    Each file written is recorded in the job's log ("wrote PATH"), whoever asked for it:
    the daemon when the job ends, ``lstui export`` or the TUI's ``e``; so is a format
    skipped (VTP of a 1D job).
    """
    if not formats:
        return []
    results = Path(job.results_dir)
    record = _Recorder(store, job.id)
    if out is not None:  # the job's log names files wherever its reader stands
        out = Path(out).expanduser().absolute()
    if job.kind == "figure":  # a comparison's figures, drawn again from its jobs' surfaces
        from lstui.scheduler.compare import SHARPNESS, run_figure_job

        if set(formats) == {"vtp"}:
            raise BadInput("--format vtp: a comparison's figures are drawings; choose png, pdf or svg")
        if "vtp" in formats:  # said, as a 1D job's is (it was dropped without a word)
            note("no vtp written: a comparison's figures are drawings; its surfaces' jobs export "
                  "theirs (lstui export ID --format vtp)", lambda text: record("warning", text))
            formats = [f for f in formats if f != "vtp"]
        for key in ("vmin", "vmax", "vlevel", "zmax", "surf_names", "loss_max"):
            if options.get(key) is not None:
                flag = "--surf-name" if key == "surf_names" else f"--{key.replace('_', '-')}"
                raise BadInput(f"{flag} has no effect on a comparison's figures (one scale for all its "
                               "surfaces, from their values); drop it")
        dpi, log = options.get("dpi"), options.get("log")
        written = run_figure_job(JobSpec.from_dict(job.spec, check_files=False), store, out or results,
                                 formats=formats, dpi=dpi if isinstance(dpi, int) else None,
                                 log=log if isinstance(log, bool) else None,
                                 rows_from=results / f"{SHARPNESS}.json")
        for figure in written:
            record("info", f"wrote {figure}")
        return written
    path = write_job_surface(store, job)
    spec = JobSpec.from_dict(job.spec, check_files=False)

    also = options.pop("on_note", None)  # (the TUI's: its toast says them too)

    def said(text: str) -> None:
        record("warning", text)
        if callable(also):
            also(text)

    written = export_figures(spec, path, out or results, formats=formats, title=job.name, on_note=said, **options)
    for figure in written:
        record("info", f"wrote {figure}")
    return written
