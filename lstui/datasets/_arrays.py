"""Materialised data: whole splits as tensors, ready to move to a device once."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True, eq=False)
class ArraySplit:
    """One split of a data set held as two tensors.

    Image sets keep their pixel bytes (``uint8``) so that a whole split costs a quarter
    of the memory on the device; :meth:`normalised` turns rows into model inputs.

    Attributes:
        inputs: ``N×C×H×W`` (or ``N×F``); ``uint8`` for image sets, else ``float32``.
        targets: ``int64`` class indices, length ``N``.
        scale: multiplies the inputs after conversion to float (``1/255`` for bytes).
        mean: per-channel mean subtracted after scaling, or ``None`` for raw data.
        std: per-channel standard deviation divided by after subtracting ``mean``.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    scale: float = 1.0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.inputs.dim() < 2:
            raise ValueError(f"inputs must be N×…, got shape {tuple(self.inputs.shape)}")
        if self.targets.dim() != 1 or self.targets.dtype != torch.int64:
            raise ValueError(
                f"targets must be a 1-D int64 tensor, got {self.targets.dtype} "
                f"of shape {tuple(self.targets.shape)}"
            )
        if len(self.targets) != len(self.inputs):
            raise ValueError(f"{len(self.inputs)} inputs but {len(self.targets)} targets")
        if (self.mean is None) != (self.std is None):
            raise ValueError("mean and std must be given together")
        channels = self.inputs.shape[1]
        for name, stats in (("mean", self.mean), ("std", self.std)):
            if stats is not None and len(stats) != channels:
                raise ValueError(f"{name} has {len(stats)} entries for {channels} channels")

    def __len__(self) -> int:
        return len(self.targets)

    def normalised(
        self,
        start: int = 0,
        stop: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """Return rows ``[start:stop]`` as model inputs: ``(x·scale − mean) / std``.

        The rows move to ``device`` before conversion (bytes travel, not floats); the
        arithmetic is done in float32 (float64 when asked for) and the result cast to
        ``dtype``, so low-precision inputs round once.

        Args:
            start: first row.
            stop: one past the last row; ``None`` for the end.
            device: where the result lives; ``None`` keeps the inputs' device.
            dtype: floating dtype of the result.

        Returns:
            A floating tensor of shape ``(rows, *input_shape)``.
        """
        x = self.inputs[start:stop]
        if device is not None:
            x = x.to(device, non_blocking=True)
        work = torch.float64 if dtype == torch.float64 else torch.float32
        # A fresh tensor, never a view of the stored inputs, so the steps below may work
        # in place.
        x = x.to(dtype=work, copy=True)
        if self.scale != 1.0:
            x.mul_(self.scale)
        if self.mean is not None and self.std is not None:
            view = (1, -1) + (1,) * (x.dim() - 2)
            x.sub_(torch.tensor(self.mean, dtype=work, device=x.device).view(view))
            x.div_(torch.tensor(self.std, dtype=work, device=x.device).view(view))
        return x.to(dtype)


@dataclass(frozen=True, eq=False)
class LandscapeData:
    """A data set ready for loss evaluation.

    Attributes:
        name: the spec it was loaded from, for logs and titles.
        train: the training split (the reference's default surface).
        test: the test split, or ``None`` when the source has none.
        input_shape: shape of one sample, e.g. ``(3, 32, 32)``.
        num_classes: number of classes (targets lie in ``[0, num_classes)``).
    """

    name: str
    train: ArraySplit
    test: ArraySplit | None
    input_shape: tuple[int, ...]
    num_classes: int


def channel_stats(
    inputs: torch.Tensor, scale: float, chunk: int = 4096
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) standard deviation of ``inputs·scale``.

    Bytes are counted into a 256-bin histogram per channel (exact and fast); other
    inputs are accumulated in float64 over chunks of rows, so a large split is never
    copied to float as a whole.
    """
    channels = inputs.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    total_sq = torch.zeros(channels, dtype=torch.float64)
    count = inputs.numel() // channels
    if inputs.dtype == torch.uint8:
        values = torch.arange(256, dtype=torch.float64)
        for c in range(channels):
            hist = torch.zeros(256, dtype=torch.float64)
            for begin in range(0, len(inputs), chunk):
                rows = inputs[begin : begin + chunk, c].flatten()
                hist += torch.bincount(rows, minlength=256).to(torch.float64)
            total[c] = (hist * values).sum()
            total_sq[c] = (hist * values * values).sum()
        total, total_sq = total * scale, total_sq * scale * scale
    else:
        for begin in range(0, len(inputs), chunk):
            x = inputs[begin : begin + chunk].to(torch.float64) * scale
            x = x.transpose(0, 1).reshape(channels, -1)
            total += x.sum(dim=1)
            total_sq += (x * x).sum(dim=1)
    mean = total / count
    var = (total_sq / count - mean * mean).clamp_min(0.0)
    std = var.sqrt()
    # A constant channel carries no scale; dividing by 1 leaves it centred, not infinite.
    std = torch.where(std > 0, std, torch.ones_like(std))
    return tuple(mean.tolist()), tuple(std.tolist())
