"""Reading what a job will read before it is queued, so bad input fails at submit.

A job that a worker takes up hours later should not fail on its first point for
something knowable now: a checkpoint that is not one, or that belongs to another model, a
CIFAR folder that lacks a batch, a direction file that does not fit. These checks read
the checkpoints and the direction file whole, but the data only as far as a look at its
files tells (:func:`lstui.datasets.probe_data`), and build the model on PyTorch's meta
device, where it has shapes but no memory. What only computing tells (a NaN loss, a
factory's data) is still the worker's to report.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstui.errors import BadInput, SpecError
from lstui.spec import JobSpec, ignores_data_shape

if TYPE_CHECKING:
    import torch

    from lstui.datasets import DataProbe


def check_inputs(specs: Iterable[JobSpec], *, named: Mapping[str, str] | None = None) -> None:
    """Raise the BadInput a worker would meet preparing any of ``specs``, naming it.

    Checked for each spec: the data (:func:`~lstui.datasets.probe_data`) and that a test
    split exists where the job needs one; every checkpoint it names (``checkpoint``,
    ``checkpoint_b``, ``target``, ``target_y``) is readable as allowed and, where the
    data's shapes are known, fits the model; a ``dir_file`` fits the model and the grid.
    A trajectory's other checkpoints were read by its PCA already. Figure jobs read
    only results, and jobs on the embedded digits with no file to read have nothing to
    check: both are skipped without importing torch. ``named`` gives checkpoints the
    names a command other than ``submit`` knows them by (``compare``'s "checkpoint 2
    (b.pt)"), for the message refusing two that hold one model.
    """
    from lstui.scheduler.imports import check_factories

    probes: dict[str, DataProbe | None] = {}
    for spec in specs:
        if spec.kind != "figure":
            check_factories(spec)  # a misspelt factory of the person's module, found now
        if spec.kind == "figure" or (
            spec.data == "digits" and not ignores_data_shape(spec.model)
            and not _model_files(spec) and not spec.dir_file and not spec.subset and spec.data_split == 1
        ):
            continue  # nothing on disk to look at (and no torch import to pay, 2-3 s)
        from lstui.datasets import probe_data

        if spec.data not in probes:
            probes[spec.data] = probe_data(spec.data)
        probe = probes[spec.data]
        if probe is not None and "test" in spec.splits and not probe.has_test:
            from lstui.scheduler.compute import no_test_split

            raise no_test_split(spec)
        if probe is not None and probe.train_size is not None and probe.train_size // spec.data_split == 0:
            from lstui.errors import DataError

            raise DataError(f"--data-split {spec.data_split} leaves none of the {probe.train_size} "
                            "training samples")
        if probe is not None and probe.train_size is not None and spec.subset:
            from lstui.datasets._select import parse_subset, subset_count

            subset_count(parse_subset(spec.subset), probe.train_size // spec.data_split)
        _check_model_files(spec, probe, named or {})


def _check_model_files(spec: JobSpec, probe: DataProbe | None, named: Mapping[str, str]) -> None:
    from lstui.models import fitted_state_dict, load_checkpoint, misfit_subject

    files = _model_files(spec)
    model = _shape_model(spec, probe) if probe is not None else None
    if model is None and (files or spec.dir_file) and _factory_of_its_own(spec.model):
        # the person's own data (a factory, not called here): a model of their own is
        # built without the data's shapes, so its checkpoints are checked all the same
        from lstui.datasets import DataProbe

        model = _shape_model(spec, DataProbe((1,), 1, False))
    if model is not None and probe is not None and ignores_data_shape(spec.model):
        _check_takes_inputs(spec, model, probe)
    if not files and not spec.dir_file:
        return
    states = {}
    for file in files:
        state = load_checkpoint(file, trust=spec.trust_checkpoint)
        if model is not None:
            shape = (probe.input_shape, probe.num_classes) if probe is not None else (None, None)
            fitted_state_dict(model, state, subject=misfit_subject(file, spec.model, *shape))
        states[file] = state
    _refuse_same_models(spec, states, named)
    if spec.dir_file:
        _check_dir_file(spec, model)


BN_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")
"""The state dict entries of BatchNorm's statistics, which ``weights`` directions leave."""


def _refuse_same_models(spec: JobSpec, states: dict[str, Any], named: Mapping[str, str]) -> None:
    """Refuse an end or direction that is the model it starts from, in another file (a
    copy of A given as B: a flat curve, with no word why; only the same path was refused),
    and two targets that are one model (the plane's two directions one)."""
    import torch

    def moved(key: str) -> bool:
        """Whether the direction moves this entry: weights directions leave BatchNorm's
        statistics (buffers) where they are."""
        return spec.dir_type != "weights" or not key.endswith(BN_STATISTICS)

    def same(a: str | None, b: str | None, *, all_of_them: bool = False) -> bool:
        if a is None or b is None or a not in states or b not in states:
            return False
        x, y = states[a], states[b]
        if not isinstance(x, dict) or not isinstance(y, dict) or x.keys() != y.keys():
            return False
        for key, value in x.items():
            if not (all_of_them or moved(key)):
                continue
            other = y[key]
            if isinstance(value, torch.Tensor) and isinstance(other, torch.Tensor):
                if value.shape != other.shape or value.dtype != other.dtype or not torch.equal(value, other):
                    return False
            elif value is not other and value != other:
                return False
        return True

    for flag, path, base_flag, base in (("--checkpoint-b", spec.checkpoint_b, "--checkpoint", spec.checkpoint),
                                        ("--target", spec.target, "--checkpoint", spec.checkpoint),
                                        ("--target-y", spec.target_y, "--checkpoint", spec.checkpoint),
                                        ("--target-y", spec.target_y, "--target", spec.target)):
        if path is None or base is None or not same(path, base):
            continue
        why = ("the two directions would be one" if base_flag == "--target"
               else "the direction towards it would be zero")
        if path in named and base in named:  # compare's: it has no such flags
            raise SpecError(f"{named[base]} and {named[path]} hold the same model: there is nothing "
                            "between them to interpolate; compare two minimizers")
        if path == base:
            what = f"{flag} is the {base_flag} file itself"
        elif same(path, base, all_of_them=True):
            what = f"{flag} {path} holds the same model as {base_flag} {base} (every tensor equal)"
        else:  # B's statistics recomputed, say: states directions move those
            what = (f"{flag} {path} holds the weights of {base_flag} {base}, with other BatchNorm "
                    "statistics (--dir-type states moves those too)")
        raise SpecError(f"{what}: {why}; give another checkpoint")


def worker_files(spec: JobSpec) -> list[str]:
    """The files a worker of ``spec`` reads, each once: its checkpoints (a trajectory's
    last one, the centre), a ``--dir-file`` (not a trajectory's, which lstui wrote), and
    the source files of its own model and data factories."""
    from lstui.scheduler.imports import factory_files

    files = _model_files(spec)
    if spec.kind == "trajectory" and spec.checkpoints:
        files.append(spec.checkpoints[-1])
    elif spec.dir_file:
        files.append(spec.dir_file)
    files += factory_files(spec)  # the person's own module, edited while the job runs
    return list(dict.fromkeys(files))


def file_digest(path: str | Path) -> str:
    """``sha256:`` and the hex digest of the file's bytes (about 1 GB/s)."""
    with open(Path(path).expanduser(), "rb") as f:
        return "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()


def with_digests(spec: JobSpec) -> JobSpec:
    """``spec`` with the digest of each file its workers read (:attr:`JobSpec.digests`).

    Raises:
        BadInput: a file cannot be read.
    """
    files = worker_files(spec) if spec.kind != "figure" else []
    if not files:
        return spec
    digests = {}
    for file in files:
        try:
            digests[file] = file_digest(file)
        except OSError as exc:
            raise BadInput(f"cannot read {file!r}: {exc.strerror or exc}") from None
    return dataclasses.replace(spec, digests=digests)


def changed_files(spec: JobSpec, files: Iterable[str] | None = None) -> list[str]:
    """The files of ``spec.digests`` (of ``files`` only, if given: each is read whole)
    whose bytes are not the ones digested."""
    wanted = None if files is None else set(files)
    changed = []
    for file, digest in (spec.digests or {}).items():
        if wanted is not None and file not in wanted:
            continue
        try:
            if file_digest(file) != digest:
                changed.append(file)
        except OSError:  # missing or unreadable now: the loader says so in its words
            continue
    return changed


def check_unchanged(spec: JobSpec, files: Iterable[str] | None = None) -> None:
    """Raise a BadInput naming a file changed since ``spec`` was queued (of ``files``
    only, if given): the job's points would mix two models."""
    changed = changed_files(spec, files)
    if changed:
        raise BadInput(
            f"{changed[0]!r} changed after the job was queued (its contents differ), and "
            "its points would mix two models; queue a new job for the new file (or retry this "
            "one, if it stored no point yet)"
        )


def _model_files(spec: JobSpec) -> list[str]:
    """The checkpoints a worker of ``spec`` loads into its model, each once."""
    files = (spec.checkpoint, spec.checkpoint_b, spec.target, spec.target_y)
    return list(dict.fromkeys(f for f in files if f))


def _factory_of_its_own(model: str) -> bool:
    """Whether ``model`` is a person's ``module:factory`` (called with no arguments: its
    shapes do not depend on the data's), not a built-in or torchvision model."""
    module, sep, _ = model.partition(":")
    return bool(sep) and module != "torchvision"


def _shape_model(spec: JobSpec, probe: DataProbe) -> torch.nn.Module:
    """The job's model with its shapes: on the meta device, or on the CPU for a user
    factory that cannot be built there."""
    import torch

    from lstui.models import build_model

    def build() -> torch.nn.Module:
        return build_model(spec.model, input_shape=probe.input_shape, num_classes=probe.num_classes)

    try:
        with torch.device("meta"):
            return build()
    except BadInput:
        raise
    except Exception:  # some factories compute on their tensors while building
        return build()


def _check_takes_inputs(spec: JobSpec, model: torch.nn.Module, probe: DataProbe) -> None:
    """The model takes the data's samples; tried on the CPU too before a refusal, since
    the meta device cannot run everything a model may do (``.item()``, say)."""
    from lstui.errors import ModelError
    from lstui.models import build_model, check_takes_inputs

    try:
        check_takes_inputs(model, spec.model, probe.input_shape, probe.num_classes)
    except ModelError:
        if not any(t.is_meta for t in model.parameters()):
            raise
        cpu_model = build_model(
            spec.model, input_shape=probe.input_shape, num_classes=probe.num_classes
        )
        check_takes_inputs(cpu_model, spec.model, probe.input_shape, probe.num_classes)


def _check_dir_file(spec: JobSpec, model: torch.nn.Module | None) -> None:
    from lstui.landscape.directions import model_tensors
    from lstui.results import read_directions
    from lstui.scheduler.compute import read_fitting_directions

    path = Path(spec.dir_file or "")
    try:
        if model is None:
            read_directions(path)
        else:
            wanted = 1 if spec.y is None else 2
            read_fitting_directions(path, model_tensors(model, spec.dir_type), wanted)
    except BadInput as exc:
        raise BadInput(f"--dir-file: {exc}") from None
