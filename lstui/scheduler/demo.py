"""``lstui demo``: the paper's small- vs large-batch experiment on the embedded data.

Two small CNNs are trained on the embedded digits (data/digits.npz) from the same
initialisation, one with small and one with large batches, with a checkpoint every
epoch. The comparison (interpolation, 1D curves, 2D surfaces, sharpness table) and a
trajectory for each run are queued and computed by the daemon (started for the occasion
if none runs), and the figures are gathered into one folder.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console

from lstui.errors import LstuiError
from lstui.landscape.grid import Axis
from lstui.results.h5files import write_private_bytes
from lstui.scheduler.compare import SHARPNESS, shown_rows
from lstui.spec import JobSpec
from lstui.store import FINISHED, JobState, Store
from lstui.views import id_ranges, rows_text


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of the demo; ``quick`` is a shorter run for CI."""

    small_batch: int = 16
    small_epochs: int = 15
    small_lr: float = 0.05
    large_batch: int = 512
    large_epochs: int = 60
    large_lr: float = 0.1
    curve_num: int = 41
    surface_num: int = 25
    interp_num: int = 41
    trajectory_num: int = 17
    model: str = "cnn"
    data: str = "digits"
    seed: int = 0

    @classmethod
    def quick(cls) -> DemoSettings:
        # a point every 0.25: the sharpness table's ±0.25, ±0.5, ±1 are points of the curves
        return cls(small_epochs=4, large_epochs=12, curve_num=9, surface_num=9, interp_num=9, trajectory_num=7)


def train_runs(settings: DemoSettings, out: Path, console: Console) -> dict[str, list[str]]:
    """Train both runs from one initialisation; returns each run's checkpoints in order."""
    from lstui.datasets import load_data
    from lstui.models import build_model
    from lstui.models.training import train_classifier

    data = load_data(settings.data)
    x, y = data.train.normalised(), data.train.targets
    torch.manual_seed(settings.seed)
    init = build_model(settings.model, input_shape=data.input_shape, num_classes=data.num_classes)
    runs = {
        "small-batch": (settings.small_batch, settings.small_epochs, settings.small_lr),
        "large-batch": (settings.large_batch, settings.large_epochs, settings.large_lr),
    }
    checkpoints: dict[str, list[str]] = {}
    for name, (batch, epochs, lr) in runs.items():
        folder = out / "checkpoints" / name
        folder.mkdir(parents=True, exist_ok=True)
        # an earlier demo's: its model_5 … model_15 stayed beside this run's model_0 … 4,
        # and a glob of the folder took two runs as one trajectory
        for earlier in folder.glob("model_*.pt"):
            if re.fullmatch(r"model_\d+\.pt", earlier.name):
                earlier.unlink()
        paths: list[str] = []
        init_path = folder / "model_0.pt"
        torch.save({"state_dict": init.state_dict()}, init_path)
        paths.append(str(init_path))

        def save(epoch: int, model: torch.nn.Module, loss: float, acc: float,
                 folder: Path = folder, paths: list[str] = paths) -> None:
            path = folder / f"model_{epoch}.pt"
            torch.save({"state_dict": model.state_dict(), "epoch": epoch, "train_loss": loss, "train_acc": acc}, path)
            paths.append(str(path))

        start = time.monotonic()
        model = copy.deepcopy(init)
        train_classifier(model, x, y, batch_size=batch, epochs=epochs, lr=lr, seed=settings.seed, on_epoch=save)
        with torch.no_grad():
            acc = float((model(x).argmax(1) == y).float().mean()) * 100
            test_acc = float("nan")
            if data.test is not None:
                xt = data.test.normalised()
                test_acc = float((model(xt).argmax(1) == data.test.targets).float().mean()) * 100
        console.print(
            f"trained {name}: batch {batch}, {epochs} epochs, lr {lr} → train acc {acc:.1f} %, "
            f"test acc {test_acc:.1f} % ({time.monotonic() - start:.1f} s)"
        )
        checkpoints[name] = paths
    return checkpoints


