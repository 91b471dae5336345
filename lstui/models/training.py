"""A plain SGD training loop, for the demo's small- and large-batch minimizers.

Pure tensor code: the caller decides what to do after each epoch (e.g. save a checkpoint).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def train_classifier(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    batch_size: int,
    epochs: int,
    lr: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    seed: int = 0,
    on_epoch: Callable[[int, nn.Module, float, float], None] | None = None,
) -> nn.Module:
    """Train with SGD on in-memory tensors; ``on_epoch(epoch, model, loss, acc)`` after each.

    The batch order is drawn from a generator seeded with ``seed``, so a run is repeatable.
    """
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    n = inputs.shape[0]
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n, generator=generator)
        total, correct = 0.0, 0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            xb, yb = inputs[idx], targets[idx]
            optimiser.zero_grad(set_to_none=True)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(idx)
            correct += int((out.argmax(1) == yb).sum())
        model.eval()
        if on_epoch is not None:
            on_epoch(epoch, model, total / n, 100.0 * correct / n)
    return model
