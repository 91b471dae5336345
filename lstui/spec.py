"""Job specifications: validated once at the edge (flags, TOML files, the TUI form).

A :class:`JobSpec` is frozen and holds typed values; ``to_dict``/``from_dict`` give the
JSON the store keeps. This module imports no torch so that the CLI stays quick.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstui.errors import SpecError
from lstui.landscape.grid import Axis, SurfaceGrid, parse_axis
from lstui.landscape.options import (
    BN_MODES,
    COMPILE_MODES,
    DIR_TYPES,
    IGNORES,
    LOSSES,
    NORMS,
    PRECISIONS,
    PROJECTIONS,
    SPLITS,
    TRITON_MODES,
    check_choice,
)

JOB_KINDS = ("surface", "interp", "trajectory", "figure")
MAX_NAME = 80
MAX_SEED = 2**63 - 1
MAX_UNIT_SIZE = 10_000
"""Points of one work unit at most (``--unit-size``, a job file's ``unit_size``)."""
MAX_PRIORITY = 1_000_000_000
MAX_BATCH_SIZE = 2**24
MAX_DATA_SPLIT = 1_000_000
_NAME_REFUSED = frozenset({"Cc", "Cs", "Zl", "Zp"})  # control chars, lone surrogates, line breaks
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                           "\u200b\u2060\ufeff\u00ad")
"""Characters that reorder the text around them (an RTL override makes "exe.txt" read
"txt.exe"), and the invisible ones (a zero-width space, a byte-order mark, a soft hyphen:
two names that read alike are not): refused in a name as controls are, not silently
dropped from it. (The zero-width joiner of emoji sequences is allowed.)"""
REFERENCE_ONLY = {
    "--mpi": "lstui spreads a job over every GPU through its daemon (lstui daemon start "
             "--devices 0,1,…); it has no --mpi",
    "--cuda": "lstui uses the GPUs it finds (lstui run --device cuda:0; the daemon: --devices); "
              "it has no --cuda",
    "--ngpu": "the daemon runs one worker per GPU (lstui daemon start --devices 0,1,…); it has no --ngpu",
    "--surf-file": "lstui names the surface file itself: surface.h5 in the job's results folder "
                   "(lstui run: in --out); it has no --surf_file",
    "--same-dir": "lstui has no --same_dir (y along x's direction): for the loss along one "
                  "direction give a 1D surface (--x, no --y); a 2D surface takes two random directions",
    "--idx": "lstui draws random directions from --seed, or reads a direction file with --dir-file; "
             "it has no --idx",
    "--dataset": "lstui names the data with --data: cifar10:PATH, cifar100:PATH, imagefolder:PATH, "
                 "digits or module:factory",
    "--datapath": "lstui names the data with --data: cifar10:PATH (the folder holding "
                  "cifar-10-batches-py), imagefolder:PATH, …",
    "--model-folder": "lstui submit trajectory takes the checkpoints as --checkpoints "
                      "'FOLDER/model_*.t7' (a glob, in epoch order)",
    "--plot": "lstui draws a job's figures when it finishes (lstui export draws them again)",
    "--show": "lstui draws a job's figures when it finishes (lstui export draws them again)",
    "--threads": "lstui's CPU workers share the cores the daemon may use (lstui daemon start "
                 "--devices cpu:N); it has no --threads",
    "--split-idx": "lstui computes every point of a job itself, over the daemon's workers; "
                   "it has no --split_idx (--data-split N uses len // N samples, as the reference)",
    "--prefix": "lstui submit trajectory takes the checkpoints as --checkpoints 'FOLDER/model_*.t7' "
                "(a glob, in epoch order); it has no --prefix",
    "--suffix": "lstui submit trajectory takes the checkpoints as --checkpoints 'FOLDER/model_*.t7' "
                "(a glob, in epoch order); it has no --suffix",
    "--start-epoch": "lstui submit trajectory takes the checkpoints a glob names (--checkpoints "
                     "'FOLDER/model_*.t7', or a comma list); it has no --start_epoch",
    "--max-epoch": "lstui submit trajectory takes the checkpoints a glob names (--checkpoints "
                   "'FOLDER/model_*.t7', or a comma list); it has no --max_epoch",
    "--save-epoch": "lstui submit trajectory takes the checkpoints a glob names (--checkpoints "
                    "'FOLDER/model_*.t7', or a comma list); it has no --save_epoch",
}
"""Flags of the reference's scripts with no lstui counterpart, and what to do instead."""
_IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")  # pkg.module:factory
_MODEL_NAME = re.compile(r"[A-Za-z_][\w.-]*")
_DATA_FOLDERS = ("cifar10", "cifar100", "imagefolder")
_MODEL_FORMS = "a built-in name, torchvision:NAME or pkg.module:factory"