def queue_demo(store: Store, settings: DemoSettings, checkpoints: dict[str, list[str]], console: Console) -> list[int]:
    """Queue the comparison and one trajectory per run; returns every job id."""
    from lstui.scheduler.compare import queue_comparison
    from lstui.scheduler.submit import submit_spec
    from lstui.scheduler.trajectory import plane_in_new_dir, plane_queued, trajectory_spec

    base = JobSpec(model=settings.model, data=settings.data, split="both", seed=123).validated()
    finals = [paths[-1] for paths in checkpoints.values()]
    labels = list(checkpoints)
    plan = queue_comparison(
        store, finals, base,
        curve_x=Axis(-1.0, 1.0, settings.curve_num),
        surface_x=Axis(-1.0, 1.0, settings.surface_num),
        surface_y=Axis(-1.0, 1.0, settings.surface_num),
        interp_x=Axis(-0.5, 1.5, settings.interp_num),
        labels=labels, name="demo",
    )
    ids = list(plan.all)
    for name, paths in checkpoints.items():
        spec = dataclasses.replace(
            base, kind="trajectory", checkpoints=tuple(paths), split="train", name=f"demo: trajectory {name}",
        ).validated()
        # a folder of its own (as `submit trajectory`'s), not one an earlier demo's job
        # names: a second demo drew its path over the first's surface
        plane = plane_in_new_dir(store.path.parent, spec)
        ratios = plane.explained_variance_ratio or (float("nan"), float("nan"))  # a PCA: never None
        console.print(
            f"PCA of {len(paths)} {name} checkpoints: explained variance "
            f"{100 * ratios[0]:.1f} % and {100 * ratios[1]:.1f} %"
        )
        job_spec = trajectory_spec(spec, plane, x_given=False, y_given=False, num=settings.trajectory_num)
        ids.append(submit_spec(store, job_spec))
        plane_queued(plane)
    return ids


def gather_figures(store: Store, ids: list[int], out: Path) -> list[Path]:
    """Copy every job's PNG and PDF figures into ``out/figures``, named by job.

    The copies an earlier demo left there, as its list :data:`COPIES_LIST` names them,
    are removed first (their jobs' results folders keep the originals): a second demo in
    the same folder showed 136 files, and two sharpness tables, the first of them the
    earlier run's. Nothing else in the folder is touched.
    """
    target = out / "figures"
    target.mkdir(parents=True, exist_ok=True)
    listed = target / COPIES_LIST
    try:
        earlier = listed.read_text().splitlines()
    except OSError:
        earlier = []
    for name in earlier:
        if name and "/" not in name and name not in (".", ".."):
            (target / name).unlink(missing_ok=True)
    copied = []
    for job_id in ids:
        job = store.get_job(job_id)
        slug = job.results_dir.name.split("-", 1)[-1]
        for path in sorted(Path(job.results_dir).glob("*")):
            if path.suffix in (".png", ".pdf") or path.name.startswith(f"{SHARPNESS}."):
                dest = target / f"{job_id:03d}-{slug}-{path.name}"
                shutil.copyfile(path, dest)
                copied.append(dest)
    write_private_bytes(listed, "".join(f"{p.name}\n" for p in copied).encode())
    return copied


COPIES_LIST = ".lstui-demo-copies"
"""The file in ``OUT/figures`` naming the copies the last demo wrote there."""


def jobs_ahead(store: Store, first: int, priority: int = 0) -> list[int]:
    """The jobs a daemon runs before job ``first``, queued at ``priority``: those
    running, and those queued before it at its priority or above."""
    return [j.id for j in store.list_jobs(include_finished=False) if j.id < first and (
        j.state is JobState.RUNNING or (j.state is JobState.QUEUED and j.priority >= priority))]


def run_demo(home: Path | None, out: Path, *, quick: bool = False, devices: str | None = None,
             console: Console | None = None, timeout_s: float | None = None) -> int:
    """The whole demo; returns the exit code. What it writes under ``out`` (checkpoints,
    figures) is private to its owner, as ``lstui run``'s and the daemon's files are."""
    mask = os.umask(0o077)
    try:
        return _run_demo(home, out, quick=quick, devices=devices, console=console, timeout_s=timeout_s)
    finally:
        os.umask(mask)


