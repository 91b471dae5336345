"""The built-in models by name: the reference's CIFAR zoo plus three small models."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from lstui.errors import ModelError
from lstui.models._densenet import densenet121
from lstui.models._resnet import cifar_resnet, imagenet_shaped_resnet
from lstui.models._small import MLP, SmallCNN
from lstui.models._vgg import VGG, VGG9_LAYOUT

#: Builds a model for inputs of ``input_shape`` and ``num_classes`` outputs.
Builder = Callable[[tuple[int, ...], int], nn.Module]


def _image_shape(name: str, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ModelError(
            f"model {name!r} takes images shaped (channels, height, width), "
            f"not inputs shaped {tuple(input_shape)}"
        )
    channels, height, width = input_shape
    return channels, height, width


def _cifar_resnet(name: str, depth: int, width: int = 1, shortcut: bool = True) -> Builder:
    def build(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        channels = _image_shape(name, input_shape)[0]
        return cifar_resnet(
            depth, width=width, shortcut=shortcut, in_channels=channels, num_classes=num_classes
        )

    return build


def _imagenet_shaped_resnet(name: str, depth: int, shortcut: bool = True) -> Builder:
    def build(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        channels = _image_shape(name, input_shape)[0]
        return imagenet_shaped_resnet(
            depth, shortcut=shortcut, in_channels=channels, num_classes=num_classes
        )

    return build


def _vgg9(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    return VGG(VGG9_LAYOUT, input_shape=_image_shape("vgg9", input_shape), num_classes=num_classes)


def _densenet121(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    channels = _image_shape("densenet121", input_shape)[0]
    return densenet121(in_channels=channels, num_classes=num_classes)


def _mlp(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    return MLP(input_shape, num_classes)


def _cnn(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    return SmallCNN(_image_shape("cnn", input_shape)[0], num_classes, batch_norm=True)


def _cnn_nobn(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    return SmallCNN(_image_shape("cnn_nobn", input_shape)[0], num_classes, batch_norm=False)


def _reference_zoo() -> dict[str, Builder]:
    """Every model the reference's ``cifar10/model_loader.py`` names."""
    zoo: dict[str, Builder] = {}
    cifar: list[tuple[str, int, int, bool]] = [
        ("resnet20", 20, 1, True),
        ("resnet20_noshort", 20, 1, False),
        ("resnet32_noshort", 32, 1, False),
        ("resnet44_noshort", 44, 1, False),
        ("resnet50_16_noshort", 50, 1, False),
        ("resnet56", 56, 1, True),
        ("resnet56_noshort", 56, 1, False),
        ("resnet110", 110, 1, True),
        ("resnet110_noshort", 110, 1, False),
    ]
    for k in (2, 4, 8):
        cifar += [(f"wrn56_{k}", 56, k, True), (f"wrn56_{k}_noshort", 56, k, False)]
    cifar += [("wrn110_2_noshort", 110, 2, False), ("wrn110_4_noshort", 110, 4, False)]
    for name, depth, width, shortcut in cifar:
        zoo[name] = _cifar_resnet(name, depth, width, shortcut)
    for depth in (18, 34, 50, 101, 152):
        zoo[f"resnet{depth}"] = _imagenet_shaped_resnet(f"resnet{depth}", depth)
        name = f"resnet{depth}_noshort"
        zoo[name] = _imagenet_shaped_resnet(name, depth, shortcut=False)
    zoo["vgg9"] = _vgg9
    zoo["densenet121"] = _densenet121
    return zoo


#: The reference's CIFAR zoo: same names, same state-dict keys and shapes.
REFERENCE_ZOO: dict[str, Builder] = _reference_zoo()

#: Small models that size themselves to the data, for tests and the demo.
SMALL_MODELS: dict[str, Builder] = {"mlp": _mlp, "cnn": _cnn, "cnn_nobn": _cnn_nobn}

BUILTIN: dict[str, Builder] = {**SMALL_MODELS, **REFERENCE_ZOO}