#: The built-in model names, in ``lstui.models.MODEL_NAMES``'s order. Kept here, without
#: torch, so that a submit refuses a misspelt name at once rather than the job failing on
#: a worker; a test checks that the two lists agree.
BUILTIN_MODELS: tuple[str, ...] = (
    "mlp", "cnn", "cnn_nobn",
    "resnet20", "resnet20_noshort", "resnet32_noshort", "resnet44_noshort", "resnet50_16_noshort",
    "resnet56", "resnet56_noshort", "resnet110", "resnet110_noshort",
    "wrn56_2", "wrn56_2_noshort", "wrn56_4", "wrn56_4_noshort", "wrn56_8", "wrn56_8_noshort",
    "wrn110_2_noshort", "wrn110_4_noshort",
    "resnet18", "resnet18_noshort", "resnet34", "resnet34_noshort", "resnet50", "resnet50_noshort",
    "resnet101", "resnet101_noshort", "resnet152", "resnet152_noshort",
    "vgg9", "densenet121",
)
_DATA_FORMS = "digits, cifar10:PATH, cifar100:PATH, imagefolder:PATH or pkg.module:factory"


_INTERP_ONLY = 'checkpoint B is an interpolation\'s (kind = "interp")'
_TRAJECTORY_ONLY = 'it is a trajectory\'s (kind = "trajectory")'

UNUSED_KEYS: dict[str, dict[str, str]] = {
    "surface": {
        "checkpoint_b": _INTERP_ONLY,
        "checkpoints": _TRAJECTORY_ONLY,
        "projection": _TRAJECTORY_ONLY,
    },
    "interp": {
        "checkpoints": _TRAJECTORY_ONLY,
        "projection": _TRAJECTORY_ONLY,
        "target": "it goes from --checkpoint A to --checkpoint-b B",
        "target_y": "it goes from --checkpoint A to --checkpoint-b B",
        "dir_file": "its direction is B − A, not a direction file's",
        "norm": "it moves along B − A unscaled",
        "ignore": "it moves every tensor along B − A",
    },
    "trajectory": {
        "checkpoint": "its centre is the last of --checkpoints",
        "checkpoint_b": _INTERP_ONLY,
        "target": "its directions are the PCA plane of --checkpoints",
        "target_y": "its directions are the PCA plane of --checkpoints",
        "norm": "the PCA directions are used as they are",
    },
}
"""Settings a kind of job does not use, and why: given for such a job (a flag, a job
file's key), they are refused rather than silently ignored (``norm = "none"`` passes)."""


INTERNAL_KEYS = ("digests", "figure", "import_path")
"""Keys of a stored spec that lstui writes itself (the digests of the files a job reads,
the figure a comparison draws): refused in job files, not offered as known keys."""


INTERP_X = "-0.5:1.5:41"
"""An interpolation's default grid: A at 0, B at 1, and half the way again beyond each."""

def split_keys(split: object) -> tuple[str, ...]:
    """The values a job of ``split`` (``train``, ``test``, ``both``; anything else is
    ``train``) stores at each point: ``train_loss``, ``train_acc`` …"""
    splits = ("train", "test") if split == "both" else ("test",) if split == "test" else ("train",)
    return tuple(f"{s}_{what}" for s in splits for what in ("loss", "acc"))


SURF_NAMES = ("train_loss", "test_loss", "train_err", "test_err")
"""What a 2D surface's figures and terminal plot may draw, as the reference's
``--surf_name`` names them: values to be low at a good minimizer (the figures mark the
minimum), so an accuracy is drawn as its error, 100 − accuracy."""


