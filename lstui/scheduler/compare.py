"""The small- vs large-batch comparison: one set of settings, many jobs, one figure job.

``lstui compare A B [C …]`` queues the interpolation between each consecutive pair, a
filter-normalised 1D curve and 2D surface around each checkpoint, and a figure job that
waits for all of them and draws the surfaces side by side on one colour scale, the
interpolations, the curves on one axes, and a table of sharpness figures.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lstui.errors import BadInput, SpecError
from lstui.landscape.grid import Axis
from lstui.results.h5files import write_private_bytes
from lstui.scheduler.preflight import check_inputs
from lstui.scheduler.shield import signals_held
from lstui.scheduler.submit import prepare_spec, queue_prepared
from lstui.spec import JobSpec, same_file
from lstui.store import JobState, Store

SHARPNESS_DISTANCES = (0.25, 0.5, 1.0)
SHARPNESS = "sharpness"
"""The stem of the sharpness table's files in a comparison's results folder: ``.json`` and
``.csv`` (every digit), ``.png`` and ``.pdf`` (the table drawn)."""
SHARPNESS_TITLE = "sharpness: Δloss@d = ½ (L(−d) + L(+d)) − L(0) along each 1D curve"
"""The table's figure says what its columns are (L: the curves' loss, train or test)."""
FILE_ONLY_COLUMNS = ("checkpoint", "L", "loss", "data", "norm", "ignore", "seed")
"""The sharpness table's columns kept in its CSV and JSON, for whoever reads them later
(which minimizer, which values, which directions), but not drawn or shown: the table
on the page and the screen holds the numbers to compare."""


@dataclass(frozen=True)
class ComparisonPlan:
    """Job ids queued for one comparison."""

    interps: tuple[int, ...]
    curves: tuple[int, ...]
    surfaces: tuple[int, ...]
    figure: int

    @property
    def all(self) -> tuple[int, ...]:
        return (*self.interps, *self.curves, *self.surfaces, self.figure)


def checkpoint_labels(checkpoints: Sequence[str]) -> list[str]:
    """Short distinct labels: the file stems, or the parent folders when stems repeat."""
    stems = [Path(c).stem for c in checkpoints]
    if len(set(stems)) == len(stems):
        return stems
    parents = [f"{Path(c).parent.name}/{Path(c).stem}" for c in checkpoints]
    return parents if len(set(parents)) == len(parents) else [f"{n + 1}: {s}" for n, s in enumerate(stems)]


def queue_comparison(
    store: Store,
    checkpoints: Sequence[str],
    base: JobSpec,
    *,
    curve_x: Axis,
    surface_x: Axis,
    surface_y: Axis,
    interp_x: Axis,
    labels: Sequence[str] | None = None,
    name: str = "",
    unit_size: int | None = None,
    queued: Callable[[ComparisonPlan], object] | None = None,
) -> ComparisonPlan:
    """Queue every job of the comparison, all validated before the first is queued, in one
    transaction; ``queued`` is called with them (to say them) before an interrupt that
    came meanwhile is taken."""
    if len(checkpoints) < 2:
        raise SpecError("compare needs at least two checkpoints")
    for n, (a, b) in enumerate(zip(checkpoints, checkpoints[1:], strict=False)):
        if same_file(a, b):
            raise SpecError(
                f"checkpoints {n + 1} and {n + 2} are the same file ({a!r}): there is nothing "
                "between them to interpolate; compare two minimizers"
            )
    labels = list(labels) if labels else checkpoint_labels(checkpoints)
    prefix = f"{name}: " if name else ""
    # one set of settings; the per-job fields below replace whatever the base held
    base = dataclasses.replace(
        base, target=None, target_y=None, dir_file=None, checkpoint_b=None, checkpoints=(), figure=None
    )
    interp_specs = [
        dataclasses.replace(
            base, kind="interp", checkpoint=a, checkpoint_b=b, x=interp_x, y=None,
            dir_type="states", name=f"{prefix}interp {la}→{lb}",
        ).validated()
        for a, b, la, lb in zip(checkpoints, checkpoints[1:], labels, labels[1:], strict=False)
    ]
    curve_specs = [
        dataclasses.replace(base, kind="surface", checkpoint=c, x=curve_x, y=None, name=f"{prefix}1D {lab}").validated()
        for c, lab in zip(checkpoints, labels, strict=True)
    ]
    surface_specs = [
        dataclasses.replace(base, kind="surface", checkpoint=c, x=surface_x, y=surface_y, name=f"{prefix}2D {lab}").validated()
        for c, lab in zip(checkpoints, labels, strict=True)
    ]
    named = {str(spec.checkpoint): f"checkpoint {n + 1} ({Path(c).name})"
             for n, (spec, c) in enumerate(zip(curve_specs, checkpoints, strict=True))}
    check_inputs([*interp_specs, *curve_specs, *surface_specs], named=named)
    ready = [[prepare_spec(s, unit_size=unit_size, check=False) for s in specs]
             for specs in (interp_specs, curve_specs, surface_specs)]
    # an interrupt waits until what was queued is said (all of it queued, nothing said, the
    # command run again queued it twice)
    with signals_held():
        with store.together():  # all or none: interrupted, it left the interpolations queued alone
            interps, curves, surfaces = (tuple(queue_prepared(store, job) for job in jobs) for jobs in ready)
            plan = _queue_figure(store, base, labels, prefix, curve_specs, interps, curves, surfaces)
        if queued is not None:
            queued(plan)
    return plan


def _queue_figure(store: Store, base: JobSpec, labels: Sequence[str], prefix: str, curve_specs: Sequence[JobSpec],
                  interps: tuple[int, ...], curves: tuple[int, ...], surfaces: tuple[int, ...]) -> ComparisonPlan:
    figure = {
        "type": "comparison",
        "labels": list(labels),
        # as the jobs hold them (absolute): the sharpness table's column kept them as typed
        "checkpoints": [spec.checkpoint for spec in curve_specs],
        "interps": list(interps),
        "curves": list(curves),
        "surfaces": list(surfaces),
    }
    figure_spec = dataclasses.replace(
        base, kind="figure", checkpoint=curve_specs[0].checkpoint, figure=figure,
        name=f"{prefix}comparison figures {' vs '.join(labels)}",
    ).validated()  # (its checkpoint checked with the curves')
    fig_id = queue_prepared(store, prepare_spec(figure_spec, check=False), depends_on=(*interps, *curves, *surfaces))
    return ComparisonPlan(interps, curves, surfaces, fig_id)


def sharpness_of(rows: Sequence[Mapping[str, object]]) -> str | None:
    """What a sharpness table's L is, from its rows: "train loss", "train MSE loss"; None
    for a table whose rows do not say, or say different things."""
    said = {(row.get("L"), row.get("loss", "ce")) for row in rows}
    if len(said) != 1:
        return None
    key, loss = said.pop()
    if not isinstance(key, str) or not key.endswith("_loss"):
        return None
    return _value_label([key], "MSE loss" if loss == "mse" else "loss")


def shown_rows(rows: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    """The sharpness table's rows as drawn and shown: without :data:`FILE_ONLY_COLUMNS`."""
    return [{k: v for k, v in row.items() if k not in FILE_ONLY_COLUMNS} for row in rows]


