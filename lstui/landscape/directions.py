"""Directions in weight space and their normalisation (REFERENCE.md, "Directions").

A direction is a list of tensors, one for each entry of ``model.parameters()``
(direction type ``weights``) or of ``model.state_dict()`` (type ``states``), in that
order. Everything here is pure tensor code.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lstui.errors import BadInput
from lstui.landscape.options import DIR_TYPES, IGNORES, NORMS, check_choice

Direction = list[torch.Tensor]

_EPS = 1e-10


def model_tensors(model: nn.Module, dir_type: str) -> list[torch.Tensor]:
    """The tensors a direction of ``dir_type`` moves, in direction order (shared storage)."""
    check_choice(dir_type, DIR_TYPES, "--dir-type")
    if dir_type == "weights":
        return [p.data for p in model.parameters()]
    return list(model.state_dict().values())


def random_direction(
    weights: Sequence[torch.Tensor], generator: torch.Generator
) -> Direction:
    """Independent standard-normal float32 entries, drawn tensor by tensor in order."""
    return [torch.randn(tuple(w.shape), generator=generator, dtype=torch.float32) for w in weights]


def normalize_tensor(d: torch.Tensor, w: torch.Tensor, norm: str) -> torch.Tensor:
    """Normalise one direction tensor (2 or more dims) against its weight tensor."""
    w = w.to(d.dtype)
    if norm == "filter":
        dims = tuple(range(1, d.dim()))
        d_norm = torch.linalg.vector_norm(d, dim=dims, keepdim=True)
        w_norm = torch.linalg.vector_norm(w, dim=dims, keepdim=True)
        return d * (w_norm / (d_norm + _EPS))
    if norm == "layer":
        return d * (torch.linalg.vector_norm(w) / torch.linalg.vector_norm(d))
    if norm == "weight":
        return d * w
    if norm == "dfilter":
        dims = tuple(range(1, d.dim()))
        return d / (torch.linalg.vector_norm(d, dim=dims, keepdim=True) + _EPS)
    if norm == "dlayer":
        return d / torch.linalg.vector_norm(d)
    if norm == "none":
        return d.clone()
    raise BadInput(f"--norm {norm!r} is not known; choose one of {', '.join(NORMS)}")


def normalize_direction(
    direction: Sequence[torch.Tensor],
    weights: Sequence[torch.Tensor],
    norm: str = "filter",
    ignore: str = "biasbn",
) -> Direction:
    """Apply ``norm`` to every tensor of 2+ dims; 0/1-dim tensors are zero (``biasbn``)
    or a copy of the weight itself (so a step α scales that tensor by 1 + α)."""
    check_choice(norm, NORMS, "--norm")
    check_choice(ignore, IGNORES, "--ignore")
    if len(direction) != len(weights):
        raise ValueError(f"direction has {len(direction)} tensors, weights {len(weights)}")
    out: Direction = []
    for d, w in zip(direction, weights, strict=True):
        if d.dim() <= 1:
            out.append(torch.zeros_like(d) if ignore == "biasbn" else w.detach().to(d.dtype).clone())
        else:
            out.append(normalize_tensor(d, w.detach(), norm))
    return out


def filter_normalize(direction: Sequence[torch.Tensor], weights: Sequence[torch.Tensor]) -> Direction:
    """The paper's filter-wise normalisation with biases and BatchNorm ignored."""
    return normalize_direction(direction, weights, "filter", "biasbn")


def create_random_direction(
    model: nn.Module,
    generator: torch.Generator,
    *,
    dir_type: str = "weights",
    norm: str = "filter",
    ignore: str = "biasbn",
) -> Direction:
    """A seeded random direction of ``dir_type`` for ``model``, normalised."""
    weights = [t.detach().cpu() for t in model_tensors(model, dir_type)]
    return normalize_direction(random_direction(weights, generator), weights, norm, ignore)


def target_direction(
    weights_a: Sequence[torch.Tensor], weights_b: Sequence[torch.Tensor]
) -> Direction:
    """θ_B − θ_A tensor by tensor, so x = 0 is A and x = 1 is B; never normalised."""
    if len(weights_a) != len(weights_b):
        raise BadInput(
            f"the target model has {len(weights_b)} tensors where the centre has {len(weights_a)}"
        )
    out: Direction = []
    for a, b in zip(weights_a, weights_b, strict=True):
        if a.shape != b.shape:
            raise BadInput(f"target tensor shape {tuple(b.shape)} differs from {tuple(a.shape)}")
        out.append(b.detach().cpu().to(torch.float32) - a.detach().cpu().to(torch.float32))
    return out


def check_direction_fits(direction: Sequence[torch.Tensor], weights: Sequence[torch.Tensor], what: str) -> None:
    """Raise BadInput if ``direction`` does not match the tensors it is meant to move."""
    if len(direction) != len(weights):
        raise BadInput(
            f"{what} has {len(direction)} tensors but the model has {len(weights)} "
            "for this direction type (check --dir-type and --model)"
        )
    for n, (d, w) in enumerate(zip(direction, weights, strict=True)):
        if tuple(d.shape) != tuple(w.shape):
            raise BadInput(
                f"{what}: tensor {n} has shape {tuple(d.shape)}, the model's has {tuple(w.shape)}"
            )
