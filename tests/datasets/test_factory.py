from __future__ import annotations

import sys
import textwrap

import pytest
import torch

from lstui.datasets import load_data
from lstui.errors import DataError

MODULE = "lstui_test_user_data"

SOURCE = textwrap.dedent(
    """
    import numpy as np
    import torch
    from torch.utils.data import Dataset, TensorDataset


    class Squares(Dataset):
        def __init__(self, n, offset=0):
            self.n, self.offset = n, offset

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            return torch.full((2, 3), float(i + self.offset), dtype=torch.float64), i % 4


    def tensors():
        x = torch.arange(24, dtype=torch.float32).reshape(6, 4)
        return TensorDataset(x, torch.tensor([0, 1, 2, 0, 1, 2])), None


    def datasets():
        return Squares(5), Squares(3, offset=100)


    def pairs():
        x = np.ones((4, 2), dtype=np.float64)
        return (x, np.array([0, 1, 1, 0])), (torch.zeros(2, 2), torch.tensor([0, 6]))


    def not_a_pair():
        return Squares(3)


    def broken():
        raise RuntimeError("no such file: /data/x")


    def float_labels():
        return [(torch.zeros(2), 0.5)], None


    def images():
        from PIL import Image
        return [(Image.new("RGB", (2, 2)), 0)], None


    class Stated(TensorDataset):
        classes = ["a", "b", "c", "d", "e"]


    def stated():
        x = torch.zeros(4, 2)
        return Stated(x, torch.tensor([0, 1, 1, 0])), None


    def overstated():
        data = TensorDataset(torch.zeros(2, 2), torch.tensor([0, 7]))
        data.num_classes = 3
        return data, None


    NOT_CALLABLE = 3
    """
)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / f"{MODULE}.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield MODULE
    sys.modules.pop(MODULE, None)


def test_tensor_dataset_factory_is_materialised(user_module):
    data = load_data(f"{user_module}:tensors")
    assert data.test is None
    assert data.input_shape == (4,)
    assert data.num_classes == 3
    assert torch.equal(data.train.inputs, torch.arange(24, dtype=torch.float32).reshape(6, 4))
    assert data.train.targets.dtype == torch.int64
    assert torch.equal(data.train.normalised(1, 3), data.train.inputs[1:3])


def test_map_style_datasets_are_stacked_into_float32(user_module):
    data = load_data(f"{user_module}:datasets")
    assert data.input_shape == (2, 3)
    assert data.train.inputs.dtype == torch.float32
    assert data.train.inputs[:, 0, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert data.train.targets.tolist() == [0, 1, 2, 3, 0]
    assert data.test is not None and data.test.inputs[2, 1, 2].item() == 102.0
    assert data.num_classes == 4


def test_num_classes_spans_both_splits_and_xy_pairs_are_accepted(user_module):
    data = load_data(f"{user_module}:pairs")
    assert data.train.inputs.dtype == torch.float32
    assert data.num_classes == 7


def test_a_data_set_that_states_its_classes_keeps_those_its_labels_lack(user_module):
    """A subset without the last classes: the largest label + 1 would make a 10-class
    checkpoint look like it belongs to another model."""
    assert load_data(f"{user_module}:stated").num_classes == 5
    with pytest.raises(DataError, match="states 3 classes but holds label 7"):
        load_data(f"{user_module}:overstated")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("lstui_no_such_module_xyz:make", "cannot import lstui_no_such_module_xyz"),
        (f"{MODULE}:missing", "no callable 'missing'"),
        (f"{MODULE}:NOT_CALLABLE", "no callable 'NOT_CALLABLE'"),
        (f"{MODULE}:not_a_pair", r"expected \(train_dataset, test_dataset_or_None\)"),
        (f"{MODULE}:broken", "failed: RuntimeError: no such file"),
        (f"{MODULE}:float_labels", "expected an integer class index"),
        (f"{MODULE}:images", "expected a tensor"),
    ],
)
def test_bad_factories_are_one_line_data_errors(user_module, spec, message):
    with pytest.raises(DataError, match=message) as info:
        load_data(spec)
    assert "\n" not in str(info.value)