def _done_surface(store: Store, job_id: int):  # type: ignore[no-untyped-def]
    from lstui.scheduler.exporting import job_surface

    job = store.get_job(int(job_id))
    if job.state is not JobState.DONE:
        raise BadInput(f"dependency {job.id} ({job.name}) is {job.state.value}, not done")
    return job, job_surface(store, job)


def _key(surface) -> str:  # type: ignore[no-untyped-def]
    return "train_loss" if "train_loss" in surface.arrays else "test_loss"


def _value_label(keys: Sequence[str], loss: str = "loss") -> str:
    """What the figure of these arrays shows: "train loss" (or "test loss"); "loss"
    when the surfaces drawn together are of different splits. ``loss``: the loss's name
    (:func:`~lstui.scheduler.exporting.loss_name`: "MSE loss" under ``--loss mse``)."""
    return keys[0].replace("_loss", f" {loss}") if keys and len(set(keys)) == 1 else loss


def _loss_name(surfaces: Sequence[Any]) -> str:
    """The loss the comparison's surfaces are of: "MSE loss" when every one says so."""
    from lstui.scheduler.exporting import loss_name

    names = {loss_name(s) for s in surfaces}
    return names.pop() if len(names) == 1 else "loss"


def sharpness(
    x: np.ndarray, loss: np.ndarray, distances: Sequence[float] = SHARPNESS_DISTANCES
) -> dict[str, float | None]:
    """Loss increase at filter-normalised distance d: mean of L(−d) and L(+d), minus L(0);
    None where the grid holds neither side (the table's "–"), and everywhere when it has
    no point at 0.

    A value between grid points is interpolated from its two neighbours (see
    :func:`off_grid_distances`); one taken from a diverged point is that point's: +inf
    when every point it is taken from that is not finite is +inf, else NaN. A diverged
    point is never stepped over to a finite one beyond it.
    """
    x = np.asarray(x, dtype=np.float64)
    loss = np.asarray(loss, dtype=np.float64)
    if x.size < 2 or not has_centre(x):
        # L(0) is the minimum: a line between its neighbours passes far above it
        return dict.fromkeys(["loss@0", *(f"Δloss@{d:g}" for d in distances)])
    centre = _value_at(x, loss, 0.0)
    out: dict[str, float | None] = {"loss@0": centre}
    for d in distances:
        sides = [_value_at(x, loss, s) for s in (-d, d) if x.min() <= s <= x.max() and not _from_centre(x, s)]
        if not sides:
            out[f"Δloss@{d:g}"] = None
        elif not math.isfinite(centre):  # an increase from a diverged centre is no number (not −inf)
            out[f"Δloss@{d:g}"] = math.nan
        else:
            out[f"Δloss@{d:g}"] = sum(sides) / len(sides) - centre
    return out


