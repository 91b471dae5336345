from __future__ import annotations

import pytest
import torch

from lstui.datasets import ArraySplit
from lstui.datasets._arrays import channel_stats


def test_normalised_slices_rows_and_casts_dtype():
    inputs = torch.tensor([[[[0, 255]]], [[[51, 102]]]], dtype=torch.uint8)
    split = ArraySplit(inputs, torch.tensor([0, 1]), 1 / 255, (0.2,), (0.5,))
    x = split.normalised(1, 2, device="cpu", dtype=torch.float64)
    assert x.dtype == torch.float64 and x.shape == (1, 1, 1, 2)
    assert x.flatten().tolist() == pytest.approx([0.0, 0.4])
    assert split.normalised(dtype=torch.bfloat16).dtype == torch.bfloat16


def test_normalised_applies_per_feature_statistics_to_flat_inputs():
    split = ArraySplit(
        torch.ones(3, 2), torch.zeros(3, dtype=torch.long), 1.0, (1.0, 0.0), (1.0, 2.0)
    )
    assert split.normalised().tolist() == [[0.0, 0.5]] * 3


def test_array_split_rejects_inconsistent_tensors():
    with pytest.raises(ValueError):
        ArraySplit(torch.zeros(3, 2), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError):
        ArraySplit(torch.zeros(3, 2), torch.zeros(3, dtype=torch.int32))
    with pytest.raises(ValueError):
        ArraySplit(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), 1.0, (0.0,), (1.0,))


def test_normalised_never_changes_the_stored_float_inputs():
    inputs = torch.arange(6, dtype=torch.float32).reshape(3, 2)
    split = ArraySplit(
        inputs.clone(), torch.zeros(3, dtype=torch.long), 0.5, (1.0, 1.0), (2.0, 2.0)
    )
    split.normalised()
    assert torch.equal(split.inputs, inputs)


def test_channel_stats_of_bytes_match_a_float64_computation():
    inputs = torch.randint(0, 256, (20, 3, 4, 4), generator=torch.Generator().manual_seed(0))
    inputs = inputs.to(torch.uint8)
    mean, std = channel_stats(inputs, 1 / 255)
    flat = (inputs.double() / 255).transpose(0, 1).reshape(3, -1)
    assert mean == pytest.approx(flat.mean(dim=1).tolist(), rel=1e-12)
    assert std == pytest.approx(flat.std(dim=1, correction=0).tolist(), rel=1e-12)
    assert channel_stats(inputs.float(), 1 / 255)[1] == pytest.approx(std, rel=1e-9)


def test_channel_stats_leave_a_constant_channel_unscaled():
    _, std = channel_stats(torch.full((4, 1, 2, 2), 7, dtype=torch.uint8), 1.0)
    assert std == (1.0,)
