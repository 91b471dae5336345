"""Small models for tests and the demo; they size themselves to the data.

``mlp`` takes any input shape (it flattens); ``cnn`` and ``cnn_nobn`` take (C, H, W)
images of any size, 1×8×8 digits as well as 3×32×32 CIFAR.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    """Flatten, then Linear(64)–ReLU–Linear(32)–ReLU–Linear(classes)."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int = 10):
        super().__init__()
        self.fc1 = nn.Linear(math.prod(input_shape), 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.fc1(x.flatten(1)))
        out = F.relu(self.fc2(out))
        return self.fc3(out)


class SmallCNN(nn.Module):
    """conv 16 (3×3) – [BN] – ReLU – conv 32 (3×3, stride 2) – [BN] – ReLU – pool – linear.

    Args:
        in_channels: input channels.
        num_classes: outputs of ``linear``.
        batch_norm: with BatchNorm after each conv (``cnn``) or without, the convs then
            carrying biases (``cnn_nobn``).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, *, batch_norm: bool = True):
        super().__init__()
        bias = not batch_norm
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1, bias=bias)
        self.bn1 = nn.BatchNorm2d(16) if batch_norm else nn.Identity()
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=bias)
        self.bn2 = nn.BatchNorm2d(32) if batch_norm else nn.Identity()
        self.linear = nn.Linear(32, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)
