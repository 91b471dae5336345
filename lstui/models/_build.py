"""Turning a model name into a module: built-ins, ``torchvision:NAME``, ``pkg.module:factory``."""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable

from torch import nn

from lstui.errors import ModelError, described, module_file
from lstui.models._zoo import BUILTIN
from lstui.spec import unknown_model_message


def build_model(
    name: str, *, input_shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10
) -> nn.Module:
    """Build a freshly initialised model.

    Args:
        name: a built-in name (``MODEL_NAMES``, e.g. ``resnet56``), ``torchvision:NAME``
            (built with ``weights=None``) or ``pkg.module:factory`` (the factory is called
            with no arguments and must return a ``torch.nn.Module``).
        input_shape: the shape of one sample, (channels, height, width) for images. The
            small models size themselves to it; the zoo takes its channel count (and VGG
            its size); torchvision models and factories ignore it.
        num_classes: outputs of the model (not used by factories).

    Returns:
        The model, on the CPU, in training mode as built.

    Raises:
        ModelError: the name is unknown or the model cannot be built.
    """
    spec = name.strip()
    shape = tuple(input_shape)
    if not shape or not all(isinstance(d, int) and d > 0 for d in shape):
        raise ModelError(f"input shape must be positive integers, got {shape}")
    if num_classes < 1:
        raise ModelError(f"number of classes must be at least 1, got {num_classes}")
    builder = BUILTIN.get(spec.lower())
    if builder is not None:
        return builder(shape, num_classes)
    if ":" in spec:
        module_name, _, attribute = spec.partition(":")
        if module_name == "torchvision":
            return _torchvision_model(attribute, num_classes)
        return _factory_model(spec, module_name, attribute)
    raise ModelError(unknown_model_message(spec))


def _torchvision_model(arch: str, num_classes: int) -> nn.Module:
    try:
        import torchvision.models
    except ImportError as error:
        raise ModelError(
            f"torchvision:{arch} needs torchvision, which fails to import ({error})"
        ) from error
    names = torchvision.models.list_models(module=torchvision.models)
    if arch not in names:
        close = difflib.get_close_matches(arch, names, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else "see torchvision.models"
        raise ModelError(f"torchvision has no classification model {arch!r} ({hint})")
    try:
        model = torchvision.models.get_model(arch, weights=None, num_classes=num_classes)
    except (TypeError, ValueError) as error:
        raise ModelError(f"torchvision:{arch} cannot be built: {error}") from error
    return model


def model_factory(spec: str) -> Callable[[], object]:
    """Import ``pkg.module:factory`` and return the factory, without calling it.

    Raises:
        ModelError: the module does not import or has no such callable.
    """
    module_name, _, attribute = spec.strip().partition(":")
    if not module_name or not attribute:
        raise ModelError(f"model {spec!r} is not of the form pkg.module:factory")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ModelError(f"model {spec!r}: cannot import {module_name!r} ({error})") from error
    except Exception as error:  # the person's module raising as it is imported: one line
        raise ModelError(f"model {spec!r}: cannot import {module_name!r} ({described(error)})") from None
    factory: object = module
    for part in attribute.split("."):
        if not hasattr(factory, part):
            raise ModelError(f"model {spec!r}: module {module_name!r}{module_file(module)} has no {attribute!r}")
        factory = getattr(factory, part)
    if not callable(factory):
        raise ModelError(
            f"model {spec!r}: {attribute} is of type {type(factory).__name__}, "
            "not a callable factory"
        )
    try:  # said where the factory is found (submit), not by the worker's first point
        inspect.signature(factory).bind()
    except TypeError:
        raise ModelError(
            f"model {spec!r}: {attribute}() needs arguments, but the factory is called with none "
            "(wrap it: def make(): return Net(width=16), or functools.partial)"
        ) from None
    except ValueError:
        pass  # no signature to inspect (a builtin); just call it
    return factory


def _factory_model(spec: str, module_name: str, attribute: str) -> nn.Module:
    factory = model_factory(f"{module_name}:{attribute}")
    try:
        model = factory()
    except Exception as exc:  # the person's code: its error in one line, not a traceback
        raise ModelError(f"model {spec!r}: {attribute}() failed: {described(exc)}") from None
    if not isinstance(model, nn.Module):
        raise ModelError(
            f"model {spec!r}: {attribute}() returned an object of type {type(model).__name__}, "
            "not a torch.nn.Module"
        )
    return model


def _float_inputs_hint(exc: BaseException) -> str:
    """What to do when a model wants integer inputs (token ids for an embedding): lstui
    gives every model float32 inputs."""
    text = str(exc)
    if "Long, Int" in text or ("indices" in text and "Float" in text):
        return " (lstui gives models float32 inputs: an embedding model takes its ids back with x.long())"
    return ""


def check_takes_inputs(
    model: nn.Module, name: str, input_shape: tuple[int, ...], num_classes: int
) -> None:
    """Raise ModelError unless ``model`` maps a batch of ``input_shape`` samples to
    (batch, ≥ ``num_classes``) outputs, as the loss needs.

    A torchvision model ignores the data's shape, so an ImageNet ResNet on 1-channel
    8×8 digits would fail on its first point with PyTorch's message. Two zero
    samples go through in eval mode, without gradients; on the meta device (the submit
    check) this costs nothing. A model whose operations the meta device lacks passes.
    """
    import torch

    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros((2, *input_shape), device=device))
    except NotImplementedError:
        return  # an operation without a meta kernel: the worker's first point will tell
    except Exception as exc:  # a shape PyTorch refuses, or the person's forward() raising
        raise ModelError(
            f"model {name!r} cannot take the data's inputs of shape "
            f"{'×'.join(map(str, input_shape))}: {described(exc)}{_float_inputs_hint(exc)}"
        ) from None
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor):  # (logits, aux), {"logits": …}: not what the loss takes
        raise ModelError(
            f"model {name!r} returns a {type(out).__name__} in eval mode; lstui needs forward() "
            "to return one tensor of logits, of shape (batch, classes)"
        )
    shape = tuple(out.shape)
    if len(shape) != 2 or shape[1] < num_classes:
        raise ModelError(
            f"model {name!r} gives outputs of shape {tuple(shape)} for a batch of 2; "
            f"the data has {num_classes} classes, so (2, {num_classes}) was expected"
        )
