"""DenseNet-121 for CIFAR (growth rate 32, blocks of 6, 12, 24, 16 bottleneck layers).

Pre-activation layers (BN, ReLU, conv) whose outputs are concatenated in front of their
inputs; transitions halve the channels and the resolution. Module names follow the
reference (``conv1``, ``dense1`` … ``dense4``, ``trans1`` … ``trans3``, ``bn``,
``linear``), so its checkpoints load unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class DenseLayer(nn.Module):
    """BN–ReLU–1×1 conv to 4·growth channels, BN–ReLU–3×3 conv to ``growth_rate``.

    The output is the new features concatenated in front of the input.
    """

    def __init__(self, in_planes: int, growth_rate: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, 4 * growth_rate, kernel_size=1, bias=False)
        self.bn2 = nn.BatchNorm2d(4 * growth_rate)
        self.conv2 = nn.Conv2d(4 * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return torch.cat([out, x], dim=1)


class Transition(nn.Module):
    """BN–ReLU–1×1 conv to ``out_planes``, then 2×2 average pooling."""

    def __init__(self, in_planes: int, out_planes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(in_planes)
        self.conv = nn.Conv2d(in_planes, out_planes, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)


class DenseNet(nn.Module):
    """A four-block DenseNet with a 3×3 stem of 2·growth channels.

    Args:
        block_sizes: dense layers in each of the four blocks.
        growth_rate: channels each dense layer adds.
        reduction: fraction of channels a transition keeps (rounded down).
        in_channels: input channels (3 for the reference's checkpoints).
        num_classes: outputs of ``linear``.
    """

    def __init__(
        self,
        block_sizes: Sequence[int],
        *,
        growth_rate: int = 32,
        reduction: float = 0.5,
        in_channels: int = 3,
        num_classes: int = 10,
    ):
        super().__init__()
        planes = 2 * growth_rate
        self.conv1 = nn.Conv2d(in_channels, planes, kernel_size=3, padding=1, bias=False)
        last = len(block_sizes) - 1
        for index, size in enumerate(block_sizes):
            layers = [DenseLayer(planes + i * growth_rate, growth_rate) for i in range(size)]
            self.add_module(f"dense{index + 1}", nn.Sequential(*layers))
            planes += size * growth_rate
            if index < last:
                out_planes = int(planes * reduction)
                self.add_module(f"trans{index + 1}", Transition(planes, out_planes))
                planes = out_planes
        self.num_blocks = len(block_sizes)
        self.bn = nn.BatchNorm2d(planes)
        self.linear = nn.Linear(planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        for index in range(1, self.num_blocks):
            out = getattr(self, f"trans{index}")(getattr(self, f"dense{index}")(out))
        out = getattr(self, f"dense{self.num_blocks}")(out)
        # The reference pools the final 4×4 map of a 32×32 input with a 4×4 window;
        # adaptive pooling is the same there and also accepts other input sizes.
        out = F.adaptive_avg_pool2d(F.relu(self.bn(out)), 1).flatten(1)
        return self.linear(out)


def densenet121(*, in_channels: int = 3, num_classes: int = 10) -> DenseNet:
    """DenseNet-121 as the reference builds it for CIFAR."""
    return DenseNet(
        (6, 12, 24, 16), growth_rate=32, in_channels=in_channels, num_classes=num_classes
    )