def _value_at(x: np.ndarray, values: np.ndarray, at: float) -> float:
    """``values`` at ``at`` (inside sorted grid ``x``): the grid point's, or interpolated
    between the two around it; not finite when one of those is not (+inf only if no NaN)."""
    exact = np.flatnonzero(np.isclose(x, at, rtol=0, atol=_ON_GRID))
    used = exact[:1] if exact.size else np.clip(np.searchsorted(x, at) - np.array([1, 0]), 0, x.size - 1)
    picked = values[used]
    if not np.isfinite(picked).all():
        return math.nan if np.isnan(picked).any() or (picked == -np.inf).any() else math.inf
    return float(picked[0]) if exact.size else float(np.interp(at, x[used], picked))


_ON_GRID = 1e-9
"""How near a grid point a distance of the table must be to be that point."""


def has_centre(x: np.ndarray) -> bool:
    """Whether grid ``x`` has a point at 0, the minimizer, from which the table measures."""
    return bool(np.isclose(np.asarray(x, dtype=np.float64), 0.0, rtol=0, atol=_ON_GRID).any())


def _from_centre(x: np.ndarray, at: float) -> bool:
    """Whether ``at``, off grid ``x``, lies between the centre and the first point beyond
    it: its value would be drawn straight from L(0), and its Δloss be a fixed share of the
    next one's (Δloss@0.25 = Δloss@0.5 / 2 on -1:1:5), which says nothing of the
    curvature there. The table leaves it out ("–")."""
    if at == 0.0 or np.isclose(x, at, rtol=0, atol=_ON_GRID).any():
        return False
    i = int(np.searchsorted(x, at))
    lower, upper = float(x[max(i - 1, 0)]), float(x[min(i, x.size - 1)])
    return lower <= 0.0 <= upper


def left_out_distances(x: np.ndarray, distances: Sequence[float] = SHARPNESS_DISTANCES) -> list[float]:
    """The distances of the table whose every side inside grid ``x`` lies between the
    centre and its neighbour (:func:`_from_centre`): no value, "–"."""
    x = np.asarray(x, dtype=np.float64)
    if not has_centre(x):  # no L(0): every column (:func:`sharpness`)
        return list(distances)
    out = []
    for d in distances:
        inside = [s for s in (-d, d) if x.min() - _ON_GRID <= s <= x.max() + _ON_GRID]
        if inside and all(_from_centre(x, s) for s in inside):
            out.append(d)
    return out