def kind_defaults(kind: str) -> dict[str, Any]:
    """Settings whose default depends on the kind of job: an interpolation moves every
    tensor of the state, BatchNorm statistics included (``states``), so that x = 1 is
    model B itself, as the reference advises, over :data:`INTERP_X`."""
    return {"dir_type": "states", "x": INTERP_X} if kind == "interp" else {}


UNUSED_WITH_DIR_FILE = ("target", "target_y", "norm", "ignore")
"""What makes directions, which a job reading them from ``--dir-file`` does not use
(``--seed`` also draws ``--subset``'s samples and a model without a checkpoint: kept)."""


def unused_settings(spec: Mapping[str, Any]) -> frozenset[str]:
    """The settings a stored spec holds (their defaults) that its job does not use
    (:data:`UNUSED_KEYS`, :data:`UNUSED_WITH_DIR_FILE`): shown as "-", not as if they
    had shaped its numbers (an interpolation's ``norm filter``)."""
    kind = str(spec.get("kind", "surface"))
    unused = set(UNUSED_KEYS.get(kind, {}))
    # a trajectory's stored dir_file is the plane lstui made of its checkpoints, with
    # its --ignore (the plane's shares differ with it), not one the person gave
    if spec.get("dir_file") and kind != "trajectory":
        unused.update(UNUSED_WITH_DIR_FILE)
    return frozenset(unused)


def shown_setting(spec: Mapping[str, Any], key: str) -> object:
    """``spec[key]`` as ``show`` and the TUI say it: "-" where the job does not use it."""
    return "-" if key in unused_settings(spec) else spec.get(key, JobSpec.__dataclass_fields__[key].default)


def refuse_unused(kind: str, given: Mapping[str, Any], *, flags: bool = False, named: str | None = None) -> None:
    """Raise a SpecError naming the first of ``given``'s settings that ``kind`` does not
    use (:data:`UNUSED_KEYS`), or that a job given ``dir_file`` does not
    (:data:`UNUSED_WITH_DIR_FILE`), as a flag (``--dir-file``) or a job file's key;
    ``named``: the flag to name instead, as typed (``--ynorm``, given for ``norm``)."""

    def name(key: str) -> str:
        if named is not None:  # the flag as typed (--ynorm for norm)
            return named
        return "--" + key.replace("_", "-") if flags else key

    for key, why in UNUSED_KEYS.get(kind, {}).items():
        if key in given and not (key == "norm" and given[key] == "none"):
            raise SpecError(f"{name(key)} has no effect on {kind} jobs ({why}); drop it")
    if given.get("dir_file"):
        for key in UNUSED_WITH_DIR_FILE:
            if given.get(key) is not None:
                raise SpecError(
                    f"{name(key)} has no effect with {name('dir_file')} (the directions are "
                    f"read from the file as they are); drop one of them"
                )


