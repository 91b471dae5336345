"""Models: the reference's CIFAR zoo, small models, user models, safe checkpoint loading.

The built-in zoo has the reference's names and exactly its state-dict keys and shapes,
so checkpoints published with the original loss-landscape code load unchanged.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from lstui.models._build import build_model, check_takes_inputs, model_factory
from lstui.models._checkpoint import (
    apply_state_dict,
    fitted_state_dict,
    has_running_statistics,
    load_checkpoint,
)
from lstui.models._zoo import BUILTIN, REFERENCE_ZOO, SMALL_MODELS

#: Every built-in model name, for help text and validation.
MODEL_NAMES: tuple[str, ...] = tuple(BUILTIN)

#: The names of the reference's CIFAR zoo.
REFERENCE_MODEL_NAMES: tuple[str, ...] = tuple(REFERENCE_ZOO)

#: The small models that size themselves to the data.
SMALL_MODEL_NAMES: tuple[str, ...] = tuple(SMALL_MODELS)


def misfit_subject(
    checkpoint: str | Path, name: str, input_shape: tuple[int, ...] | None = None,
    num_classes: int | None = None,
) -> str:
    """The start of the message for a checkpoint that does not fit model ``name``; a
    built-in model names the data it was built for (its channels and classes are the
    data's: a grayscale image folder is read as RGB, a folder one level off has one class)."""
    built_for = ""
    if input_shape is not None and num_classes is not None and ":" not in name:  # a built-in
        built_for = (f" (built for the data's {'×'.join(map(str, input_shape))} samples and "
                     f"{num_classes} class{'es' if num_classes != 1 else ''})")
    return f"checkpoint {str(checkpoint)!r} does not fit model {name!r}{built_for}"


def load_model(
    name: str,
    checkpoint: str | Path | None,
    *,
    input_shape: tuple[int, ...] = (3, 32, 32),
    num_classes: int = 10,
    trust: bool = False,
) -> nn.Module:
    """Build a model and, given a checkpoint, load its weights.

    Args:
        name: as for ``build_model``.
        checkpoint: a file ``torch.save`` wrote, or None to keep the fresh initialisation.
        input_shape: the shape of one sample.
        num_classes: outputs of the model.
        trust: unpickle anything the checkpoint holds (only for trusted files).

    Returns:
        The model on the CPU in eval mode.

    Raises:
        ModelError: the model cannot be built.
        CheckpointError: the checkpoint cannot be read or does not fit the model.
    """
    model = build_model(name, input_shape=input_shape, num_classes=num_classes)
    if checkpoint is not None:
        state = load_checkpoint(checkpoint, trust=trust)
        apply_state_dict(model, state, subject=misfit_subject(checkpoint, name, input_shape, num_classes))
    return model.cpu().eval()


__all__ = [
    "MODEL_NAMES",
    "REFERENCE_MODEL_NAMES",
    "SMALL_MODEL_NAMES",
    "apply_state_dict",
    "build_model",
    "check_takes_inputs",
    "fitted_state_dict",
    "has_running_statistics",
    "load_checkpoint",
    "load_model",
    "misfit_subject",
    "model_factory",
]