def off_grid_distances(x: np.ndarray, distances: Sequence[float] = SHARPNESS_DISTANCES) -> list[float]:
    """The distances of the sharpness table whose values are interpolated: 0 (``loss@0``,
    from which every Δloss is measured) or a ±d inside grid ``x`` that is not one of its
    points (outside it there is no value: the table says "–"; with one side outside, the
    other alone is used)."""
    x = np.asarray(x, dtype=np.float64)
    if not has_centre(x):  # nothing: no L(0), the table left out
        return []
    lo, hi = float(x.min()), float(x.max())
    out = []
    for d in (0.0, *distances):
        inside = [s for s in (-d, d) if lo - _ON_GRID <= s <= hi + _ON_GRID and (d == 0 or not _from_centre(x, s))]
        if any(not np.isclose(x, s, rtol=0, atol=_ON_GRID).any() for s in inside):
            out.append(d)
    return out


def off_grid_names(distances: Sequence[float]) -> str:
    """``0, ±0.25``: the points :func:`off_grid_distances` found, as the notes name them."""
    return ", ".join("0" if d == 0 else f"±{d:g}" for d in distances)


def off_grid_columns(distances: Sequence[float]) -> str:
    """``loss@0 Δloss@0.25``: the table's columns interpolated at those distances."""
    return " ".join("loss@0" if d == 0 else f"Δloss@{d:g}" for d in distances)


def _provenance(curve_spec: Mapping[str, Any], checkpoint: str, key: str) -> dict[str, object]:
    """The :data:`FILE_ONLY_COLUMNS` of a minimizer's row: its checkpoint, the values its
    sharpness is of (``train_loss``), the data they were computed on, and the direction's
    normalisation, ignored parameters and seed (from its 1D curve's spec)."""
    data = str(curve_spec.get("data", ""))
    if curve_spec.get("subset"):
        data += f" (subset {curve_spec['subset']})"
    return {"checkpoint": checkpoint, "L": key, "loss": curve_spec.get("loss", "ce"), "data": data,
            "norm": curve_spec.get("norm"),
            "ignore": curve_spec.get("ignore"), "seed": curve_spec.get("seed")}


def _weight_norm(spec: JobSpec, checkpoint: str) -> float:
    from lstui.scheduler.compute import build_centre, load_job_data

    data = load_job_data(spec)
    model = build_centre(spec, data, checkpoint)
    return float(math.sqrt(sum(float((p.detach().double() ** 2).sum()) for p in model.parameters())))