def _number_text(value: float) -> str:
    """``value`` as short as ``:g`` writes it when that is exact, else every digit."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def _axis_text(axis: Axis | None) -> str | None:
    """The axis as ``MIN:MAX:NUM`` text that parses back to the very same axis (``str``
    rounds to 6 digits: 1.0000001:1.0000002 would come back as the invalid 1:1)."""
    if axis is None:
        return None
    return f"{_number_text(axis.min)}:{_number_text(axis.max)}:{axis.num}"


@dataclass(frozen=True)
class JobSpec:
    """Everything needed to compute one job, independent of where it runs."""

    kind: str = "surface"
    model: str = "cnn"
    checkpoint: str | None = None
    checkpoint_b: str | None = None
    checkpoints: tuple[str, ...] = ()
    data: str = "digits"
    x: Axis = field(default_factory=lambda: parse_axis("-1:1:51"))
    y: Axis | None = None
    norm: str = "filter"
    ignore: str = "biasbn"
    dir_type: str = "weights"
    target: str | None = None
    target_y: str | None = None
    dir_file: str | None = None
    split: str = "train"
    loss: str = "ce"
    subset: str | None = None
    data_split: int = 1
    raw_data: bool = False
    seed: int = 123
    batch_size: int | None = None
    precision: str = "fp32"
    bn: str = "eval"
    compile: str = "auto"
    fold_bn: bool = True
    triton_conv: str = "off"
    projection: str = "cos"
    trust_checkpoint: bool = False
    name: str = ""
    priority: int = 0
    figure: Mapping[str, Any] | None = None
    digests: Mapping[str, str] | None = None
    """The SHA-256 of each file a worker reads, by path, taken when the job was queued
    (:func:`lstui.scheduler.preflight.with_digests`): a checkpoint overwritten later
    (``model_best.pt``) is refused instead of mixed into the job's points."""
    import_path: tuple[str, ...] | None = None
    """The folders the job's own model and data factories were imported from when it was
    queued (:func:`lstui.scheduler.imports.with_import_path`): its workers import from
    there first, wherever the daemon was started."""

    def __post_init__(self) -> None:
        # The store keeps the priority in an SQLite integer; check its range even for a
        # spec made without validated() (``dataclasses.replace(spec, priority=…)``).
        if isinstance(self.priority, int) and not isinstance(self.priority, bool):
            _check_range(self.priority, -MAX_PRIORITY, MAX_PRIORITY, "--priority")

    @property
    def grid(self) -> SurfaceGrid:
        return SurfaceGrid(self.x, self.y)

    def checked_size(self) -> JobSpec:
        """This spec, its grid's size checked (:meth:`SurfaceGrid.check_size`): where a
        new job enters (flags, job files, the form, submit), not where a stored one is read."""
        if self.kind != "figure":
            self.grid.check_size()
        return self

    @property
    def splits(self) -> tuple[str, ...]:
        return ("train", "test") if self.split == "both" else (self.split,)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["x"] = _axis_text(self.x)
        out["y"] = _axis_text(self.y)
        out["checkpoints"] = list(self.checkpoints)
        out["figure"] = dict(self.figure) if self.figure is not None else None
        out["digests"] = dict(self.digests) if self.digests is not None else None
        if self.import_path is None:  # only jobs of factories carry it (an older worker refuses it)
            del out["import_path"]
        else:
            out["import_path"] = list(self.import_path)
        return out

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        base: Path | None = None,
        check_files: bool = True,
        extra_keys: Sequence[str] = (),
    ) -> JobSpec:
        """Validate a mapping (JSON from the store, a TOML table, form fields).

        ``check_files=False`` reads a spec back (a stored job's, to draw or export what
        it computed) without asking that its checkpoints and data still be there.
        ``extra_keys``: keys the caller took out of ``data`` itself (a job file's
        ``unit_size``), named with the known keys when an unknown one is refused.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            flag = "--" + str(unknown[0]).replace("_", "-")
            if flag in REFERENCE_ONLY:  # a reference script's setting (mpi = true): what to do instead
                raise SpecError(f"unknown key {unknown[0]!r} in job spec: {REFERENCE_ONLY[flag]}")
            shown = sorted((known - set(INTERNAL_KEYS)) | set(extra_keys))
            close = difflib.get_close_matches(str(unknown[0]), shown, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise SpecError(f"unknown key {unknown[0]!r} in job spec; {hint}known keys: {', '.join(shown)}")
        values = dict(data)
        for key in ("x", "y"):
            if key in values and values[key] is not None and not isinstance(values[key], Axis):
                if not isinstance(values[key], str):  # a job file's x = ["-1:1:5"] or x = 5
                    raise SpecError(f"{key} must be a string MIN:MAX:NUM, as x = \"-1:1:51\"; got "
                                    f"{type(values[key]).__name__} {values[key]}")
                values[key] = parse_axis(values[key], f"--{key}")
        if "checkpoints" in values:
            cps = values["checkpoints"]
            if isinstance(cps, str) or not isinstance(cps, list | tuple):
                raise SpecError("checkpoints must be a list of paths")
            values["checkpoints"] = tuple(str(c) for c in cps)
        if values.get("import_path") is not None:
            folders = values["import_path"]
            if isinstance(folders, str) or not isinstance(folders, list | tuple):
                raise SpecError("import_path must be a list of folders")
            values["import_path"] = tuple(str(f) for f in folders)
        try:
            spec = cls(**values)
        except TypeError as exc:
            raise SpecError(f"job spec: {exc}") from None
        return spec.validated(base=base, check_files=check_files)

    def validated(self, *, base: Path | None = None, check_files: bool = True) -> JobSpec:
        """Check every field; resolve paths to absolute ones. Returns a new spec.

        With ``check_files`` (the default) the files and data folders it names must exist.
        """
        _check_type(self)
        check_choice(self.kind, JOB_KINDS, "kind")
        check_choice(self.norm, NORMS, "--norm")
        check_choice(self.ignore, IGNORES, "--ignore")
        check_choice(self.dir_type, DIR_TYPES, "--dir-type")
        check_choice(self.split, SPLITS, "--split")
        check_choice(self.loss, LOSSES, "--loss")
        check_choice(self.precision, PRECISIONS, "--precision")
        check_choice(self.bn, BN_MODES, "--bn")
        check_choice(self.compile, COMPILE_MODES, "--compile")
        check_choice(self.triton_conv, TRITON_MODES, "--triton-conv")
        check_choice(self.projection, PROJECTIONS, "--projection")
        _check_range(self.data_split, 1, MAX_DATA_SPLIT, "--data-split")
        if self.batch_size is not None:
            _check_range(self.batch_size, 1, MAX_BATCH_SIZE, "--batch-size")
        _check_range(self.seed, 0, MAX_SEED, "--seed")
        _check_range(self.priority, -MAX_PRIORITY, MAX_PRIORITY, "--priority")
        if any("\udc80" <= ch <= "\udcff" for ch in self.name):  # (the bytes of another encoding)
            raise SpecError("--name is not UTF-8 text: it holds a byte of another encoding (a Latin-1 "
                            "terminal's é?); give it in UTF-8")
        if len(self.name) > MAX_NAME or any(
            unicodedata.category(ch) in _NAME_REFUSED or ch in _BIDI_CONTROLS for ch in self.name
        ):
            raise SpecError(
                f"--name must be at most {MAX_NAME} printable characters without control characters"
            )
        _check_model(self.model)
        data = _data_kind_lower(self.data)
        _check_data(data)
        subset = _check_subset(self.subset)
        changes: dict[str, Any] = {"subset": subset}
        for key in ("checkpoint", "checkpoint_b", "target", "target_y", "dir_file"):
            value = getattr(self, key)
            if value is not None:
                changes[key] = _file(value, f"--{key.replace('_', '-')}", base, check_files)
        if self.checkpoints:
            changes["checkpoints"] = tuple(
                _file(c, "--checkpoints", base, check_files) for c in self.checkpoints
            )
        if data != self.data:
            changes["data"] = data
        kind, _, rest = data.partition(":")
        if kind in _DATA_FOLDERS and rest:
            folder = _absolute(rest, base, "--data")
            if check_files and not Path(folder).is_dir():
                what = "is a file; give the folder that holds the data" if Path(folder).exists() else "no such folder"
                raise SpecError(f"--data {data!r}: {what}")
            changes["data"] = f"{kind}:{folder}"
        spec = dataclasses.replace(self, **changes)
        if spec.kind == "interp":
            if spec.checkpoint is None or spec.checkpoint_b is None:
                raise SpecError("interp needs --checkpoint A and --checkpoint-b B")
            if spec.y is not None:
                raise SpecError("interp is one-dimensional; drop --y")
        if spec.kind == "trajectory" and len(spec.checkpoints) < 3:
            raise SpecError("trajectory needs at least 3 checkpoints (--checkpoints)")
        for key in ("checkpoint_b", "target", "target_y"):
            other = getattr(spec, key)
            if other is not None and spec.checkpoint is not None and same_file(other, spec.checkpoint):
                raise SpecError(
                    f"--{key.replace('_', '-')} is the --checkpoint file itself: the direction "
                    "towards it would be zero; give another checkpoint"
                )
        if spec.bn == "recompute" and "train" not in spec.splits:
            raise SpecError(
                "--bn recompute re-estimates BatchNorm statistics on the training split; "
                "use --split train or both"
            )
        if spec.target_y is not None and spec.y is None:
            raise SpecError("--target-y needs a 2D grid (--y)")
        if spec.kind == "figure" and not spec.figure:
            raise SpecError("a figure job needs a figure description")
        return spec

    def default_name(self) -> str:
        if self.name:
            return self.name
        source = self.checkpoint or (self.checkpoints[-1] if self.checkpoints else "")
        stem = Path(source).stem if source else "init"
        if self.kind == "interp" and self.checkpoint_b:
            return f"interp {stem}→{Path(self.checkpoint_b).stem}"
        return f"{self.kind} {self.model} {stem} {self.grid.describe()}"


def _check_type(spec: JobSpec) -> None:
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if f.name in ("batch_size",) and value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise SpecError(f"{f.name} must be a whole number, got {value!r}")
        if f.name in ("data_split", "seed", "priority") and (not isinstance(value, int) or isinstance(value, bool)):
            raise SpecError(f"{f.name} must be a whole number, got {value!r}")
        if f.name in ("raw_data", "trust_checkpoint", "fold_bn") and not isinstance(value, bool):
            raise SpecError(f"{f.name} must be true or false, got {value!r}")
        if f.name in ("model", "data", "name", "kind", "norm", "ignore", "dir_type", "split",
                      "loss", "precision", "bn", "compile", "triton_conv", "projection") and not isinstance(value, str):
            raise SpecError(f"{f.name} must be a string, got {value!r}")
        if f.name in ("checkpoint", "checkpoint_b", "target", "target_y", "dir_file") and not (
            value is None or isinstance(value, str)
        ):
            raise SpecError(f"{f.name} must be a file path, got {value!r}")
        if f.name == "subset" and not (
            value is None or isinstance(value, str | float)
            or (isinstance(value, int) and not isinstance(value, bool))
        ):
            raise SpecError(f"subset must be a count or a fraction, got {value!r}")
        if f.name == "digests" and value is not None and not (
            isinstance(value, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        ):
            raise SpecError(f"digests must be a table of file paths and digests, got {value!r}")
        if f.name == "figure" and value is not None:
            if not isinstance(value, Mapping):
                raise SpecError(f"figure must be a table of settings, got {value!r}")
            try:
                json.dumps(value, sort_keys=True)
            except (TypeError, ValueError) as exc:  # a TOML date, a non-text key …
                raise SpecError(f"figure settings must be numbers, text, lists and tables ({exc})") from None


def _check_range(value: int, lo: int, hi: int, flag: str) -> None:
    if not lo <= value <= hi:
        raise SpecError(f"{flag} must be a whole number from {lo} to {hi}, got {value}")


def unknown_model_message(name: str) -> str:
    """Why ``name`` is no model, with the closest built-in names when some are close."""
    close = difflib.get_close_matches(name.lower(), BUILTIN_MODELS, n=3, cutoff=0.6)
    if close:
        return f"unknown model {name!r} (did you mean {', '.join(close)}?); use {_MODEL_FORMS}"
    return (
        f"unknown model {name!r}; use a built-in name (mlp, cnn, resnet20, resnet56, resnet110, "
        f"wrn56_2, vgg9, densenet121, …: {len(BUILTIN_MODELS)} in all, listed by "
        "'lstui submit surface --help'), torchvision:NAME or pkg.module:factory"
    )


def ignores_data_shape(model: str) -> bool:
    """Whether ``model`` is built without regard to the data's shape: a torchvision model
    (ImageNet-shaped). Built-in models size themselves to the data, and a factory is the
    person's own, written for their data; a torchvision model is checked against the
    data's samples before its job runs (:func:`lstui.models.check_takes_inputs`)."""
    return model.strip().startswith("torchvision:")