def _run_demo(home: Path | None, out: Path, *, quick: bool, devices: str | None,
              console: Console | None, timeout_s: float | None) -> int:
    from lstui.scheduler.daemon import daemon_status, start_daemon, stop_daemon
    from lstui.scheduler.follow import follow_jobs, report_failures

    console = console or Console(stderr=True)
    settings = DemoSettings.quick() if quick else DemoSettings()
    if devices is not None:  # refused before anything is trained or queued
        from lstui.scheduler.devices import parse_devices

        parse_devices(devices)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    console.rule("lstui demo: small- vs large-batch minimizers on digits")
    checkpoints = train_runs(settings, out, console)
    from lstui.scheduler.daemon import refuse_upgrade_under_older_daemon

    with Store.open_home(home, before_upgrade=refuse_upgrade_under_older_daemon(home)) as store:
        ids = queue_demo(store, settings, checkpoints, console)
        console.print(f"queued jobs {ids[0]}–{ids[-1]} in {store.path}")
        ahead = jobs_ahead(store, ids[0])
        if ahead:  # on a busy daemon the demo took 121 s, not 20, without a word why
            console.print(f"note: job{'s' if len(ahead) > 1 else ''} {id_ranges(ahead)} of this home "
                          f"{'are' if len(ahead) > 1 else 'is'} queued or running before the demo's: they go "
                          "first (lstui priority raises the demo's)")
        started_daemon = False
        try:
            if not daemon_status(store.path.parent).running:  # (interrupted, start_daemon stops it)
                if devices is None:
                    from lstui.scheduler.devices import cuda_count

                    devices = None if cuda_count() else "cpu:2"
                pid = start_daemon(store.path.parent, devices)
                started_daemon = True
                console.print(f"no daemon was running: started one for the demo (pid {pid}, devices "
                              f"{devices or 'all GPUs'})")
            jobs = follow_jobs(store, ids, console=console, timeout_s=timeout_s, home=store.path.parent)
            # the daemon exports figures right after a job finishes; give it a moment
            done = [job.id for job in jobs if job.state is JobState.DONE]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not _exported(store, done):
                time.sleep(0.5)
        except KeyboardInterrupt:
            try:
                left = [j.id for j in map(store.get_job, ids) if j.state not in FINISHED]
            except LstuiError:  # the store cannot say (locked): nothing to add
                left = []
            if left:
                console.print(f"the demo's jobs {id_ranges(left)} stay queued in {store.path}: "
                              f"lstui cancel {' '.join(map(str, left))} drops them, "
                              "lstui daemon start computes them", markup=False)
            raise
        finally:
            if started_daemon:
                stop_daemon(store.path.parent)
        # asked after the daemon it started stopped: it writes the figures it has queued
        # first (the note named a job whose figures were then in the folder)
        unwritten = [job_id for job_id in done if not _exported(store, [job_id])]
        if unwritten:
            console.print(f"note: the figures of jobs {id_ranges(unwritten)} are not written yet; "
                          "they are not in the figures folder (lstui export ID writes them)",
                          markup=False)
        code = report_failures(jobs, console)
        figures = gather_figures(store, ids, out)
    sharp = out / "figures"
    console.print(f"[bold]figures:[/] {sharp} ({len(figures)} files) in {time.monotonic() - start:.0f} s")
    for path in sorted(p for p in figures if p.name.endswith(f"{SHARPNESS}.json")):
        console.print(f"\n{path.with_suffix('.csv').name}:", markup=False)
        console.print(rows_text(shown_rows(json.loads(path.read_text()))), markup=False, soft_wrap=True)
        console.print()
    if quick:  # its large-batch run is no minimizer: its figures told the paper's story backwards
        console.print("note: --quick trains too little for the paper's picture (the large-batch run stops "
                      "short of a minimum, and looks the flatter); it shows the tool. `lstui demo` trains "
                      "both to one.", markup=False)
    print(sharp)
    return code


def _exported(store: Store, ids: list[int]) -> bool:
    """Whether the daemon has written every job's files (a job's last figure lands after
    its first: a folder holding some PNGs is not finished). A comparison's figure job
    draws its files itself, before it is done: the daemon never marks it, and the demo
    waited its 30 s for that mark every time."""
    from lstui.scheduler.daemon import finish_marked

    jobs = [store.get_job(job_id) for job_id in ids]
    return all(job.state is JobState.DONE if job.kind == "figure" else finish_marked(job) for job in jobs)
