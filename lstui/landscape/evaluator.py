"""The Evaluator: loss and accuracy of θ* + x·dx + y·dy on data kept on the device.

One Evaluator per worker and job. It moves the model and the data to the device once;
each point overwrites the model's tensors in place from the saved centre θ* and the
directions (foreach operations), then runs the split(s) through the model in batches.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lstui.errors import BadInput
from lstui.landscape.directions import check_direction_fits, model_tensors
from lstui.landscape.options import BN_MODES, LOSSES, PRECISIONS, check_choice


@dataclass(frozen=True)
class PointResult:
    """Loss (mean over samples) and accuracy (percent) at one point; None where not evaluated."""

    train_loss: float | None = None
    train_acc: float | None = None
    test_loss: float | None = None
    test_acc: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {
            "train_loss": self.train_loss,
            "train_acc": self.train_acc,
            "test_loss": self.test_loss,
            "test_acc": self.test_acc,
        }

    @property
    def finite(self) -> bool:
        return all(v is None or math.isfinite(v) for v in self.as_dict().values())


@dataclass(frozen=True)
class EvalData:
    """Inputs and integer targets of one split, plus how to normalise the inputs.

    ``inputs`` may be uint8 (pixel bytes) or float; on the device they become
    ``(inputs * scale - mean) / std`` per channel.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    scale: float = 1.0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