def checked_against_data(model: str) -> bool:
    """Whether ``model``'s fit to the data is checked with two of its samples before a
    job's first point (:func:`lstui.models.check_takes_inputs`, where the job is
    prepared): a torchvision model, which ignores the data's shape, and a factory, the
    person's own code. Built-in models size themselves to the data. At submit only
    torchvision models are (:func:`ignores_data_shape`): a factory's forward is the
    person's code, run where the job runs, not in ``lstui submit``."""
    name = model.strip()
    return ignores_data_shape(name) or (":" in name and not name.startswith("torchvision:"))


def _check_model(model: str) -> None:
    text = model.strip()
    if not text:
        raise SpecError(f"--model is empty; give {_MODEL_FORMS}")
    if not (_MODEL_NAME.fullmatch(text) or _IMPORT_PATH.fullmatch(text)):
        raise SpecError(
            f"--model {model!r} is not a model name; give a built-in name (e.g. resnet56), "
            "torchvision:NAME or pkg.module:factory"
        )
    if ":" not in text and text.lower() not in BUILTIN_MODELS:
        raise SpecError(f"--model: {unknown_model_message(text)}")


def _data_kind_lower(data: str) -> str:
    """``Digits`` → ``digits``, ``CIFAR10:PATH`` → ``cifar10:PATH``: a built-in data set's
    name in any case, as a built-in model's (the folder and a factory's path as typed)."""
    kind, sep, rest = data.strip().partition(":")
    if kind.lower() == "digits" and not sep:
        return "digits"
    if kind.lower() in _DATA_FOLDERS and sep:
        return f"{kind.lower()}:{rest}"
    return data


