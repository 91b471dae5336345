"""The new-job form's fields and their validation, field by field (no widgets here).

Each field is checked on its own, so that every wrong one can be marked with its own
reason; then the whole spec is validated once more (:meth:`JobSpec.from_dict`), which
also catches what only a combination of fields gets wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lstui.errors import LstuiError
from lstui.landscape.grid import parse_axis
from lstui.landscape.options import DIR_TYPES, NORMS, PRECISIONS, SPLITS
from lstui.spec import INTERP_X, JobSpec

FORM_KINDS = ("surface", "interp", "trajectory")
DEFAULT_X = {"surface": "-1:1:51", "interp": INTERP_X, "trajectory": ""}
DEFAULT_DIR_TYPE = {"surface": "weights", "interp": "states", "trajectory": "weights"}
HIDDEN = {
    "surface": ("checkpoint_b", "checkpoints"),
    "interp": ("norm", "y", "checkpoints"),
    "trajectory": ("checkpoint", "checkpoint_b", "norm"),
}
"""The fields a kind of job does not use (an interpolation moves along B − A unscaled, on
one axis; a trajectory's PCA directions are its own): hidden while that kind is picked, and not sent
(the CLI refuses the flag)."""
PLACEHOLDERS = {
    "surface": {"checkpoint": "the minimizer's file (empty: seeded init)"},
    "interp": {"checkpoint": "file of model A (x = 0)", "checkpoint_b": "file of model B (x = 1)"},
    "trajectory": {
        "x": "MIN:MAX:NUM; empty: the path's extent",
        "y": "MIN:MAX:NUM; empty: the path's extent",
    },
}
"""Placeholders of a kind of job where they differ from the fields' own."""
GENERAL = "form"
"""The key of an error that belongs to no single field."""


@dataclass(frozen=True)
class Field:
    """One field of the form: its spec key, label, default and, for choices, the options."""

    key: str
    label: str
    default: str = ""
    choices: tuple[str, ...] = ()
    placeholder: str = ""


FIELDS: tuple[Field, ...] = (
    Field("kind", "kind", "surface", FORM_KINDS),
    Field("model", "model", "cnn", placeholder="resnet56, torchvision:NAME, pkg.mod:factory"),
    Field("checkpoint", "checkpoint", placeholder="file of model A (empty: seeded init)"),
    Field("checkpoint_b", "checkpoint-b", placeholder="file of model B (interp only)"),
    Field("checkpoints", "checkpoints", placeholder="the run's: run/model_*.pt or a.pt,b.pt,c.pt"),
    Field("data", "data", "digits", placeholder="digits, cifar10:PATH, imagefolder:PATH"),
    Field("x", "x", DEFAULT_X["surface"], placeholder="MIN:MAX:NUM"),
    Field("y", "y", placeholder="MIN:MAX:NUM for a 2D surface, empty for 1D"),
    Field("norm", "norm", "filter", NORMS),
    Field("dir_type", "dir-type", "weights", DIR_TYPES),
    Field("split", "split", "train", SPLITS),
    Field("precision", "precision", "fp32", PRECISIONS),
    Field("subset", "subset", placeholder="train samples: a count or a fraction; empty: all"),
    Field("name", "name", placeholder="shown in the job list"),
    Field("priority", "priority", "0", placeholder="higher runs first"),
)

FIELD_KEYS = tuple(f.key for f in FIELDS)


def defaults() -> dict[str, str]:
    """The form's starting values (the CLI's defaults)."""
    return {f.key: f.default for f in FIELDS}


def placeholder_of(field: Field, kind: str) -> str:
    """``field``'s placeholder while ``kind`` is picked."""
    return PLACEHOLDERS.get(kind, {}).get(field.key, field.placeholder)


def _check_alone(key: str, value: object) -> str | None:
    try:
        JobSpec.from_dict({key: value})
    except LstuiError as exc:
        return str(exc)
    return None


def validate_form(values: Mapping[str, str]) -> tuple[JobSpec | None, dict[str, str]]:
    """Check the form's text values.

    Args:
        values: field key → text as typed (missing keys take their default).

    Returns:
        ``(spec, {})`` when everything is right, else ``(None, errors)`` with one
        reason per wrong field (key :data:`GENERAL` for a reason no field owns).
    """
    text = defaults()
    text.update({k: str(v) for k, v in values.items() if k in text})
    text = {k: v.strip() for k, v in text.items()}
    errors: dict[str, str] = {}
    out: dict[str, object] = {}

    kind = text["kind"]
    if kind not in FORM_KINDS:
        errors["kind"] = f"kind {kind!r} is not known; choose one of {', '.join(FORM_KINDS)}"
    out["kind"] = kind

    for key in ("model", "data", "norm", "dir_type", "split", "precision", "name"):
        if key in HIDDEN.get(kind, ()):
            continue
        if key in ("model", "data") and not text[key]:
            flag = "--" + key
            hint = (
                "a built-in name, torchvision:NAME or pkg.module:factory"
                if key == "model"
                else "digits, cifar10:PATH, cifar100:PATH, imagefolder:PATH or pkg.module:factory"
            )
            errors[key] = f"{flag} is empty; give {hint}"
            continue
        reason = _check_alone(key, text[key])
        if reason:
            errors[key] = reason
        out[key] = text[key]

    for key in ("checkpoint", "checkpoint_b", "subset"):
        if text[key] and key not in HIDDEN.get(kind, ()):
            reason = _check_alone(key, text[key])
            if reason:
                errors[key] = reason
            out[key] = text[key]

    for key in ("x", "y"):
        if key in HIDDEN.get(kind, ()):
            continue
        if kind == "trajectory" and not text[key]:
            if key == "x":  # a stand-in: `submit trajectory` covers the path once its plane is known
                out[key] = parse_axis("-1:1:3")
            continue
        if key == "y" and not text[key]:
            continue
        try:
            out[key] = parse_axis(text[key], f"--{key}")
        except LstuiError as exc:
            errors[key] = str(exc)

    try:
        priority = int(text["priority"])
    except ValueError:
        errors["priority"] = f"priority {text['priority']!r} is not a whole number; e.g. 0, 5 or -1"
    else:
        # its range too, here: left to the whole spec's check, the reason went under the
        # form, flush left, instead of under the field it is about
        reason = _check_alone("priority", priority)
        if reason:
            errors["priority"] = reason
        out["priority"] = priority

    if kind == "interp":
        if not text["checkpoint"] and "checkpoint" not in errors:
            errors["checkpoint"] = "interp needs checkpoint A (x = 0)"
        if not text["checkpoint_b"] and "checkpoint_b" not in errors:
            errors["checkpoint_b"] = "interp needs checkpoint B (x = 1)"
    elif kind == "trajectory":
        out["norm"] = "none"  # the PCA's directions, as they are
        if not text["checkpoints"]:
            errors["checkpoints"] = "a trajectory needs its run's checkpoints: a glob (run/model_*.pt) or a.pt,b.pt,c.pt"
        else:
            from lstui.scheduler.trajectory import expand_checkpoints

            try:
                out["checkpoints"] = tuple(expand_checkpoints([text["checkpoints"]]))
            except LstuiError as exc:
                errors["checkpoints"] = str(exc)

    if errors:
        return None, errors
    try:
        return JobSpec.from_dict(out).checked_size(), {}
    except LstuiError as exc:
        return None, {"checkpoints" if "--checkpoints " in str(exc) else GENERAL: str(exc)}