class Evaluator:
    """Evaluate a model at points of the plane spanned by one or two directions.

    Args:
        model: the model at the centre θ* (its tensors are overwritten in place;
            call :meth:`restore` to put θ* back).
        directions: one direction (1D) or two (2D), each a list of tensors matching
            ``model_tensors(model, dir_type)``.
        train, test: the data of each split (``None`` if the split is not evaluated).
        device: where to evaluate.
        loss: ``ce`` (cross-entropy) or ``mse`` (softmax outputs against one-hot targets).
        batch_size: samples per forward pass; ``None`` picks one for the device.
        precision: ``fp32`` (strict, TF32 off), ``tf32`` (CUDA's default) or ``bf16`` autocast.
        bn: ``eval`` uses the running statistics; ``recompute`` re-estimates BatchNorm
            statistics on the training data at every point.
    """

    def __init__(
        self,
        model: nn.Module,
        directions: Sequence[Sequence[torch.Tensor]],
        *,
        dir_type: str = "weights",
        train: EvalData | None = None,
        test: EvalData | None = None,
        device: torch.device | str = "cpu",
        loss: str = "ce",
        batch_size: int | None = None,
        precision: str = "fp32",
        bn: str = "eval",
        channels_last: bool | None = None,
    ) -> None:
        check_choice(loss, LOSSES, "--loss")
        check_choice(precision, PRECISIONS, "--precision")
        check_choice(bn, BN_MODES, "--bn")
        if not 1 <= len(directions) <= 2:
            raise ValueError("an Evaluator takes one or two directions")
        if train is None and test is None:
            raise BadInput("nothing to evaluate: no train and no test split")
        if bn == "recompute" and train is None:
            raise BadInput("--bn recompute needs the training split")
        self.device = torch.device(device)
        self.loss = loss
        self.precision = precision
        self.bn = bn
        self.model = model.to(self.device).eval()
        if channels_last is None:
            channels_last = self.device.type == "cuda" and any(
                isinstance(m, nn.Conv2d) for m in model.modules()
            )
        self.channels_last = channels_last
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.batch_size = batch_size or (4096 if self.device.type == "cuda" else 512)

        tensors = model_tensors(self.model, dir_type)
        for n, d in enumerate(directions):
            check_direction_fits(d, tensors, f"the {'xy'[n]} direction")
        # Only floating tensors move; integer ones (num_batches_tracked) stay as they are.
        moving = [n for n, t in enumerate(tensors) if t.is_floating_point()]
        self._targets = [tensors[n] for n in moving]
        self._origin = [t.detach().clone() for t in self._targets]
        self._dirs = [
            [d[n].to(self.device, dtype=tensors[n].dtype) for n in moving] for d in directions
        ]
        self._bn_buffers = self._bn_state() if bn == "recompute" else []
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        if train is not None:
            self.splits["train"] = self._to_device(train)
        if test is not None:
            self.splits["test"] = self._to_device(test)

    # -- data -----------------------------------------------------------------------
    def _to_device(self, data: EvalData) -> tuple[torch.Tensor, torch.Tensor]:
        x = data.inputs.to(self.device)
        x = x.to(torch.float32)
        if data.scale != 1.0:
            x.mul_(data.scale)
        if data.mean is not None and data.std is not None:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            mean = torch.tensor(data.mean, device=self.device).view(shape)
            std = torch.tensor(data.std, device=self.device).view(shape)
            x.sub_(mean).div_(std)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, data.targets.to(self.device, dtype=torch.long)

    def _batches(self, split: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        x, y = self.splits[split]
        for s in range(0, x.shape[0], self.batch_size):
            yield x[s : s + self.batch_size], y[s : s + self.batch_size]

    # -- weights --------------------------------------------------------------------
    @torch.no_grad()
    def set_point(self, x: float, y: float = 0.0) -> None:
        """Overwrite the model's tensors with θ* + x·dx + y·dy, in place."""
        torch._foreach_copy_(self._targets, self._origin)
        if x != 0.0:
            torch._foreach_add_(self._targets, self._dirs[0], alpha=x)
        if len(self._dirs) == 2 and y != 0.0:
            torch._foreach_add_(self._targets, self._dirs[1], alpha=y)

    @torch.no_grad()
    def restore(self) -> None:
        """Put θ* back into the model."""
        torch._foreach_copy_(self._targets, self._origin)

    # -- evaluation -----------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def _matmul_precision(self) -> Iterator[None]:
        if self.device.type != "cuda":
            yield
            return
        old_matmul = torch.backends.cuda.matmul.allow_tf32
        old_cudnn = torch.backends.cudnn.allow_tf32
        tf32 = self.precision != "fp32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32 = old_matmul
            torch.backends.cudnn.allow_tf32 = old_cudnn

    def _bn_state(self) -> list[nn.modules.batchnorm._BatchNorm]:
        return [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    @torch.no_grad()
    def _recompute_bn(self) -> None:
        """Re-estimate BatchNorm running statistics on the training split (cumulative mean)."""
        saved = [(m.momentum, m.training) for m in self._bn_buffers]
        for m in self._bn_buffers:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        with self._autocast():
            for xb, _ in self._batches("train"):
                self.model(xb)
        for m, (momentum, training) in zip(self._bn_buffers, saved, strict=True):
            m.momentum = momentum
            m.train(training)

    @torch.no_grad()
    def evaluate_split(self, split: str) -> tuple[float, float]:
        """Mean loss and accuracy (percent) of the model as it stands on ``split``."""
        total_loss = torch.zeros((), dtype=torch.float64, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        n = 0
        for xb, yb in self._batches(split):
            with self._autocast():
                out = self.model(xb)
            out = out.float()
            if self.loss == "ce":
                batch_loss = F.cross_entropy(out, yb, reduction="sum")
            else:
                probs = F.softmax(out, dim=1)
                onehot = F.one_hot(yb, num_classes=out.shape[1]).to(probs.dtype)
                batch_loss = ((probs - onehot) ** 2).mean(dim=1).sum()
            total_loss += batch_loss.double()
            correct += (out.argmax(dim=1) == yb).sum()
            n += yb.shape[0]
        return float(total_loss.item() / n), float(100.0 * correct.item() / n)

    def evaluate(self, x: float, y: float = 0.0) -> PointResult:
        """Set the point (x, y) and evaluate every split this Evaluator holds."""
        with self._matmul_precision():
            self.set_point(x, y)
            if self.bn == "recompute":
                self._recompute_bn()
            values: dict[str, float] = {}
            for split in self.splits:
                loss, acc = self.evaluate_split(split)
                values[f"{split}_loss"] = loss
                values[f"{split}_acc"] = acc
        return PointResult(**values)