def _check_data(data: str) -> None:
    if not data.strip():
        raise SpecError(f"--data is empty; give {_DATA_FORMS}")
    kind, sep, rest = data.partition(":")
    if data == "digits" or (kind in _DATA_FOLDERS and rest) or _IMPORT_PATH.fullmatch(data):
        return
    if kind in _DATA_FOLDERS:
        raise SpecError(f"--data {data!r} needs a folder: {kind}:PATH")
    raise SpecError(f"--data {data!r} is not a data set; give {_DATA_FORMS}")


def _check_subset(subset: object) -> str | None:
    """``--subset`` as text: a count of 1 or more, or a fraction in (0, 1] (as datasets
    reads it); None for the whole train split."""
    if subset is None:
        return None
    text = str(subset).strip()
    if re.fullmatch(r"\d+", text):
        if int(text) < 1:
            raise SpecError(f"--subset {subset!r} selects no samples; give a count of 1 or more")
        return text
    try:
        fraction = float(text)
    except ValueError:
        raise SpecError(
            f"--subset {subset!r} is neither a count (e.g. 500) nor a fraction (e.g. 0.1)"
        ) from None
    if not (math.isfinite(fraction) and 0.0 < fraction <= 1.0):
        raise SpecError(
            f"--subset {subset!r}: give a count of 1 or more (e.g. 500) or a fraction in (0, 1] (e.g. 0.1)"
        )
    return text


