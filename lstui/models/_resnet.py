"""ResNets for CIFAR, with and without shortcut connections.

Two families, as in the reference's ``cifar10/models/resnet.py``:

- *CIFAR ResNets* (``resnet20`` … ``resnet110``, wide ``wrn56_k``): a 3×3 stem and three
  stages of basic blocks 16k, 32k, 64k channels wide, depth = 6n + 2.
- *ImageNet-shaped ResNets* (``resnet18`` … ``resnet152``) sized for 32×32 inputs: a
  3×3 stem and four stages 64, 128, 256, 512 channels wide (×4 for bottlenecks).

The ``_noshort`` forms drop the shortcut connections entirely (no ``shortcut`` module, so
no shortcut keys in the state dict), which is what makes their landscapes chaotic in the
paper. Module names and shapes match the reference so its checkpoints load unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _shortcut(in_planes: int, out_planes: int, stride: int) -> nn.Sequential:
    """The shortcut branch: identity, or a strided 1×1 projection when shapes change."""
    if stride == 1 and in_planes == out_planes:
        return nn.Sequential()
    return nn.Sequential(
        nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(out_planes),
    )


class BasicBlock(nn.Module):
    """Two 3×3 conv–BN layers, plus the input through ``shortcut`` when it has one."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1, *, shortcut: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(in_planes, planes, stride) if shortcut else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return F.relu(out)


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3, 1×1 expand (×4), plus the input through ``shortcut`` if any.

    Without a shortcut the reference ends the block without a ReLU; so does this.
    """

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1, *, shortcut: bool = True):
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.shortcut = _shortcut(in_planes, out_planes, stride) if shortcut else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.shortcut is None:
            return out
        return F.relu(out + self.shortcut(x))


Block = type[BasicBlock] | type[Bottleneck]


class ResNet(nn.Module):
    """A stem (3×3 conv, BN, ReLU), stages of blocks, global average pool, ``linear``.

    Args:
        block: the block class, ``BasicBlock`` or ``Bottleneck``.
        num_blocks: blocks per stage; the stages are ``layer1``, ``layer2``, ….
        widths: channels of each stage (before the block's expansion); the first stage
            keeps the resolution, each later one halves it.
        shortcut: whether blocks have shortcut connections.
        in_channels: input channels (3 for the reference's checkpoints).
        num_classes: outputs of ``linear``.
    """

    def __init__(
        self,
        block: Block,
        num_blocks: Sequence[int],
        widths: Sequence[int],
        *,
        shortcut: bool = True,
        in_channels: int = 3,
        num_classes: int = 10,
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        in_planes = widths[0]
        for index, (planes, count) in enumerate(zip(widths, num_blocks, strict=True)):
            first_stride = 1 if index == 0 else 2
            blocks = []
            for stride in [first_stride] + [1] * (count - 1):
                blocks.append(block(in_planes, planes, stride, shortcut=shortcut))
                in_planes = planes * block.expansion
            self.add_module(f"layer{index + 1}", nn.Sequential(*blocks))
        self.num_stages = len(widths)
        self.linear = nn.Linear(in_planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        for index in range(self.num_stages):
            out = getattr(self, f"layer{index + 1}")(out)
        # The reference pools with a fixed window equal to the final 8×8 (CIFAR) or
        # 4×4 (ImageNet-shaped) map of a 32×32 input; adaptive pooling is the same there
        # and also accepts other input sizes.
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


def cifar_resnet(
    depth: int,
    *,
    width: int = 1,
    shortcut: bool = True,
    in_channels: int = 3,
    num_classes: int = 10,
) -> ResNet:
    """A CIFAR ResNet of ``depth`` = 6n + 2 layers, ``width`` times as wide (WRN-depth-k)."""
    if (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n + 2, got {depth}")
    n = (depth - 2) // 6
    return ResNet(
        BasicBlock,
        [n, n, n],
        [16 * width, 32 * width, 64 * width],
        shortcut=shortcut,
        in_channels=in_channels,
        num_classes=num_classes,
    )


_IMAGENET_SHAPED: dict[int, tuple[Block, tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


def imagenet_shaped_resnet(
    depth: int, *, shortcut: bool = True, in_channels: int = 3, num_classes: int = 10
) -> ResNet:
    """ResNet-18/34/50/101/152 with a 3×3 stem, for 32×32 inputs."""
    block, num_blocks = _IMAGENET_SHAPED[depth]
    return ResNet(
        block,
        num_blocks,
        [64, 128, 256, 512],
        shortcut=shortcut,
        in_channels=in_channels,
        num_classes=num_classes,
    )