def run_figure_job(
    spec: JobSpec,
    store: Store,
    results_dir: Path,
    job_id: int | None = None,
    *,
    formats: Sequence[str] = ("png", "pdf"),
    dpi: int | None = None,
    log: bool | None = None,
    rows_from: Path | None = None,
) -> list[Path]:
    """Draw the comparison's figures from its finished dependencies into ``results_dir``.

    ``job_id``: the figure job running (its log gets the notes); None for ``lstui export``
    drawing them again, in ``formats`` at ``dpi`` (``log``: the loss axes' scale, None
    deciding from the values), its sharpness rows read from
    ``rows_from`` (the job's ``sharpness.json``: the checkpoints may be gone since).
    """
    from lstui import plots
    from lstui.plots.save import DEFAULT_DPI

    figure_job = job_id  # (the loops below name their dependencies job_id)
    fig = dict(spec.figure or {})
    if fig.get("type") != "comparison":
        raise BadInput(f"unknown figure type {fig.get('type')!r}")
    labels: list[str] = [str(v) for v in fig.get("labels", [])]
    results_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    written: list[Path] = []
    formats = [f for f in formats if f != "vtp"]
    dpi = dpi or DEFAULT_DPI
    stored_rows = json.loads(rows_from.read_text()) if rows_from is not None and rows_from.is_file() else None

    panels = []
    panel_keys = []
    panel_surfaces = []
    for job_id, label in zip(fig.get("surfaces", []), labels, strict=False):
        _, s = _done_surface(store, job_id)
        panel_keys.append(_key(s))
        panel_surfaces.append(s)
        panels.append((label, s.xcoordinates, s.ycoordinates, s.values(_key(s))))
    if panels:
        written += plots.save_figure(
            plots.plot_comparison_2d(panels, title="loss surfaces (filter-normalised directions)",
                                     zlabel=_value_label(panel_keys, _loss_name(panel_surfaces)), log=log),
            results_dir / "comparison_2d", formats, dpi=dpi,
        )

    rows: list[dict[str, object]] = []
    curves = []
    curve_keys = []
    curve_surfaces = []
    for job_id, label, checkpoint in zip(fig.get("curves", []), labels, fig.get("checkpoints", []), strict=False):
        curve_job, s = _done_surface(store, job_id)
        curve_keys.append(_key(s))
        curve_surfaces.append(s)
        loss = s.values(_key(s))
        curves.append((label, s.xcoordinates, loss))
        off_grid = off_grid_distances(s.xcoordinates)
        if stored_rows is None:
            row: dict[str, object] = {"model": label}
            row.update(sharpness(s.xcoordinates, loss))
            row["weight norm"] = _weight_norm(spec, str(checkpoint))
            if off_grid:  # said in the table itself, not only in the job's log
                row["interpolated"] = off_grid_columns(off_grid)
            row.update(_provenance(curve_job.spec, str(checkpoint), _key(s)))
            rows.append(row)
        if off_grid and figure_job is not None:
            store.add_event(figure_job, "info", f"{label}: the loss at {off_grid_names(off_grid)} "
                            "is interpolated between the curve's grid points (a grid with a point every "
                            "0.05, like -1:1:41, has them)")
        left_out = left_out_distances(s.xcoordinates)
        if left_out and figure_job is not None:
            store.add_event(figure_job, "info", f"{label}: the table leaves out Δloss at "
                            f"{off_grid_names(left_out)}: no grid point lies between the centre and it, and a "
                            "value drawn from L(0) would be a share of the next one's (a grid with a point "
                            "every 0.05, like -1:1:41, has them)")
        diverged = [d for d in (0.0, *SHARPNESS_DISTANCES)
                    if any(not math.isfinite(_value_at(s.xcoordinates, loss, t))
                           for t in {-d, d} if s.xcoordinates.min() <= t <= s.xcoordinates.max())]
        if diverged and figure_job is not None:
            store.add_event(figure_job, "warning", f"{label}: the loss at {off_grid_names(diverged)} is "
                            "NaN/inf (diverged): the sharpness table says so, it does not step over it")
    if curves:
        written += plots.save_figure(
            plots.plot_comparison_1d(curves, ylabel=_value_label(curve_keys, _loss_name(curve_surfaces)), log=log,
                                     title="1D loss curves (filter-normalised)"),
            results_dir / "comparison_1d", formats, dpi=dpi,
        )
    interps = [_done_surface(store, job_id)[1] for job_id in fig.get("interps", [])]
    interp_log = log
    if log is None and interps:  # one scale for all: A→B linear beside B→C log was misread
        from lstui.plots.levels import wants_log

        losses = [s.values(k) for s in interps for k in s.arrays if k.endswith("_loss")]
        interp_log = wants_log(np.concatenate([v.ravel() for v in losses]), robust=False) if losses else None
    for n, s in enumerate(interps):
        names = (labels[n], labels[n + 1]) if n + 1 < len(labels) else ("A", "B")
        # its diverged points are said in its own log, once, when it finished
        curves_1d = {k: s.values(k) for k in s.arrays}
        written += plots.save_figure(
            plots.plot_1d(s.xcoordinates, curves_1d, interpolation=True, names=names, log=interp_log,
                          title=f"interpolation {names[0]} → {names[1]}", loss_label=_loss_name([s])),
            results_dir / f"interpolation_{n + 1}", formats, dpi=dpi,
        )
    if stored_rows is not None:
        rows = stored_rows
    if rows:
        # which L: a table of test losses read as train losses (its columns say "loss")
        title = SHARPNESS_TITLE + (f", L the {_value_label(curve_keys, _loss_name(curve_surfaces))}"
                                   if curve_keys else "")
        written += plots.save_figure(plots.plot_sharpness_table(shown_rows(rows), title=title), results_dir / SHARPNESS,
                                     formats, dpi=dpi)
        json_path = results_dir / f"{SHARPNESS}.json"
        write_private_bytes(json_path, (json.dumps(rows, indent=1, default=float) + "\n").encode())
        csv_path = results_dir / f"{SHARPNESS}.csv"
        table = io.StringIO(newline="")
        fields = list(dict.fromkeys(k for row in rows for k in row))  # every row's, in order
        writer = csv.DictWriter(table, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)
        write_private_bytes(csv_path, table.getvalue().encode())  # 0600, as every result
        written += [json_path, csv_path]
    return written