def _absolute(path: str, base: Path | None, flag: str = "path") -> str:
    try:
        p = Path(path).expanduser()
        if not p.is_absolute():
            p = (base or Path.cwd()) / p
        return str(p.resolve())
    except (OSError, RuntimeError, ValueError) as exc:  # NUL bytes, ~unknownuser, loops
        raise SpecError(f"{flag} {path!r} is not a usable path ({exc})") from None


def same_file(a: str, b: str) -> bool:
    """The same path, or two paths of one file (a link)."""
    try:
        return a == b or Path(a).samefile(b)
    except OSError:  # one is missing (a stored spec read back)
        return False


def _file(path: str, flag: str, base: Path | None, must_exist: bool) -> str:
    if not isinstance(path, str) or not path:
        raise SpecError(f"{flag} must be a file path")
    resolved = _absolute(path, base, flag)
    if must_exist and Path(resolved).is_dir():
        raise SpecError(f"{flag} {path!r} is a folder; give a file")
    if must_exist and not Path(resolved).is_file():
        there = Path(resolved).exists()  # a FIFO, /dev/null: there, but not a file to read
        # where it was looked for, when that is not what was typed (~, a job file's folder)
        shown = resolved if resolved.isprintable() else repr(resolved)  # (a newline in it: still one line)
        looked = f" ({shown})" if "~" in path or (base is not None and not Path(path).is_absolute()) else ""
        raise SpecError(f"{flag} {path!r}{looked}: {'not a regular file' if there else 'no such file'}")
    return resolved
