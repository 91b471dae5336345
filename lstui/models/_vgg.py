"""VGG-9 for CIFAR, as the paper's small- vs large-batch comparisons use it.

Seven 3×3 conv–BN–ReLU layers in three max-pooled groups (``features``), then one hidden
fully connected layer with BatchNorm (``fc``) and the output layer (``classifier``): nine
weight layers. The indices inside ``features`` and ``fc`` follow the reference's
``nn.Sequential`` layout, so its checkpoints load unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

#: Channels of each conv layer; ``"M"`` is a 2×2 max pool.
VGG9_LAYOUT: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M")


class VGG(nn.Module):
    """A VGG net for small images.

    Args:
        layout: conv widths and ``"M"`` pools, e.g. ``VGG9_LAYOUT``.
        input_shape: (channels, height, width); the size of ``fc`` depends on it
            (256·4·4 = 4096 inputs for 32×32 images, as in the reference).
        num_classes: outputs of ``classifier``.
    """

    def __init__(
        self,
        layout: Sequence[int | str],
        *,
        input_shape: tuple[int, int, int] = (3, 32, 32),
        num_classes: int = 10,
    ):
        super().__init__()
        channels, height, width = input_shape
        layers: list[nn.Module] = []
        for item in layout:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True))
                # ceil_mode keeps a half window at odd sizes: ceil(n / 2)
                height, width = -(-height // 2), -(-width // 2)
            else:
                assert isinstance(item, int)
                layers += [
                    nn.Conv2d(channels, item, kernel_size=3, padding=1),
                    nn.BatchNorm2d(item),
                    nn.ReLU(inplace=True),
                ]
                channels = item
        self.features = nn.Sequential(*layers)
        self.fc = nn.Sequential(
            nn.Linear(channels * height * width, channels),
            nn.BatchNorm1d(channels),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.features(x).flatten(1)
        return self.classifier(self.fc(out))
